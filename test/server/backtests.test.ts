/**
 * GET /api/v1/backtests, /backtests/:name and /backtests/:name/forecasts over a real (tiny) universal walk-forward:
 * the list agrees with results.json, one backtest gives its config summary and every fold, the forecasts filter by
 * stock and step; a backtest still running has no forecasts (404), a damaged one is 409, a linked folder is none
 * (404); and OpenAPI documents the three routes with their query.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BacktestForecastsFile } from '../../src/runs/index.js';
import type { BacktestReport, BacktestResultsFile } from '../../src/training/index.js';
import { writeTinyBacktest } from '../helpers/backtest.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { call, startServer, type RunningServer } from './helpers.js';

let db: TestDatabase;
let root: string;
let out: string;
let server: RunningServer;
let report: BacktestReport;

before(async () => {
  db = await createTestDatabase('sqlite');
  root = mkdtempSync(join(tmpdir(), 'klinecast-btapi-'));
  out = join(root, 'out');
  report = await writeTinyBacktest(out);
  const backtests = join(out, 'backtests');
  // A backtest that has not finished (config and state only), one whose forecasts.json is garbage, and links.
  mkdirSync(join(backtests, 'half'));
  writeFileSync(join(backtests, 'half', 'config.json'), readFileSync(join(report.dir, 'config.json')));
  writeFileSync(
    join(backtests, 'half', 'state.json'),
    JSON.stringify({ ...JSON.parse(readFileSync(join(report.dir, 'state.json'), 'utf8')), status: 'interrupted', folds_done: [1], error: 'SIGINT' }),
  );
  mkdirSync(join(backtests, 'garbage'));
  writeFileSync(join(backtests, 'garbage', 'config.json'), readFileSync(join(report.dir, 'config.json')));
  writeFileSync(join(backtests, 'garbage', 'state.json'), readFileSync(join(report.dir, 'state.json')));
  writeFileSync(join(backtests, 'garbage', 'forecasts.json'), '{"records": [oops');
  symlinkSync(report.dir, join(backtests, 'linked'));
  server = await startServer({ database: db.handle, outputDir: out, apiKey: null, rateLimit: false });
});

after(async () => {
  await server?.close();
  await db?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Item {
  name: string;
  status: string;
  folds_done: number;
  folds_total: number;
  stocks: number | null;
  skill: number | null;
  dm_p: number | null;
  coverage_split_conformal: number | null;
  coverage_aci: number | null;
}

test('the list: each backtest with its status, folds and the overall skill, DM p and both coverages; no link, no server path', async () => {
  const r = await call(`${server.url}/api/v1/backtests`);
  assert.equal(r.status, 200);
  const items = (r.body as { items: Item[]; total: number }).items;
  assert.deepEqual(items.map((i) => i.name).sort(), ['bt_tiny', 'garbage', 'half']);
  const bt = items.find((i) => i.name === 'bt_tiny') as Item;
  const results = report.results as BacktestResultsFile;
  assert.equal(bt.status, 'completed');
  assert.equal(bt.stocks, 3);
  assert.deepEqual([bt.folds_done, bt.folds_total], [3, 3]);
  assert.equal(bt.skill, results.overall.metrics.skill);
  assert.equal(bt.dm_p, results.overall.significance?.vs_persistence.p_value);
  assert.equal(bt.coverage_split_conformal, results.overall.intervals.split_conformal?.coverage);
  assert.equal(bt.coverage_aci, results.overall.intervals.aci?.coverage);
  assert.ok(bt.coverage_aci !== null && bt.coverage_split_conformal !== null);
  const half = items.find((i) => i.name === 'half') as Item;
  assert.deepEqual([half.status, half.folds_done, half.skill], ['interrupted', 1, null]);
  assert.ok(!JSON.stringify(r.body).includes(root), 'no folder path in the list');
});

test('one backtest: the config summary (without the database or the output folder) and results.json per fold and overall', async () => {
  const r = await call(`${server.url}/api/v1/backtests/bt_tiny`);
  assert.equal(r.status, 200);
  interface ConfigSummary {
    folds: unknown[];
    settings: { interval: string };
    model: { hiddenSize: number };
    data: Record<string, unknown> & { universe: unknown[] };
  }
  const body = r.body as { backtest: Item; symbols: string[]; config: ConfigSummary & Record<string, unknown>; results: BacktestResultsFile };
  assert.equal(body.backtest.name, 'bt_tiny');
  assert.deepEqual(body.results, JSON.parse(readFileSync(join(report.dir, 'results.json'), 'utf8')));
  assert.equal(body.results.folds.length, 3);
  assert.equal(body.config.folds.length, 3);
  assert.equal(body.config.settings.interval, 'aci');
  assert.equal(body.config.model.hiddenSize, 8);
  assert.equal(body.config.data.universe.length, 3);
  assert.deepEqual(
    [...body.symbols].sort(),
    (report.results as BacktestResultsFile).overall.per_stock?.map((s) => s.symbol),
  );
  assert.ok(!('database' in body.config.data) && !('output' in body.config));
  assert.ok(!JSON.stringify(body).includes(root));
  const half = await call(`${server.url}/api/v1/backtests/half`);
  assert.equal(half.status, 200);
  assert.equal((half.body as { results: unknown }).results, null);
});

test('forecasts: all of them, or of one stock and one step; not yet written is 404, unreadable is 409, a link or a bad name 404/400', async () => {
  const file = JSON.parse(readFileSync(join(report.dir, 'forecasts.json'), 'utf8')) as BacktestForecastsFile;
  const all = await call(`${server.url}/api/v1/backtests/bt_tiny/forecasts`);
  assert.equal(all.status, 200);
  assert.equal((all.body as BacktestForecastsFile).records.length, file.records.length);
  const symbol = file.records[0].symbol;
  const one = await call(`${server.url}/api/v1/backtests/bt_tiny/forecasts?symbol=${symbol}.SZ&step=1`);
  assert.equal(one.status, 200);
  const records = (one.body as BacktestForecastsFile).records;
  assert.deepEqual(
    records,
    file.records.filter((x) => x.symbol === symbol && x.step === 1),
  );
  assert.ok(records.length > 0 && records.every((x) => x.lower !== undefined && x.upper !== undefined));
  const code = (r: { body: unknown }) => (r.body as { error: { code: string } }).error.code;
  const half = await call(`${server.url}/api/v1/backtests/half/forecasts`);
  assert.deepEqual([half.status, code(half)], [404, 'forecasts_not_found']);
  const garbage = await call(`${server.url}/api/v1/backtests/garbage/forecasts`);
  assert.deepEqual([garbage.status, code(garbage)], [409, 'backtest_files_unreadable']);
  assert.ok(!JSON.stringify(garbage.body).includes(root));
  for (const suffix of ['', '/forecasts', '/simulations']) {
    const linked = await call(`${server.url}/api/v1/backtests/linked${suffix}`);
    assert.deepEqual([linked.status, code(linked)], [404, 'backtest_not_found'], suffix);
  }
  assert.deepEqual((await call(`${server.url}/api/v1/backtests/nope`)).status, 404);
  for (const q of ['step=0', 'symbol=abc', 'color=red']) {
    const bad = await call(`${server.url}/api/v1/backtests/bt_tiny/forecasts?${q}`);
    assert.deepEqual([bad.status, code(bad)], [400, 'validation_error'], q);
  }
});

test('OpenAPI documents the backtest routes and the forecasts query', async () => {
  const spec = await call(`${server.url}/docs/json`);
  const paths = (spec.body as { paths: Record<string, { get?: { parameters: Array<{ name: string; in: string }> } }> }).paths;
  for (const p of ['/api/v1/backtests', '/api/v1/backtests/{name}', '/api/v1/backtests/{name}/forecasts']) assert.ok(paths[p]?.get, p);
  const params = (paths['/api/v1/backtests/{name}/forecasts'].get?.parameters ?? []).map((x) => `${x.in}:${x.name}`);
  assert.deepEqual(params.sort(), ['path:name', 'query:step', 'query:symbol']);
});
