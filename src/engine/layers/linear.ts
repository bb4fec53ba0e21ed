import type { Layer } from '../layer.js';
import { type Engine, type Parameter, Tensor, createParameter } from '../runtime.js';
import type { Rng } from '../rng.js';

/**
 * nn.Linear(inFeatures, outFeatures): y = x·Wᵀ + b over the last axis of x (any leading shape).
 * weight [out, in] and bias [out] start as PyTorch's default: kaiming-uniform(a=√5), i.e. U(±1/√in) for both.
 */
export class Linear implements Layer {
  readonly weight: Parameter;
  readonly bias: Parameter;
  private input: Tensor | undefined;

  constructor(
    private readonly engine: Engine,
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
  ) {
    this.weight = createParameter(engine, 'weight', [outFeatures, inFeatures]);
    this.bias = createParameter(engine, 'bias', [outFeatures]);
    const bound = 1 / Math.sqrt(inFeatures);
    for (const p of [this.weight, this.bias]) {
      const v = p.value.data();
      for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    const { inFeatures: n, outFeatures: m } = this;
    if (x.shape[x.shape.length - 1] !== n) throw new Error(`Linear(${n}→${m}): input shape [${x.shape}]`);
    const rows = x.size / n;
    const y = Tensor.scratch(this.engine, [...x.shape.slice(0, -1), m]);
    // the bias seeds the GEMM's accumulators: no second pass over y to add it
    this.engine.k.gemm_nt_bias(rows, m, n, x.ptr, n, this.weight.value.ptr, n, this.bias.value.ptr, y.ptr, m);
    this.input = x;
    return y;
  }

  backward(dy: Tensor): Tensor {
    const x = this.input;
    if (!x) throw new Error('Linear.backward before forward');
    const { inFeatures: n, outFeatures: m } = this;
    const rows = x.size / n;
    const k = this.engine.k;
    k.gemm_tn(m, n, rows, 1, dy.ptr, m, x.ptr, n, 1, this.weight.grad.ptr, n);
    k.col_sum_acc(this.bias.grad.ptr, dy.ptr, rows, m);
    const dx = Tensor.scratch(this.engine, x.shape);
    k.gemm_nn(rows, n, m, 1, dy.ptr, m, this.weight.value.ptr, n, 0, dx.ptr, n);
    this.input = undefined;
    return dx;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias];
  }

  setTraining(): void {}
}
