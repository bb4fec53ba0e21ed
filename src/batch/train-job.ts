/**
 * The real batch job: one stock trained end to end by the training module (runTraining), inside a pool
 * thread. The thread's first run loads the engine's wasm module, so every thread has its own engine.
 */
import { resolve } from 'node:path';
import type { DatabaseHandle } from '../data/db/connection.js';
import type { KlineSeries } from '../data/types.js';
import { warmupOf } from '../features/index.js';
import type { TrainConfig } from '../training/config.js';
import { readRunConfig, runTraining, type TrainingReport } from '../training/train-run.js';
import { UserError } from '../util/errors.js';
import { jobConfigHash } from './config-hash.js';
import type { JobInput, JobKind, JobMetrics, JobOutput } from './job.js';
import { registerCompleted } from './registry.js';

/** The part of a TrainConfig that defines a batch's models: no symbol, no output folder, no data source URL. */
export function batchConfig(config: TrainConfig): TrainConfig {
  return { ...config, data: { ...config.data, symbol: null, database: null }, output: { outputDir: 'out', runName: null } };
}

export async function trainJob(input: JobInput): Promise<JobOutput> {
  const config = input.config as TrainConfig;
  const { series } = input;
  const runConfig: TrainConfig = { ...config, data: { ...config.data, symbol: series.symbol }, output: { outputDir: input.outputDir, runName: input.runName } };
  try {
    const report = await runTraining({
      config: runConfig,
      series,
      outputDir: input.outputDir,
      progress: false,
      handleSignals: false,
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
      throw new Error(`training of ${series.symbol} ended ${report.status}${report.interruptedBy ? ` (${report.interruptedBy})` : ''}`);
    return { status: 'completed', runName: report.runName, path: report.runDir, modelType: config.model.modelType, metrics: reportMetrics(report) };
  } catch (err) {
    // The dataset builder refuses a too-short history before any run folder exists: that is a skip, not a failure.
    if (err instanceof UserError && err.code === 'too_short') return { status: 'skipped', reason: err.message };
    throw err;
  }
}

/** What the registry and the batch summary keep of a training run: best validation loss, epochs and the test metrics. */
export function reportMetrics(report: TrainingReport): JobMetrics {
  const metrics: JobMetrics = { best_val_loss: report.bestValLoss, epochs: report.epochsTrained };
  for (const [k, v] of Object.entries(report.test ?? {})) if (typeof v === 'number' || v === null) metrics[k] = v;
  return metrics;
}

/** The registry's config_hash of a run trained with this config: the same as a batch of it would get. */
export function trainConfigHash(config: TrainConfig): string {
  return jobConfigHash(config.model.modelType, batchConfig(config));
}

/**
 * Registers a completed `klinecast train` run like a batch run: its config hash is that of the same config in a
 * batch (no symbol, output folder or database), so a queue job for the same stock and config finds it as done.
 */
export async function registerTrainingRun(handle: DatabaseHandle, report: TrainingReport): Promise<void> {
  if (report.status !== 'completed') throw new Error(`run ${report.runName} is ${report.status}; only completed runs are registered`);
  const { config } = readRunConfig(report.runDir);
  await registerCompleted(handle, {
    runName: report.runName,
    symbol: config.data.symbol,
    modelType: config.model.modelType,
    configHash: trainConfigHash(config),
    metrics: reportMetrics(report),
    path: resolve(report.runDir),
  });
}

const TRAIN_JOB_MODULE = new URL(import.meta.url.endsWith('.ts') ? './train-job.ts' : './train-job.js', import.meta.url).href;

/** The job kind `klinecast batch` and `klinecast worker` run: cheap length check here, the full one in the thread. */
export function trainKind(config: TrainConfig): JobKind {
  const needed = warmupOf(config.dataset.features) + config.dataset.seqLength + config.dataset.horizon + 3;
  return {
    ref: { module: TRAIN_JOB_MODULE, export: 'trainJob' },
    modelType: config.model.modelType,
    precheck: (series: KlineSeries) =>
      series.close.length < needed
        ? `too little data: ${series.close.length} bars, but warm-up, seqLength ${config.dataset.seqLength}, horizon ${config.dataset.horizon} and three segments need more than ${needed}`
        : null,
  };
}
