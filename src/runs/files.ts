import { z } from 'zod';
import { ModelConfigSchema, type ModelConfig } from '../models/config.js';
import { UserError } from '../util/errors.js';

/**
 * The files of one run folder, out/{run_name}/ (DESIGN.md §4, docs/TRAINING_OUTPUT_STANDARD.md).
 * Keys on disk are snake_case, as Hugging Face and the seed write them, so Python tools read them unchanged.
 */

/** The files of a model folder: a run's model/, or any folder Forecaster.save writes. */
export const MODEL_FILES = {
  weights: 'model.safetensors',
  torch: 'pytorch_model.bin',
  config: 'config.json',
  trainingArgs: 'training_args.json',
  scaler: 'scaler.json',
  /** The split-conformal calibration (validation residuals per step) that predict's default interval uses. */
  intervals: 'intervals.json',
  /** Forecaster.save only: the TrainConfig a stand-alone model folder was trained with (a run keeps it in config.json). */
  trainConfig: 'train_config.json',
} as const;

export const RUN_FILES = {
  config: 'config.json',
  metadata: 'metadata.json',
  modelDir: 'model',
  modelSafetensors: `model/${MODEL_FILES.weights}`,
  modelTorch: `model/${MODEL_FILES.torch}`,
  modelConfig: `model/${MODEL_FILES.config}`,
  trainingArgs: `model/${MODEL_FILES.trainingArgs}`,
  scaler: `model/${MODEL_FILES.scaler}`,
  intervals: `model/${MODEL_FILES.intervals}`,
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

/** The headline test metrics copied into metadata.json so listing runs needs no other file (the API lists them too). */
export type { EvalMetricsSummary } from '../wire/index.js';
import type { EvalMetricsSummary } from '../wire/index.js';

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

const nullableNumber = z.number().nullable();

/** Where an interrupted epoch stood: its shuffled order and the next batch, so a resume continues the very same epoch. */
const EpochPositionSchema = z.object({
  epoch: z.number().int(),
  order: z.array(z.number().int()),
  next_batch: z.number().int(),
  loss_sum: z.number(),
  samples: z.number().int(),
  seconds: z.number(),
});
export type EpochPositionState = z.infer<typeof EpochPositionSchema>;

/** What the Trainer hands to saveCheckpoint: Hugging Face's TrainerState fields plus what exact resume needs. */
export const TrainerStateInputSchema = z.object({
  global_step: z.number().int(),
  /** The best value of metric_for_best_model seen so far, or null before the first evaluation. */
  best_metric: nullableNumber,
  metric_for_best_model: z.string(),
  greater_is_better: z.boolean(),
  early_stopping: z.object({ patience: z.number().int(), best_metric: nullableNumber, epochs_without_improvement: z.number().int() }),
  /** The LR scheduler's own state (type, last_epoch, current lr, plateau counters...), as the schedule serialises it. */
  scheduler: z.record(z.string(), z.unknown()).nullable(),
  // What exact resume needs beyond Hugging Face's fields. klinecast's Trainer writes them all; a checkpoint written
  // through the TrainingManager API by other code may leave them out.
  completed_epochs: z.number().int().optional(),
  /** False for a checkpoint written mid-epoch (an interrupt): epoch_position then says where. */
  epoch_complete: z.boolean().optional(),
  /** Why the loop ended for good, so a resumed finished loop stays finished; null while it can go on. */
  stop_reason: z.enum(['max_epochs', 'early_stopping', 'callback']).nullable().optional(),
  best_epoch: z.number().int().nullable().optional(),
  best_val_loss: nullableNumber.optional(),
  num_train_epochs: z.number().int().optional(),
  train_batch_size: z.number().int().optional(),
  seed: z.number().int().optional(),
  epoch_position: EpochPositionSchema.nullable().optional(),
});
export type TrainerStateInput = z.infer<typeof TrainerStateInputSchema>;

/** One row of logs/metrics.json: {epoch, phase, timestamp} and the metrics of that epoch (train_loss, val_loss, lr...). */
const MetricsEntrySchema = z.object({ epoch: z.number(), phase: z.string(), timestamp: z.string() }).catchall(z.union([z.number(), z.string(), z.null()]));
export type MetricsEntry = z.infer<typeof MetricsEntrySchema>;

/** checkpoints/checkpoint-{N}/trainer_state.json: the Trainer's state plus what the manager fills in. */
export const TrainerStateSchema = TrainerStateInputSchema.extend({
  epoch: z.number().int(),
  /** Run-relative path of the best checkpoint, e.g. "checkpoints/checkpoint-7". */
  best_model_checkpoint: z.string().nullable(),
  /** The rows of logs/metrics.json up to this epoch. */
  log_history: z.array(MetricsEntrySchema),
  /** The metrics of the epoch this checkpoint was saved after. */
  metrics: z.record(z.string(), nullableNumber),
});
export type TrainerState = z.infer<typeof TrainerStateSchema>;

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
  /**
   * With a stock embedding: the trained stocks in index order; stock_embedding.weight row i + 1 is stocks[i], row 0
   * the unknown stock. Absent (null) without an embedding.
   */
  stocks?: string[] | null;
}

/** model/config.json from the engine's ModelConfig (camelCase) and the dataset's inputs. */
export function toModelConfigFile(config: ModelConfig, inputs: ModelInputs): ModelConfigFile {
  // Without an embedding its two fields are left out, so such a model's config.json reads as it always did.
  const embedding = config.stockEmbeddingDim > 0;
  const architecture = Object.fromEntries(
    Object.entries(config)
      .filter(([k]) => embedding || (k !== 'stockEmbeddingDim' && k !== 'numStocks'))
      .map(([k, v]) => [snake(k), v]),
  );
  if (embedding && inputs.stocks?.length !== config.numStocks)
    throw new Error(`model config: ${config.numStocks} embedded stocks, ${inputs.stocks?.length ?? 'no'} names`);
  return {
    ...architecture,
    model_type: config.modelType,
    feature_names: [...inputs.featureNames],
    seq_length: inputs.seqLength,
    horizon: inputs.horizon,
    target: inputs.target,
    ...(embedding ? { stocks: [...(inputs.stocks as string[])] } : {}),
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
  let stocks: string[] | null = null;
  if (parsed.data.stockEmbeddingDim > 0) {
    const list = f.stocks;
    if (!Array.isArray(list) || !list.every((n) => typeof n === 'string') || list.length !== parsed.data.numStocks || new Set(list).size !== list.length) {
      throw new UserError(`model/config.json: stocks must list the ${parsed.data.numStocks} embedded stocks (num_stocks), each once`, 'bad_model_config');
    }
    stocks = list as string[];
  }
  return {
    config: parsed.data,
    inputs: { featureNames: names as string[], seqLength: f.seq_length as number, horizon: f.horizon as number, target: f.target, stocks },
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
