/**
 * GET /api/v1/{runs,backtests}/:name/simulations[/:simulation]: the saved simulations of a run and of a backtest, a
 * 404 for what is not there, and no way out of the output folder through a linked results/ or simulations/ folder.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveForecastSource, runSimulationFor, writeSimulation } from '../../src/runs/simulations.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { SIMULATION_REQUEST, seedSimulationFixture } from '../helpers/simulation.js';
import { call, startRecordingServer, type RunningServer } from './helpers.js';

let db: TestDatabase;
let root: string;
let server: RunningServer;

before(async () => {
  db = await createTestDatabase('sqlite');
  root = mkdtempSync(join(tmpdir(), 'klinecast-sims-'));
  const out = join(root, 'out');
  await seedSimulationFixture(db, out);
  const source = resolveForecastSource('lstm_universal', out);
  writeSimulation(source, await runSimulationFor(db.handle, source, SIMULATION_REQUEST, new Date('2026-01-01T00:00:00Z')));
  // A backtest holding the same simulation, and a run whose results/ is a link to another run's.
  const bt = join(out, 'backtests', 'wf1', 'simulations');
  mkdirSync(bt, { recursive: true });
  cpSync(join(out, 'lstm_universal', 'results', 'simulations', 'topk_test'), join(bt, 'topk_test'), { recursive: true });
  mkdirSync(join(out, 'linked_results'));
  symlinkSync(join(out, 'lstm_universal', 'results'), join(out, 'linked_results', 'results'));
  server = await startRecordingServer({
    database: db.handle,
    outputDir: out,
    apiKey: 'k',
  });
});

after(async () => {
  await server?.close();
  await db?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

test('a run and a backtest list their simulations and serve each one whole', async () => {
  for (const base of ['runs/lstm_universal', 'backtests/wf1']) {
    const list = await call(`${server.url}/api/v1/${base}/simulations`);
    assert.equal(list.status, 200, base);
    const items = (list.body as { items: Array<{ name: string; strategy: string; benchmark: string; problem: string | null }> }).items;
    assert.deepEqual(
      items.map((i) => [i.name, i.strategy, i.benchmark, i.problem]),
      [['topk_test', 'topk', '000300', null]],
    );
    const one = await call(`${server.url}/api/v1/${base}/simulations/topk_test`);
    assert.equal(one.status, 200);
    const body = one.body as { summary: { trading_days: number }; equity: unknown[]; trades: unknown[]; rejected: Array<{ reason: string }> };
    assert.equal(body.summary.trading_days, 3);
    assert.equal(body.equity.length, 3);
    assert.equal(body.trades.length, 2);
    assert.deepEqual(
      body.rejected.map((r) => r.reason),
      ['limit_up'],
    );
    assert.ok(!JSON.stringify(one.body).includes(root), 'no server path in the answer');
    assert.equal((one.body as { positions: unknown[] }).positions.length, 5); // 688001 on 3 days, 600004 on 2
    const lean = await call(`${server.url}/api/v1/${base}/simulations/topk_test?positions=false`);
    assert.equal(lean.status, 200);
    assert.equal((lean.body as { positions?: unknown }).positions, undefined);
    assert.equal((lean.body as { equity: unknown[] }).equity.length, 3);
  }
});

test('what is not there is a 404; a bad name a 400; a linked results/ folder shows nothing', async () => {
  const cases: Array<[string, number, string]> = [
    ['runs/nope/simulations', 404, 'run_not_found'],
    ['backtests/nope/simulations', 404, 'backtest_not_found'],
    ['runs/lstm_universal/simulations/nope', 404, 'simulation_not_found'],
    ['runs/linked_results/simulations/topk_test', 404, 'simulation_not_found'],
    ['runs/lstm_universal/simulations/..%2F..%2Fmetadata.json', 400, 'validation_error'],
  ];
  for (const [path, status, code] of cases) {
    const r = await call(`${server.url}/api/v1/${path}`);
    assert.equal(r.status, status, path);
    assert.equal((r.body as { error: { code: string } }).error.code, code, path);
  }
  const linked = await call(`${server.url}/api/v1/runs/linked_results/simulations`);
  assert.equal(linked.status, 200);
  assert.deepEqual((linked.body as { items: unknown[] }).items, []);
});
