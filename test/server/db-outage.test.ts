/**
 * Issue 12 #6: while the database is down, every route that needs it answers 503 db_unreachable (not 500), and
 * answers again once it is back. The outage is a local TCP proxy in front of MariaDB that the test kills.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase, type DatabaseHandle } from '../../src/data/index.js';
import { ashare, mysql } from '../helpers/env.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { call, RecordingPredictor, startServer, createFixtureData, type FixtureData, type RunningServer } from './helpers.js';

const skip = mysql.skip || ashare.skip;
let data: FixtureData;
let proxy: TcpProxy;
let viaProxy: DatabaseHandle;
let server: RunningServer;

before(async () => {
  if (skip) return;
  data = await createFixtureData();
  const url = new URL(data.db.handle.url);
  proxy = await startTcpProxy(url.hostname, Number(url.port || 3306));
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  viaProxy = await openDatabase(url.toString());
  server = await startServer({ database: viaProxy, outputDir: data.runs.outputDir, predictor: new RecordingPredictor(5), rateLimit: false, apiKey: 'k' });
});

after(async () => {
  if (skip) return;
  await server?.close();
  await viaProxy?.close().catch(() => undefined);
  await proxy?.close();
  await data?.dispose();
});

const ROUTES: Array<[string, RequestInit?]> = [
  ['/api/v1/stocks'],
  ['/api/v1/stocks/600519/kline'],
  ['/api/v1/stocks/600519/info'],
  ['/api/v1/registry'],
  ['/api/v1/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ symbol: '600519' }) }],
];

test('database down: 503 db_unreachable on every route that needs it, /health 503, and back to 200 when it returns', { skip }, async () => {
  for (const [path, init] of ROUTES) assert.equal((await call(`${server.url}${path}`, init)).status, 200, `${path} before the outage`);
  await proxy.kill();
  for (const [path, init] of ROUTES) {
    const r = await call(`${server.url}${path}`, init);
    assert.equal(r.status, 503, `${path}: ${JSON.stringify(r.body)}`);
    assert.equal((r.body as { error: { code: string } }).error.code, 'db_unreachable', path);
  }
  assert.equal((await call(`${server.url}/health`)).status, 503);
  assert.equal((await call(`${server.url}/api/v1/runs`)).status, 200, 'the run folders need no database');
  await proxy.restart();
  for (const [path, init] of ROUTES) assert.equal((await call(`${server.url}${path}`, init)).status, 200, `${path} after the outage`);
});
