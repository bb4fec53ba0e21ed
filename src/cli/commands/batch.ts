/**
 * `klinecast batch`: train one model per stock for many stocks, on a local worker-thread pool or, with --queue,
 * as BullMQ jobs for `klinecast worker` processes anywhere. `klinecast batch status --queue …` counts the jobs.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_QUEUE_PREFIX,
  RUNS_DIR,
  SUMMARY_FILE,
  enqueueTraining,
  queueStatus,
  resolveSymbols,
  runLocalBatch,
  trainKind,
  type BatchSummary,
} from '../../batch/index.js';
import { migrate, openDatabase } from '../../data/index.js';
import { batchConfig, resolveTrainConfig, type TrainConfig } from '../../training/index.js';
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
  resume?: boolean;
  retryFailed?: boolean;
  outputDir: string;
  database?: string;
  queue?: string;
  queuePrefix: string;
  attempts: string;
  json?: boolean;
  progress: boolean;
}

export const DEFAULT_BATCH_DIR = 'out/batch';

/** Every stock's config: defaults < --config < the training flags train takes too (--epochs, --lr, --model …). */
function batchTrainConfig(opts: BatchOptions): TrainConfig {
  const config = resolveTrainConfig({ file: opts.config, overrides: flagOverrides(opts as unknown as Record<string, unknown>, SHARED_FLAGS), describePath });
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
    `\n${c.completed} completed, ${c.failed} failed, ${c.skipped} skipped of ${summary.stocks.length} in ${formatDuration(summary.seconds)} ` +
      `(${summary.perMinute.toFixed(1)} stocks/min${summary.threadsReplaced ? `, ${summary.threadsReplaced} crashed thread(s) replaced` : ''})`,
  );
  console.log(`runs: ${summary.runsDir}\nsummary: ${join(summary.batchDir, SUMMARY_FILE)}`);
}

async function runBatch(opts: BatchOptions): Promise<void> {
  const config = batchTrainConfig(opts);
  const kind = trainKind(config);
  const symbolsOption = parseSymbolsFlag(opts.symbols);
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
      batchDir: opts.outputDir,
      resume: opts.resume,
      retryFailed: opts.retryFailed,
      start: config.data.startDate ?? undefined,
      end: config.data.endDate ?? undefined,
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
    if (summary.counts.failed > 0) process.exitCode = 1;
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
    .option('--resume', 'continue the batch in --output-dir: completed stocks are not trained again')
    .option('--retry-failed', 'with --resume, train the stocks that failed last time again')
    .option('--output-dir <dir>', `the batch folder (batch_progress.json, ${SUMMARY_FILE}, ${RUNS_DIR}/)`, DEFAULT_BATCH_DIR)
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .option('--queue <redis-url>', 'enqueue BullMQ jobs on this Redis instead of training here')
    .option('--queue-prefix <prefix>', 'BullMQ key prefix (separate queues on one Redis)', DEFAULT_QUEUE_PREFIX)
    .option('--attempts <n>', 'with --queue: tries per job before it fails', '3')
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress line on stderr');
  addTrainingFlags(batch, SHARED_FLAGS).action((opts: BatchOptions) => runBatch(opts));

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
