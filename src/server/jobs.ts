/**
 * The default TrainingJobs: training in this process, on worker threads (the batch WorkerPool running the real
 * trainer), so the event loop keeps answering requests while a model trains. Jobs wait in a FIFO until a thread is
 * free. Cancelling a waiting job drops it; cancelling a running one stops its trainer after the current step, as
 * Ctrl-C does (a last checkpoint, the run marked interrupted and resumable). With a queue configured,
 * `klinecast serve --queue` uses the batch queue instead.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { WorkerPool, noSeries, trainKind } from '../batch/index.js';
import { registerCompleted } from '../runs/registry.js';
import { StockDataLoader, urlOfTarget, type DatabaseHandle } from '../data/index.js';
import { defaultRunName, runDirFor } from '../runs/index.js';
import { trainConfigHash, withResolvedThreads, type TrainConfig } from '../training/index.js';
import { UserError } from '../util/errors.js';
import type { TrainingJob, TrainingJobs } from './ports.js';

export interface LocalTrainingJobsOptions {
  database: DatabaseHandle;
  /** Jobs trained at once, one worker thread each (default 1: training uses a core to the full). */
  threads?: number;
  /** Finished jobs remembered for GET (oldest forgotten first). */
  keepFinished?: number;
}

interface Entry {
  job: TrainingJob;
  config: TrainConfig;
  /** aborted by cancel(); the pool forwards it into the training thread */
  cancel: AbortController;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

export class LocalTrainingJobs implements TrainingJobs {
  private readonly entries = new Map<string, Entry>();
  private readonly waiting: string[] = [];
  private readonly database: DatabaseHandle;
  private readonly loader: StockDataLoader;
  private readonly threads: number;
  private readonly keepFinished: number;
  private pool: WorkerPool | null = null;
  private running = 0;
  private closed = false;

  constructor(options: LocalTrainingJobsOptions) {
    this.database = options.database;
    this.loader = new StockDataLoader(options.database);
    this.threads = Math.max(1, options.threads ?? 1);
    this.keepFinished = options.keepFinished ?? 1000;
  }

  async start(config: TrainConfig): Promise<TrainingJob> {
    if (this.closed) throw new UserError('the server is shutting down', 'unavailable');
    const symbol = config.data.symbol;
    // One stock (data.symbol), or one universal model over data.symbols: the same job, the thread loads the stocks.
    if (!symbol && config.data.symbols === null) throw new UserError('a training job needs data.symbol or data.symbols', 'bad_config');
    const runName = config.output.runName ?? defaultRunName(config.model.modelType, symbol);
    const taken =
      existsSync(runDirFor(config.output.outputDir, runName)) ||
      [...this.entries.values()].some((e) => !FINISHED.has(e.job.state) && e.job.run_name === runName);
    if (taken) throw new UserError(`a run named ${runName} already exists or is being trained; choose another run_name`, 'run_conflict');
    const id = `job-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const job: TrainingJob = {
      id,
      state: 'queued',
      symbol,
      model_type: config.model.modelType,
      run_name: runName,
      progress: null,
      error: null,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
    };
    // Jobs training at once share the cores: 'auto' is this job's share, resolved before its config.json exists.
    const shared = withResolvedThreads(config, this.threads);
    this.entries.set(id, { job, config: { ...shared, output: { ...config.output, runName } }, cancel: new AbortController() });
    this.waiting.push(id);
    this.forgetOldFinished();
    this.pump();
    return { ...job };
  }

  async get(id: string): Promise<TrainingJob | null> {
    const entry = this.entries.get(id);
    return entry ? { ...entry.job } : null;
  }

  async cancel(id: string): Promise<TrainingJob | null> {
    const entry = this.entries.get(id);
    if (!entry) return null;
    if (entry.job.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(id), 1);
      this.finish(entry, 'cancelled', null);
    } else if (entry.job.state === 'running') {
      // The job stays 'running' until its trainer has written the last checkpoint; train() then marks it cancelled.
      entry.cancel.abort('cancelled');
    }
    return { ...entry.job };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of this.waiting.splice(0)) this.finish(this.entries.get(id)!, 'cancelled', 'the server shut down before the job started');
    await this.pool?.close();
  }

  private pump(): void {
    while (!this.closed && this.running < this.threads && this.waiting.length > 0) {
      const entry = this.entries.get(this.waiting.shift()!)!;
      this.running++;
      void this.train(entry).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async train(entry: Entry): Promise<void> {
    const { job, config } = entry;
    job.state = 'running';
    job.started_at = new Date().toISOString();
    try {
      const series =
        job.symbol === null
          ? noSeries()
          : await this.loader.loadSeries(job.symbol, config.data.startDate ?? undefined, config.data.endDate ?? undefined, { adjust: config.data.adjust });
      if (job.symbol !== null && series.dates.length === 0) throw new UserError(`no bars for ${job.symbol} in the database`, 'no_data');
      const kind = trainKind(config);
      const tooShort = kind.precheck(series);
      if (tooShort) throw new UserError(tooShort, 'too_short');
      this.pool ??= new WorkerPool({ size: this.threads, job: kind.ref });
      const output = await this.pool.run({
        series,
        // A universal job's thread streams its stocks from the server's database (the recorded source stays masked).
        config: job.symbol === null ? { ...config, data: { ...config.data, database: urlOfTarget(this.database.target) } } : config,
        signal: entry.cancel.signal,
        onProgress: (_fraction, _note, detail) => {
          if (detail?.epoch !== undefined && detail.epochs !== undefined) {
            job.progress = { epoch: detail.epoch, epochs: detail.epochs, train_loss: detail.trainLoss ?? null, val_loss: detail.valLoss ?? null };
          }
        },
      });
      if (output.status === 'completed') {
        job.run_name = output.runName;
        // Like batch and worker runs, so the registry lists every model wherever it was trained (serve migrates the table).
        await registerCompleted(this.database, {
          runName: output.runName,
          symbol: job.symbol,
          modelType: kind.modelType,
          configHash: trainConfigHash(config),
          metrics: output.metrics,
          path: output.path,
        });
        this.finish(entry, 'completed', null);
      } else this.finish(entry, 'failed', output.reason);
    } catch (err) {
      if (entry.cancel.signal.aborted) this.finish(entry, 'cancelled', `cancelled while running; ${job.run_name} keeps its last checkpoint and can be resumed`);
      else this.finish(entry, 'failed', (err as Error).message);
    }
  }

  private finish(entry: Entry, state: 'completed' | 'failed' | 'cancelled', error: string | null): void {
    entry.job.state = state;
    entry.job.error = error;
    entry.job.finished_at = new Date().toISOString();
  }

  private forgetOldFinished(): void {
    const finished = [...this.entries.values()].filter((e) => FINISHED.has(e.job.state));
    for (const e of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.entries.delete(e.job.id);
  }
}
