/**
 * `klinecast backtest … --simulate topk|long-flat [simulate's options]`: after the last fold the backtest trades its
 * forecasts as `klinecast simulate` would, into its own simulations/ folder, and prints the figures. A tiny universal
 * backtest on the demo market (hidden 8, seq 10, 1 epoch), on both database dialects; the step's result is the one
 * `klinecast simulate --forecasts <the backtest>` gives with the same options, and a bad option is refused before
 * any fold trains.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateDemoMarket, writeDemoMarket } from '../../src/data/index.js';
import type { SimulationFile } from '../../src/runs/simulations.js';
import { runCli } from '../data/run-cli.js';
import { forEachDialect } from '../helpers/db.js';

const TINY = ['--seq-length', '10', '--hidden-size', '8', '--num-layers', '1', '--head-hidden-size', '8', '--epochs', '1', '--batch-size', '64'];
const TRADE = ['--topk', '2', '--n-drop', '1', '--benchmark', 'equal'];

forEachDialect('backtest --simulate: the simulation of the finished backtest, saved in it, equal to klinecast simulate’s', async (tdb) => {
  const market = generateDemoMarket({ stocks: 3, start: '2021-06-01', end: '2022-12-31', seed: 7 });
  await writeDemoMarket(tdb.handle, market);
  const out = join(tdb.dir, 'out');
  const base = ['backtest', '--database', tdb.url, '--symbols', 'all', '--start', '2022-11-01', '--output-dir', out, '--no-progress', ...TINY];

  const run = runCli([...base, '--name', 'bt', '--simulate', 'topk', ...TRADE]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^overall +\d+ forecasts/m);
  assert.match(run.stdout, /^topk_\d{8}_\d{6}: topk on backtest bt, 2022-11-\d\d … 2022-12-\d\d \(\d+ trade days\)$/m);
  assert.match(run.stdout, /^information ratio +-?\d/m);
  const simulations = join(out, 'backtests', 'bt', 'simulations');
  const [saved] = readdirSync(simulations);
  assert.match(run.stdout, new RegExp(`saved ${join(simulations, saved)}$`, 'm'));
  const file = JSON.parse(readFileSync(join(simulations, saved, 'simulation.json'), 'utf8')) as SimulationFile;
  assert.deepEqual(file.source, { kind: 'backtest', name: 'bt', file: 'forecasts.json' });
  assert.deepEqual(file.settings.strategy, { kind: 'topk', topk: 2, nDrop: 1, riskDegree: 0.95 });
  assert.equal(file.forecasts.stocks, 3);

  const alone = runCli(['simulate', '--database', tdb.url, '--output-dir', out, '--forecasts', 'bt', ...TRADE, '--name', 'alone', '--json']);
  assert.equal(alone.status, 0, alone.stderr);
  assert.deepEqual(JSON.parse(alone.stdout).summary, file.summary);

  // A single-stock backtest with long-flat on its stock, without costs; --json carries the simulation beside the report.
  const one = ['backtest', '--database', tdb.url, '--symbol', market.stocks[0].symbol, '--start', '2022-11-01', '--output-dir', out, ...TINY];
  const json = runCli([...one, '--name', 'one', '--simulate', 'long-flat', '--no-costs', '--benchmark', 'equal', '--json']);
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout) as {
    status: string;
    simulation: { dir: string; settings: SimulationFile['settings']; summary: SimulationFile['summary'] };
  };
  assert.equal(report.status, 'completed');
  assert.equal(report.simulation.settings.strategy.kind, 'long-flat');
  assert.equal(report.simulation.summary.costs.total, 0);
  assert.ok(existsSync(join(report.simulation.dir, 'equity.csv')));

  for (const [args, message] of [
    [['--simulate', 'buy-everything'], /--simulate must be one of topk, long-flat, not "buy-everything"/],
    [['--simulate', 'topk', '--cash', '0'], /--cash must be above 0, not "0"/],
    [['--simulate', 'topk', '--deal-price', 'vwap'], /--deal-price must be open or close, not "vwap"/],
  ] as const) {
    const bad = runCli([...base, '--name', 'refused', ...args]);
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stdout}${bad.stderr}`);
    assert.match(bad.stderr, message);
    assert.ok(!existsSync(join(out, 'backtests', 'refused')), 'refused before the backtest began');
  }
});
