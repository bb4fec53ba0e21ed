/**
 * `klinecast worker --queue redis://…`: trains BullMQ batch jobs on a local thread pool until stopped.
 * SIGTERM/SIGINT: finish the running jobs, then exit; a second signal stops them at once (their locks lapse and
 * another worker retries them).
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { DEFAULT_QUEUE_PREFIX, startQueueWorker, trainKind, type WorkerEvent } from '../../batch/index.js';
import { migrate, withDatabase } from '../../data/index.js';
import { parseTrainConfig } from '../../training/index.js';
import { wholeNumberFlag } from '../output.js';

interface WorkerOptions {
  queue: string;
  queuePrefix: string;
  concurrency?: string;
  outputDir: string;
  database?: string;
  lockDuration: string;
  stalledInterval: string;
  json?: boolean;
}

function describe(e: WorkerEvent): string {
  switch (e.type) {
    case 'active':
      return `start ${e.symbol} (job ${e.jobId})`;
    case 'completed':
      return e.result.status === 'completed'
        ? `done ${e.symbol} -> ${e.result.runName}${e.result.reused ? ' (already trained, reused)' : ''}`
        : `skipped ${e.symbol}: ${e.result.reason}`;
    case 'failed':
      return `failed ${e.symbol} (attempt ${e.attemptsMade}${e.willRetry ? ', will retry' : ', giving up'}): ${e.error}`;
    case 'error':
      return `queue error: ${e.error}`;
  }
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('train batch jobs from a BullMQ queue (enqueued by klinecast batch --queue) until SIGTERM')
    .requiredOption('--queue <redis-url>', 'the Redis the jobs are on, e.g. redis://host:6379')
    .option('--queue-prefix <prefix>', 'BullMQ key prefix', DEFAULT_QUEUE_PREFIX)
    .option('--concurrency <n>', 'jobs (worker threads) at once (default: the number of cores)')
    .option('--output-dir <dir>', 'where this worker writes run folders (its own, or shared storage)', 'out')
    .option('--database <url>', 'the database with the K-lines and the model registry')
    .option('--lock-duration <ms>', "a dead worker's job is retried elsewhere after about this long", '30000')
    .option('--stalled-interval <ms>', 'how often to look for jobs of dead workers', '15000')
    .option('--json', 'one JSON object per event on stdout')
    .action(async (opts: WorkerOptions) => {
      const concurrency = opts.concurrency ? wholeNumberFlag('concurrency', opts.concurrency, 1) : availableParallelism();
      await withDatabase(opts.database, async (handle) => {
        await migrate(handle);
      });
      const worker = await startQueueWorker({
        target: { url: opts.queue, prefix: opts.queuePrefix },
        kindFor: (config) => trainKind(parseTrainConfig(config, 'queued job config')),
        concurrency,
        outputDir: opts.outputDir,
        databaseUrl: opts.database,
        lockDuration: wholeNumberFlag('lock-duration', opts.lockDuration, 1),
        stalledInterval: wholeNumberFlag('stalled-interval', opts.stalledInterval, 1),
        onEvent: (e) => console.log(opts.json ? JSON.stringify({ ...e, at: new Date().toISOString() }) : `[${new Date().toISOString()}] ${describe(e)}`),
      });
      console.error(`worker on ${worker.host}: ${concurrency} thread(s), queue ${opts.queuePrefix} on ${opts.queue}, runs in ${opts.outputDir}`);
      await new Promise<void>((resolve) => {
        let signals = 0;
        const stop = (signal: string) => {
          signals++;
          const force = signals > 1;
          console.error(
            force
              ? `${signal} again: stopping running jobs; they will be retried by another worker`
              : `${signal}: finishing running jobs (send again to stop at once)`,
          );
          void worker.close(force).then(resolve);
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
    });
}
