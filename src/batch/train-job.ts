/**
 * The real batch job: one stock trained end to end by the training module (runTraining), inside a pool
 * thread, or one universal model (data.symbols), whose stocks the thread streams from the database itself (the
 * database code is loaded only then). The thread's first run loads the engine's wasm module, so every thread has its
 * own engine.
 */
import type { KlineSeries } from '../data/types.js';
import { warmupOf } from '../features/index.js';
import { reportMetrics, runTraining, withResolvedThreads, type TrainConfig } from '../training/index.js';
import { UserError } from '../util/errors.js';
import type { JobInput, JobKind, JobOutput } from './job.js';

export async function trainJob(input: JobInput): Promise<JobOutput> {
  const config = input.config as TrainConfig;
  const { series } = input;
  const universal = config.data.symbols !== null;
  const runConfig: TrainConfig = universal ? config : { ...config, data: { ...config.data, symbol: series.symbol } };
  try {
    const report = await runTraining({
      config: runConfig,
      series: universal ? undefined : series,
      databaseUrl: universal ? (config.data.database ?? undefined) : undefined,
      signal: input.signal,
      callbacks: [
        {
          onEpochEnd: (e) =>
            input.onProgress(e.epoch / e.epochs, `epoch ${e.epoch}/${e.epochs} loss ${e.trainLoss.toPrecision(4)}`, {
              epoch: e.epoch,
              epochs: e.epochs,
              trainLoss: e.trainLoss,
              valLoss: e.valLoss,
            }),
        },
      ],
    });
    if (report.status !== 'completed')
      throw new Error(
        `training of ${universal ? 'the universal model' : series.symbol} ended ${report.status}${report.interruptedBy ? ` (${report.interruptedBy})` : ''}`,
      );
    return { status: 'completed', runName: report.runName, path: report.runDir, modelType: config.model.modelType, metrics: reportMetrics(report) };
  } catch (err) {
    // The dataset builder refuses a too-short history before any run folder exists: that is a skip, not a failure.
    if (err instanceof UserError && err.code === 'too_short') return { status: 'skipped', reason: err.message };
    throw err;
  }
}

const TRAIN_JOB_MODULE = new URL(import.meta.url.endsWith('.ts') ? './train-job.ts' : './train-job.js', import.meta.url).href;

/**
 * The job kind `klinecast batch`, `klinecast worker` and the API's jobs run: cheap length check here, the full one in
 * the thread. A universal config (data.symbols) is one job over many stocks, checked by the thread as it loads them.
 */
export function trainKind(config: TrainConfig): JobKind {
  const needed = warmupOf(config.dataset.features) + config.dataset.seqLength + config.dataset.horizon + 3;
  const universal = config.data.symbols !== null;
  return {
    ref: { module: TRAIN_JOB_MODULE, export: 'trainJob' },
    modelType: config.model.modelType,
    adjust: config.data.adjust,
    precheck: (series: KlineSeries) =>
      universal
        ? null
        : series.close.length < needed
          ? `too little data: ${series.close.length} bars, but warm-up, seqLength ${config.dataset.seqLength}, horizon ${config.dataset.horizon} and three segments need more than ${needed}`
          : null,
    configFor: (batch, run) => ({ ...(batch as TrainConfig), output: { outputDir: run.outputDir, runName: run.runName } }) satisfies TrainConfig,
    // threads 'auto': each job's share of the cores (workers × threads ≤ cores), or the number a resumed batch started
    // with, so its config hash still matches whatever the worker count is now.
    shareCores: (batch, runsAtOnce, recorded) => {
      const c = batch as TrainConfig;
      if (c.training.threads !== 'auto') return c;
      const was = (recorded as Partial<TrainConfig> | null)?.training?.threads;
      return typeof was === 'number' ? { ...c, training: { ...c.training, threads: was } } : withResolvedThreads(c, runsAtOnce);
    },
  };
}
