/** `klinecast simulate` as a user runs it: the printed summary, --json, the flags, and one clear line for each bad input. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../data/run-cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { seedSimulationFixture } from '../helpers/simulation.js';

let tdb: TestDatabase;
let out: string;

before(async () => {
  tdb = await createTestDatabase('sqlite');
  out = join(tdb.dir, 'out');
  await seedSimulationFixture(tdb, out);
});

after(() => tdb?.cleanup());

const simulate = (...args: string[]) => runCli(['simulate', '--database', tdb.url, '--output-dir', out, ...args]);

test('the summary table, the refused order and where it was saved', () => {
  const r = simulate('--forecasts', 'lstm_universal', '--topk', '2', '--n-drop', '1', '--name', 'cli');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^cli: topk on run lstm_universal, 2023-03-02 … 2023-03-06 \(3 trade days\)$/m);
  assert.match(r.stdout, /^total return +-?\d+\.\d%/m);
  assert.match(r.stdout, /^information ratio +-?\d/m);
  assert.match(r.stdout, /rejected orders: 1 \(limit-up 1, limit-down 0, suspended 0, T\+1 0, lot 0, cash 0\)/);
  assert.match(r.stdout, new RegExp(`saved ${join(out, 'lstm_universal', 'results', 'simulations', 'cli')}$`, 'm'));
});

test('long-flat on one named stock, no costs, the equal-weighted benchmark, as JSON', () => {
  const r = simulate(
    '--forecasts',
    join(out, 'lstm_universal'),
    '--strategy',
    'long-flat',
    '--symbol',
    '600004.SH',
    '--threshold',
    '0.02',
    '--no-costs',
    '--benchmark',
    'equal',
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.deepEqual(json.settings.strategy, { kind: 'long-flat', symbol: '600004', threshold: 0.02, position: 0.95 });
  assert.equal(json.settings.costs.commission_rate, 0);
  assert.equal(json.summary.costs.total, 0);
  assert.equal(json.summary.benchmark.name, 'equal');
  assert.equal(json.summary.rejected.limit_up, 1); // 03-02: the *ST stock opens at its +5% limit
  assert.equal(json.summary.trades.buys, 1); // 03-03 at 10.50
});

test('bad input: one line naming the flag or the file, exit 2', () => {
  writeFileSync(join(tdb.dir, 'bad.json'), JSON.stringify({ records: [{ date: '2023-03-01', step: 'one', predicted_return: 0.1 }] }));
  const cases: Array<[string[], RegExp]> = [
    [['--forecasts', 'lstm_universal', '--strategy', 'momentum'], /--strategy must be one of topk, long-flat, not "momentum"/],
    [['--forecasts', 'lstm_universal', '--topk', '2', '--n-drop', '5'], /n_drop must be a whole number in 0…topk \(2\), not 5/],
    [['--forecasts', 'lstm_universal', '--strategy', 'long-flat'], /long-flat trades one stock and the forecasts cover 3: name it with --symbol/],
    [['--forecasts', 'lstm_universal', '--deal-price', 'vwap'], /--deal-price must be open or close, not "vwap"/],
    [['--forecasts', 'lstm_universal', '--benchmark', '000905'], /--benchmark 000905: the database has no bars for it/],
    [['--forecasts', 'lstm_universal', '--commission', '2'], /--commission is a fraction of the traded value/],
    [['--forecasts', 'nope'], /--forecasts: no run .*nope and no backtest .*backtests\/nope/],
    [['--forecasts', join(tdb.dir, 'bad.json')], /bad\.json is not a forecasts file: records\.0\.step/],
    [['--forecasts', 'lstm_universal', '--start', '2024-01-01'], /no trade day to simulate within 2024-01-01…/],
  ];
  for (const [args, pattern] of cases) {
    const r = simulate(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
