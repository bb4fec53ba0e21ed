/**
 * Issue 15 over HTTP: a batch's runs are ordinary runs of GET /api/v1/runs, its bookkeeping is GET /api/v1/batches
 * (names checked, folders resolved inside out/batches/ by realpath, no server paths answered), and GET
 * /api/v1/best-run answers with the one best-run rule.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/server/index.js';
import { batchProgress } from '../helpers/batch.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { writeCompletedRun } from '../training/manager-fixtures.js';
import type { Json } from '../helpers/json.js';

describe('batches and the best run over HTTP', () => {
  let tdb: TestDatabase;
  let app: FastifyInstance;
  let root: string;
  let out: string;

  before(async () => {
    tdb = await createTestDatabase('sqlite');
    root = mkdtempSync(join(tmpdir(), 'klinecast-api-batches-'));
    out = join(root, 'out');
    // What `klinecast batch --name nightly` leaves: two runs in out/, its bookkeeping in out/batches/nightly/.
    const a = writeCompletedRun(out, { symbol: '600519', runName: '600519_lstm_20260101_000000' }).runName;
    const b = writeCompletedRun(out, { symbol: '000001', runName: '000001_lstm_20260101_000000', maeScale: 2 }).runName;
    const stock = (runName: string | null, status: string) => ({
      status,
      runName,
      path: runName ? join(out, runName) : null,
      metrics: runName ? { mae: 0.1 } : null,
      reason: runName ? null : 'too little data',
      attempts: 1,
      finishedAt: '2026-01-01T00:10:00.000Z',
      seconds: 1.5,
    });
    const progress = batchProgress({ '600519': stock(a, 'completed'), '000001': stock(b, 'completed'), '300750': stock(null, 'skipped') });
    mkdirSync(join(out, 'batches', 'nightly'), { recursive: true });
    writeFileSync(join(out, 'batches', 'nightly', 'batch_progress.json'), JSON.stringify(progress));
    writeFileSync(
      join(out, 'batches', 'nightly', 'batch_summary.json'),
      JSON.stringify({
        name: 'nightly',
        batchDir: join(out, 'batches', 'nightly'),
        runsDir: out,
        modelType: 'lstm',
        configHash: '0123456789abcdef',
        startedAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:10:01.000Z',
        seconds: 601,
        counts: { pending: 0, completed: 2, failed: 0, skipped: 1 },
        perMinute: 0.3,
        threadsReplaced: 0,
        stocks: [],
      }),
    );
    // A batch still running (no summary yet) and a link out of batches/ to a folder with a secret.
    mkdirSync(join(out, 'batches', 'running'));
    writeFileSync(join(out, 'batches', 'running', 'batch_progress.json'), JSON.stringify({ ...progress, createdAt: '2026-02-01T00:00:00.000Z' }));
    mkdirSync(join(root, 'elsewhere'));
    writeFileSync(join(root, 'elsewhere', 'batch_progress.json'), JSON.stringify({ ...progress, configHash: 'secretsecretsecr' }));
    symlinkSync(join(root, 'elsewhere'), join(out, 'batches', 'linked'));
    app = await createServer({ database: tdb.handle, outputDir: out, webDir: null, rateLimit: false });
  });

  after(async () => {
    await app?.close();
    await tdb?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  const get = async (url: string): Promise<{ status: number; body: Json; text: string }> => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json(), text: res.body };
  };

  test('batch runs are ordinary runs; batches/ is not listed as a run', async () => {
    const runs = await get('/api/v1/runs');
    assert.equal(runs.status, 200);
    assert.deepEqual(runs.body.items.map((r: Json) => r.name).sort(), ['000001_lstm_20260101_000000', '600519_lstm_20260101_000000']);
    assert.ok(runs.body.items.every((r: Json) => r.legacy_batch === null));
  });

  test('GET /api/v1/batches lists the batches, newest first, without links or server paths', async () => {
    const list = await get('/api/v1/batches');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((b: Json) => [b.name, b.finished]),
      [
        ['running', false],
        ['nightly', true],
      ],
    );
    const nightly = list.body.items[1];
    assert.deepEqual(nightly.counts, { pending: 0, completed: 2, failed: 0, skipped: 1 });
    assert.equal(nightly.stocks_total, 3);
    assert.equal(nightly.seconds, 601);
    assert.ok(!list.text.includes(root), 'no server path in the answer');
    assert.ok(!list.text.includes('secretsecret'));
  });

  test('GET /api/v1/batches/:name gives every stock with its run; bad and linked names are refused', async () => {
    const one = await get('/api/v1/batches/nightly');
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.stocks.map((s: Json) => [s.symbol, s.status, s.run_name]),
      [
        ['000001', 'completed', '000001_lstm_20260101_000000'],
        ['300750', 'skipped', null],
        ['600519', 'completed', '600519_lstm_20260101_000000'],
      ],
    );
    assert.ok(!one.text.includes(root), 'no server path in the answer');
    // Every run a batch names is served by the run routes.
    for (const s of one.body.stocks.filter((x: Json) => x.run_name)) assert.equal((await get(`/api/v1/runs/${s.run_name}`)).status, 200);
    assert.equal((await get('/api/v1/batches/linked')).status, 404);
    assert.equal((await get('/api/v1/batches/nope')).status, 404);
    for (const bad of ['..', '.hidden', '%2e%2e%2fsecret', 'a%2fb']) assert.equal((await get(`/api/v1/batches/${bad}`)).status, bad === '..' ? 404 : 400, bad);
  });

  test('GET /api/v1/best-run: the rule per symbol, scale-free across symbols, mae across symbols refused', async () => {
    const one = await get('/api/v1/best-run?symbol=600519');
    assert.equal(one.status, 200);
    assert.equal(one.body.run.name, '600519_lstm_20260101_000000');
    assert.equal(one.body.metric, 'mae');
    const across = await get('/api/v1/best-run');
    assert.equal(across.status, 200);
    assert.equal(across.body.metric, 'skill');
    const refused = await get('/api/v1/best-run?metric=mae');
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /mae is in price units/);
    assert.equal((await get('/api/v1/best-run?symbol=300750')).status, 404);
    assert.equal((await get('/api/v1/best-run?metric=size')).status, 400);
  });
});
