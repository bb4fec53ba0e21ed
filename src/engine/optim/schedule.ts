import { UserError } from '../../util/errors.js';
import { cosCorrectlyRounded as cos } from './cos.js';

/** Anything whose learning rate a schedule drives (an Optimizer). */
export interface LrTarget {
  lr: number;
}

/** A learning-rate schedule with torch.optim.lr_scheduler semantics, stepped once per epoch. */
export interface LrSchedule {
  readonly type: 'plateau' | 'step' | 'cosine';
  /** Advances one epoch; ReduceLROnPlateau needs the epoch's validation metric, the others ignore it. */
  step(metric?: number): void;
  /** The learning rate after the last step (torch's get_last_lr()). */
  readonly lastLr: number;
  /** JSON-safe state (no Infinity) for trainer_state.json. */
  stateDict(): Record<string, unknown>;
  loadStateDict(state: Record<string, unknown>): void;
}

function positiveInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new UserError(`${what} must be a positive integer, got ${value}`);
}

function checkType(state: Record<string, unknown>, type: string): void {
  if (state.type !== type) throw new UserError(`scheduler state is for "${String(state.type)}", not "${type}"`);
}

function num(state: Record<string, unknown>, key: string): number {
  const v = state[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`scheduler state: "${key}" must be a finite number`);
  return v;
}

/** torch's chainable-form _LRScheduler: constructing it takes the initial step (last_epoch 0), which keeps the lr. */
abstract class EpochSchedule implements LrSchedule {
  abstract readonly type: 'step' | 'cosine';
  protected lastEpoch = 0;
  protected readonly baseLr: number;

  constructor(protected readonly optimizer: LrTarget) {
    this.baseLr = optimizer.lr;
  }

  get lastLr(): number {
    return this.optimizer.lr;
  }

  step(): void {
    this.lastEpoch++;
    this.optimizer.lr = this.nextLr(this.optimizer.lr);
  }

  /** torch's get_lr(): the new lr from the current one, at this.lastEpoch. */
  protected abstract nextLr(lr: number): number;
  protected abstract settings(): Record<string, number>;

  stateDict(): Record<string, unknown> {
    return { type: this.type, last_epoch: this.lastEpoch, base_lr: this.baseLr, last_lr: this.optimizer.lr, ...this.settings() };
  }

  /**
   * Restores the epoch counter. The lr itself belongs to the optimizer's state (as in torch), which is restored
   * alongside; the settings must match the ones this schedule was built with.
   */
  loadStateDict(state: Record<string, unknown>): void {
    checkType(state, this.type);
    const mine: Record<string, number> = { base_lr: this.baseLr, ...this.settings() };
    for (const [key, value] of Object.entries(mine)) {
      if (num(state, key) !== value) throw new UserError(`scheduler state: saved with ${key}=${String(state[key])}, but this run has ${value}`);
    }
    const epoch = num(state, 'last_epoch');
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new UserError(`scheduler state: invalid last_epoch ${epoch}`);
    this.lastEpoch = epoch;
  }
}

/** torch.optim.lr_scheduler.StepLR: lr ×= gamma every stepSize epochs. */
export class StepLR extends EpochSchedule {
  readonly type = 'step' as const;
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: LrTarget, options: { stepSize: number; gamma?: number }) {
    super(optimizer);
    positiveInteger('StepLR step_size', options.stepSize);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
  }

  protected nextLr(lr: number): number {
    return this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0 ? lr : lr * this.gamma;
  }

  protected settings(): Record<string, number> {
    return { step_size: this.stepSize, gamma: this.gamma };
  }
}

/**
 * torch.optim.lr_scheduler.CosineAnnealingLR in its recursive (chainable) form, as torch steps it. cos is rounded
 * correctly (see cos.ts) so the recursion tracks torch's in every bit wherever glibc's cos rounds correctly too.
 */
export class CosineAnnealingLR extends EpochSchedule {
  readonly type = 'cosine' as const;
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: LrTarget, options: { tMax: number; etaMin?: number }) {
    super(optimizer);
    positiveInteger('CosineAnnealingLR T_max', options.tMax);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
  }

  protected nextLr(lr: number): number {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    if (e === 0) return lr;
    // Python's % is non-negative for a positive modulus.
    if ((((e - 1 - T) % (2 * T)) + 2 * T) % (2 * T) === 0) {
      return lr + ((this.baseLr - etaMin) * (1 - cos(Math.PI / T))) / 2;
    }
    return ((1 + cos((Math.PI * e) / T)) / (1 + cos((Math.PI * (e - 1)) / T))) * (lr - etaMin) + etaMin;
  }

  protected settings(): Record<string, number> {
    return { T_max: this.tMax, eta_min: this.etaMin };
  }
}

export interface PlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number;
  eps?: number;
}

/** torch.optim.lr_scheduler.ReduceLROnPlateau with torch's defaults (min, 0.1, patience 10, 1e-4 rel, cooldown 0). */
export class ReduceLROnPlateau implements LrSchedule {
  readonly type = 'plateau' as const;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLr: number;
  readonly eps: number;
  private best: number;
  private numBadEpochs = 0;
  private cooldownCounter = 0;
  private lastEpoch = 0;

  constructor(
    private readonly optimizer: LrTarget,
    options: PlateauOptions = {},
  ) {
    const { mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = 'rel', cooldown = 0, minLr = 0, eps = 1e-8 } = options;
    if (!(factor < 1)) throw new UserError('ReduceLROnPlateau: factor should be < 1.0');
    if (mode !== 'min' && mode !== 'max') throw new UserError(`ReduceLROnPlateau: mode ${String(mode)} is unknown`);
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') {
      throw new UserError(`ReduceLROnPlateau: threshold mode ${String(thresholdMode)} is unknown`);
    }
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.minLr = minLr;
    this.eps = eps;
    this.best = this.worst;
  }

  private get worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  get lastLr(): number {
    return this.optimizer.lr;
  }

  private isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  step(metric?: number): void {
    if (typeof metric !== 'number') throw new Error("ReduceLROnPlateau.step needs the epoch's metric");
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs during cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      const oldLr = this.optimizer.lr;
      const newLr = Math.max(oldLr * this.factor, this.minLr);
      if (oldLr - newLr > this.eps) this.optimizer.lr = newLr;
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
  }

  private settings(): Record<string, unknown> {
    return {
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      threshold_mode: this.thresholdMode,
      cooldown: this.cooldown,
      min_lr: this.minLr,
      eps: this.eps,
    };
  }

  /** `best` is null until a first metric arrives (torch holds ±inf there, which JSON cannot carry). */
  stateDict(): Record<string, unknown> {
    return {
      type: this.type,
      last_epoch: this.lastEpoch,
      best: Number.isFinite(this.best) ? this.best : null,
      num_bad_epochs: this.numBadEpochs,
      cooldown_counter: this.cooldownCounter,
      last_lr: this.optimizer.lr,
      ...this.settings(),
    };
  }

  loadStateDict(state: Record<string, unknown>): void {
    checkType(state, this.type);
    for (const [key, value] of Object.entries(this.settings())) {
      if (state[key] !== value) throw new UserError(`scheduler state: saved with ${key}=${String(state[key])}, but this run has ${String(value)}`);
    }
    const best = state.best === null ? this.worst : num(state, 'best');
    const counters = ['last_epoch', 'num_bad_epochs', 'cooldown_counter'].map((key) => {
      const v = num(state, key);
      if (!Number.isSafeInteger(v) || v < 0) throw new UserError(`scheduler state: invalid ${key} ${v}`);
      return v;
    });
    this.best = best;
    [this.lastEpoch, this.numBadEpochs, this.cooldownCounter] = counters;
  }
}

export type ScheduleSpec =
  | ({ type: 'plateau' } & PlateauOptions)
  | { type: 'step'; stepSize: number; gamma?: number }
  | { type: 'cosine'; tMax: number; etaMin?: number };

/** One entry point for the trainer: the schedule a (validated) config names. */
export function createSchedule(optimizer: LrTarget, spec: ScheduleSpec): LrSchedule {
  switch (spec.type) {
    case 'plateau':
      return new ReduceLROnPlateau(optimizer, spec);
    case 'step':
      return new StepLR(optimizer, spec);
    case 'cosine':
      return new CosineAnnealingLR(optimizer, spec);
  }
}
