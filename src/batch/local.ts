/**
 * `klinecast batch` on one machine: stream every stock's series from the database in the main thread, hand
 * each to a free worker thread (its columns transferred, not copied), record every outcome in the progress
 * file as it happens, and finish with batch_summary.json and the registry. Runs go to the output folder itself
 * (out/{run}/, like `train`); the batch's bookkeeping to its own folder (out/batches/{name}/).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import type { DatabaseHandle } from '../data/db/connection.js';
import { DEFAULT_DATABASE_RETRY, DatabaseOutageError, DatabaseRetry, type DatabaseRetryNotice, type DatabaseRetryPolicy } from '../data/db/retry.js';
import { StockDataLoader } from '../data/loader.js';
import { resolveUniverse } from '../data/universe.js';
import type { IsoDate, KlineSeries } from '../data/types.js';
import { appendLog, isRunFolder, readRun } from '../runs/index.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { jobConfigHash } from '../util/hash.js';
import type { JobKind, JobOutput } from './job.js';
import { WorkerPool } from './pool.js';
import {
  LOG_FILE,
  SUMMARY_FILE,
  countStatuses,
  emptyStock,
  readProgress,
  writeProgress,
  type BatchProgress,
  type StockProgress,
  type StockStatus,
} from './progress.js';
import { registerCompleted } from '../runs/registry.js';

export interface LocalBatchOptions {
  handle: DatabaseHandle;
  kind: JobKind;
  /** the resolved training config every stock is trained with */
  config: unknown;
  /** 'all' active stocks (of `stockType`), or these codes */
  symbols: 'all' | string[];
  stockType?: string;
  limit?: number;
  /** date range of the bars loaded for each stock */
  start?: IsoDate;
  end?: IsoDate;
  workers: number;
  /** the folder the runs go to, directly (out/{run}/, as `train` writes them) */
  outputDir: string;
  /** the batch's own folder (out/batches/{name}/): batch_progress.json, batch_summary.json, batch.log */
  batchDir: string;
  resume?: boolean;
  retryFailed?: boolean;
  /** register completed runs in the database's model registry (default true) */
  register?: boolean;
  resourceLimits?: ResourceLimits;
  /** how long a lost database is retried before the batch stops with the stocks not yet started pending (DEFAULT_DATABASE_RETRY) */
  databaseRetry?: DatabaseRetryPolicy;
  onUpdate?(state: BatchState): void;
  /** before each wait for the database to come back */
  onDatabaseRetry?(notice: DatabaseRetryNotice): void;
}

export interface BatchState {
  total: number;
  /** stocks this invocation has to process (the rest were settled by an earlier run) */
  todo: number;
  /** of `todo`, finished in this invocation */
  processed: number;
  counts: Record<StockStatus, number>;
  running: number;
  /** completed + failed stocks per minute in this invocation */
  perMinute: number;
  etaSeconds: number;
  note: string;
}

export interface BatchStockSummary extends StockProgress {
  symbol: string;
}

export interface BatchSummary {
  /** the batch's name: its folder's under out/batches/ */
  name: string;
  batchDir: string;
  /** the output folder the runs were written to (out/{run}/) */
  runsDir: string;
  modelType: string;
  configHash: string;
  startedAt: string;
  finishedAt: string;
  /** wall time of this invocation */
  seconds: number;
  counts: Record<StockStatus, number>;
  /** completed + failed stocks per minute in this invocation */
  perMinute: number;
  threadsReplaced: number;
  /**
   * Set when the database stayed unreachable for the whole retry budget: the batch stopped, every stock it had not
   * finished is still pending (none is failed for it), and `--resume` continues them. Null otherwise.
   */
  databaseOutage: { reason: string; since: string } | null;
  stocks: BatchStockSummary[];
}

/** The stocks of a batch: see resolveUniverse. */
export function resolveSymbols(handle: DatabaseHandle, symbols: 'all' | string[], stockType?: string, limit?: number): Promise<string[]> {
  return resolveUniverse(handle, symbols, stockType, limit);
}

function stampOf(date: Date): string {
  return date.toISOString().slice(0, 19).replace(/-/g, '').replace('T', '_').replace(/:/g, '');
}

function openProgress(batchDir: string, kind: JobKind, config: unknown, hash: string, resume: boolean): BatchProgress {
  const existing = readProgress(batchDir);
  if (existing && !resume) {
    throw new UserError(`${batchDir} already holds a batch (batch_progress.json); pass --resume to continue it or choose another --name`);
  }
  if (existing) {
    if (existing.configHash !== hash) {
      throw new UserError(
        `the batch in ${batchDir} was started with another config (hash ${existing.configHash}, now ${hash}); resume it without training flags (its saved config), with the same ones, or start another --name`,
      );
    }
    return existing;
  }
  const now = new Date();
  return {
    version: 1,
    modelType: kind.modelType,
    configHash: hash,
    config,
    stamp: stampOf(now),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    stocks: {},
  };
}

/**
 * A stock about to be trained may still have a run folder: the batch was killed after the run completed but before
 * the progress file said so (adopt it), or mid-training, or the run failed (a full disk, a bad bar) and the stock is
 * retried: such a folder is replaced, removed so the stock trains again under the same name, never beside it as `_2`.
 */
function reconcileRunFolders(runsDir: string, baseName: string): { adopted: { name: string; dir: string; metrics: Record<string, number | null> } | null } {
  if (!existsSync(runsDir)) return { adopted: null };
  // The output folder is shared with other runs: only run folders (or a folder claimed and still empty) are touched.
  const candidates = readdirSync(runsDir)
    .filter((n) => n === baseName || new RegExp(`^${baseName}_\\d+$`).test(n))
    .filter((n) => isRunFolder(join(runsDir, n)) || isEmptyDir(join(runsDir, n)));
  for (const name of candidates) {
    const info = readRun(join(runsDir, name));
    if (info.status === 'completed') return { adopted: { name, dir: info.dir, metrics: flattenMetrics(info.evalMetrics) } };
  }
  for (const name of candidates) rmSync(join(runsDir, name), { recursive: true, force: true });
  return { adopted: null };
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

function flattenMetrics(value: unknown): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (typeof v === 'number' || v === null) out[k] = v as number | null;
  }
  return out;
}

export async function runLocalBatch(options: LocalBatchOptions): Promise<BatchSummary> {
  const batchDir = resolve(options.batchDir);
  const runsDir = resolve(options.outputDir);
  const name = basename(batchDir);
  const log = (message: string) => appendLog(join(batchDir, LOG_FILE), message);
  const { kind } = options;
  const config = kind.shareCores?.(options.config, options.workers, options.resume ? (readProgress(batchDir)?.config ?? null) : null) ?? options.config;
  const hash = jobConfigHash(kind.modelType, config);
  let note = '';
  // report() is defined below; a retry before the first stock only shows once there is a state to show.
  let report: () => void = () => undefined;
  const retry = new DatabaseRetry(options.databaseRetry ?? DEFAULT_DATABASE_RETRY, (notice) => {
    note = `database unreachable (${notice.code}) while ${notice.what}: retry ${notice.attempt} in ${(notice.delayMs / 1000).toFixed(1)} s`;
    options.onDatabaseRetry?.(notice);
    report();
  });
  const symbols = await retry.call('reading the stock list', () => resolveSymbols(options.handle, options.symbols, options.stockType, options.limit));
  const progress = openProgress(batchDir, kind, config, hash, Boolean(options.resume));

  const todo: string[] = [];
  for (const s of symbols) {
    const entry = (progress.stocks[s] ??= emptyStock());
    if (entry.status === 'pending' || (entry.status === 'failed' && options.retryFailed)) todo.push(s);
  }
  writeProgress(batchDir, progress);
  log(
    `batch ${name} ${options.resume ? 'resumed' : 'started'}: ${todo.length} of ${symbols.length} stocks to train, ${kind.modelType}, config ${hash}, runs in ${runsDir}`,
  );

  const startedAt = new Date();
  let processed = 0;
  let trainedOrFailed = 0;
  let running = 0;
  report = () => {
    if (!options.onUpdate) return;
    const minutes = (Date.now() - startedAt.getTime()) / 60000;
    const perMinute = minutes > 0 ? trainedOrFailed / minutes : 0;
    const left = todo.length - processed;
    options.onUpdate({
      total: symbols.length,
      todo: todo.length,
      processed,
      counts: countStatuses(progress, symbols),
      running,
      perMinute,
      etaSeconds: perMinute > 0 ? (left / perMinute) * 60 : NaN,
      note,
    });
  };

  const settle = (symbol: string, patch: Partial<StockProgress> & { status: StockStatus }, trained: boolean) => {
    const entry = progress.stocks[symbol];
    Object.assign(entry, patch, { finishedAt: new Date().toISOString() });
    processed++;
    if (trained) trainedOrFailed++;
    writeProgress(batchDir, progress);
    log(`${symbol} ${entry.status}${entry.runName ? ` ${entry.runName}` : ''}${entry.reason ? `: ${entry.reason}` : ''}`);
    report();
  };

  const register = async (symbol: string, runName: string, path: string, metrics: Record<string, number | null>) => {
    if (options.register === false) return;
    await retry.call(`registering ${runName}`, () =>
      registerCompleted(options.handle, { runName, symbol, modelType: kind.modelType, configHash: hash, metrics, path }),
    );
  };

  /**
   * A stock the batch could not finish through no fault of its own stays pending, so that a plain --resume takes it
   * up: a run trained but not registered (the database went away) is adopted then, the rest trained.
   */
  const leavePending = (symbol: string, reason: string | null) => {
    progress.stocks[symbol].reason = reason;
    writeProgress(batchDir, progress);
    report();
  };

  report();
  const pool = todo.length > 0 ? new WorkerPool({ size: options.workers, job: kind.ref, resourceLimits: options.resourceLimits }) : null;
  const inFlight = new Set<Promise<void>>();
  const seen = new Set<string>();
  // Set when the loop ends by an error: jobs the pool then drops or stops were not at fault, and stay pending.
  let abandoned = false;
  try {
    const loader = new StockDataLoader(options.handle);
    // A lost connection reopens the query for the stocks not yet handed out: a half-read stock is read again whole.
    const stream = retry.stream('reading K-lines', () =>
      loader.streamSeries({ symbols: todo.filter((s) => !seen.has(s)), start: options.start, end: options.end, adjust: kind.adjust }),
    );
    try {
      await dispatchAll(stream);
    } catch (err) {
      if (!(err instanceof DatabaseOutageError)) throw err;
    }
    await Promise.all(inFlight);
    if (!retry.outage) {
      for (const symbol of todo) {
        if (!seen.has(symbol)) settle(symbol, { status: 'skipped', reason: 'no K-line data in the database for the requested dates' }, false);
      }
    }
  } catch (err) {
    abandoned = true;
    throw err;
  } finally {
    await pool?.close();
  }

  async function dispatchAll(stream: AsyncIterable<KlineSeries>): Promise<void> {
    for await (const series of stream) {
      // Once the database is given up on, no new stock starts: it stays pending for --resume.
      if (retry.outage) return;
      const symbol = series.symbol;
      seen.add(symbol);
      const skip = kind.precheck(series);
      if (skip) {
        settle(symbol, { status: 'skipped', reason: skip, runName: null, path: null, metrics: null }, false);
        continue;
      }
      const baseName = `${symbol}_${kind.modelType}_${progress.stamp}`;
      const { adopted } = reconcileRunFolders(runsDir, baseName);
      if (adopted) {
        await register(symbol, adopted.name, adopted.dir, adopted.metrics);
        settle(symbol, { status: 'completed', runName: adopted.name, path: adopted.dir, metrics: adopted.metrics, reason: null }, false);
        continue;
      }
      // Hold at most two stocks per thread in memory: the loader waits while the pool is busy.
      while (pool!.load >= options.workers * 2) await Promise.race(inFlight);
      if (retry.outage) return;
      const entry = progress.stocks[symbol];
      entry.attempts++;
      let t0 = Date.now();
      let started = false;
      const job = pool!
        .run({
          series,
          config: kind.configFor(config, { outputDir: runsDir, runName: baseName }),
          onStart: () => {
            t0 = Date.now();
            started = true;
            running++;
          },
          onProgress: (f, n) => ((note = `${symbol} ${n ?? `${Math.round(f * 100)}%`}`), report()),
        })
        .then(
          async (output: JobOutput) => {
            if (started) running--;
            const seconds = (Date.now() - t0) / 1000;
            if (output.status === 'skipped') {
              settle(symbol, { status: 'skipped', reason: output.reason, runName: null, path: null, metrics: null, seconds }, true);
              return;
            }
            try {
              await register(symbol, output.runName, output.path, output.metrics);
            } catch (err) {
              if (!(err instanceof DatabaseOutageError)) throw err;
              leavePending(symbol, `trained into ${output.runName} but not registered (database outage); --resume registers it`);
              return;
            }
            settle(symbol, { status: 'completed', runName: output.runName, path: output.path, metrics: output.metrics, reason: null, seconds }, true);
          },
          (err: Error) => {
            if (started) running--;
            if (abandoned) return;
            settle(symbol, { status: 'failed', reason: err.message, runName: null, path: null, metrics: null, seconds: (Date.now() - t0) / 1000 }, true);
          },
        )
        .finally(() => inFlight.delete(job));
      // A job rejects only when recording its outcome failed (a full disk under batch_progress.json): the awaits
      // below report it; until one of them does, it must not count as an unhandled rejection.
      job.catch(() => undefined);
      inFlight.add(job);
    }
  }

  const finishedAt = new Date();
  const seconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  const summary: BatchSummary = {
    name,
    batchDir,
    runsDir,
    modelType: kind.modelType,
    configHash: hash,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds,
    counts: countStatuses(progress, symbols),
    perMinute: seconds > 0 ? trainedOrFailed / (seconds / 60) : 0,
    threadsReplaced: pool?.replacedThreads ?? 0,
    databaseOutage: retry.outage ? { reason: retry.outage.message, since: retry.outage.since.toISOString() } : null,
    stocks: symbols.map((symbol) => ({ symbol, ...progress.stocks[symbol] })),
  };
  writeJsonAtomic(join(batchDir, SUMMARY_FILE), summary);
  const c = summary.counts;
  log(`batch ${name} finished: ${c.completed} completed, ${c.failed} failed, ${c.skipped} skipped, ${c.pending} pending in ${seconds.toFixed(1)} s`);
  return summary;
}
