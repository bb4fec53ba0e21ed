/** Every API route against a real server on loopback, MariaDB and run folders written by TrainingManager. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { localEntry, registerRun } from '../../src/runs/registry.js';
import { RedisPredictionCache, cacheKey } from '../../src/server/index.js';
import { ashare, mysql, redis } from '../helpers/env.js';
import { call, createFixtureData, RecordingPredictor, RecordingTrainingJobs, startServer, type FixtureData, type RunningServer } from './helpers.js';
import type { Json } from '../helpers/json.js';

const KEY = 'test-key-0123456789';
const skip = mysql.skip || ashare.skip;

/** A GET with the path sent byte for byte (fetch would normalise "..", which is not what an attacker sends). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertError(res: { status: number; headers: Headers; body: Json }, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0);
  assert.ok('details' in res.body.error);
  assert.equal(res.body.error.request_id, res.headers.get('x-request-id'));
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe('HTTP API', { skip }, () => {
  let data: FixtureData;
  let db: FixtureData['db'];
  let runs: FixtureData['runs'];
  let server: RunningServer;
  let bare: RunningServer;
  let limited: RunningServer;
  const predictor = new RecordingPredictor(5);
  const jobs = new RecordingTrainingJobs();
  let base: string;

  before(async () => {
    if (skip) return;
    data = await createFixtureData();
    ({ db, runs } = data);
    server = await startServer({ database: db.handle, outputDir: runs.outputDir, apiKey: KEY, predictor, trainingJobs: jobs, rateLimit: false });
    bare = await startServer({ database: db.handle, outputDir: runs.outputDir, apiKey: null, rateLimit: false });
    limited = await startServer({ database: db.handle, outputDir: runs.outputDir, rateLimit: { max: 3, timeWindowMs: 60_000 } });
    base = server.url;
  });

  after(async () => {
    if (skip) return;
    await server?.close();
    await bare?.close();
    await limited?.close();
    await data?.dispose();
  });

  test('GET /health checks the database', async () => {
    const res = await call(`${base}/health`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ok');
    assert.equal(res.body.database.status, 'ok');
    assert.equal(res.body.database.dialect, 'mysql');
    assert.equal(res.body.predictor, true);
  });

  test('GET /api/v1/stocks pages and filters by board', async () => {
    const all = await call(`${base}/api/v1/stocks`);
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.items.map((s: Json) => s.symbol),
      ['000001', '300750', '600519'],
    );
    assert.equal(all.body.total, 3);
    const page2 = await call(`${base}/api/v1/stocks?page=2&page_size=2`);
    assert.deepEqual(
      page2.body.items.map((s: Json) => s.symbol),
      ['600519'],
    );
    assert.equal(page2.body.total, 3);
    const chinext = await call(`${base}/api/v1/stocks?type=${encodeURIComponent('创业板')}`);
    assert.deepEqual(
      chinext.body.items.map((s: Json) => s.name),
      ['宁德时代'],
    );
    assertError(await call(`${base}/api/v1/stocks?page_size=0`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/stocks?page=abc`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/stocks?colour=red`), 400, 'validation_error');
  });

  test('GET /api/v1/stocks/:symbol/kline returns the stored bars in range', async () => {
    const res = await call(`${base}/api/v1/stocks/600519/kline?start=2023-03-01&end=2023-03-10`);
    assert.equal(res.status, 200);
    assert.ok(res.body.count > 0 && res.body.count <= 8);
    assert.ok(res.body.bars.every((b: Json) => b.date >= '2023-03-01' && b.date <= '2023-03-10'));
    const dates = res.body.bars.map((b: Json) => b.date);
    assert.deepEqual(dates, [...dates].sort());
    const last = await call(`${base}/api/v1/stocks/600519.SH/kline?limit=1`);
    assert.equal(last.body.count, 1);
    assert.equal(last.body.bars[0].date, '2023-03-17');
    assert.equal(last.body.bars[0].close, 1742);
    assertError(await call(`${base}/api/v1/stocks/600519/kline?start=2023-03-10&end=2023-03-01`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/stocks/600519/kline?start=2023-02-30`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/stocks/600519/kline?start=yesterday`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/stocks/12345/kline`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/stocks/688999/kline`), 404, 'stock_not_found');
  });

  test('GET /api/v1/stocks/:symbol/info joins basic info and the data range', async () => {
    const res = await call(`${base}/api/v1/stocks/600519/info`);
    assert.equal(res.status, 200);
    assert.equal(res.body.name, '贵州茅台');
    assert.equal(res.body.stock_type, '主板');
    assert.deepEqual(res.body.data, { first_date: '2021-02-26', last_date: '2023-03-17', bars: 500 });
    assertError(await call(`${base}/api/v1/stocks/688999/info`), 404, 'stock_not_found');
    assertError(await call(`${base}/api/v1/stocks/DROP%20TABLE/info`), 400, 'validation_error');
  });

  test('GET /api/v1/runs lists, filters and sorts like `runs list`', async () => {
    const all = await call(`${base}/api/v1/runs`);
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 4);
    assert.ok(
      all.body.items.every((r: Json) => !('dir' in r)),
      'server paths stay private',
    );
    const corrupt = await call(`${base}/api/v1/runs?status=corrupt`);
    assert.deepEqual(
      corrupt.body.items.map((r: Json) => r.name),
      ['half_created'],
    );
    const bySymbol = await call(`${base}/api/v1/runs?symbol=600519&sort=mae`);
    assert.deepEqual(
      bySymbol.body.items.map((r: Json) => r.name),
      [runs.bestFor600519, '600519_lstm_fixture'],
    );
    const desc = await call(`${base}/api/v1/runs?symbol=600519&sort=mae&order=desc&limit=1`);
    assert.deepEqual(
      desc.body.items.map((r: Json) => r.name),
      ['600519_lstm_fixture'],
    );
    assert.equal(desc.body.total, 2);
    const gru = await call(`${base}/api/v1/runs?model=gru&status=completed,failed`);
    assert.deepEqual(
      gru.body.items.map((r: Json) => r.name),
      [runs.bestFor600519],
    );
    assertError(await call(`${base}/api/v1/runs?status=exploded`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/runs?sort=vibes`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/runs?model=rnn`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/runs?limit=-1`), 400, 'validation_error');
  });

  test('GET /api/v1/registry lists the model registry of every machine, filtered, and refuses bad filters', async () => {
    const entry = (runName: string, symbol: string, host: string, mae: number, createdAt: string) =>
      localEntry({
        runName,
        symbol,
        modelType: 'lstm',
        configHash: '0123456789abcdef',
        status: 'completed',
        metrics: { mae },
        path: `/data/runs/${runName}`,
        createdAt,
        finishedAt: createdAt,
      });
    await registerRun(db.handle.db, db.handle.dialect, { ...entry('600519_lstm_a', '600519', 'gpu-box', 1.5, '2026-01-02 10:00:00'), host: 'gpu-box' });
    await registerRun(db.handle.db, db.handle.dialect, { ...entry('000001_lstm_b', '000001', 'laptop', 0.2, '2026-01-03 10:00:00'), host: 'laptop' });
    const all = await call(`${base}/api/v1/registry`);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      all.body.items.map((r: Json) => r.run_name),
      ['000001_lstm_b', '600519_lstm_a'],
      'newest first',
    );
    assert.deepEqual(all.body.items[1], {
      run_name: '600519_lstm_a',
      symbol: '600519',
      model_type: 'lstm',
      config_hash: '0123456789abcdef',
      status: 'completed',
      metrics: { mae: 1.5 },
      host: 'gpu-box',
      path: '/data/runs/600519_lstm_a',
      created_at: '2026-01-02 10:00:00',
      finished_at: '2026-01-02 10:00:00',
    });
    const one = await call(`${base}/api/v1/registry?host=laptop`);
    assert.deepEqual(
      one.body.items.map((r: Json) => r.run_name),
      ['000001_lstm_b'],
    );
    assert.deepEqual(
      (await call(`${base}/api/v1/registry?symbol=600519&limit=1`)).body.items.map((r: Json) => r.run_name),
      ['600519_lstm_a'],
    );
    assertError(await call(`${base}/api/v1/registry?config_hash=xyz`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/registry?status=running`), 400, 'validation_error');
  });

  test('GET /api/v1/runs/:name, /metrics and /predictions read the run folder', async () => {
    const name = '600519_lstm_fixture';
    const details = await call(`${base}/api/v1/runs/${name}`);
    assert.equal(details.status, 200);
    assert.equal(details.body.run.status, 'completed');
    assert.equal(details.body.config.seed, 42);
    assert.equal(details.body.model_config.model_type, 'lstm');
    assert.equal(details.body.training_args.epochs_trained, 5);
    assert.ok(details.body.eval_results.test_metrics.mae > 0);
    assert.ok(details.body.eval_results.baselines.persistence.mae > 0);
    assert.ok(details.body.files.some((f: Json) => f.path === 'model/model.safetensors'));
    const metrics = await call(`${base}/api/v1/runs/${name}/metrics`);
    assert.deepEqual(
      metrics.body.history.map((r: Json) => r.val_loss),
      [0.9, 0.5, 0.6, 0.7, 0.8],
    );
    const predictions = await call(`${base}/api/v1/runs/${name}/predictions`);
    assert.equal(predictions.body.records.length, 3);
    assert.deepEqual(
      predictions.body.records.map((r: Json) => r.date),
      ['2024-01-02', '2024-01-03', '2024-01-04'],
    );
    assert.equal((await call(`${base}/api/v1/runs/${name}/predictions?step=2`)).body.records.length, 0);
    assertError(await call(`${base}/api/v1/runs/no_such_run`), 404, 'run_not_found');
    assertError(await call(`${base}/api/v1/runs/no_such_run/metrics`), 404, 'run_not_found');
    assertError(await call(`${base}/api/v1/runs/half_created/predictions`), 404, 'predictions_not_found');
    const corrupt = await call(`${base}/api/v1/runs/half_created`);
    assert.equal(corrupt.status, 200);
    assert.equal(corrupt.body.run.status, 'corrupt');
  });

  test('run names cannot escape the output folder', async () => {
    const attempts = [
      '..%2Fsecret.json',
      '%2E%2E%2Fsecret.json',
      '%2e%2e%2fsecret.json',
      '..%5Csecret.json',
      '%2Fetc%2Fpasswd',
      '%2F..%2Fsecret.json',
      '%252e%252e%252fsecret.json',
      '..',
      '.',
      '.hidden',
      'a%00b',
      '600519_lstm_fixture%2F..%2F..%2Fsecret.json',
      '~%2Fsecret.json',
      'x'.repeat(200),
    ];
    for (const attempt of attempts) {
      for (const suffix of ['', '/metrics', '/predictions']) {
        const res = await rawGet(base, `/api/v1/runs/${attempt}${suffix}`);
        assert.ok(res.status >= 400 && res.status < 500, `${attempt}${suffix} -> ${res.status}`);
        assert.ok(!res.body.includes('"secret"'), `${attempt}${suffix} leaked the file`);
      }
    }
    for (const path of ['/api/v1/runs/../secret.json', '/api/v1/runs/../../etc/passwd', '/api/v1/runs//etc/passwd']) {
      const res = await rawGet(base, path);
      assert.ok(res.status >= 400 && res.status < 500, `${path} -> ${res.status}`);
      assert.ok(!res.body.includes('"secret"') && !res.body.includes('root:'), `${path} leaked a file`);
    }
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', run: '../secret.json' })), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', run: '/etc/passwd' })), 400, 'validation_error');
  });

  test('POST /api/v1/predict picks the best run, dates from the last bar and caches', async () => {
    predictor.calls.length = 0;
    const first = await call(`${base}/api/v1/predict`, json({ symbol: '600519', days: 3 }));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.headers.get('x-cache'), 'miss');
    assert.equal(first.body.run, runs.bestFor600519);
    assert.equal(first.body.base_date, '2023-03-17');
    assert.equal(first.body.predictions.length, 3);
    assert.deepEqual(predictor.calls, [{ symbol: '600519', days: 3, run: runs.bestFor600519, endDate: '2023-03-17' }]);
    const second = await call(`${base}/api/v1/predict`, json({ symbol: '600519', days: 3 }));
    assert.equal(second.headers.get('x-cache'), 'hit');
    assert.deepEqual(second.body, first.body);
    assert.equal(predictor.calls.length, 1, 'the cache answered');
    const named = await call(`${base}/api/v1/predict`, json({ symbol: 'sh600519', days: 1, run: '600519_lstm_fixture' }));
    assert.equal(named.body.run, '600519_lstm_fixture');
    assert.equal(named.headers.get('x-cache'), 'miss');
    const whole = await call(`${base}/api/v1/predict`, json({ symbol: '600519' }));
    assert.equal(whole.body.predictions.length, 5, 'no days: the whole horizon');
    assert.equal(predictor.calls.at(-1)?.days, undefined);
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', days: 9 })), 400, 'horizon_exceeded');
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', days: 0 })), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', days: 1.5 })), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', extra: 1 })), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/predict`, json({ days: 1 })), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '300750' })), 404, 'no_run_for_symbol');
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', run: 'missing_run' })), 404, 'run_not_found');
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', run: 'half_created' })), 409, 'run_not_ready');
    assertError(await call(`${base}/api/v1/predict`, json([1, 2])), 400, 'validation_error');
    assertError(
      await call(`${base}/api/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"symbol":' }),
      400,
      'bad_request',
    );
    assertError(
      await call(`${base}/api/v1/predict`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'symbol=600519' }),
      415,
      'unsupported_media_type',
    );
    assertError(await call(`${base}/api/v1/predict`, json({ symbol: '600519', pad: 'x'.repeat(100_000) })), 413, 'payload_too_large');
    assertError(await call(`${base}/api/v1/predict`, { method: 'POST' }), 400, 'validation_error');
  });

  test('with KLINECAST_REDIS_URL the predictions cache lives in Redis', { skip: redis.skip }, async () => {
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.url!);
    await raw.del(cacheKey({ run: runs.bestFor600519, symbol: '000001', lastBarDate: '2023-03-17', days: 2 }));
    await raw.del(cacheKey({ run: '000001_lstm_fixture', symbol: '000001', lastBarDate: '2023-03-17', days: 2 }));
    const redisPredictor = new RecordingPredictor(5);
    const withRedis = await startServer({
      database: db.handle,
      outputDir: runs.outputDir,
      predictor: redisPredictor,
      cache: new RedisPredictionCache(redis.url!),
      rateLimit: false,
    });
    try {
      assert.equal((await call(`${withRedis.url}/health`)).body.cache, 'redis');
      const first = await call(`${withRedis.url}/api/v1/predict`, json({ symbol: '000001', days: 2 }));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.headers.get('x-cache'), 'miss');
      const lastBar = first.body.base_date;
      assert.equal(await raw.exists(cacheKey({ run: '000001_lstm_fixture', symbol: '000001', lastBarDate: lastBar, days: 2 })), 1);
      const second = await call(`${withRedis.url}/api/v1/predict`, json({ symbol: '000001', days: 2 }));
      assert.equal(second.headers.get('x-cache'), 'hit');
      assert.equal(redisPredictor.calls.length, 1);
      await raw.del(cacheKey({ run: '000001_lstm_fixture', symbol: '000001', lastBarDate: lastBar, days: 2 }));
    } finally {
      raw.disconnect();
      await withRedis.close();
    }
  });

  test('training routes need the bearer key, compared exactly', async () => {
    const body = { symbol: '600519', model_type: 'gru', config: { training: { epochs: 3 } } };
    assertError(await call(`${base}/api/v1/training`, json(body)), 401, 'unauthorized');
    assertError(await call(`${base}/api/v1/training`, json(body, { authorization: `Bearer ${KEY}x` })), 401, 'unauthorized');
    assertError(await call(`${base}/api/v1/training`, json(body, { authorization: `Bearer ${KEY.slice(0, -1)}` })), 401, 'unauthorized');
    assertError(await call(`${base}/api/v1/training`, json(body, { authorization: KEY })), 401, 'unauthorized');
    assertError(await call(`${base}/api/v1/training/job-1`, { method: 'DELETE' }), 401, 'unauthorized');
    assertError(await call(`${bare.url}/api/v1/training`, json(body, { authorization: `Bearer ${KEY}` })), 403, 'auth_not_configured');
    assertError(await call(`${bare.url}/api/v1/training/job-1`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY}` } }), 403, 'auth_not_configured');
  });

  test('POST/GET/DELETE /api/v1/training start, follow and cancel a job', async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    const started = await call(
      `${base}/api/v1/training`,
      json({ symbol: '600519', model_type: 'gru', run_name: 'api_job', config: { training: { epochs: 3 } } }, auth),
    );
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.headers.get('location'), `/api/v1/training/${started.body.id}`);
    const config = jobs.configs.at(-1)!;
    assert.equal(config.data.symbol, '600519');
    assert.equal(config.model.modelType, 'gru');
    assert.equal(config.training.epochs, 3);
    assert.equal(config.output.outputDir, runs.outputDir);
    assert.equal(config.output.runName, 'api_job');
    const status = await call(`${base}/api/v1/training/${started.body.id}`);
    assert.equal(status.status, 200);
    assert.equal(status.body.state, 'queued');
    const cancelled = await call(`${base}/api/v1/training/${started.body.id}`, { method: 'DELETE', headers: auth });
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    assertError(await call(`${base}/api/v1/training/job-999`), 404, 'job_not_found');
    assertError(await call(`${base}/api/v1/training/job-999`, { method: 'DELETE', headers: auth }), 404, 'job_not_found');
    assertError(await call(`${base}/api/v1/training/bad%20id`), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/training`, json({ symbol: '600519', config: { output: { outputDir: '/tmp' } } }, auth)), 400, 'forbidden_field');
    assertError(
      await call(`${base}/api/v1/training`, json({ symbol: '600519', config: { data: { database: 'sqlite:/tmp/x.db' } } }, auth)),
      400,
      'forbidden_field',
    );
    assertError(await call(`${base}/api/v1/training`, json({ symbol: '600519', config: { training: { epochs: -1 } } }, auth)), 400, 'bad_config');
    assertError(await call(`${base}/api/v1/training`, json({ symbol: '600519', config: { trainign: {} } }, auth)), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/training`, json({ symbol: '600519', config: { training: { epochz: 3 } } }, auth)), 400, 'bad_config');
    assertError(await call(`${base}/api/v1/training`, json({ symbol: '600519', run_name: '../escape' }, auth)), 400, 'validation_error');
    assertError(await call(`${base}/api/v1/training`, json({ symbol: '600519', model_type: 'cnn' }, auth)), 400, 'validation_error');
  });

  test('without a prediction engine or workers the routes say so', async () => {
    assertError(await call(`${bare.url}/api/v1/predict`, json({ symbol: '600519' })), 503, 'predictor_unavailable');
    assertError(await call(`${bare.url}/api/v1/training/job-1`), 503, 'training_unavailable');
  });

  test('request ids: generated, or taken from a sane X-Request-Id', async () => {
    const given = await call(`${base}/api/v1/runs/no_such_run`, { headers: { 'x-request-id': 'trace-42' } });
    assert.equal(given.headers.get('x-request-id'), 'trace-42');
    assert.equal(given.body.error.request_id, 'trace-42');
    const insane = await call(`${base}/health`, { headers: { 'x-request-id': 'a b<script>' } });
    assert.match(insane.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assertError(await call(`${base}/api/v1/nothing`), 404, 'route_not_found');
    assertError(await call(`${base}/api/v1/runs`, { method: 'PUT' }), 404, 'route_not_found');
  });

  test('rate limiting answers 429 in the error shape', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await call(`${limited.url}/api/v1/stocks`)).status, 200);
    const res = await call(`${limited.url}/api/v1/stocks`);
    assertError(res, 429, 'rate_limited');
    assert.ok(res.headers.get('retry-after'));
  });

  test('OpenAPI at /docs describes every route, with its UI served locally', async () => {
    const spec = await call(`${base}/docs/json`);
    assert.equal(spec.status, 200);
    const paths = Object.keys(spec.body.paths);
    for (const p of [
      '/health',
      '/api/v1/stocks',
      '/api/v1/stocks/{symbol}/kline',
      '/api/v1/stocks/{symbol}/info',
      '/api/v1/predict',
      '/api/v1/runs',
      '/api/v1/runs/{name}',
      '/api/v1/runs/{name}/metrics',
      '/api/v1/runs/{name}/predictions',
      '/api/v1/registry',
      '/api/v1/training',
      '/api/v1/training/{id}',
    ]) {
      assert.ok(paths.includes(p), `${p} missing from ${paths.join(', ')}`);
    }
    assert.ok(!JSON.stringify(spec.body).includes('x-zod-id'));
    assert.deepEqual(spec.body.paths['/api/v1/training'].post.security, [{ bearerAuth: [] }]);
    const ui = await fetch(`${base}/docs/static/index.html`);
    assert.equal(ui.status, 200);
    const html = await ui.text();
    assert.ok(!/https?:\/\/(?!localhost|127\.)[^"']*\.(js|css)/.test(html), 'no CDN assets');
  });
});
