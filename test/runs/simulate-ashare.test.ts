/**
 * The real stocks end to end: the 33 A-share CSVs and the CSI 300 index imported into a scratch SQLite database, a
 * tiny universal model trained on them, and `klinecast simulate` trading its test predictions (topk 10 / n_drop 2,
 * benchmark 000300). The figures depend on the model; what is checked is that every fill obeys the rules on real bars
 * and that the books balance.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { importCsvFiles } from '../../src/data/index.js';
import { limitPrices, tradingBoardOf, priceLimit } from '../../src/evaluation/trading/index.js';
import type { SimulationFile } from '../../src/runs/simulations.js';
import { ashareSymbols, readAshare } from '../helpers/ashare.js';
import { createTestDatabase } from '../helpers/db.js';
import { ASHARE_DIR, ashare } from '../helpers/env.js';
import { runCli } from '../data/run-cli.js';

test(
  'a topk simulation of a universal model on the 33 real stocks obeys the rules and balances its books',
  { timeout: 300_000, skip: ashare.skip },
  async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      const symbols = ashareSymbols();
      await importCsvFiles(tdb.handle, [ASHARE_DIR, join(ASHARE_DIR, 'index', '000300.csv')]);
      const list = join(tdb.dir, 'symbols.txt');
      writeFileSync(list, symbols.join('\n'));
      const out = join(tdb.dir, 'out');
      const tiny = ['--seq-length', '10', '--hidden-size', '8', '--num-layers', '1', '--head-hidden-size', '8', '--epochs', '2', '--batch-size', '64'];
      const train = runCli([
        'train',
        '--database',
        tdb.url,
        '--symbols',
        `@${list}`,
        '--start',
        '2020-01-01',
        '--output-dir',
        out,
        '--no-progress',
        '--no-register',
        '--json',
        ...tiny,
      ]);
      assert.equal(train.status, 0, train.stderr);
      const run = JSON.parse(train.stdout).runName as string;
      const sim = runCli(['simulate', '--database', tdb.url, '--forecasts', run, '--output-dir', out, '--name', 'real', '--json']);
      assert.equal(sim.status, 0, sim.stderr);
      const printed = JSON.parse(sim.stdout);
      const dir = join(out, run, 'results', 'simulations', 'real');
      assert.equal(printed.dir, dir);
      for (const f of ['simulation.json', 'equity.csv', 'trades.csv', 'positions.csv', 'rejected.csv']) assert.ok(existsSync(join(dir, f)), f);
      const file = JSON.parse(readFileSync(join(dir, 'simulation.json'), 'utf8')) as SimulationFile;
      const s = file.summary;
      assert.equal(s.trading_days, file.equity.length);
      assert.ok(s.trading_days > 50, `${s.trading_days} trade days`);
      assert.equal(s.benchmark.name, '000300');
      assert.ok(s.trades.buys >= 10);

      const bars = new Map(
        symbols.map((sym) => {
          const series = readAshare(sym);
          return [sym, new Map(series.dates.map((d, i) => [d, { open: series.open[i], pre: series.preClose[i] }]))];
        }),
      );
      const boughtOn = new Map<string, string>();
      let costs = 0;
      for (const t of file.trades) {
        const bar = bars.get(t.symbol)!.get(t.date);
        assert.ok(bar, `${t.symbol} traded on ${t.date} without a bar`);
        assert.equal(t.price, bar.open); // the deal price is the trade day's open
        assert.ok(t.signal_date < t.date);
        const { up, down } = limitPrices(bar.pre, priceLimit(tradingBoardOf(t.symbol)!, false, t.date));
        if (t.side === 'buy') {
          assert.ok(t.price < up - 0.005, `${t.symbol} bought at limit-up on ${t.date}`);
          assert.equal(t.shares % 100, 0);
          boughtOn.set(t.symbol, t.date);
        } else {
          assert.ok(t.price > down + 0.005, `${t.symbol} sold at limit-down on ${t.date}`);
          assert.notEqual(boughtOn.get(t.symbol), t.date, 'T+1');
        }
        costs += t.cost;
      }
      assert.ok(Math.abs(costs - s.costs.total) < 0.01);
      for (const r of file.rejected) {
        if (r.reason === 'limit_up' || r.reason === 'limit_down') {
          const bar = bars.get(r.symbol)!.get(r.date)!;
          const { up, down } = limitPrices(bar.pre, priceLimit(tradingBoardOf(r.symbol)!, false, r.date));
          assert.ok(r.reason === 'limit_up' ? bar.open >= up - 0.005 : bar.open <= down + 0.005);
        }
      }
      const last = file.equity[file.equity.length - 1];
      const held = file.positions.filter((p) => p.date === last.date).reduce((sum, p) => sum + p.value, 0);
      assert.ok(Math.abs(last.cash + held - last.equity) < 1e-6);
      assert.ok(Math.abs(last.equity - s.final_equity) < 1e-9);
      assert.ok(s.portfolio_without_costs.total_return! >= s.portfolio.total_return!);
      console.log(
        `real data (${run}): ${s.start}…${s.end}, annualised ${s.portfolio.annualised_return}, excess ${s.excess.annualised}, IR ${s.excess.information_ratio}, MDD ${s.portfolio.max_drawdown}, costs ${s.costs.total}`,
      );
    } finally {
      await tdb.cleanup();
    }
  },
);
