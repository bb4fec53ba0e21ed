import { UserError } from '../../util/errors.js';
import type { NamedTensor } from '../io/safetensors.js';
import { Tensor, type Engine, type Parameter } from '../runtime.js';

/** What schedules and the trainer need from an optimizer. */
export interface Optimizer {
  readonly params: readonly Parameter[];
  /** The learning rate of the next step (schedules set it). */
  lr: number;
  /** Steps taken so far. */
  readonly stepCount: number;
  zeroGrad(): void;
  step(): void;
  /** step, lr and per-parameter state as tensors (checkpoints save them as optimizer.safetensors). */
  stateDict(): Record<string, NamedTensor>;
  /** The hyperparameters as strings, for the safetensors metadata; loadStateDict checks them. */
  stateMetadata(): Record<string, string>;
  loadStateDict(tensors: Record<string, NamedTensor>, metadata?: Record<string, string>): void;
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

interface Slot {
  param: Parameter;
  expAvg: Tensor;
  expAvgSq: Tensor;
}

/**
 * Adam and AdamW share everything but where the weight decay goes (torch.optim.Adam folds it into the gradient as L2,
 * torch.optim.AdamW shrinks the weights directly), so one class with that switch implements both.
 */
abstract class AdamFamily implements Optimizer {
  readonly params: readonly Parameter[];
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private steps = 0;
  private readonly engine: Engine;
  private readonly slots: Slot[];

  protected constructor(
    private readonly kind: 'Adam' | 'AdamW',
    private readonly decoupled: boolean,
    params: readonly Parameter[],
    options: AdamOptions,
    defaultWeightDecay: number,
  ) {
    const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = defaultWeightDecay } = options;
    // The same checks, in the same words, as torch.optim.
    if (!(lr >= 0)) throw new UserError(`${kind}: invalid learning rate: ${lr}`);
    if (!(eps >= 0)) throw new UserError(`${kind}: invalid epsilon value: ${eps}`);
    if (!(betas[0] >= 0 && betas[0] < 1)) throw new UserError(`${kind}: invalid beta parameter at index 0: ${betas[0]}`);
    if (!(betas[1] >= 0 && betas[1] < 1)) throw new UserError(`${kind}: invalid beta parameter at index 1: ${betas[1]}`);
    if (!(weightDecay >= 0)) throw new UserError(`${kind}: invalid weight_decay value: ${weightDecay}`);
    if (params.length === 0) throw new UserError(`${kind}: got an empty parameter list`);
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new Error(`${kind}: parameter "${p.name}" appears twice`);
      names.add(p.name);
      if (p.value.engine !== params[0].value.engine) throw new Error(`${kind}: parameters live in different engines`);
    }
    this.params = params;
    this.lr = lr;
    this.beta1 = betas[0];
    this.beta2 = betas[1];
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.engine = params[0].value.engine;
    // Zero-filled persistent storage, as torch's lazily created zeros_like state.
    this.slots = params.map((param) => ({
      param,
      expAvg: Tensor.persistent(this.engine, param.value.shape),
      expAvgSq: Tensor.persistent(this.engine, param.value.shape),
    }));
  }

  get stepCount(): number {
    return this.steps;
  }

  zeroGrad(): void {
    for (const p of this.params) this.engine.k.fill(p.grad.ptr, p.grad.size, 0);
  }

  step(): void {
    this.steps++;
    const t = this.steps;
    // Python floats (float64), rounded to f32 at the kernel boundary as ATen rounds its scalar arguments.
    const stepSize = this.lr / (1 - this.beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    const l2 = this.decoupled ? 0 : this.weightDecay;
    const decay = this.decoupled ? 1 - this.lr * this.weightDecay : 1;
    const k = this.engine.k;
    for (const s of this.slots) {
      k.adam_step(
        s.param.value.ptr,
        s.param.grad.ptr,
        s.expAvg.ptr,
        s.expAvgSq.ptr,
        s.param.value.size,
        l2,
        decay,
        this.beta1,
        1 - this.beta1,
        this.beta2,
        1 - this.beta2,
        -stepSize,
        bc2Sqrt,
        this.eps,
      );
    }
  }

  stateDict(): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {
      step: { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(this.steps)) },
      lr: { dtype: 'F64', shape: [], data: Float64Array.of(this.lr) },
    };
    for (const s of this.slots) {
      // slice(): a copy, because engine memory may grow (and detach views) before the caller writes the file.
      out[`${s.param.name}.exp_avg`] = { dtype: 'F32', shape: [...s.expAvg.shape], data: s.expAvg.data().slice() };
      out[`${s.param.name}.exp_avg_sq`] = { dtype: 'F32', shape: [...s.expAvgSq.shape], data: s.expAvgSq.data().slice() };
    }
    return out;
  }

  stateMetadata(): Record<string, string> {
    return {
      optimizer: this.kind,
      lr: String(this.lr),
      betas: `${this.beta1},${this.beta2}`,
      eps: String(this.eps),
      weight_decay: String(this.weightDecay),
      step: String(this.steps),
    };
  }

  /**
   * Restores a stateDict() exactly (step, lr, moments), so continuing gives bit-identical results to never stopping.
   * With metadata, refuses state saved by another optimizer or other hyperparameters.
   */
  loadStateDict(tensors: Record<string, NamedTensor>, metadata?: Record<string, string>): void {
    const where = `${this.kind} state`;
    if (metadata) {
      const mine = this.stateMetadata();
      for (const key of ['optimizer', 'betas', 'eps', 'weight_decay'] as const) {
        if (metadata[key] !== undefined && metadata[key] !== mine[key]) {
          throw new UserError(`${where}: saved with ${key}=${metadata[key]}, but this optimizer has ${key}=${mine[key]}`);
        }
      }
    }
    const expected = new Set(Object.keys(this.stateDict()));
    const missing = [...expected].filter((k) => !(k in tensors));
    const extra = Object.keys(tensors).filter((k) => !expected.has(k));
    if (missing.length > 0 || extra.length > 0) {
      throw new UserError(
        `${where} does not match the model's parameters` +
          (missing.length ? `; missing: ${missing.join(', ')}` : '') +
          (extra.length ? `; unexpected: ${extra.join(', ')}` : ''),
      );
    }
    const step = tensors.step;
    const lr = tensors.lr;
    if (step.dtype !== 'I64' || step.data.length !== 1) throw new UserError(`${where}: "step" must be one I64 value`);
    if (lr.dtype !== 'F64' || lr.data.length !== 1) throw new UserError(`${where}: "lr" must be one F64 value`);
    const steps = Number((step.data as BigInt64Array)[0]);
    const newLr = (lr.data as Float64Array)[0];
    if (!Number.isSafeInteger(steps) || steps < 0) throw new UserError(`${where}: invalid step ${steps}`);
    if (!(newLr >= 0)) throw new UserError(`${where}: invalid learning rate ${newLr}`);
    const moments: [Tensor, NamedTensor][] = [];
    for (const s of this.slots) {
      for (const [suffix, target] of [
        ['exp_avg', s.expAvg],
        ['exp_avg_sq', s.expAvgSq],
      ] as const) {
        const key = `${s.param.name}.${suffix}`;
        const t = tensors[key];
        if (t.dtype !== 'F32' || t.shape.join(',') !== target.shape.join(',')) {
          throw new UserError(`${where}: "${key}" is ${t.dtype} [${t.shape.join(', ')}], expected F32 [${target.shape.join(', ')}]`);
        }
        moments.push([target, t]);
      }
    }
    // Validate everything before changing anything, so a bad file leaves the optimizer as it was.
    for (const [target, t] of moments) target.set(t.data as Float32Array);
    this.steps = steps;
    this.lr = newLr;
  }
}

/** torch.optim.Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0 added to the gradient (L2). */
export class Adam extends AdamFamily {
  constructor(params: readonly Parameter[], options: AdamOptions = {}) {
    super('Adam', false, params, options, 0);
  }
}

/** torch.optim.AdamW: the same defaults but weight_decay 1e-2, applied to the weights directly (decoupled). */
export class AdamW extends AdamFamily {
  constructor(params: readonly Parameter[], options: AdamOptions = {}) {
    super('AdamW', true, params, options, 1e-2);
  }
}
