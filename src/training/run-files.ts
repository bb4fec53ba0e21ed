import { ModelConfigSchema, type ModelConfig } from '../models/config.js';
import { UserError } from '../util/errors.js';

/**
 * The files of one run folder, out/{run_name}/ (DESIGN.md §4, docs/TRAINING_OUTPUT_STANDARD.md).
 * Keys on disk are snake_case, as Hugging Face and the seed write them, so Python tools read them unchanged.
 */

export const RUN_FILES = {
  config: 'config.json',
  metadata: 'metadata.json',
  modelDir: 'model',
  modelSafetensors: 'model/model.safetensors',
  modelTorch: 'model/pytorch_model.bin',
  modelConfig: 'model/config.json',
  trainingArgs: 'model/training_args.json',
  scaler: 'model/scaler.json',
  checkpointsDir: 'checkpoints',
  bestDir: 'checkpoints/best',
  trainingLog: 'logs/training.log',
  metrics: 'logs/metrics.json',
  evalResults: 'results/eval_results.json',
  predictions: 'results/predictions.json',
} as const;

/** The files inside checkpoints/checkpoint-{N}/ and checkpoints/best/. */
export const CHECKPOINT_FILES = {
  weights: 'model.safetensors',
  optimizer: 'optimizer.safetensors',
  trainerState: 'trainer_state.json',
  rngState: 'rng_state.json',
} as const;

/** Statuses written to metadata.json, in the order a healthy run passes through them, then the endings. */
export const WRITTEN_STATUSES = ['initialized', 'preparing', 'training', 'evaluating', 'completed', 'failed', 'interrupted'] as const;
export type WrittenStatus = (typeof WRITTEN_STATUSES)[number];

/** `crashed` is never written: it is what a reader concludes when an active run's process is gone. */
export type RunStatus = WrittenStatus | 'crashed';

export const ACTIVE_STATUSES: ReadonlySet<RunStatus> = new Set(['initialized', 'preparing', 'training', 'evaluating']);
export const FINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'interrupted']);

/** The headline test metrics copied into metadata.json so listing runs needs no other file. */
export interface EvalMetricsSummary {
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  r2: number | null;
  direction_accuracy: number | null;
  ic: number | null;
  rank_ic: number | null;
  skill: number | null;
  persistence_mae: number | null;
}

export interface RunMetadata {
  run_name: string;
  stock_symbol: string | null;
  model_type: string;
  data_source: string | null;
  status: WrittenStatus;
  /** ISO 8601 UTC timestamps. */
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  heartbeat_at: string;
  host: string;
  pid: number;
  klinecast_version: string;
  eval_metrics: EvalMetricsSummary | null;
  error: string | null;
  /** Written by updateStatus(status, extra): e.g. epochs_trained, best_val_loss, resumed_from. */
  [extra: string]: unknown;
}

/** One row of logs/metrics.json. */
export interface MetricsEntry {
  epoch: number;
  phase: string;
  timestamp: string;
  [metric: string]: number | string | null;
}

/** What the Trainer hands to saveCheckpoint: Hugging Face's TrainerState fields plus what exact resume needs. */
export interface TrainerStateInput {
  global_step: number;
  /** The best value of metric_for_best_model seen so far, or null before the first evaluation. */
  best_metric: number | null;
  metric_for_best_model: string;
  greater_is_better: boolean;
  early_stopping: { patience: number; best_metric: number | null; epochs_without_improvement: number };
  /** The LR scheduler's own state (type, last_epoch, current lr, plateau counters...). */
  scheduler: Record<string, unknown> | null;
  [extra: string]: unknown;
}

/** checkpoints/checkpoint-{N}/trainer_state.json: the Trainer's state plus what the manager fills in. */
export interface TrainerState extends TrainerStateInput {
  epoch: number;
  /** Run-relative path of the best checkpoint, e.g. "checkpoints/checkpoint-7". */
  best_model_checkpoint: string | null;
  /** The rows of logs/metrics.json up to this epoch. */
  log_history: MetricsEntry[];
  /** The metrics of the epoch this checkpoint was saved after. */
  metrics: Record<string, number | null>;
}

/** model/config.json: the architecture (ModelConfig in snake_case) plus what inference needs to build inputs. */
export interface ModelConfigFile {
  model_type: string;
  feature_names: string[];
  seq_length: number;
  horizon: number;
  /** What the network outputs, e.g. "log_return": prices are close_t · exp(output). */
  target: string;
  [architecture: string]: unknown;
}

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** What model/config.json needs beside the architecture. */
export interface ModelInputs {
  featureNames: string[];
  seqLength: number;
  horizon: number;
  target: string;
}

/** model/config.json from the engine's ModelConfig (camelCase) and the dataset's inputs. */
export function toModelConfigFile(config: ModelConfig, inputs: ModelInputs): ModelConfigFile {
  const architecture = Object.fromEntries(Object.entries(config).map(([k, v]) => [snake(k), v]));
  return {
    ...architecture,
    model_type: config.modelType,
    feature_names: [...inputs.featureNames],
    seq_length: inputs.seqLength,
    horizon: inputs.horizon,
    target: inputs.target,
  };
}

/** The ModelConfig and inputs back from model/config.json, validated (a clear error names what is wrong). */
export function fromModelConfigFile(file: unknown): { config: ModelConfig; inputs: ModelInputs } {
  if (typeof file !== 'object' || file === null) throw new UserError('model/config.json is not an object', 'bad_model_config');
  const f = file as Record<string, unknown>;
  const architecture: Record<string, unknown> = {};
  for (const key of Object.keys(ModelConfigSchema.shape)) if (f[snake(key)] !== undefined) architecture[key] = f[snake(key)];
  const parsed = ModelConfigSchema.safeParse(architecture);
  if (!parsed.success) {
    throw new UserError(
      `model/config.json: ${parsed.error.issues.map((i) => `${i.path.map((p) => snake(String(p))).join('.')}: ${i.message}`).join('; ')}`,
      'bad_model_config',
    );
  }
  const names = f.feature_names;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
    throw new UserError('model/config.json: feature_names must be a list of strings', 'bad_model_config');
  for (const key of ['seq_length', 'horizon'] as const) {
    if (!Number.isInteger(f[key]) || (f[key] as number) <= 0) throw new UserError(`model/config.json: ${key} must be a positive integer`, 'bad_model_config');
  }
  if (typeof f.target !== 'string') throw new UserError('model/config.json: target must be a string', 'bad_model_config');
  return {
    config: parsed.data,
    inputs: { featureNames: names as string[], seqLength: f.seq_length as number, horizon: f.horizon as number, target: f.target },
  };
}

/** model/training_args.json. */
export interface TrainingArgsFile {
  epochs: number;
  batch_size: number;
  learning_rate: number;
  optimizer: string;
  loss: string;
  train_samples: number;
  val_samples: number;
  test_samples: number;
  best_val_loss: number | null;
  epochs_trained: number;
  [extra: string]: unknown;
}

/** Price-unit metrics of a forecast. MAPE is in percent. */
export interface PriceMetrics {
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  r2: number | null;
}

/** Everything measured for the model on one set of (sample, step) pairs. */
export interface ModelMetrics extends PriceMetrics {
  /** Share (0-1) of days where the predicted move from the last close has the actual move's sign; flat days excluded. */
  direction_accuracy: number | null;
  /** The number of non-flat days direction_accuracy counts. */
  direction_samples: number;
  /** MAE and RMSE of the log returns. */
  return_mae: number | null;
  return_rmse: number | null;
  /** Pearson and Spearman (average ranks for ties) correlation of predicted against actual returns. */
  ic: number | null;
  rank_ic: number | null;
  /** 1 − MAE / MAE of persistence, in price units. */
  skill: number | null;
  /** 1 − return MAE / return MAE of the zero-return forecast. */
  return_skill: number | null;
}

export interface BaselineMetrics {
  /** Tomorrow's price = the last known close, scored in price units. */
  persistence: PriceMetrics;
  /** A predicted log return of 0, scored on returns. */
  zero_return: { return_mae: number | null; return_rmse: number | null };
}

/** results/eval_results.json. */
export interface EvalResultsFile {
  evaluated_at: string;
  split: string;
  n_samples: number;
  horizon: number;
  return_type: 'log';
  /** Pooled over every (sample, step) pair. */
  test_metrics: ModelMetrics;
  baselines: BaselineMetrics;
  /** One entry per step ahead (1…horizon) when horizon > 1, else null. */
  per_horizon: Array<{ step: number; test_metrics: ModelMetrics; baselines: BaselineMetrics }> | null;
  [extra: string]: unknown;
}

/** One row of results/predictions.json: one test day and one step ahead. */
export interface PredictionRecord {
  /** The day of the last known close (the forecast is made after its close). */
  date: string;
  /** 1…horizon. */
  step: number;
  /** The trading day forecast, when known. */
  target_date: string | null;
  last_close: number;
  actual_price: number;
  predicted_price: number;
  actual_return: number;
  predicted_return: number;
}

/** results/predictions.json. */
export interface PredictionsFile {
  generated_at: string;
  split: string;
  horizon: number;
  n_samples: number;
  return_type: 'log';
  records: PredictionRecord[];
  [extra: string]: unknown;
}
