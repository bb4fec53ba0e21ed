/**
 * Distributed batch training on BullMQ: `klinecast batch --queue` enqueues one job per (symbol, config) under a
 * deterministic id, and any number of `klinecast worker` processes (on any machine that reaches Redis and the
 * database) train them on their own thread pool, write runs to their own folder and register them.
 *
 * Failure handling is BullMQ's: attempts with exponential backoff for failing jobs; a worker that dies stops
 * renewing its job's lock, and after lockDuration another worker's stalled check moves the job back to wait.
 */
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { openDatabase, urlOfTarget, type DatabaseHandle } from '../data/db/connection.js';
import { StockDataLoader } from '../data/loader.js';
import { UserError } from '../util/errors.js';
import { jobConfigHash, jobIdFor } from '../util/hash.js';
import type { JobKind, JobMetrics, JobOutput, ProgressDetail } from './job.js';
import { WorkerPool } from './pool.js';
import { noSeries } from './transfer.js';
import { findCompleted, registerCompleted } from '../runs/registry.js';

export const QUEUE_NAME = 'train';
export const DEFAULT_QUEUE_PREFIX = 'klinecast';

export interface QueueTarget {
  /** redis://[user:pass@]host:port[/db] */
  url: string;
  /** BullMQ key prefix; different prefixes are independent queues on one Redis (tests use a unique one) */
  prefix?: string;
}

/**
 * What a job carries: the stock and the config, never the data (workers load it from the database). A universal job
 * (config.data.symbols) has no symbol: the worker's thread streams its stocks itself.
 */
export interface TrainJobData {
  symbol: string | null;
  modelType: string;
  configHash: string;
  config: unknown;
}

export type TrainJobResult =
  | { status: 'completed'; runName: string; path: string; host: string; metrics: JobMetrics; reused: boolean }
  | { status: 'skipped'; reason: string; host: string };

export interface JobProgress extends ProgressDetail {
  fraction: number;
  note: string | null;
  host: string;
}

function connection(url: string) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`queue URL "${url}" is not a valid URL (expected redis://host:6379)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new UserError(`queue URL "${url}" must start with redis:// or rediss://`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    // BullMQ workers block on Redis; they must wait out a Redis restart instead of failing requests.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(times * 500, 5000),
  };
}

/** How a job cancelled while it trained ends: failed with this reason (no retries), which readers map to 'cancelled'. */
export const CANCELLED_REASON = 'cancelled by request';

/**
 * The Redis key that asks the workers to stop a running job. BullMQ cannot cancel an active job, so the API sets
 * this key and the worker training the job polls it, aborting the training as Ctrl-C does (last checkpoint kept).
 */
export function cancelKey(target: QueueTarget, jobId: string): string {
  return `${target.prefix ?? DEFAULT_QUEUE_PREFIX}:${QUEUE_NAME}:cancel:${jobId}`;
}

/** A request to cancel outlives a worker that dies before it acts on it, but not forever. */
export const CANCEL_REQUEST_TTL_S = 24 * 3600;
const CANCEL_POLL_MS = 1000;

export function openQueue(target: QueueTarget): Queue<TrainJobData, TrainJobResult> {
  return new Queue<TrainJobData, TrainJobResult>(QUEUE_NAME, { connection: connection(target.url), prefix: target.prefix ?? DEFAULT_QUEUE_PREFIX });
}

export async function ensureReachable(queue: Queue, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      queue.waitUntilReady(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UserError(`cannot reach Redis at ${url} (no answer in 5 s)`, 'queue_unreachable')), 5000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface EnqueueOptions {
  /** tries per job before it is failed for good (default 3) */
  attempts?: number;
  /** first retry delay; doubled on each further retry (default 5 s) */
  backoffMs?: number;
}

export interface EnqueueResult {
  queued: number;
  /** jobs with the same id were already in the queue (any state): nothing was added for them */
  alreadyQueued: number;
  jobIds: string[];
  configHash: string;
}

/** The job id label of a universal job, where a per-stock job has its symbol. */
export const UNIVERSAL_JOB = 'universal';

/**
 * One job per symbol, or with `symbols` null one universal job (config.data.symbols); a (symbol, config) already in
 * the queue, waiting or finished, is not added again.
 */
export async function enqueueTraining(
  target: QueueTarget,
  kind: Pick<JobKind, 'modelType' | 'shareCores'>,
  batchConfig: unknown,
  symbols: string[] | null,
  options: EnqueueOptions = {},
): Promise<EnqueueResult> {
  // The workers are other processes, perhaps on other machines: a job's 'auto' threads is one there.
  const config = kind.shareCores?.(batchConfig, Number.POSITIVE_INFINITY, null) ?? batchConfig;
  const hash = jobConfigHash(kind.modelType, config);
  const queue = openQueue(target);
  try {
    await ensureReachable(queue, target.url);
    const jobOptions: JobsOptions = {
      attempts: options.attempts ?? 3,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 5000 },
      removeOnComplete: false,
      removeOnFail: false,
    };
    const targets: Array<string | null> = symbols ?? [null];
    const idOf = (symbol: string | null) => jobIdFor(symbol ?? UNIVERSAL_JOB, hash);
    const jobIds = targets.map(idOf);
    const before = new Set<string>();
    for (const id of jobIds) if ((await queue.getJobState(id)) !== 'unknown') before.add(id);
    await queue.addBulk(
      targets
        .filter((s) => !before.has(idOf(s)))
        .map((symbol) => ({
          name: `${symbol ?? UNIVERSAL_JOB} ${kind.modelType}`,
          data: { symbol, modelType: kind.modelType, configHash: hash, config },
          opts: { ...jobOptions, jobId: idOf(symbol) },
        })),
    );
    return { queued: jobIds.length - before.size, alreadyQueued: before.size, jobIds, configHash: hash };
  } finally {
    await queue.close();
  }
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  paused: number;
}

export async function queueStatus(target: QueueTarget): Promise<QueueCounts> {
  const queue = openQueue(target);
  try {
    await ensureReachable(queue, target.url);
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'paused', 'prioritized', 'waiting-children');
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
      paused: c.paused ?? 0,
    };
  } finally {
    await queue.close();
  }
}

/** One job's state and result, for the HTTP API's training routes. */
export async function queuedJob(
  target: QueueTarget,
  jobId: string,
): Promise<{ id: string; state: string; progress: unknown; result: TrainJobResult | null; error: string | null; attempts: number } | null> {
  const queue = openQueue(target);
  try {
    const job = await queue.getJob(jobId);
    if (!job) return null;
    return {
      id: jobId,
      state: await job.getState(),
      progress: job.progress,
      result: job.returnvalue ?? null,
      error: job.failedReason ?? null,
      attempts: job.attemptsMade,
    };
  } finally {
    await queue.close();
  }
}

export interface QueueWorkerOptions {
  target: QueueTarget;
  /** the job kind for a job's config (the real trainer in the CLI, fixtures in tests) */
  kindFor(config: unknown): JobKind;
  /** jobs (and threads) at once */
  concurrency: number;
  /** where this worker writes run folders: its own folder, or shared storage */
  outputDir: string;
  /** the database with the K-lines and the registry (unmasked URL) */
  databaseUrl?: string;
  /** ms a job's lock lasts without renewal: a dead worker's job is retried after about this long (default 30 s) */
  lockDuration?: number;
  /** ms between stalled-job checks (default 15 s) */
  stalledInterval?: number;
  onEvent?(event: WorkerEvent): void;
}

/** `symbol` is the job's stock, or "universal" for a universal job. */
export type WorkerEvent =
  | { type: 'active'; jobId: string; symbol: string }
  | { type: 'completed'; jobId: string; symbol: string; result: TrainJobResult }
  | { type: 'failed'; jobId: string; symbol: string; error: string; attemptsMade: number; willRetry: boolean }
  | { type: 'error'; error: string };

export interface QueueWorkerHandle {
  /** stops taking jobs; waits for running ones to finish, or with `force` stops them so that they are retried elsewhere */
  close(force?: boolean): Promise<void>;
  readonly host: string;
}

function runStamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/-/g, '').replace('T', '_').replace(/:/g, '');
}

export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorkerHandle> {
  const host = hostname();
  const outputDir = resolve(options.outputDir);
  const handle: DatabaseHandle = await openDatabase(options.databaseUrl);
  const loader = new StockDataLoader(handle);
  let pool: WorkerPool | null = null;
  let poolRef = '';

  const processJob = async (job: Job<TrainJobData, TrainJobResult>): Promise<TrainJobResult> => {
    const { symbol, config, modelType } = job.data;
    const kind = options.kindFor(config);
    if (kind.modelType !== modelType) throw new Error(`job ${job.id} is for ${modelType}, but its config builds ${kind.modelType}`);
    // A retried job whose first attempt finished training (and died before reporting it) is not trained twice.
    const done = symbol === null ? null : await findCompleted(handle.db, symbol, job.data.configHash);
    if (done) return { status: 'completed', runName: done.runName, path: done.path, host: done.host, metrics: done.metrics ?? {}, reused: true };
    const c = config as { data?: { startDate?: string | null; endDate?: string | null } };
    // A universal job's thread streams its stocks from the database itself.
    const series =
      symbol === null ? noSeries() : await loader.loadSeries(symbol, c.data?.startDate ?? undefined, c.data?.endDate ?? undefined, { adjust: kind.adjust });
    if (symbol !== null && series.dates.length === 0) return { status: 'skipped', reason: `no K-line data for ${symbol} in the database`, host };
    const skip = kind.precheck(series);
    if (skip) return { status: 'skipped', reason: skip, host };
    const ref = `${kind.ref.module}#${kind.ref.export}`;
    if (!pool || poolRef !== ref) {
      await pool?.close();
      pool = new WorkerPool({ size: options.concurrency, job: kind.ref });
      poolRef = ref;
    }
    const redis = await worker.client;
    const key = cancelKey(options.target, String(job.id));
    const runName = symbol === null ? `${modelType}_${runStamp()}` : `${symbol}_${modelType}_${runStamp()}`;
    if ((await redis.get(key)) !== null) {
      await redis.del(key);
      throw new UnrecoverableError(`${CANCELLED_REASON} before training started`);
    }
    const cancel = new AbortController();
    const poll = setInterval(() => {
      redis.get(key).then(
        (value) => value !== null && cancel.abort(CANCELLED_REASON),
        () => {},
      );
    }, CANCEL_POLL_MS);
    let output: JobOutput;
    try {
      const shared = kind.shareCores?.(config, options.concurrency, null) ?? config;
      const jobConfig = kind.configFor(shared, { outputDir, runName }) as { data: Record<string, unknown> };
      output = await pool.run({
        series,
        // Jobs enqueued with a number keep it; an 'auto' one (a library caller's) gets this worker's share of the cores.
        config: symbol === null ? { ...jobConfig, data: { ...jobConfig.data, database: urlOfTarget(handle.target) } } : jobConfig,
        signal: cancel.signal,
        onProgress: (fraction, note, detail) =>
          void job.updateProgress({ ...detail, fraction, note: note ?? null, host } satisfies JobProgress).catch(() => {}),
      });
    } catch (err) {
      if (!cancel.signal.aborted) throw err;
      throw new UnrecoverableError(`${CANCELLED_REASON} while training; ${runName} in ${outputDir} on ${host} keeps its last checkpoint and can be resumed`);
    } finally {
      clearInterval(poll);
      // A request that came too late to stop the training must not cancel a later job under the same id.
      await redis.del(key);
    }
    if (output.status === 'skipped') return { status: 'skipped', reason: output.reason, host };
    await registerCompleted(handle, {
      runName: output.runName,
      symbol,
      modelType,
      configHash: job.data.configHash,
      metrics: output.metrics,
      path: output.path,
    });
    return { status: 'completed', runName: output.runName, path: output.path, host, metrics: output.metrics, reused: false };
  };

  const worker = new Worker<TrainJobData, TrainJobResult>(QUEUE_NAME, processJob, {
    connection: connection(options.target.url),
    prefix: options.target.prefix ?? DEFAULT_QUEUE_PREFIX,
    concurrency: options.concurrency,
    lockDuration: options.lockDuration ?? 30_000,
    stalledInterval: options.stalledInterval ?? 15_000,
    // A job may stall once per worker death; more than twice means it kills workers and is failed.
    maxStalledCount: 2,
    autorun: false,
  });
  const emit = options.onEvent ?? (() => {});
  const label = (job: Job<TrainJobData, TrainJobResult>) => job.data.symbol ?? UNIVERSAL_JOB;
  worker.on('active', (job) => emit({ type: 'active', jobId: String(job.id), symbol: label(job) }));
  worker.on('completed', (job, result) => emit({ type: 'completed', jobId: String(job.id), symbol: label(job), result }));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    emit({
      type: 'failed',
      jobId: String(job.id),
      symbol: label(job),
      error: err.message,
      attemptsMade: job.attemptsMade,
      willRetry: job.attemptsMade < attempts,
    });
  });
  worker.on('error', (err) => emit({ type: 'error', error: err.message }));
  try {
    await worker.waitUntilReady();
  } catch (err) {
    await worker.close(true);
    await handle.close();
    throw new UserError(`cannot reach Redis at ${options.target.url}: ${(err as Error).message}`, 'queue_unreachable');
  }
  void worker.run();

  let closing: Promise<void> | null = null;
  return {
    host,
    close(force = false) {
      if (force) {
        // Running jobs stop with their threads; their locks lapse and another worker retries them.
        closing = (async () => {
          await pool?.close();
          await worker.close(true);
          await handle.close();
        })();
        return closing;
      }
      closing ??= (async () => {
        await worker.close();
        await pool?.close();
        await handle.close();
      })();
      return closing;
    },
  };
}
