/**
 * `klinecast simulate` over the database, on both dialects: a universal run's predictions.json and a backtest folder's
 * forecasts.json are found by name, prices and stock_basic_info (ST, list date) come from the database, the benchmark
 * index too, and the simulation folder is written beside the forecasts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBars, type KlineBar } from '../../src/data/index.js';
import { upsertStockInfo } from '../../src/data/writer.js';
import { DEFAULT_COSTS, DEFAULT_RULES } from '../../src/evaluation/trading/index.js';
import {
  SIMULATION_FILES,
  listSimulations,
  readSimulation,
  resolveForecastSource,
  runSimulationFor,
  writeSimulation,
  type SimulationRequest,
} from '../../src/runs/simulations.js';
import { forEachDialect } from '../helpers/db.js';

const DAYS = ['2023-03-01', '2023-03-02', '2023-03-03', '2023-03-06', '2023-03-07'];

function bars(symbol: string, previousClose: number, rows: Array<[open: number, close: number]>): KlineBar[] {
  let pre = previousClose;
  return rows.map(([open, close], i) => {
    const bar: KlineBar = {
      symbol,
      tradeDate: DAYS[i],
      open,
      high: Math.max(open, close),
      low: Math.min(open, close),
      close,
      preClose: pre,
      change: close - pre,
      pctChg: ((close - pre) / pre) * 100,
      vol: 1000,
      amount: 1000,
      turnoverRate: null,
      pe: null,
      pb: null,
      totalMv: null,
      circMv: null,
      limitStatus: null,
    };
    pre = close;
    return bar;
  });
}

const info = (symbol: string, name: string, listDate: string | null) => ({
  symbol,
  name,
  exchange: 'SSE',
  market: null,
  stockType: null,
  industry: null,
  listDate,
  delistDate: null,
  isActive: true,
});

const REQUEST: SimulationRequest = {
  strategy: { kind: 'topk', topk: 2, nDrop: 1, riskDegree: 0.95 },
  dealPrice: 'open',
  cash: 100_000,
  benchmark: '000300',
  rules: DEFAULT_RULES,
  costs: DEFAULT_COSTS,
  name: 'topk_test',
};

forEachDialect('simulate a universal run from the database: ST ±5%, unlimited listing days, the index benchmark, the files', async (tdb) => {
  await writeBars(tdb.handle.db, tdb.dialect, [
    ...bars('600000', 10, [
      [10, 10],
      [10, 10],
      [10, 10],
      [10, 10],
      [10, 10],
    ]),
    // *ST: 10.50 is +5%, its limit-up (a main-board stock would have 11.00)
    ...bars('600004', 10, [
      [10, 10],
      [10.5, 10.5],
      [10.5, 10.5],
      [10.5, 10.5],
      [10.5, 10.5],
    ]),
    // STAR, listed 2023-03-01: +20% on its second day is no limit (the first five days have none)
    ...bars('688001', 50, [
      [50, 50],
      [60, 60],
      [60, 60],
      [60, 60],
      [60, 60],
    ]),
    ...bars('000300', 4000, [
      [4000, 4000],
      [4000, 4040],
      [4040, 4040],
      [4040, 3999.6],
      [3999.6, 3999.6],
    ]),
  ]);
  await upsertStockInfo(tdb.handle.db, tdb.dialect, [
    info('600000', '浦发银行', '1999-11-10'),
    info('600004', '*ST白云', '2003-04-28'),
    info('688001', '华兴源创', '2023-03-01'),
  ]);
  const out = join(tdb.dir, 'out');
  const run = join(out, 'lstm_universal');
  mkdirSync(join(run, 'results'), { recursive: true });
  writeFileSync(join(run, 'metadata.json'), JSON.stringify({ run_name: 'lstm_universal', stock_symbol: null }));
  const scores: Record<string, number[]> = { '2023-03-01': [0.01, 0.03, 0.02], '2023-03-02': [0.01, 0.03, 0.02], '2023-03-03': [0.01, 0.03, 0.02] };
  const records = Object.entries(scores).flatMap(([date, s]) =>
    s.map((predicted_return, k) => ({
      symbol: ['600000', '600004', '688001'][k],
      date,
      step: 1,
      predicted_return,
      target_date: null,
      last_close: 1,
      actual_price: 1,
      predicted_price: 1,
      actual_return: 0,
    })),
  );
  writeFileSync(
    join(run, 'results', 'predictions.json'),
    JSON.stringify({ generated_at: 'x', split: 'test', horizon: 1, n_samples: 9, return_type: 'log', records }),
  );

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
    listSimulations(source.simulationsDir).map((s) => s.name),
    ['topk_test', 'topk_test_2'],
  );
  const back = readSimulation(source.simulationsDir, 'topk_test');
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
