/** `klinecast serve`: the HTTP API, its OpenAPI docs at /docs and the dashboard at /, on one port. */
import type { Command } from 'commander';
import { DEFAULT_QUEUE_PREFIX, queueTrainingJobs } from '../../batch/index.js';
import { migrate, openDatabase } from '../../data/index.js';
import { PredictionEngine } from '../../prediction/index.js';
import { createPredictor } from '../../server/index.js';
import { LocalTrainingJobs, createServer, DEFAULT_RATE_LIMIT } from '../../server/index.js';
import { DEFAULT_OUTPUT_DIR } from '../../runs/index.js';
import { UserError } from '../../util/errors.js';

interface ServeOptions {
  port: string;
  host: string;
  outputDir: string;
  database?: string;
  rateLimit: string;
  queue?: string;
  queuePrefix: string;
  trainThreads: string;
  /** commander's --no-record: false when given */
  record: boolean;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be an integer 0-65535, got ${text}`);
  return port;
}

async function serveCommand(opts: ServeOptions): Promise<void> {
  const port = parsePort(opts.port);
  const threads = Number(opts.trainThreads);
  if (!Number.isInteger(threads) || threads < 1) throw new UserError(`--train-threads must be a positive integer, got ${opts.trainThreads}`);
  const perMinute = Number(opts.rateLimit);
  if (!Number.isInteger(perMinute) || perMinute < 0) throw new UserError(`--rate-limit must be a non-negative integer (0 turns it off), got ${opts.rateLimit}`);
  const database = await openDatabase(opts.database, { createDatabase: true });
  // Idempotent: creates only what is missing, so a fresh database serves empty lists instead of errors.
  await migrate(database);
  const app = await createServer({
    database,
    outputDir: opts.outputDir,
    predictor: createPredictor(
      new PredictionEngine({
        database,
        outputDir: opts.outputDir,
        // Every forecast the API makes goes to the ledger (source api); a ledger that cannot be written is logged once.
        record: opts.record ? 'api' : false,
        onRecordError: (message) => app.log.warn(message),
      }),
    ),
    // Training jobs go to the batch queue when one is given (any `klinecast worker` trains them), else to threads here.
    trainingJobs: opts.queue ? queueTrainingJobs({ url: opts.queue, prefix: opts.queuePrefix }) : new LocalTrainingJobs({ database, threads }),
    rateLimit: perMinute === 0 ? false : { max: perMinute, timeWindowMs: 60_000 },
    logger: { level: process.env.KLINECAST_LOG_LEVEL ?? 'info' },
  });
  const shutdown = async (signal: string) => {
    app.log.info(`${signal}: closing`);
    await app.close();
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  try {
    await app.listen({ port, host: opts.host });
  } catch (err) {
    await app.close();
    await database.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new UserError(`cannot listen on ${opts.host}:${port}: ${(err as Error).message}`);
    throw err;
  }
  if (!process.env.KLINECAST_API_KEY) app.log.warn('KLINECAST_API_KEY is not set: POST/DELETE training routes are refused (403)');
  // Keep running until a signal: the listening socket holds the event loop open.
  await new Promise<never>(() => {});
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API (/api/v1, OpenAPI at /docs) and the web dashboard (/)')
    .option('--port <port>', 'port to listen on', '8000')
    .option('--host <host>', 'address to bind (0.0.0.0 for all interfaces)', '127.0.0.1')
    .option('--output-dir <dir>', 'folder holding the runs', DEFAULT_OUTPUT_DIR)
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_*, then sqlite:data/klinecast.db)')
    .option('--rate-limit <n>', 'requests per minute per client IP, 0 for none', String(DEFAULT_RATE_LIMIT.max))
    .option('--train-threads <n>', 'training jobs run at once on worker threads in this process', '1')
    .option('--queue <redis-url>', 'send training jobs to the BullMQ queue on this Redis instead (klinecast worker trains them)')
    .option('--queue-prefix <prefix>', 'BullMQ key prefix of the queue', DEFAULT_QUEUE_PREFIX)
    .option('--no-record', "don't record the API's forecasts in the prediction ledger (ai_predictions)")
    .action(serveCommand);
}
