/**
 * `klinecast simulate` over the database, on both dialects: a universal run's predictions.json and a backtest folder's
 * forecasts.json are found by name, prices and stock_basic_info (ST, list date) come from the database, the benchmark
 * index too, and the simulation folder is written beside the forecasts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIMULATION_FILES, listSimulations, readSimulation, resolveForecastSource, runSimulationFor, writeSimulation } from '../../src/runs/simulations.js';
import { forEachDialect } from '../helpers/db.js';
import { SIMULATION_REQUEST as REQUEST, seedSimulationFixture } from '../helpers/simulation.js';

forEachDialect('simulate a universal run from the database: ST ±5%, unlimited listing days, the index benchmark, the files', async (tdb) => {
  const out = join(tdb.dir, 'out');
  const { run, records } = await seedSimulationFixture(tdb, out);
  const source = resolveForecastSource('lstm_universal', out);
  assert.equal(source.kind, 'run');
  const file = await runSimulationFor(tdb.handle, source, REQUEST, new Date('2026-01-01T00:00:00Z'));
  // 03-02: the best two are 600004 (*ST, opens at its +5% limit: refused) and 688001 (+20% on listing day 2: fills),
  //   47,500 / 60 = 791.67 → 791 shares (STAR steps of 1) = 47,460, fees 11.87 + 0.47 = 12.34.
  // 03-03: 600004 is still the best unheld one and no longer at a limit (10.50 from 10.50): buy it with
  //   cash 100,000 − 47,472.34 = 52,527.66 · 0.95 / 1 = 49,901.28 → 4,700 shares × 10.50 = 49,350, fees 12.34 + 0.49 = 12.83.
  assert.deepEqual(
    file.rejected.map((r) => [r.date, r.symbol, r.reason]),
    [['2023-03-02', '600004', 'limit_up']],
  );
  assert.deepEqual(
    file.trades.map((t) => [t.date, t.symbol, t.side, t.shares, t.cost]),
    [
      ['2023-03-02', '688001', 'buy', 791, 12.34],
      ['2023-03-03', '600004', 'buy', 4700, 12.83],
    ],
  );
  assert.equal(file.summary.trading_days, 3);
  assert.ok(Math.abs(file.summary.benchmark.total_return! - (3999.6 / 4000 - 1)) < 1e-12);
  assert.equal(file.equity.length, 3);
  assert.ok(Math.abs(file.equity[2].benchmark_equity - 100_000 * (3999.6 / 4000)) < 1e-6);

  const dir = writeSimulation(source, file);
  assert.equal(dir, join(run, 'results', 'simulations', 'topk_test'));
  const equityCsv = readFileSync(join(dir, SIMULATION_FILES.equity), 'utf8').trim().split('\n');
  assert.equal(equityCsv[0], 'date,equity,cash,market_value,return,benchmark_return,benchmark_equity,drawdown,traded_value,costs,positions');
  assert.equal(equityCsv.length, 4);
  assert.equal(readFileSync(join(dir, SIMULATION_FILES.rejected), 'utf8').trim().split('\n')[1], '2023-03-02,2023-03-01,600004,buy,limit_up,47500,10.5');
  assert.equal(readFileSync(join(dir, SIMULATION_FILES.trades), 'utf8').trim().split('\n').length, 3);
  // A second simulation of the same name never overwrites the first.
  assert.equal(writeSimulation(source, file), join(run, 'results', 'simulations', 'topk_test_2'));
  assert.deepEqual(
    listSimulations(source).map((s) => s.name),
    ['topk_test', 'topk_test_2'],
  );
  const back = readSimulation(source, 'topk_test');
  assert.ok(back.ok && back.file.summary.trades.buys === 2);

  // The same forecasts as a backtest folder (records carry a fold), found by name under out/backtests/.
  const bt = join(out, 'backtests', 'wf1');
  mkdirSync(bt, { recursive: true });
  writeFileSync(join(bt, 'forecasts.json'), JSON.stringify({ records: records.map((r) => ({ ...r, fold: 0 })) }));
  const btSource = resolveForecastSource('wf1', out);
  assert.equal(btSource.kind, 'backtest');
  assert.equal(btSource.simulationsDir, join(bt, 'simulations'));
  const again = await runSimulationFor(tdb.handle, btSource, { ...REQUEST, benchmark: 'equal' });
  assert.deepEqual(again.trades, file.trades);
  assert.equal(again.summary.benchmark.name, 'equal');

  await assert.rejects(runSimulationFor(tdb.handle, source, { ...REQUEST, benchmark: '000905' }), /--benchmark 000905: the database has no bars/);
  assert.throws(() => resolveForecastSource('nothing_here', out), /no run .*nothing_here and no backtest/);
});
