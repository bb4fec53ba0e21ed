/**
 * Training jobs through the API with the default LocalTrainingJobs: a real (tiny) model trained on a worker thread
 * from a POST, followed by GET until it completes, its run then served by the run routes; waiting jobs cancel.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalTrainingJobs } from '../../src/server/index.js';
import { mysql } from '../helpers/env.js';
import { createMarket, type Fixture } from '../prediction/fixture.js';
import { call, startServer, type RunningServer } from './helpers.js';
import type { Json } from '../helpers/json.js';

const KEY = 'jobs-key';
const skip = mysql.skip;

/** Small enough to train in seconds on a loaded machine. */
const TINY = {
  dataset: { seqLength: 20, horizon: 2 },
  model: { hiddenSize: 8, numLayers: 1, headHiddenSize: 8, dropout: 0.1 },
  training: { epochs: 2, batchSize: 64, seed: 3 },
};

describe('training jobs on worker threads', { skip }, () => {
  let fx: Fixture;
  let server: RunningServer;

  before(async () => {
    if (skip) return;
    fx = await createMarket('mysql');
    server = await startServer({
      database: fx.handle,
      outputDir: fx.outputDir,
      apiKey: KEY,
      trainingJobs: new LocalTrainingJobs({ database: fx.handle, threads: 1 }),
      rateLimit: false,
    });
  });

  after(async () => {
    if (skip) return;
    await server?.close();
    await fx?.close();
  });

  const start = (body: unknown) =>
    call(`${server.url}/api/v1/training`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify(body),
    });

  async function waitFinished(id: string, timeoutMs = 120_000): Promise<Json> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const res = await call(`${server.url}/api/v1/training/${id}`);
      assert.equal(res.status, 200);
      if (['completed', 'failed', 'cancelled'].includes(res.body.state)) return res.body;
      assert.ok(Date.now() < until, `job ${id} still ${res.body.state}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('a posted job trains, reports progress and leaves a completed run', async () => {
    const symbol = fx.symbols[0];
    const started = await start({ symbol, model_type: 'gru', run_name: 'job_gru', config: TINY });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.run_name, 'job_gru');
    // A second job waits for the one thread, so it can still be cancelled.
    const second = await start({ symbol, model_type: 'lstm', run_name: 'job_waiting', config: TINY });
    assert.equal(second.body.state, 'queued');
    const cancelled = await call(`${server.url}/api/v1/training/${second.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(cancelled.body.state, 'cancelled');
    const conflict = await start({ symbol, run_name: 'job_gru', config: TINY });
    assert.equal(conflict.status, 409, JSON.stringify(conflict.body));
    assert.equal(conflict.body.error.code, 'run_conflict');

    const done = await waitFinished(started.body.id);
    assert.equal(done.state, 'completed', done.error);
    assert.deepEqual({ epoch: done.progress.epoch, epochs: done.progress.epochs }, { epoch: 2, epochs: 2 });
    assert.ok(Number.isFinite(done.progress.train_loss));
    const run = await call(`${server.url}/api/v1/runs/${done.run_name}`);
    assert.equal(run.body.run.status, 'completed');
    assert.equal(run.body.run.model_type, 'gru');
    assert.equal(run.body.config.training.epochs, 2);
    assert.equal(run.body.config.output.outputDir, fx.outputDir);
    const metrics = await call(`${server.url}/api/v1/runs/${done.run_name}/metrics`);
    assert.equal(new Set(metrics.body.history.map((r: Json) => r.epoch)).size, 2);
    assert.equal((await call(`${server.url}/api/v1/runs/job_waiting`)).status, 404, 'the cancelled job never made a run');
    const registry = await call(`${server.url}/api/v1/registry?symbol=${symbol}`);
    assert.deepEqual(
      registry.body.items.map((r: Json) => [r.run_name, r.model_type, r.status, r.path]),
      [['job_gru', 'gru', 'completed', join(fx.outputDir, 'job_gru')]],
      'the completed run, and only it, is registered',
    );
  });

  test('cancelling a running job stops its trainer after a step: the job ends cancelled, the run interrupted with a checkpoint', async () => {
    const long = { ...TINY, training: { ...TINY.training, epochs: 500, patience: 0 } };
    const started = await start({ symbol: fx.symbols[1], model_type: 'lstm', run_name: 'job_long', config: long });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const until = Date.now() + 60_000;
    for (;;) {
      const res = await call(`${server.url}/api/v1/training/${started.body.id}`);
      if (res.body.state === 'running' && res.body.progress?.epoch >= 1) break;
      assert.ok(Date.now() < until && res.body.state !== 'failed', `job never got going: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const del = await call(`${server.url}/api/v1/training/${started.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const done = await waitFinished(started.body.id);
    assert.equal(done.state, 'cancelled', JSON.stringify(done));
    assert.ok(done.progress.epoch < 500, 'the job ran to the end instead of stopping');
    const run = await call(`${server.url}/api/v1/runs/job_long`);
    assert.equal(run.body.run.status, 'interrupted');
    const checkpoints = readdirSync(join(fx.outputDir, 'job_long', 'checkpoints')).filter((d) => d.startsWith('checkpoint-'));
    assert.ok(checkpoints.length >= 1, 'no checkpoint to resume from');
  });

  test('a universal job (symbols, flat fields from the flag table) trains one model over every stock in a thread', async () => {
    const fields = { seq_length: 20, horizon: 1, hidden_size: 8, num_layers: 1, head_hidden_size: 8, epochs: 1, batch_size: 64, seed: 3 };
    const started = await start({ symbols: 'all', model_type: 'lstm', run_name: 'job_universal', ...fields });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.symbol, null);
    const done = await waitFinished(started.body.id);
    assert.equal(done.state, 'completed', done.error);
    const run = await call(`${server.url}/api/v1/runs/job_universal`);
    assert.equal(run.body.run.symbol, null);
    assert.equal(run.body.run.stocks, fx.symbols.length);
    assert.equal(run.body.config.model.hiddenSize, 8);
    assert.equal(run.body.config.training.epochs, 1);
    assert.equal(run.body.config.data.symbols, 'all');
    assert.doesNotMatch(JSON.stringify(run.body.config.data.database), /:[^*@/]+@/, 'no password recorded');
    const registry = await call(`${server.url}/api/v1/registry?limit=100`);
    const row = registry.body.items.find((r: Json) => r.run_name === 'job_universal');
    assert.equal(row.symbol, null);
  });

  test('a job that cannot train ends failed with the reason', async () => {
    const started = await start({ symbol: '688999', config: TINY });
    assert.equal(started.status, 202);
    const done = await waitFinished(started.body.id);
    assert.equal(done.state, 'failed');
    assert.match(done.error, /no bars for 688999/);
  });
});
