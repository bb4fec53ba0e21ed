/**
 * The BullMQ layer with fixture jobs, in-process, on Redis (unique key prefix per test) and a temp SQLite registry:
 * idempotent enqueue, progress through the job, attempts with backoff, registry rows, and a graceful close that
 * finishes the running job.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import {
  QUEUE_NAME,
  cancelKey,
  enqueueTraining,
  queueTrainingJobs,
  queueStatus,
  queuedJob,
  startQueueWorker,
  trainKind,
  type JobProgress,
  type QueueTarget,
} from '../../src/batch/index.js';
import { listRegistry } from '../../src/runs/registry.js';
import { seriesToBars, writeBars } from '../../src/data/index.js';
import type { TrainingJobs } from '../../src/server/index.js';
import { parseTrainConfig, resolveTrainConfig } from '../../src/training/index.js';
import { readRun } from '../../src/runs/index.js';
import { createMarket } from '../prediction/fixture.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { redis } from '../helpers/env.js';
import { fixtureKind, syntheticSeries, type FixtureConfig } from './fixture-jobs.js';

async function withQueue(fn: (target: QueueTarget) => Promise<void>): Promise<void> {
  const target = { url: redis.url!, prefix: `kct_${randomBytes(4).toString('hex')}` };
  try {
    await fn(target);
  } finally {
    const { hostname, port } = new URL(target.url);
    const queue = new Queue(QUEUE_NAME, { connection: { host: hostname, port: Number(port || 6379) }, prefix: target.prefix });
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/** 40 synthetic bars for each symbol in the test database, for the worker to load. */
async function writeSyntheticBars(tdb: TestDatabase, symbols: string[]): Promise<void> {
  for (const symbol of symbols) await writeBars(tdb.handle.db, 'sqlite', seriesToBars(syntheticSeries(symbol, 40)));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('jobs are enqueued once, report progress, retry with backoff, and complete runs land in the registry', { skip: redis.skip, timeout: 90_000 }, async () => {
  const tdb = await createTestDatabase('sqlite');
  await writeSyntheticBars(tdb, ['000001', '000002', '000003']);
  try {
    await withQueue(async (target) => {
      const config: FixtureConfig = { sleepMs: 800, throwOn: ['000003'] };
      const kind = fixtureKind(config);
      const first = await enqueueTraining(target, kind, config, ['000001', '000002', '000003'], { attempts: 2, backoffMs: 200 });
      assert.equal(first.queued, 3);
      const again = await enqueueTraining(target, kind, config, ['000001', '000002', '000003', '000004']);
      assert.deepEqual([again.queued, again.alreadyQueued], [1, 3]);
      assert.deepEqual(again.jobIds.slice(0, 3), first.jobIds, 'job ids are a function of (symbol, config)');

      const events: string[] = [];
      const worker = await startQueueWorker({
        target,
        kindFor: () => kind,
        concurrency: 2,
        outputDir: join(tdb.dir, 'runs'),
        databaseUrl: tdb.url,
        onEvent: (e) => events.push(e.type === 'error' ? `error ${e.error}` : `${e.type} ${e.symbol}`),
      });
      try {
        let sawProgress: JobProgress | null = null;
        await until('all jobs settled', async () => {
          const p = (await queuedJob(target, first.jobIds[0]))?.progress as JobProgress | number | undefined;
          if (p && typeof p === 'object' && p.fraction > 0 && p.fraction < 1) sawProgress = p;
          const c = await queueStatus(target);
          return c.completed + c.failed === 4;
        });
        assert.ok(sawProgress, 'progress was visible on the job while it ran');
        assert.deepEqual(await queueStatus(target), { waiting: 0, active: 0, delayed: 0, completed: 3, failed: 1, paused: 0 });
        const failed = await queuedJob(target, first.jobIds[2]);
        assert.equal(failed!.state, 'failed');
        assert.equal(failed!.attempts, 2, 'retried once with backoff, then failed');
        assert.match(failed!.error!, /deliberate failure in 000003/);
        const skipped = await queuedJob(target, again.jobIds[3]);
        assert.deepEqual([skipped!.state, skipped!.result?.status], ['completed', 'skipped'], '000004 has no data: completed as skipped');
        const registry = await listRegistry(tdb.handle.db);
        assert.deepEqual(registry.map((r) => r.symbol).sort(), ['000001', '000002']);
        assert.ok(registry.every((r) => r.configHash === first.configHash && r.status === 'completed'));
        assert.ok(events.filter((e) => e === 'failed 000003').length === 2, events.join(', '));
      } finally {
        await worker.close();
      }
    });
  } finally {
    await tdb.cleanup();
  }
});

test(
  'the API port cancels a running job: its worker stops the training, the job reads cancelled and is not retried',
  { skip: redis.skip, timeout: 60_000 },
  async () => {
    const tdb = await createTestDatabase('sqlite');
    await writeSyntheticBars(tdb, ['000001']);
    try {
      await withQueue(async (target) => {
        const port = queueTrainingJobs(target);
        // a 30 s "training" under the job's real GRU config
        const slow = { ...fixtureKind({}), ref: { ...fixtureKind({}).ref, export: 'slowFixtureJob' }, modelType: 'gru' };
        const worker = await startQueueWorker({ target, kindFor: () => slow, concurrency: 1, outputDir: join(tdb.dir, 'runs'), databaseUrl: tdb.url });
        try {
          const started = await port.start(resolveTrainConfig({ overrides: { data: { symbol: '000001' }, model: { modelType: 'gru' } } }));
          await until('the job is running', async () => (await port.get(started.id))?.state === 'running');
          const asked = Date.now();
          assert.equal((await port.cancel(started.id))!.state, 'running', 'it stays running until the worker has stopped it');
          await until('the job is cancelled', async () => (await port.get(started.id))?.state === 'cancelled', 10_000);
          assert.ok(Date.now() - asked < 5000, 'stopped within seconds, not after the 30 s training');
          const job = await queuedJob(target, started.id);
          assert.equal(job!.attempts, 1, 'a cancelled job is not retried');
          assert.match(job!.error!, /^cancelled by request while training; 000001_gru_\d{8}_\d{6} in .* keeps its last checkpoint/);
          assert.deepEqual(await listRegistry(tdb.handle.db), [], 'nothing registered');
          const { hostname, port: redisPort } = new URL(target.url);
          const queue = new Queue(QUEUE_NAME, { connection: { host: hostname, port: Number(redisPort || 6379) }, prefix: target.prefix });
          try {
            assert.equal(await (await queue.client).get(cancelKey(target, started.id)), null, 'the request was cleared');
          } finally {
            await queue.close();
          }
        } finally {
          await worker.close();
          await port.close();
        }
      });
    } finally {
      await tdb.cleanup();
    }
  },
);

test('a graceful close lets the running job finish; the job is not left active', { skip: redis.skip, timeout: 60_000 }, async () => {
  const tdb = await createTestDatabase('sqlite');
  await writeSyntheticBars(tdb, ['000001']);
  try {
    await withQueue(async (target) => {
      const config: FixtureConfig = { sleepMs: 2000 };
      const kind = fixtureKind(config);
      const { jobIds } = await enqueueTraining(target, kind, config, ['000001']);
      const worker = await startQueueWorker({ target, kindFor: () => kind, concurrency: 1, outputDir: join(tdb.dir, 'runs'), databaseUrl: tdb.url });
      await until('the job is active', async () => (await queuedJob(target, jobIds[0]))?.state === 'active');
      await worker.close();
      const job = await queuedJob(target, jobIds[0]);
      assert.equal(job!.state, 'completed');
      assert.equal(job!.result?.status, 'completed');
    });
  } finally {
    await tdb.cleanup();
  }
});

test(
  'the API port on the queue: start enqueues (idempotently), get reads, cancel removes a job that has not started',
  { skip: redis.skip, timeout: 30_000 },
  async () => {
    await withQueue(async (target) => {
      const jobs = queueTrainingJobs(target);
      const port: TrainingJobs = jobs;
      try {
        const config = resolveTrainConfig({ overrides: { data: { symbol: '600519' }, model: { modelType: 'gru' } } });
        const started = await port.start(config);
        assert.equal(started.state, 'queued');
        assert.equal(started.symbol, '600519');
        assert.equal(started.model_type, 'gru');
        assert.equal((await port.start(config)).id, started.id, 'the same (symbol, config) is the same job');
        assert.equal((await port.get(started.id))!.state, 'queued');
        assert.equal(await port.get('nope'), null);
        assert.equal((await port.cancel(started.id))!.state, 'cancelled');
        assert.equal(await port.get(started.id), null);
      } finally {
        await jobs.close();
      }
    });
  },
);

test(
  'a universal job through the queue: one job, trained whole by a worker thread that reads its stocks itself',
  { skip: redis.skip, timeout: 120_000 },
  async () => {
    const fx = await createMarket();
    try {
      await withQueue(async (target) => {
        const config = parseTrainConfig({
          data: { symbols: 'all' },
          dataset: { seqLength: 20, horizon: 1 },
          model: { hiddenSize: 8, numLayers: 1, headHiddenSize: 8 },
          training: { epochs: 1, batchSize: 64, seed: 2 },
          output: { outputDir: fx.outputDir, runName: null },
        });
        const api = queueTrainingJobs(target);
        const worker = await startQueueWorker({
          target,
          kindFor: (c) => trainKind(parseTrainConfig(c, 'queued job config')),
          concurrency: 1,
          outputDir: fx.outputDir,
          databaseUrl: fx.url,
        });
        try {
          const job = await api.start(config);
          assert.equal(job.symbol, null);
          assert.match(job.id, /^universal-[0-9a-f]{16}$/);
          await until('the universal job settled', async () => ['completed', 'failed'].includes((await api.get(job.id))!.state), 100_000);
          const done = (await api.get(job.id))!;
          assert.equal(done.state, 'completed', done.error ?? '');
          const run = readRun(join(fx.outputDir, done.run_name!));
          assert.equal(run.status, 'completed');
          assert.equal(run.symbol, null);
          assert.equal(run.stocks, fx.symbols.length);
          const registry = await listRegistry(fx.handle.db);
          assert.deepEqual(
            registry.map((r) => [r.runName, r.symbol]),
            [[done.run_name, null]],
          );
        } finally {
          await worker.close();
          await api.close();
        }
      });
    } finally {
      await fx.close();
    }
  },
);
