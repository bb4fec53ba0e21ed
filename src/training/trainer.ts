/**
 * The Trainer: one readable epoch loop, top to bottom (nanoGPT style). It owns the engine, the network, the optimizer,
 * the LR schedule and the one seeded Rng (weight init, dropout masks and the epoch shuffle), so that everything a
 * resume must restore is right here. Files go through an optional TrainingManager: without one the Trainer trains in
 * memory (backtests); with one it writes metrics, logs, checkpoints and heartbeats into out/{run}/.
 */
import { readSafetensors, type NamedTensor } from '../engine/io/index.js';
import { Adam, AdamW, clipGradNorm, createSchedule, type LrSchedule, type Optimizer, type ScheduleSpec } from '../engine/optim/index.js';
import { Rng, type RngState } from '../engine/rng.js';
import { Engine } from '../engine/runtime.js';
import {
  DEFAULT_INTERVAL_LEVEL,
  calibrateConformal,
  conformalHalfWidths,
  crossSectionOfRecords,
  asScoreEvaluation,
  evaluateForecasts,
  type ConformalCalibration,
  type ScoreEvaluation,
  type Evaluation,
} from '../evaluation/index.js';
import { isScoreTarget, type TrainingData, type Windows } from '../features/index.js';
import {
  DEFAULT_UNKNOWN_STOCK_RATE,
  DataParallel,
  ModelConfigSchema,
  UNKNOWN_STOCK_ROW,
  drawsUnknownStock,
  createNetwork,
  loadStateDict,
  predict,
  stateDict,
  trainStep,
  type ModelConfig,
  type Network,
} from '../models/index.js';
import { UserError } from '../util/errors.js';
import { resolveThreads, type TrainConfig, type TrainingConfig } from './config.js';
import { CHECKPOINT_FILES, type LoadedCheckpoint, type StateDict, type TrainerStateInput, type TrainingManager } from '../runs/index.js';

/** What one finished epoch reports to callbacks and to logs/metrics.json. */
export interface EpochSummary {
  epoch: number;
  epochs: number;
  globalStep: number;
  trainLoss: number;
  valLoss: number | null;
  /** The learning rate the epoch's steps used. */
  lr: number;
  epochSeconds: number;
  isBest: boolean;
  bestMetric: number;
  epochsWithoutImprovement: number;
}

export interface StepInfo {
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  stepsPerEpoch: number;
  globalStep: number;
  loss: number;
  /** Windows in this step's batch. */
  samples: number;
}

/**
 * Hooks in the loop, Hugging Face TrainerCallback style. onEpochEnd may return 'stop' to end training after this
 * epoch (its checkpoint is still written).
 */
export interface TrainerCallbacks {
  /** `stepsPerEpoch` and the epochs left let a caller draw progress (the CLI's progress line is such a callback). */
  onTrainBegin?(info: { startEpoch: number; epochs: number; stepsPerEpoch: number; resumed: boolean }): void;
  onStepEnd?(info: StepInfo): void;
  onEpochEnd?(summary: EpochSummary): void | 'stop';
  onCheckpoint?(info: { epoch: number; path: string; isBest: boolean; complete: boolean }): void;
  onTrainEnd?(result: FitResult): void;
}

export type StopReason = 'max_epochs' | 'early_stopping' | 'callback' | 'interrupted';

export interface FitResult {
  stopReason: StopReason;
  /** Epochs completed (an interrupted epoch does not count). */
  epochsTrained: number;
  globalStep: number;
  bestEpoch: number | null;
  /** Best value of metricForBestModel. */
  bestMetric: number | null;
  /** Validation loss of the best epoch (null without a validation segment). */
  bestValLoss: number | null;
  /** What the interrupt was: the abort signal's reason (the CLI aborts with "SIGINT" or "SIGTERM"). */
  interruptedBy: string | null;
}

export interface TrainerOptions {
  manager?: TrainingManager | null;
  callbacks?: TrainerCallbacks[];
  /**
   * The one way to stop training early: once aborted, the loop finishes the current step, writes a last checkpoint
   * (resume continues from that very step) and fit() returns 'interrupted' with the abort reason.
   */
  signal?: AbortSignal;
}

/** Where an interrupted epoch stood, saved in trainer_state.json so a resume continues the very same epoch. */
interface EpochPosition {
  epoch: number;
  order: Int32Array;
  nextBatch: number;
  lossSum: number;
  samples: number;
  seconds: number;
}

const EVAL_BATCH = 256;
const HEARTBEAT_MS = 30_000;

/** A network's weights as PyTorch-named F32 tensors: what checkpoints and model folders store. */
export function networkWeights(network: Network): StateDict {
  return toNamed(stateDict(network));
}

function toNamed(dict: Record<string, { shape: number[]; data: Float32Array }>): StateDict {
  const out: StateDict = {};
  for (const [name, t] of Object.entries(dict)) out[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  return out;
}

/** Weights as the model loads them; weights are always F32 (anything else is a corrupt file). */
function asF32(dict: Record<string, NamedTensor>, source: string): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(dict)) {
    if (t.dtype !== 'F32') throw new Error(`${source}: weight ${name} is ${t.dtype}, expected F32`);
    out[name] = { shape: t.shape, data: t.data as Float32Array };
  }
  return out;
}

function scheduleSpec(training: TrainingConfig): ScheduleSpec | null {
  const s = training.scheduler;
  switch (s.type) {
    case 'none':
      return null;
    case 'plateau':
      return { type: 'plateau', mode: 'min', factor: s.factor, patience: s.patience, threshold: s.threshold, minLr: s.minLr };
    case 'step':
      return { type: 'step', stepSize: s.stepSize, gamma: s.gamma };
    case 'cosine':
      return { type: 'cosine', tMax: s.tMax ?? training.epochs, etaMin: s.etaMin };
  }
}

/** Mean loss in float64 over a whole segment, with the loss the model trains on. */
function meanLoss(kind: TrainingConfig['loss'], pred: Float32Array, target: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - target[i];
    const a = Math.abs(d);
    sum += kind === 'mse' ? d * d : kind === 'mae' ? a : a <= 1 ? 0.5 * d * d : a - 0.5;
  }
  return sum / pred.length;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Trainer {
  readonly engine: Engine;
  readonly rng: Rng;
  readonly network: Network;
  readonly modelConfig: ModelConfig;
  readonly optimizer: Optimizer;
  readonly schedule: LrSchedule | null;
  readonly training: TrainingConfig;
  private readonly manager: TrainingManager | null;
  /** With a stock embedding: the share of training samples that use the unknown-stock row (model.unknownStockRate). */
  private readonly unknownStockRate: number;
  private readonly callbacks: TrainerCallbacks[];

  // The loop's state: everything here is in trainer_state.json.
  private completedEpochs = 0;
  private globalStep = 0;
  private bestMetric: number | null = null;
  private bestEpoch: number | null = null;
  private bestValLoss: number | null = null;
  private epochsWithoutImprovement = 0;
  private position: EpochPosition | null = null;
  private bestWeights: StateDict | null = null;
  /** Why the loop ended for good (early stopping, a callback, max epochs), so a resumed finished loop stays finished. */
  private finishedBy: Exclude<StopReason, 'interrupted'> | null = null;

  private lastHeartbeat = 0;
  /** training.threads > 1: the worker threads of the current fit() (src/models/parallel.ts); null on one thread. */
  private parallel: DataParallel | null = null;

  constructor(
    readonly dataset: TrainingData,
    config: Pick<TrainConfig, 'model' | 'training'>,
    private readonly options: TrainerOptions = {},
  ) {
    this.training = config.training;
    this.threads = resolveThreads(this.training);
    this.manager = options.manager ?? null;
    this.callbacks = options.callbacks ?? [];
    const embedding = config.model.stockEmbeddingDim ?? 0;
    if (embedding > 0 && !dataset.members) {
      throw new UserError('model.stockEmbeddingDim (--stock-embedding-dim) needs a universal run (--symbols): one stock has nothing to embed', 'bad_config');
    }
    this.modelConfig = ModelConfigSchema.parse({
      ...config.model,
      inputSize: dataset.featureNames.length,
      outputSize: dataset.horizon,
      numStocks: embedding > 0 ? (dataset.members?.length ?? 0) : 0,
    });
    this.unknownStockRate = config.model.unknownStockRate ?? DEFAULT_UNKNOWN_STOCK_RATE;
    this.engine = Engine.create();
    this.rng = new Rng(this.training.seed);
    this.network = createNetwork(this.modelConfig, this.engine, this.rng);
    const opts = { lr: this.training.learningRate, weightDecay: this.training.weightDecay };
    this.optimizer = this.training.optimizer === 'adamw' ? new AdamW(this.network.parameters(), opts) : new Adam(this.network.parameters(), opts);
    const spec = scheduleSpec(this.training);
    this.schedule = spec ? createSchedule(this.optimizer, spec) : null;
  }

  /** Threads per step (training.threads, 'auto' resolved as runTraining records it; 1 = the single-thread path). */
  readonly threads: number;

  /** Parameters in the network. */
  get parameterCount(): number {
    return this.network.parameters().reduce((n, p) => n + p.value.size, 0);
  }

  /** Returns the engine for the next Trainer in this thread; this trainer must not be used afterwards. */
  dispose(): void {
    this.engine.release();
  }

  weights(): StateDict {
    return networkWeights(this.network);
  }

  /** The weights of the best epoch so far (the current ones before any epoch ended). */
  bestStateDict(): StateDict {
    return this.bestWeights ?? this.weights();
  }

  /**
   * Continues from a checkpoint: model, optimizer (moments, step, lr), schedule, RNG, early-stopping and best
   * tracking, and, for a checkpoint written mid-epoch, the epoch's shuffled order and the next batch. The best
   * weights come from checkpoints/best/ when it exists.
   */
  restore(checkpoint: LoadedCheckpoint, bestDir: string | null = null): void {
    const s = checkpoint.trainerState;
    loadStateDict(this.network, asF32(checkpoint.weights, checkpoint.path));
    this.optimizer.loadStateDict(checkpoint.optimizerState, checkpoint.optimizerMetadata);
    if (this.schedule) {
      if (!s.scheduler) throw new Error(`checkpoint ${checkpoint.path} has no scheduler state but this run uses a ${this.schedule.type} schedule`);
      this.schedule.loadStateDict(s.scheduler);
    }
    // An N-thread run's dropout streams derive from (rng state, step, slice) for that N: another N is another run.
    const saved = (checkpoint.rngState as { threads?: unknown } | null)?.threads ?? 1;
    if (saved !== this.threads) {
      throw new UserError(
        `checkpoint ${checkpoint.path} was trained on ${saved} thread(s) (training.threads); resuming it with ${this.threads} would not continue it bit for bit`,
        'bad_config',
      );
    }
    this.rng.setState(checkpoint.rngState as RngState);
    this.completedEpochs = s.completed_epochs ?? checkpoint.epoch;
    this.globalStep = s.global_step;
    this.bestMetric = s.best_metric;
    this.bestEpoch = s.best_epoch ?? null;
    this.bestValLoss = s.best_val_loss ?? null;
    this.epochsWithoutImprovement = s.early_stopping.epochs_without_improvement;
    const p = s.epoch_position;
    this.position = p
      ? { epoch: p.epoch, order: Int32Array.from(p.order), nextBatch: p.next_batch, lossSum: p.loss_sum, samples: p.samples, seconds: p.seconds }
      : null;
    this.finishedBy = s.stop_reason ?? null;
    this.bestWeights = bestDir ? readSafetensors(`${bestDir}/${CHECKPOINT_FILES.weights}`).tensors : this.bestMetric === null ? null : this.weights();
  }

  /** Epochs this trainer has completed (after restore: the checkpoint's). */
  get epochsCompleted(): number {
    return this.completedEpochs;
  }

  async fit(): Promise<FitResult> {
    const threads = this.threads;
    if (threads === 1) return this.loop();
    this.parallel = await DataParallel.start({
      threads,
      network: this.network,
      loss: this.training.loss,
      maxBatch: this.training.batchSize,
      seqLength: this.dataset.train.seqLength,
      onNotice: (line) => {
        console.warn(line);
        this.log(line);
      },
    });
    try {
      return await this.loop();
    } finally {
      await this.parallel.close();
      this.parallel = null;
    }
  }

  private async loop(): Promise<FitResult> {
    const { epochs, batchSize, loss, gradClip, patience } = this.training;
    const train = this.dataset.train;
    const val = this.dataset.val;
    const n = train.size;
    const stepsPerEpoch = Math.ceil(n / batchSize);
    const xBatch = new Float32Array(batchSize * train.seqLength * train.numFeatures);
    const yBatch = new Float32Array(batchSize * train.horizon);
    const startEpoch = this.position?.epoch ?? this.completedEpochs + 1;
    const resumed = this.globalStep > 0;
    this.callbacks.forEach((c) => c.onTrainBegin?.({ startEpoch, epochs, stepsPerEpoch, resumed }));
    this.log(
      `${resumed ? 'resuming' : 'training'} ${this.modelConfig.modelType} (${this.parameterCount} parameters) on ${n} windows, ${stepsPerEpoch} steps per epoch, ${this.threads} thread${this.threads === 1 ? '' : 's'}, from epoch ${startEpoch} of ${epochs}`,
    );

    let stopReason: StopReason = this.finishedBy ?? 'max_epochs';
    // A checkpoint written when the loop ended (then the process died before the final model) resumes as finished.
    for (let epoch = startEpoch; epoch <= epochs && this.finishedBy === null; epoch++) {
      // --- train: one pass over the windows in a seeded shuffled order (or the interrupted pass, continued) ---
      const resumeAt = this.position?.epoch === epoch ? this.position : null;
      const order = resumeAt?.order ?? this.shuffledOrder(n);
      let lossSum = resumeAt?.lossSum ?? 0;
      let samples = resumeAt?.samples ?? 0;
      const started = performance.now() - (resumeAt?.seconds ?? 0) * 1000;
      const lr = this.optimizer.lr;
      this.position = null;
      for (let b = resumeAt?.nextBatch ?? 0; b < stepsPerEpoch; b++) {
        const idx = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
        const x = train.gatherX(idx, xBatch.subarray(0, idx.length * train.seqLength * train.numFeatures));
        const y = train.gatherY(idx, yBatch.subarray(0, idx.length * train.horizon));
        const stocks = this.trainingStockRows(idx, epoch);
        const stepLoss = this.parallel ? await this.parallel.step(this.rng, x, y, idx.length, stocks) : trainStep(this.network, loss, x, y, idx.length, stocks);
        if (gradClip > 0) clipGradNorm(this.network.parameters(), gradClip);
        this.optimizer.step();
        this.globalStep++;
        lossSum += stepLoss * idx.length;
        samples += idx.length;
        const info = { epoch, step: b + 1, stepsPerEpoch, globalStep: this.globalStep, loss: stepLoss, samples: idx.length };
        this.callbacks.forEach((c) => c.onStepEnd?.(info));
        this.heartbeatIfDue();
        await yieldToEventLoop(); // lets a SIGINT/SIGTERM handler run between steps
        if (this.stopReason() !== null && b + 1 < stepsPerEpoch) {
          this.position = { epoch, order, nextBatch: b + 1, lossSum, samples, seconds: (performance.now() - started) / 1000 };
          this.saveCheckpoint(epoch, false, { train_loss: lossSum / samples }, false);
          this.log(`interrupted by ${this.stopReason()} in epoch ${epoch} after step ${b + 1}/${stepsPerEpoch}; resume continues from here`);
          stopReason = 'interrupted';
          return this.finish(stopReason);
        }
      }
      const trainLoss = lossSum / samples;

      // --- validate: no shuffling, no dropout ---
      const valLoss = val.size > 0 ? meanLoss(loss, this.predictScaled(val), val.y) : null;
      const metric = this.training.metricForBestModel === 'val_loss' && valLoss !== null ? valLoss : trainLoss;

      // --- best tracking and early stopping ---
      const isBest = this.bestMetric === null || metric < this.bestMetric;
      if (isBest) {
        this.bestMetric = metric;
        this.bestEpoch = epoch;
        this.bestValLoss = valLoss;
        this.bestWeights = this.weights();
        this.epochsWithoutImprovement = 0;
      } else {
        this.epochsWithoutImprovement++;
      }
      this.schedule?.step(metric);
      this.completedEpochs = epoch;
      const epochSeconds = (performance.now() - started) / 1000;

      const summary: EpochSummary = {
        epoch,
        epochs,
        globalStep: this.globalStep,
        trainLoss,
        valLoss,
        lr,
        epochSeconds,
        isBest,
        bestMetric: this.bestMetric ?? metric,
        epochsWithoutImprovement: this.epochsWithoutImprovement,
      };
      this.manager?.logMetrics(epoch, { train_loss: trainLoss, val_loss: valLoss, lr, epoch_time: epochSeconds, global_step: this.globalStep }, 'train');
      this.log(
        `epoch ${epoch}/${epochs} train_loss=${trainLoss.toFixed(6)} val_loss=${valLoss === null ? '-' : valLoss.toFixed(6)} ` +
          `lr=${lr.toExponential(3)} time=${epochSeconds.toFixed(2)}s${isBest ? ' (best)' : ''}`,
      );
      let finished: Exclude<StopReason, 'interrupted'> | null = epoch === epochs ? 'max_epochs' : null;
      if (patience > 0 && this.epochsWithoutImprovement >= patience) finished = 'early_stopping';
      for (const c of this.callbacks) if (c.onEpochEnd?.(summary) === 'stop') finished ??= 'callback';
      this.finishedBy = finished;
      // An interrupt at an epoch boundary still records whether the loop was done, so resume knows.
      const stop: StopReason | null = this.stopReason() !== null ? 'interrupted' : finished;
      if (epoch % this.training.checkpointInterval === 0 || isBest || stop !== null) {
        this.saveCheckpoint(epoch, isBest, { train_loss: trainLoss, val_loss: valLoss }, true);
      }
      this.manager?.heartbeat();
      if (stop !== null) {
        stopReason = stop;
        if (stop === 'early_stopping')
          this.log(
            `early stopping: ${this.epochsWithoutImprovement} epochs without improvement of ${this.training.metricForBestModel} (best ${this.bestMetric} at epoch ${this.bestEpoch})`,
          );
        break;
      }
    }
    return this.finish(stopReason);
  }

  /** The abort reason once the caller's signal is aborted, else null. */
  private stopReason(): string | null {
    const signal = this.options.signal;
    return signal?.aborted ? String(signal.reason ?? 'aborted') : null;
  }

  private finish(stopReason: StopReason): FitResult {
    const result: FitResult = {
      stopReason,
      epochsTrained: this.completedEpochs,
      globalStep: this.globalStep,
      bestEpoch: this.bestEpoch,
      bestMetric: this.bestMetric,
      bestValLoss: this.bestValLoss,
      interruptedBy: stopReason === 'interrupted' ? this.stopReason() : null,
    };
    this.callbacks.forEach((c) => c.onTrainEnd?.(result));
    return result;
  }

  /**
   * The stock-embedding rows of a training batch (undefined without an embedding): each window's stock, or the
   * unknown row for the ≈ unknownStockRate share drawn by (seed, epoch, window), which is how that row learns.
   */
  private trainingStockRows(idx: Int32Array, epoch: number): Int32Array | undefined {
    if (this.modelConfig.stockEmbeddingDim === 0) return undefined;
    const stockIndex = this.dataset.train.stockIndex as Int32Array;
    const rows = new Int32Array(idx.length);
    for (let b = 0; b < idx.length; b++) {
      rows[b] = drawsUnknownStock(this.training.seed, epoch, idx[b], this.unknownStockRate) ? UNKNOWN_STOCK_ROW : stockIndex[idx[b]] + 1;
    }
    return rows;
  }

  private shuffledOrder(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    this.rng.shuffle(order);
    return order;
  }

  private trainerState(complete: boolean): TrainerStateInput {
    const p = this.position;
    return {
      global_step: this.globalStep,
      best_metric: this.bestMetric,
      metric_for_best_model: this.training.metricForBestModel,
      greater_is_better: false,
      early_stopping: { patience: this.training.patience, best_metric: this.bestMetric, epochs_without_improvement: this.epochsWithoutImprovement },
      scheduler: this.schedule?.stateDict() ?? null,
      completed_epochs: this.completedEpochs,
      epoch_complete: complete,
      stop_reason: this.finishedBy,
      best_epoch: this.bestEpoch,
      best_val_loss: this.bestValLoss,
      num_train_epochs: this.training.epochs,
      train_batch_size: this.training.batchSize,
      seed: this.training.seed,
      epoch_position: p
        ? { epoch: p.epoch, order: Array.from(p.order), next_batch: p.nextBatch, loss_sum: p.lossSum, samples: p.samples, seconds: p.seconds }
        : null,
    };
  }

  private saveCheckpoint(epoch: number, isBest: boolean, metrics: Record<string, number | null>, complete: boolean): void {
    if (!this.manager) return;
    const path = this.manager.saveCheckpoint({
      weights: this.weights(),
      optimizerState: this.optimizer.stateDict(),
      optimizerMetadata: this.optimizer.stateMetadata(),
      trainerState: this.trainerState(complete),
      rngState: this.threads > 1 ? { ...this.rng.getState(), threads: this.threads } : this.rng.getState(),
      epoch,
      metrics,
      isBest,
    });
    this.callbacks.forEach((c) => c.onCheckpoint?.({ epoch, path, isBest, complete }));
  }

  private heartbeatIfDue(): void {
    if (!this.manager) return;
    const now = Date.now();
    if (now - this.lastHeartbeat < HEARTBEAT_MS) return;
    this.lastHeartbeat = now;
    this.manager.heartbeat();
  }

  private log(message: string): void {
    this.manager?.saveTrainingLog(message);
  }

  /** Scaled network outputs for every window of a segment, in order (evaluation mode). */
  predictScaled(set: Windows): Float32Array {
    return predictWindows(this.network, set);
  }

  /** Loads weights into the network (e.g. the best ones before evaluating). */
  loadWeights(weights: Record<string, NamedTensor>, source = 'weights'): void {
    loadStateDict(this.network, asF32(weights, source));
  }

  /** The current network on a segment against the persistence and zero-return baselines (DESIGN.md §5). */
  evaluate(set: Windows = this.dataset.test, intervals: ConformalCalibration | null = null): Evaluation {
    if (this.scores) throw new Error('a run on cross-sectional targets predicts scores: judge it with judge()');
    return evaluateScaled(set, this.dataset.targetScaler, this.predictScaled(set), intervals);
  }

  /** Whether the network outputs cross-sectional scores (dataset.targetNorm zscore / rank), not returns. */
  get scores(): boolean {
    return isScoreTarget(this.dataset.scalerBundle.target.kind);
  }

  /** evaluate() for a return run, the score evaluation (asScoreEvaluation) for a score run. */
  judge(set: Windows = this.dataset.test, intervals: ConformalCalibration | null = null): Evaluation | ScoreEvaluation {
    return judgeScaled(set, this.dataset.targetScaler, this.predictScaled(set), intervals, this.dataset.scalerBundle.target.kind);
  }

  /**
   * The split-conformal calibration of the current network on the validation segment (never trained on, and before
   * the test segment in time); null without a validation segment.
   */
  calibrate(set: Windows = this.dataset.val): ConformalCalibration | null {
    // A score has no return units to put an interval around.
    if (set.size === 0 || this.scores) return null;
    return calibrateConformal(set.returns, predictedReturns(set, this.dataset.targetScaler, this.predictScaled(set)), set.horizon);
  }
}

/** Scaled outputs of `network` for every window of a segment, in order, in batches (evaluation mode). */
export function predictWindows(network: Network, set: Windows): Float32Array {
  const out = new Float32Array(set.size * set.horizon);
  const stride = set.seqLength * set.numFeatures;
  const buffer = new Float32Array(Math.min(EVAL_BATCH, set.size) * stride);
  for (let start = 0; start < set.size; start += EVAL_BATCH) {
    const count = Math.min(EVAL_BATCH, set.size - start);
    const idx = new Int32Array(count);
    for (let i = 0; i < count; i++) idx[i] = start + i;
    const x = set.gatherX(idx, buffer.subarray(0, count * stride));
    out.set(predict(network, x, count, stockRowsOf(network, set, idx)), start * set.horizon);
  }
  return out;
}

/** The embedding rows of windows `idx` of a universe's set (1 + the stock's member index); undefined without an embedding. */
function stockRowsOf(network: Network, set: Windows, idx: Int32Array): Int32Array | undefined {
  if (network.config.stockEmbeddingDim === 0) return undefined;
  if (!set.stockIndex) throw new Error(`the ${set.name} windows carry no stocks for the stock embedding`);
  const stockIndex = set.stockIndex;
  return Int32Array.from(idx, (i) => stockIndex[i] + 1);
}

/** Scaled network outputs [size, horizon] → predicted log returns. */
export function predictedReturns(set: Windows, targetScaler: TrainingData['targetScaler'], scaled: Float32Array): Float64Array {
  const h = set.horizon;
  const predicted = new Float64Array(set.size * h);
  for (let i = 0; i < set.size; i++) predicted.set(targetScaler.inverseRow(scaled.subarray(i * h, (i + 1) * h)), i * h);
  return predicted;
}

/**
 * A run's judgement on a segment by its target kind: evaluateScaled for log returns; for a score target
 * (cs_zscore_log_return / cs_rank_log_return) the same computation with the scores, then asScoreEvaluation keeps
 * what stays valid (correlations, the cross-section) and nulls every price-unit figure (no interval either).
 */
export function judgeScaled(
  set: Windows,
  targetScaler: TrainingData['targetScaler'],
  scaled: Float32Array,
  intervals: ConformalCalibration | null,
  targetKind: string,
): Evaluation | ScoreEvaluation {
  if (!isScoreTarget(targetKind)) return evaluateScaled(set, targetScaler, scaled, intervals);
  return asScoreEvaluation(evaluateScaled(set, targetScaler, scaled, null), targetKind);
}

/**
 * Scaled network outputs on a segment → log returns → metrics and the predictions file; with a conformal
 * calibration, every record gets its 90% interval and the results its measured coverage.
 */
export function evaluateScaled(
  set: Windows,
  targetScaler: TrainingData['targetScaler'],
  scaled: Float32Array,
  intervals: ConformalCalibration | null = null,
): Evaluation {
  const predicted = predictedReturns(set, targetScaler, scaled);
  const evaluation = evaluateForecasts({
    dates: set.endDates,
    lastClose: set.lastClose,
    actualReturns: set.returns,
    predictedReturns: predicted,
    targetDates: set.targetDates,
    symbols: set.symbols,
    split: set.name,
    intervals: intervals
      ? { method: intervals.method, level: DEFAULT_INTERVAL_LEVEL, halfWidths: conformalHalfWidths(intervals, DEFAULT_INTERVAL_LEVEL) }
      : undefined,
  });
  if (!set.symbols) return evaluation;
  // Over many stocks, what matters is the ranking within each day (DESIGN.md §5): the next-day forecasts, per date.
  const crossSection = crossSectionOfRecords(evaluation.predictions.records);
  return { ...evaluation, results: { ...evaluation.results, cross_section: crossSection } };
}
