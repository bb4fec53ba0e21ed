/**
 * TrainingManager: everything a training run writes under out/{run_name}/ (DESIGN.md §4), the seed's API in camelCase.
 * It knows files, not engines: weights arrive as PyTorch-named tensors (a state dict, or anything with stateDict()).
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { encodeSafetensors, encodeTorchStateDict, readSafetensors, type NamedTensor } from '../engine/io/index.js';
import type { ConformalCalibration } from '../evaluation/conformal.js';
import type { EvalResultsFile, PredictionsFile, ScorePredictionsFile } from '../evaluation/results.js';
import { guardDiskFull, recoverAtomicLeftovers, removeDirAtomic, writeDirAtomic, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { finiteOrNull, pad2 } from '../util/values.js';
import { KLINECAST_VERSION } from '../util/version.js';
import {
  ACTIVE_STATUSES,
  CHECKPOINT_FILES,
  FINAL_STATUSES,
  MODEL_FILES,
  RUN_FILES,
  TrainerStateSchema,
  WRITTEN_STATUSES,
  type EvalMetricsSummary,
  type MetricsEntry,
  type ModelConfigFile,
  type RunMetadata,
  type TrainerState,
  type TrainerStateInput,
  type TrainingArgsFile,
  type WrittenStatus,
} from './files.js';
import { DEFAULT_OUTPUT_DIR, claimRunDir, defaultRunName, resolveRunRef, runRelative, validateRunName } from './names.js';
import { listCheckpointNames, listRuns, readRun, type ReadOptions, type RunInfo } from './store.js';

export type StateDict = Record<string, NamedTensor>;
/** A state dict, or a model/optimizer that can produce one. */
export type StateSource = StateDict | { stateDict(): StateDict };

export interface CreateRunOptions {
  outputDir?: string;
  /** A custom run name; otherwise {symbol}_{model}_{YYYYMMDD_HHMMSS} or {model}_{YYYYMMDD_HHMMSS}. */
  runName?: string;
  symbol?: string | null;
  modelType: string;
  /** Where the data came from, e.g. "sqlite:data/klinecast.db" or "mysql://host/db" (no password). */
  dataSource?: string | null;
  /** The full resolved training config, written to config.json right away when given. */
  config?: Record<string, unknown>;
  /** Keep at most this many checkpoint-{N} folders (Hugging Face's save_total_limit); null keeps all. */
  saveTotalLimit?: number | null;
  /** For tests: the clock used for the run name. */
  now?: Date;
}

export interface OpenRunOptions {
  outputDir?: string;
  saveTotalLimit?: number | null;
}

export interface CheckpointInput {
  weights: StateSource;
  optimizerState: StateSource;
  /** Scalars of the optimizer (step count, betas...), stored as the safetensors file's string metadata. */
  optimizerMetadata?: Record<string, string>;
  trainerState: TrainerStateInput;
  /** Any JSON value that restores the RNG exactly (write 64-bit integers as strings). */
  rngState: unknown;
  epoch: number;
  metrics: Record<string, number | null>;
  isBest: boolean;
}

export interface LoadedCheckpoint {
  /** Absolute path of the checkpoint folder. */
  path: string;
  epoch: number;
  weights: StateDict;
  optimizerState: StateDict;
  optimizerMetadata: Record<string, string>;
  trainerState: TrainerState;
  rngState: unknown;
}

function isoNow(): string {
  return new Date().toISOString();
}

/** "YYYY-MM-DD HH:MM:SS" in local time, as Python's logging prints it. */
export function logTimestamp(d = new Date()): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Appends `message` to a log file as "[YYYY-MM-DD HH:MM:SS] line" lines (logs/training.log, a batch's batch.log). */
export function appendLog(path: string, message: string): void {
  const stamp = `[${logTimestamp()}] `;
  const text = message
    .split('\n')
    .map((line) => stamp + line)
    .join('\n');
  guardDiskFull(path, () => {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, `${text}\n`);
  });
}

function toStateDict(source: StateSource): StateDict {
  const maybe = source as { stateDict?: unknown };
  return typeof maybe.stateDict === 'function' ? (maybe.stateDict as () => StateDict).call(source) : (source as StateDict);
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export interface ModelFolderContents {
  weights: StateSource;
  modelConfig: ModelConfigFile;
  /** The saved ScalerBundle: everything inference needs to scale inputs and invert outputs. */
  scaler: unknown;
  /** A run's model/training_args.json. */
  trainingArgs?: TrainingArgsFile;
  /** The conformal calibration (intervals.json); absent when there was no validation segment to calibrate on. */
  intervals?: ConformalCalibration | null;
  /** A stand-alone folder's train_config.json (Forecaster.save); a run keeps its config in config.json. */
  trainConfig?: unknown;
}

/**
 * The one writer of a model folder (MODEL_FILES): the weights as model.safetensors and pytorch_model.bin, config.json,
 * scaler.json and the optional files, as one folder that appears complete or not at all. loadModelFolder reads it.
 */
export function writeModelFolder(dir: string, contents: ModelFolderContents): void {
  const tensors = toStateDict(contents.weights);
  writeDirAtomic(dir, (tmp) => {
    writeFileAtomic(join(tmp, MODEL_FILES.weights), encodeSafetensors(tensors, { format: 'pt' }));
    writeFileAtomic(join(tmp, MODEL_FILES.torch), encodeTorchStateDict(tensors));
    writeJsonAtomic(join(tmp, MODEL_FILES.config), contents.modelConfig);
    writeJsonAtomic(join(tmp, MODEL_FILES.scaler), contents.scaler);
    if (contents.trainingArgs) writeJsonAtomic(join(tmp, MODEL_FILES.trainingArgs), contents.trainingArgs);
    if (contents.intervals) writeJsonAtomic(join(tmp, MODEL_FILES.intervals), contents.intervals);
    if (contents.trainConfig !== undefined) writeJsonAtomic(join(tmp, MODEL_FILES.trainConfig), contents.trainConfig);
  });
}

export class TrainingManager {
  private metadata: RunMetadata;
  private history: MetricsEntry[];
  /** Run-relative path of the best checkpoint folder, e.g. "checkpoints/checkpoint-7". */
  private bestCheckpoint: string | null;

  private constructor(
    readonly runDir: string,
    metadata: RunMetadata,
    history: MetricsEntry[],
    bestCheckpoint: string | null,
    public saveTotalLimit: number | null,
  ) {
    this.metadata = metadata;
    this.history = history;
    this.bestCheckpoint = bestCheckpoint;
  }

  get runName(): string {
    return this.metadata.run_name;
  }

  get status(): WrittenStatus {
    return this.metadata.status;
  }

  /** Claims a new run folder (never an existing one) and writes metadata.json with status `initialized`. */
  static create(options: CreateRunOptions): TrainingManager {
    const base = options.runName !== undefined ? validateRunName(options.runName) : defaultRunName(options.modelType, options.symbol, options.now);
    const outputDir = options.outputDir ?? DEFAULT_OUTPUT_DIR;
    const { name, dir } = guardDiskFull(join(outputDir, base), () => claimRunDir(outputDir, base));
    const now = isoNow();
    const metadata: RunMetadata = {
      run_name: name,
      stock_symbol: options.symbol ?? null,
      model_type: options.modelType,
      data_source: options.dataSource ?? null,
      status: 'initialized',
      created_at: now,
      updated_at: now,
      started_at: null,
      finished_at: null,
      heartbeat_at: now,
      host: hostname(),
      pid: process.pid,
      klinecast_version: KLINECAST_VERSION,
      eval_metrics: null,
      error: null,
    };
    const manager = new TrainingManager(dir, metadata, [], null, options.saveTotalLimit ?? null);
    manager.writeMetadata();
    for (const sub of ['model', 'checkpoints', 'logs', 'results']) guardDiskFull(join(dir, sub), () => mkdirSync(join(dir, sub), { recursive: true }));
    writeJsonAtomic(join(dir, RUN_FILES.metrics), []);
    if (options.config) manager.saveConfig(options.config);
    manager.saveTrainingLog(`run ${name} created in ${dir}`);
    return manager;
  }

  /**
   * Reopens an existing run to continue it (resume, re-evaluation). Refuses a run whose process is still alive.
   * Leftovers of a killed process (temp folders, a half-swapped checkpoint) are cleaned up first.
   */
  static open(ref: string, options: OpenRunOptions = {}): TrainingManager {
    const dir = resolveRunRef(ref, options.outputDir);
    const info = readRun(dir);
    if (info.status === 'corrupt' || !info.metadata) throw new UserError(`cannot open run ${dir}: ${info.reason}`, 'run_corrupt');
    if (ACTIVE_STATUSES.has(info.status) && info.metadata.pid !== process.pid) {
      throw new UserError(`run ${info.name} is still ${info.metadata.status} in process ${info.metadata.pid} on ${info.metadata.host}`, 'run_busy');
    }
    recoverAtomicLeftovers(dir);
    const metrics = readJson(join(dir, RUN_FILES.metrics));
    const history = metrics.ok && Array.isArray(metrics.value) ? (metrics.value as MetricsEntry[]) : [];
    let best: string | null = null;
    const latest = listCheckpointNames(dir).at(-1);
    const stateFile = latest
      ? join(dir, RUN_FILES.checkpointsDir, latest, CHECKPOINT_FILES.trainerState)
      : join(dir, RUN_FILES.bestDir, CHECKPOINT_FILES.trainerState);
    const state = readJson(stateFile);
    if (state.ok && typeof (state.value as TrainerState).best_model_checkpoint === 'string') best = (state.value as TrainerState).best_model_checkpoint;
    const metadata: RunMetadata = { ...info.metadata, pid: process.pid, host: hostname(), klinecast_version: KLINECAST_VERSION };
    const manager = new TrainingManager(dir, metadata, history, best, options.saveTotalLimit ?? null);
    manager.writeMetadata();
    manager.saveTrainingLog(`run reopened by process ${process.pid} on ${metadata.host} (was ${info.status})`);
    return manager;
  }

  /** Every run folder in `outputDir`, newest first, with crashed and corrupt folders marked. */
  static listRuns(outputDir = DEFAULT_OUTPUT_DIR, options: ReadOptions = {}): RunInfo[] {
    return listRuns(outputDir, options);
  }

  /** One run, by name (inside `outputDir`) or path, read without taking it over. */
  static loadRun(ref: string, outputDir = DEFAULT_OUTPUT_DIR, options: ReadOptions = {}): RunInfo {
    return readRun(resolveRunRef(ref, outputDir), options);
  }

  private path(rel: string): string {
    return join(this.runDir, rel);
  }

  private writeMetadata(): void {
    const now = isoNow();
    this.metadata.updated_at = now;
    this.metadata.heartbeat_at = now;
    writeJsonAtomic(this.path(RUN_FILES.metadata), this.metadata);
  }

  /** A copy of metadata.json as last written. */
  getMetadata(): RunMetadata {
    return structuredClone(this.metadata);
  }

  /** config.json: the full resolved training config. */
  saveConfig(config: Record<string, unknown>): void {
    writeJsonAtomic(this.path(RUN_FILES.config), config);
    if (this.metadata.data_source === null && typeof config.data_source === 'string') {
      this.metadata.data_source = config.data_source;
      this.writeMetadata();
    }
  }

  /**
   * Moves the run to `status`. `extra` fields are merged into metadata.json (e.g. epochs_trained, best_val_loss);
   * `extra.error` (an Error or text) is recorded as the error when the status is `failed`.
   */
  updateStatus(status: WrittenStatus, extra: Record<string, unknown> = {}): void {
    if (!(WRITTEN_STATUSES as readonly string[]).includes(status)) {
      throw new UserError(`unknown run status ${JSON.stringify(status)}; use one of ${WRITTEN_STATUSES.join(', ')}`);
    }
    const { error, ...fields } = extra;
    Object.assign(this.metadata, fields);
    const now = isoNow();
    if (this.metadata.started_at === null && status !== 'initialized') this.metadata.started_at = now;
    if (FINAL_STATUSES.has(status)) this.metadata.finished_at = now;
    else this.metadata.finished_at = null;
    this.metadata.error = status === 'failed' ? (error === undefined ? 'failed without an error message' : errorText(error)) : null;
    const previous = this.metadata.status;
    this.metadata.status = status;
    this.writeMetadata();
    if (previous !== status) this.saveTrainingLog(`status: ${previous} -> ${status}${status === 'failed' ? ` (${this.metadata.error})` : ''}`);
    if (status === 'failed' && error instanceof Error && error.stack) this.saveTrainingLog(error.stack);
  }

  /** Marks the run alive; the Trainer calls it every epoch (and during long preparation). */
  heartbeat(): void {
    this.writeMetadata();
  }

  /** Appends "[YYYY-MM-DD HH:MM:SS] message" lines to logs/training.log. */
  saveTrainingLog(message: string): void {
    appendLog(this.path(RUN_FILES.trainingLog), message);
  }

  /**
   * Records one row in logs/metrics.json: {epoch, phase, timestamp, ...metrics} (train_loss, val_loss, lr...).
   * Logging the same (epoch, phase) again replaces the row, so a resumed run re-running an epoch leaves no duplicate.
   */
  logMetrics(epoch: number, metrics: Record<string, number | string | null>, phase = 'train'): void {
    const row: MetricsEntry = { epoch, phase, timestamp: isoNow() };
    for (const [key, value] of Object.entries(metrics)) row[key] = typeof value === 'number' && !Number.isFinite(value) ? null : value;
    const at = this.history.findIndex((r) => r.epoch === epoch && r.phase === phase);
    if (at >= 0) this.history[at] = row;
    else this.history.push(row);
    writeJsonAtomic(this.path(RUN_FILES.metrics), this.history);
  }

  /** Drops metric rows after `epoch`: a resumed run calls it with the epoch of the checkpoint it resumes from. */
  rewindTo(epoch: number): void {
    this.history = this.history.filter((r) => r.epoch <= epoch);
    writeJsonAtomic(this.path(RUN_FILES.metrics), this.history);
  }

  /** A copy of logs/metrics.json as held in memory. */
  getMetricsHistory(): MetricsEntry[] {
    return structuredClone(this.history);
  }

  /**
   * Writes checkpoints/checkpoint-{epoch}/ (weights, optimizer, trainer_state.json, rng_state.json) into a temp
   * folder and renames it into place; refreshes checkpoints/best/ when `isBest`; then rotates old checkpoints.
   * Returns the checkpoint folder.
   */
  saveCheckpoint(input: CheckpointInput): string {
    const name = `checkpoint-${input.epoch}`;
    const finalDir = this.path(join(RUN_FILES.checkpointsDir, name));
    if (input.isBest) this.bestCheckpoint = `${RUN_FILES.checkpointsDir}/${name}`;
    const state: TrainerState = {
      ...input.trainerState,
      epoch: input.epoch,
      best_model_checkpoint: this.bestCheckpoint,
      log_history: this.history.filter((r) => r.epoch <= input.epoch),
      metrics: input.metrics,
    };
    writeDirAtomic(finalDir, (tmp) => {
      writeFileAtomic(join(tmp, CHECKPOINT_FILES.weights), encodeSafetensors(toStateDict(input.weights), { format: 'pt' }));
      writeFileAtomic(join(tmp, CHECKPOINT_FILES.optimizer), encodeSafetensors(toStateDict(input.optimizerState), input.optimizerMetadata ?? {}));
      writeJsonAtomic(join(tmp, CHECKPOINT_FILES.trainerState), state);
      writeJsonAtomic(join(tmp, CHECKPOINT_FILES.rngState), input.rngState ?? null);
    });
    if (input.isBest) this.copyToBest(finalDir);
    this.rotateCheckpoints();
    this.saveTrainingLog(`saved ${name}${input.isBest ? ' (best)' : ''}`);
    return finalDir;
  }

  /**
   * best/ is a copy of the checkpoint's files, never hard links: with shared inodes, damage to one checkpoint file
   * (a disk error, an editor, `truncate`) was damage to best/ too, and resume then had no intact best weights.
   */
  private copyToBest(checkpointDir: string): void {
    writeDirAtomic(this.path(RUN_FILES.bestDir), (tmp) => {
      for (const file of Object.values(CHECKPOINT_FILES)) copyFileSync(join(checkpointDir, file), join(tmp, file));
    });
  }

  /**
   * Keeps the newest `saveTotalLimit` checkpoint-{N} folders. Like Hugging Face, the checkpoint the best one came from
   * is never deleted (nor the newest, which resume needs), so the count can exceed the limit by one; best/ is never touched.
   */
  private rotateCheckpoints(): void {
    const limit = this.saveTotalLimit;
    if (limit === null || limit <= 0) return;
    const names = listCheckpointNames(this.runDir);
    const protectedNames = new Set([names.at(-1), this.bestCheckpoint?.split('/').at(-1)]);
    let excess = names.length - limit;
    for (const name of names) {
      if (excess <= 0) break;
      if (protectedNames.has(name)) continue;
      removeDirAtomic(this.path(join(RUN_FILES.checkpointsDir, name)));
      excess--;
    }
  }

  /** Reads one checkpoint folder back. */
  loadCheckpoint(dir: string): LoadedCheckpoint {
    const weights = readSafetensors(join(dir, CHECKPOINT_FILES.weights));
    const optimizer = readSafetensors(join(dir, CHECKPOINT_FILES.optimizer));
    const state = readJson(join(dir, CHECKPOINT_FILES.trainerState));
    const rng = readJson(join(dir, CHECKPOINT_FILES.rngState));
    if (!state.ok) throw new UserError(`checkpoint ${dir}: ${state.reason}`, 'checkpoint_corrupt');
    if (!rng.ok) throw new UserError(`checkpoint ${dir}: ${rng.reason}`, 'checkpoint_corrupt');
    const parsed = TrainerStateSchema.safeParse(state.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UserError(`checkpoint ${dir}: ${CHECKPOINT_FILES.trainerState} ${issue.path.join('.')}: ${issue.message}`, 'checkpoint_corrupt');
    }
    const trainerState = parsed.data;
    return {
      path: dir,
      epoch: trainerState.epoch,
      weights: weights.tensors,
      optimizerState: optimizer.tensors,
      optimizerMetadata: optimizer.metadata,
      trainerState,
      rngState: rng.value,
    };
  }

  /** The newest checkpoint-{N} that reads back completely, or null when there is none: what resume starts from. */
  latestCheckpoint(): LoadedCheckpoint | null {
    for (const name of listCheckpointNames(this.runDir).reverse()) {
      try {
        return this.loadCheckpoint(this.path(join(RUN_FILES.checkpointsDir, name)));
      } catch (err) {
        this.saveTrainingLog(`skipping unreadable ${name}: ${errorText(err)}`);
      }
    }
    return null;
  }

  /**
   * Resuming from `checkpoint`: adopts its best_model_checkpoint (a newer, skipped checkpoint may have moved it) and
   * returns the folder to read the best weights as of that checkpoint from, the first whose weights read back intact:
   * the checkpoint itself when it was the best, best/ when it was copied from that checkpoint, else the best
   * checkpoint's own folder. Null when there is no best yet, or when none of them is intact (logged: the resumed run
   * then counts the checkpoint's weights as the best so far).
   */
  resumeBestFrom(checkpoint: LoadedCheckpoint): string | null {
    const best = checkpoint.trainerState.best_model_checkpoint ?? null;
    this.bestCheckpoint = best;
    if (best === null) return null;
    if (this.path(best) === checkpoint.path) return checkpoint.path;
    const candidates: string[] = [];
    const bestDir = this.path(RUN_FILES.bestDir);
    const copied = readJson(join(bestDir, CHECKPOINT_FILES.trainerState));
    if (copied.ok && (copied.value as TrainerState | null)?.best_model_checkpoint === best) candidates.push(bestDir);
    candidates.push(this.path(best));
    for (const dir of candidates) {
      try {
        readSafetensors(join(dir, CHECKPOINT_FILES.weights));
        return dir;
      } catch (err) {
        if (existsSync(dir)) this.saveTrainingLog(`skipping unreadable best weights in ${this.relative(dir)}: ${errorText(err)}`);
      }
    }
    this.saveTrainingLog(`no intact best weights of ${best}: the weights of ${this.relative(checkpoint.path)} count as the best so far`);
    return null;
  }

  /** The final model/ folder (writeModelFolder), with training_args.json; epochs and best val loss go into metadata.json. */
  saveModel(
    weights: StateSource,
    modelConfig: ModelConfigFile,
    trainingArgs: TrainingArgsFile,
    scaler: unknown,
    intervals: ConformalCalibration | null = null,
  ): string {
    const finalDir = this.path(RUN_FILES.modelDir);
    writeModelFolder(finalDir, { weights, modelConfig, scaler, trainingArgs, intervals });
    this.metadata.epochs_trained = trainingArgs.epochs_trained;
    if (trainingArgs.best_val_loss !== null) this.metadata.best_val_loss = trainingArgs.best_val_loss;
    this.writeMetadata();
    this.saveTrainingLog(`saved final model to ${RUN_FILES.modelDir}/`);
    return finalDir;
  }

  /** results/eval_results.json, and its headline numbers into metadata.json's eval_metrics. */
  saveEvaluationResults(results: EvalResultsFile): void {
    writeJsonAtomic(this.path(RUN_FILES.evalResults), results);
    const t = results.test_metrics;
    const summary: EvalMetricsSummary = {
      mae: finiteOrNull(t.mae),
      rmse: finiteOrNull(t.rmse),
      mape: finiteOrNull(t.mape),
      r2: finiteOrNull(t.r2),
      direction_accuracy: finiteOrNull(t.direction_accuracy),
      ic: finiteOrNull(t.ic),
      rank_ic: finiteOrNull(t.rank_ic),
      skill: finiteOrNull(t.skill),
      persistence_mae: finiteOrNull(results.baselines.persistence.mae),
    };
    this.metadata.eval_metrics = summary;
    this.writeMetadata();
  }

  /** results/predictions.json. */
  savePredictions(predictions: PredictionsFile | ScorePredictionsFile): void {
    writeJsonAtomic(this.path(RUN_FILES.predictions), predictions);
  }

  /** The run as `runs show` sees it: status (crashed/corrupt detection), best val loss, eval metrics, size. */
  getSummary(): RunInfo {
    return readRun(this.runDir);
  }

  /** The final model folder (model/). */
  getModelPath(): string {
    return this.path(RUN_FILES.modelDir);
  }

  /** checkpoints/best/, or null before the first best checkpoint. */
  getBestCheckpointPath(): string | null {
    const best = this.path(RUN_FILES.bestDir);
    return existsSync(join(best, CHECKPOINT_FILES.trainerState)) ? best : null;
  }

  /** Run-relative path of the checkpoint best/ was copied from, as in trainer_state.json. */
  getBestModelCheckpoint(): string | null {
    return this.bestCheckpoint;
  }

  /** Path relative to the run folder (forward slashes), for messages and trainer_state.json. */
  relative(path: string): string {
    return runRelative(this.runDir, path);
  }
}
