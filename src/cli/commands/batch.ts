/**
 * `klinecast batch`: train one model per stock for many stocks, on a local worker-thread pool or, with --queue,
 * as BullMQ jobs for `klinecast worker` processes anywhere. `klinecast batch status --queue …` counts the jobs.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_QUEUE_PREFIX,
  LOG_FILE,
  PROGRESS_FILE,
  SUMMARY_FILE,
  batchDirFor,
  defaultBatchName,
  enqueueTraining,
  existingBatchDirFor,
  latestBatch,
  readProgress,
  queueStatus,
  resolveSymbols,
  runLocalBatch,
  trainKind,
  type BatchSummary,
} from '../../batch/index.js';
import { DEFAULT_DATABASE_RETRY, migrate, openDatabase } from '../../data/index.js';
import { BATCHES_DIR, DEFAULT_OUTPUT_DIR } from '../../runs/index.js';
import { batchConfig, parseTrainConfig, resolveTrainConfig, type TrainConfig } from '../../training/index.js';
import { UserError } from '../../util/errors.js';
import { ProgressLine, formatDuration, parseSymbolsFlag, printJson, printTable, wholeNumberFlag } from '../output.js';
import { SHARED_FLAGS, addTrainingFlags, describePath, flagOverrides } from '../train-flags.js';

interface BatchOptions {
  symbols: string;
  stockType?: string;
  model?: string;
  config?: string;
  workers?: string;
  limit?: string;
  /** true: the latest batch; a string: the batch of that name */
  resume?: boolean | string;
  name?: string;
  retryFailed?: boolean;
  outputDir: string;
  database?: string;
  queue?: string;
  queuePrefix: string;
  attempts: string;
  json?: boolean;
  progress: boolean;
  dbRetrySeconds: string;
}

/** Every stock's config: defaults < --config < the training flags train takes too (--epochs, --lr, --model …). */
function batchTrainConfig(opts: BatchOptions): TrainConfig {
  const overrides = flagOverrides(opts as unknown as Record<string, unknown>, SHARED_FLAGS);
  const config = resolveTrainConfig({ file: opts.config, overrides, describePath });
  if (config.data.symbols !== null) {
    throw new UserError(
      'batch trains one model per stock, chosen with --symbols; data.symbols in --config asks for one universal model: use klinecast train --symbols',
    );
  }
  return batchConfig(config);
}

function printSummary(summary: BatchSummary): void {
  const rows = summary.stocks.map((s) => [
    s.symbol,
    s.status,
    s.runName ?? '-',
    s.metrics?.mae ?? null,
    s.metrics?.direction_accuracy ?? null,
    s.metrics?.skill ?? null,
    s.seconds === null ? null : s.seconds.toFixed(1),
    s.reason ? s.reason.slice(0, 80) : '',
  ]);
  printTable(['symbol', 'status', 'run', 'mae', 'direction', 'skill', 'seconds', 'reason'], rows);
  const c = summary.counts;
  console.log(
    `\n${c.completed} completed, ${c.failed} failed, ${c.skipped} skipped${c.pending ? `, ${c.pending} pending` : ''} of ${summary.stocks.length} in ${formatDuration(summary.seconds)} ` +
      `(${summary.perMinute.toFixed(1)} stocks/min${summary.threadsReplaced ? `, ${summary.threadsReplaced} crashed thread(s) replaced` : ''})`,
  );
  console.log(`runs: ${summary.runsDir} (klinecast runs list)\nbatch ${summary.name}: ${join(summary.batchDir, SUMMARY_FILE)}, ${LOG_FILE}`);
}

/** The batch folder this invocation writes: a new one (--name, or batch_{stamp}), or the one --resume names or the latest. */
function chooseBatch(opts: BatchOptions): { name: string; dir: string; resume: boolean } {
  if (opts.resume === undefined || opts.resume === false) {
    if (opts.retryFailed) throw new UserError('--retry-failed goes with --resume');
    const name = opts.name ?? defaultBatchName();
    return { name, dir: batchDirFor(opts.outputDir, name), resume: false };
  }
  if (typeof opts.resume === 'string') {
    if (opts.name !== undefined && opts.name !== opts.resume) throw new UserError(`--resume ${opts.resume} and --name ${opts.name} name two batches; give one`);
    return { name: opts.resume, dir: existingBatchDirFor(opts.outputDir, opts.resume), resume: true };
  }
  if (opts.name !== undefined) return { name: opts.name, dir: existingBatchDirFor(opts.outputDir, opts.name), resume: true };
  const latest = latestBatch(opts.outputDir);
  if (!latest) throw new UserError(`no batch to resume in ${join(opts.outputDir, BATCHES_DIR)}/ (none has ${PROGRESS_FILE})`, 'batch_not_found');
  return { name: latest.name, dir: latest.dir, resume: true };
}

async function runBatch(opts: BatchOptions, command: Command): Promise<void> {
  const batch = opts.queue ? null : chooseBatch(opts);
  const saved = batch?.resume ? readProgress(batch.dir) : null;
  // A resumed batch keeps its own config and stocks unless flags are given again (then they must match: the hash check).
  const flagsGiven = opts.config !== undefined || Object.keys(flagOverrides(opts as unknown as Record<string, unknown>, SHARED_FLAGS)).length > 0;
  const config = saved && !flagsGiven ? parseTrainConfig(saved.config, `${PROGRESS_FILE} of batch ${batch!.name}`) : batchTrainConfig(opts);
  const kind = trainKind(config);
  const symbolsGiven = command.getOptionValueSource('symbols') !== 'default';
  const symbolsOption = saved && !symbolsGiven ? Object.keys(saved.stocks) : parseSymbolsFlag(opts.symbols);
  const limit = opts.limit === undefined ? undefined : wholeNumberFlag('limit', opts.limit, 1);
  const handle = await openDatabase(opts.database);
  try {
    await migrate(handle);
    const symbols = await resolveSymbols(handle, symbolsOption, opts.stockType, limit);
    if (opts.queue) {
      const result = await enqueueTraining({ url: opts.queue, prefix: opts.queuePrefix }, kind, config, symbols, {
        attempts: wholeNumberFlag('attempts', opts.attempts, 1),
      });
      if (opts.json) printJson(result);
      else console.log(`enqueued ${result.queued} job(s) (${result.alreadyQueued} already queued) for config ${result.configHash} on ${opts.queue}`);
      return;
    }
    const workers = (opts.workers === undefined ? undefined : wholeNumberFlag('workers', opts.workers, 1)) ?? availableParallelism();
    const showProgress = opts.progress && !opts.json;
    let bar: ProgressLine | null = null;
    const summary = await runLocalBatch({
      handle,
      kind,
      config,
      symbols,
      workers,
      outputDir: opts.outputDir,
      batchDir: batch!.dir,
      resume: batch!.resume,
      retryFailed: opts.retryFailed,
      start: config.data.startDate ?? undefined,
      end: config.data.endDate ?? undefined,
      databaseRetry: { ...DEFAULT_DATABASE_RETRY, budgetMs: wholeNumberFlag('db-retry-seconds', opts.dbRetrySeconds, 0) * 1000 },
      onUpdate(state) {
        if (!showProgress) return;
        bar ??= new ProgressLine('batch', state.todo);
        const c = state.counts;
        bar.update(state.processed, `done ${c.completed} failed ${c.failed} skipped ${c.skipped} | ${state.perMinute.toFixed(1)}/min | ${state.note}`);
      },
    });
    (bar as ProgressLine | null)?.finish();
    if (opts.json) printJson(summary);
    else printSummary(summary);
    if (summary.databaseOutage) {
      const c = summary.counts;
      console.error(
        `error: ${summary.databaseOutage.reason}; ${c.pending} stock(s) left pending (none marked failed for it): ` +
          `run the same command with --resume once the database is back`,
      );
      process.exitCode = 3;
    } else if (summary.counts.failed > 0) process.exitCode = 1;
  } finally {
    await handle.close();
  }
}

export function register(program: Command): void {
  const batch = program
    .command('batch')
    .description('train one model per stock for many stocks (local worker threads, or BullMQ jobs with --queue)')
    .option('--symbols <list>', 'all | CODE,CODE | @file', 'all')
    .option('--stock-type <type>', 'only stocks of this board (主板, 创业板, 科创板 …)')
    .option('--config <file.json>', 'a (partial) TrainConfig JSON file for every stock')
    .option('--workers <n>', 'worker threads (default: the number of cores)')
    .option('--limit <n>', 'at most this many stocks (in symbol order)')
    .option('--name <name>', `the batch's name: its bookkeeping goes to {output-dir}/${BATCHES_DIR}/{name}/ (default batch_{YYYYMMDD_HHMMSS})`)
    .option('--resume [name]', 'continue the named batch, or the latest: completed stocks are not trained again (its saved config and stocks by default)')
    .option('--retry-failed', 'with --resume, train the stocks that failed last time again')
    .option(
      '--output-dir <dir>',
      `where the runs go, {output-dir}/{run}/ as train writes them; the batch's ${PROGRESS_FILE}, ${SUMMARY_FILE} and ${LOG_FILE} go to {output-dir}/${BATCHES_DIR}/{name}/`,
      DEFAULT_OUTPUT_DIR,
    )
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .option('--queue <redis-url>', 'enqueue BullMQ jobs on this Redis instead of training here')
    .option('--queue-prefix <prefix>', 'BullMQ key prefix (separate queues on one Redis)', DEFAULT_QUEUE_PREFIX)
    .option('--attempts <n>', 'with --queue: tries per job before it fails', '3')
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress line on stderr')
    .option(
      '--db-retry-seconds <s>',
      'how long a lost database is retried (backoff 1, 2, 4, 8, then every 15 s) before the batch stops, leaving the rest pending',
      String(DEFAULT_DATABASE_RETRY.budgetMs / 1000),
    );
  addTrainingFlags(batch, SHARED_FLAGS).action((opts: BatchOptions, command: Command) => runBatch(opts, command));

  batch
    .command('status')
    .description('waiting / active / completed / failed job counts of the queue')
    .option('--queue <redis-url>', 'the Redis the jobs are on')
    .option('--queue-prefix <prefix>', 'BullMQ key prefix', DEFAULT_QUEUE_PREFIX)
    .option('--json', 'print the counts as JSON')
    .action(async (_local: unknown, cmd: Command) => {
      // `batch` has the same flags, and commander hands them to it: read both levels.
      const opts = cmd.optsWithGlobals<{ queue?: string; queuePrefix: string; json?: boolean }>();
      if (!opts.queue) throw new UserError('batch status needs --queue redis://host:6379');
      const counts = await queueStatus({ url: opts.queue, prefix: opts.queuePrefix });
      if (opts.json) printJson(counts);
      else
        printTable(['waiting', 'active', 'delayed', 'completed', 'failed'], [[counts.waiting, counts.active, counts.delayed, counts.completed, counts.failed]]);
    });
}
