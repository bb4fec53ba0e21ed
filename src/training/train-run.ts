/**
 * One training run from start to finish, as `klinecast train` runs it: load the bars, build the dataset, claim
 * out/{run}/, train (or resume), evaluate the best weights on the test segment, save the final model. Statuses
 * follow DESIGN.md §4: preparing → training → evaluating → completed, or failed / interrupted.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDatabaseUrl, maskUrl } from '../data/db/url.js';
import { StockDataLoader } from '../data/loader.js';
import type { KlineSeries } from '../data/types.js';
import { readSafetensors } from '../engine/io/index.js';
import { buildDataset, type Dataset } from '../features/index.js';
import type { Evaluation } from '../evaluation/index.js';
import { UserError } from '../util/errors.js';
import { parseTrainConfig, type TrainConfig } from './config.js';
import { TrainingManager } from './manager.js';
import { RUN_FILES, fromModelConfigFile, toModelConfigFile, type EvalResultsFile, type TrainingArgsFile } from './run-files.js';
import { listCheckpointNames, readJson, resolveRunRef } from './run-store.js';
import { Trainer, evaluateScaled, type FitResult, type TrainerCallbacks } from './trainer.js';

export interface TrainingReport {
  runName: string;
  runDir: string;
  status: 'completed' | 'interrupted';
  stopReason: FitResult['stopReason'];
  interruptedBy: string | null;
  epochsTrained: number;
  bestEpoch: number | null;
  bestValLoss: number | null;
  /** Test metrics of the best weights; null when interrupted. */
  test: EvalResultsFile['test_metrics'] | null;
  baselines: EvalResultsFile['baselines'] | null;
  parameters: number;
  /** Size of model/model.safetensors; null when interrupted. */
  modelBytes: number | null;
  checkpoints: number;
  trainSamples: number;
  valSamples: number;
  testSamples: number;
  seconds: number;
}

export interface RunTrainingOptions {
  /** The resolved config (resolveTrainConfig). Ignored when resuming: the run's config.json is used. */
  config?: TrainConfig;
  /** Bars given directly (examples, tests); otherwise they are loaded from the database. */
  series?: KlineSeries;
  /** The database to load from (unmasked); default: the configured one (KLINECAST_DATABASE_URL, DB_*, sqlite). */
  databaseUrl?: string;
  /** A run folder (or name inside config.output.outputDir / outputDir) to continue from its newest checkpoint. */
  resume?: string;
  outputDir?: string;
  callbacks?: TrainerCallbacks[];
  progress?: boolean;
  handleSignals?: boolean;
  /** Aborting it stops training after the current step, as Ctrl-C does: a last checkpoint, status interrupted. */
  signal?: AbortSignal;
}

/** Loads one symbol's bars; a symbol without bars or with too few is a UserError that says what to do. */
export async function loadTrainingSeries(config: TrainConfig, databaseUrl?: string): Promise<KlineSeries> {
  const symbol = config.data.symbol;
  if (!symbol) throw new UserError('no symbol to train on: pass --symbol (a 6-digit code such as 600519)', 'bad_input');
  // Loaded here, not at the top: batch threads train series handed to them and never need the database drivers.
  const { openDatabase } = await import('../data/db/connection.js');
  const handle = await openDatabase(databaseUrl);
  try {
    const series = await new StockDataLoader(handle).loadSeries(symbol, config.data.startDate ?? undefined, config.data.endDate ?? undefined);
    if (series.dates.length === 0) {
      const range =
        config.data.startDate || config.data.endDate ? ` between ${config.data.startDate ?? 'the start'} and ${config.data.endDate ?? 'the end'}` : '';
      throw new UserError(
        `no bars for ${symbol}${range} in ${handle.url}; import data (klinecast data import) or create the demo market (klinecast data demo)`,
        'no_data',
      );
    }
    return series;
  } finally {
    await handle.close();
  }
}

function checkpointCount(runDir: string): number {
  return listCheckpointNames(runDir).length;
}

function trainingArgs(config: TrainConfig, dataset: Dataset, fit: FitResult): TrainingArgsFile {
  const t = config.training;
  return {
    epochs: t.epochs,
    batch_size: t.batchSize,
    learning_rate: t.learningRate,
    optimizer: t.optimizer,
    weight_decay: t.weightDecay,
    loss: t.loss,
    patience: t.patience,
    grad_clip: t.gradClip,
    scheduler: t.scheduler,
    seed: t.seed,
    metric_for_best_model: t.metricForBestModel,
    train_samples: dataset.train.size,
    val_samples: dataset.val.size,
    test_samples: dataset.test.size,
    best_val_loss: fit.bestValLoss,
    best_epoch: fit.bestEpoch,
    epochs_trained: fit.epochsTrained,
    global_step: fit.globalStep,
    stop_reason: fit.stopReason,
  };
}

/** Writes the resolved range into config.json so a resume (and `klinecast eval`) rebuilds the very same dataset. */
function withResolvedRange(config: TrainConfig, series: KlineSeries): TrainConfig & { data: { rows: number; firstDate: string; lastDate: string } } {
  return { ...config, data: { ...config.data, rows: series.dates.length, firstDate: series.dates[0], lastDate: series.dates[series.dates.length - 1] } };
}

interface SavedRunConfig {
  config: TrainConfig;
  firstDate: string | null;
  lastDate: string | null;
  rows: number | null;
}

/** config.json of a run, validated; the resolved range (if recorded) comes back beside it. */
export function readRunConfig(runDir: string): SavedRunConfig {
  const file = readJson(join(runDir, RUN_FILES.config));
  if (!file.ok) throw new UserError(`cannot read ${join(runDir, RUN_FILES.config)}: ${file.reason}`, 'run_corrupt');
  const raw = structuredClone(file.value) as { data?: Record<string, unknown> };
  const data = raw.data ?? {};
  const { rows = null, firstDate = null, lastDate = null, ...rest } = data as { rows?: number; firstDate?: string; lastDate?: string };
  raw.data = rest;
  return { config: parseTrainConfig(raw, `${join(runDir, RUN_FILES.config)}`), firstDate, lastDate, rows };
}

/**
 * The database a saved run read from, when no --database is given: its recorded URL, or, when that URL had a password
 * (saved masked), the configured one if it is the same database; otherwise the user must name it.
 */
function savedDatabaseUrl(config: TrainConfig): string | undefined {
  const recorded = config.data.database;
  if (!recorded) return undefined;
  if (!recorded.includes('***')) return recorded;
  const configured = resolveDatabaseUrl();
  if (maskUrl(configured) === recorded) return configured;
  throw new UserError(`this run read its bars from ${recorded}, whose password is not saved; pass --database with that URL`, 'bad_input');
}

/** The database a run read its bars from (where its registry row belongs), as far as it can be known without --database. */
export function databaseOfRun(runDir: string): string {
  return savedDatabaseUrl(readRunConfig(runDir).config) ?? resolveDatabaseUrl();
}

/**
 * The bars a saved run was trained on: its recorded range from the database. Resume needs identical data; a
 * different row count means the database changed and is refused.
 */
async function loadRunSeries(saved: SavedRunConfig, databaseUrl: string | undefined): Promise<KlineSeries> {
  const url = databaseUrl ?? savedDatabaseUrl(saved.config);
  const pinned: TrainConfig = {
    ...saved.config,
    data: { ...saved.config.data, startDate: saved.firstDate ?? saved.config.data.startDate, endDate: saved.lastDate ?? saved.config.data.endDate },
  };
  const series = await loadTrainingSeries(pinned, url);
  if (saved.rows !== null && series.dates.length !== saved.rows) {
    throw new UserError(
      `the run was trained on ${saved.rows} bars of ${saved.config.data.symbol} (${saved.firstDate}..${saved.lastDate}), the database now has ${series.dates.length} in that range`,
      'data_changed',
    );
  }
  return series;
}

/** Trains one model and writes the whole run folder. Returns the summary `klinecast train` prints. */
export async function runTraining(options: RunTrainingOptions): Promise<TrainingReport> {
  const started = performance.now();
  let config: TrainConfig;
  let series: KlineSeries;
  let resumed: TrainingManager | null = null;
  if (options.resume) {
    const runDir = resolveRunRef(options.resume, options.outputDir ?? options.config?.output.outputDir);
    const saved = readRunConfig(runDir);
    config = saved.config;
    const info = TrainingManager.loadRun(runDir);
    if (info.status === 'completed') throw new UserError(`run ${info.name} is already completed; nothing to resume`, 'run_completed');
    series = options.series ?? (await loadRunSeries(saved, options.databaseUrl));
    resumed = TrainingManager.open(runDir, { saveTotalLimit: config.training.saveTotalLimit });
  } else {
    if (!options.config) throw new Error('runTraining: a config is required for a new run');
    const url = options.series ? undefined : resolveDatabaseUrl(options.databaseUrl);
    config = options.series ? options.config : { ...options.config, data: { ...options.config.data, database: maskUrl(url as string) } };
    series = options.series ?? (await loadTrainingSeries(config, url));
    if (config.data.symbol === null) config = { ...config, data: { ...config.data, symbol: series.symbol } };
  }

  // Validate the data before any folder exists: a bad symbol or too short a history leaves nothing behind.
  const dataset = buildDataset(series, config.dataset);
  const manager =
    resumed ??
    TrainingManager.create({
      outputDir: options.outputDir ?? config.output.outputDir,
      runName: config.output.runName ?? undefined,
      symbol: config.data.symbol,
      modelType: config.model.modelType,
      dataSource: config.data.database,
      config: withResolvedRange(config, series),
      saveTotalLimit: config.training.saveTotalLimit,
    });

  let trained: Trainer | undefined;
  try {
    manager.updateStatus('preparing');
    const trainer = new Trainer(dataset, config, { manager, callbacks: options.callbacks, progress: options.progress, handleSignals: options.handleSignals });
    trained = trainer;
    const stopOnAbort = () => trainer.requestStop(String(options.signal?.reason ?? 'cancelled'));
    if (options.signal?.aborted) stopOnAbort();
    options.signal?.addEventListener('abort', stopOnAbort, { once: true });
    if (options.resume) {
      const checkpoint = manager.latestCheckpoint();
      if (checkpoint) {
        trainer.restore(checkpoint, manager.getBestCheckpointPath());
        manager.rewindTo(trainer.epochsCompleted);
        manager.saveTrainingLog(`resuming from ${manager.relative(checkpoint.path)} (epoch ${trainer.epochsCompleted} complete)`);
        manager.updateStatus('training', { resumed_from: manager.relative(checkpoint.path) });
      } else {
        manager.rewindTo(0);
        manager.saveTrainingLog('no readable checkpoint: training from the start');
        manager.updateStatus('training');
      }
    } else {
      manager.saveTrainingLog(
        `${dataset.symbol}: ${series.dates.length} bars ${series.dates[0]}..${series.dates[series.dates.length - 1]}, ` +
          `${dataset.featureNames.length} features, windows train/val/test ${dataset.train.size}/${dataset.val.size}/${dataset.test.size}`,
      );
      manager.updateStatus('training');
    }

    const fit = await trainer.fit();
    const base = {
      runName: manager.runName,
      runDir: manager.runDir,
      stopReason: fit.stopReason,
      interruptedBy: fit.interruptedBy,
      epochsTrained: fit.epochsTrained,
      bestEpoch: fit.bestEpoch,
      bestValLoss: fit.bestValLoss,
      parameters: trainer.parameterCount,
      trainSamples: dataset.train.size,
      valSamples: dataset.val.size,
      testSamples: dataset.test.size,
    };
    if (fit.stopReason === 'interrupted') {
      manager.updateStatus('interrupted', { epochs_trained: fit.epochsTrained, interrupted_by: fit.interruptedBy });
      return {
        ...base,
        status: 'interrupted',
        test: null,
        baselines: null,
        modelBytes: null,
        checkpoints: checkpointCount(manager.runDir),
        seconds: (performance.now() - started) / 1000,
      };
    }

    manager.updateStatus('evaluating', { epochs_trained: fit.epochsTrained, best_val_loss: fit.bestValLoss, stop_reason: fit.stopReason });
    trainer.loadWeights(trainer.bestStateDict(), 'best weights');
    const evaluation = trainer.evaluate(dataset.test);
    manager.saveEvaluationResults({ ...evaluation.results, best_epoch: fit.bestEpoch, model_type: config.model.modelType, symbol: dataset.symbol });
    manager.savePredictions({ ...evaluation.predictions, symbol: dataset.symbol });
    const modelConfig = toModelConfigFile(trainer.modelConfig, {
      featureNames: dataset.featureNames,
      seqLength: dataset.seqLength,
      horizon: dataset.horizon,
      target: dataset.scalerBundle.target.kind,
    });
    const modelDir = manager.saveModel(trainer.weights(), modelConfig, trainingArgs(config, dataset, fit), dataset.scalerBundle);
    const t = evaluation.results.test_metrics;
    manager.saveTrainingLog(`test: mae=${t.mae} rmse=${t.rmse} direction=${t.direction_accuracy} skill vs persistence=${t.skill}`);
    manager.updateStatus('completed');
    return {
      ...base,
      status: 'completed',
      test: evaluation.results.test_metrics,
      baselines: evaluation.results.baselines,
      modelBytes: statSync(join(modelDir, 'model.safetensors')).size,
      checkpoints: checkpointCount(manager.runDir),
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    manager.updateStatus('failed', { error: err });
    throw err;
  } finally {
    trained?.dispose();
  }
}

export interface RunEvaluation {
  runName: string;
  runDir: string;
  evaluation: Evaluation;
  /** The test MAE written when the run was trained, to compare with the fresh one. */
  previousMae: number | null;
}

/**
 * `klinecast eval <run>`: rebuilds the run's dataset from the database (its recorded range), loads model/ and
 * scores it on the test segment again, rewriting results/. The features must still scale exactly as saved.
 */
export async function evaluateRun(ref: string, options: { outputDir?: string; databaseUrl?: string; series?: KlineSeries } = {}): Promise<RunEvaluation> {
  const runDir = resolveRunRef(ref, options.outputDir);
  const saved = readRunConfig(runDir);
  const modelFile = readJson(join(runDir, RUN_FILES.modelConfig));
  if (!modelFile.ok)
    throw new UserError(`run ${runDir} has no usable final model (${RUN_FILES.modelConfig}: ${modelFile.reason}); train or resume it first`, 'no_model');
  const { config: modelConfig } = fromModelConfigFile(modelFile.value);
  const series = options.series ?? (await loadRunSeries(saved, options.databaseUrl));
  const dataset = buildDataset(series, saved.config.dataset);
  const scaler = readJson(join(runDir, RUN_FILES.scaler));
  if (scaler.ok && JSON.stringify((scaler.value as { featureScaler?: unknown }).featureScaler) !== JSON.stringify(dataset.scalerBundle.featureScaler)) {
    throw new UserError(
      `the rebuilt features of ${saved.config.data.symbol} no longer scale as ${RUN_FILES.scaler} says: the data changed since training`,
      'data_changed',
    );
  }
  const { outputSize: _o, inputSize: _i, ...architecture } = modelConfig;
  const trainer = new Trainer(dataset, { model: architecture, training: saved.config.training });
  trainer.loadWeights(readSafetensors(join(runDir, RUN_FILES.modelSafetensors)).tensors, RUN_FILES.modelSafetensors);
  const evaluation = evaluateScaled(dataset.test, dataset.targetScaler, trainer.predictScaled(dataset.test));
  const previous = readJson(join(runDir, RUN_FILES.evalResults));
  const previousMae = previous.ok ? ((previous.value as EvalResultsFile).test_metrics?.mae ?? null) : null;
  const manager = TrainingManager.open(runDir);
  manager.saveEvaluationResults({ ...evaluation.results, model_type: modelConfig.modelType, symbol: dataset.symbol, re_evaluated: true });
  manager.savePredictions({ ...evaluation.predictions, symbol: dataset.symbol });
  manager.saveTrainingLog(`re-evaluated on the test segment: mae=${evaluation.results.test_metrics.mae} (was ${previousMae})`);
  return { runName: manager.runName, runDir, evaluation, previousMae };
}
