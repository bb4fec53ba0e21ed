import type { Layer } from '../layer.js';
import { type Engine, type Parameter, Tensor, createParameter } from '../runtime.js';

/**
 * nn.LayerNorm(features) over the last axis: weight (γ, ones) and bias (β, zeros), eps 1e-5, biased variance.
 * forwardResidual(x, res) normalises x + res in one pass, which is how the post-norm encoder layer uses it;
 * its backward gradient is then the gradient of both x and res.
 */
export class LayerNorm implements Layer {
  readonly weight: Parameter;
  readonly bias: Parameter;
  private cache: { input: Tensor; mean: number; rstd: number; rows: number } | undefined;

  constructor(
    private readonly engine: Engine,
    readonly features: number,
    readonly eps = 1e-5,
  ) {
    this.weight = createParameter(engine, 'weight', [features]);
    this.bias = createParameter(engine, 'bias', [features]);
    this.weight.value.data().fill(1);
  }

  forward(x: Tensor): Tensor {
    return this.forwardResidual(x, undefined);
  }

  forwardResidual(x: Tensor, res: Tensor | undefined): Tensor {
    const n = this.features;
    if (x.shape[x.shape.length - 1] !== n) throw new Error(`LayerNorm(${n}): input shape [${x.shape}]`);
    if (res && res.size !== x.size) throw new Error(`LayerNorm: residual [${res.shape}] does not match [${x.shape}]`);
    const e = this.engine;
    const rows = x.size / n;
    const input = res ? Tensor.scratch(e, x.shape) : x;
    const y = Tensor.scratch(e, x.shape);
    const mean = e.alloc(rows);
    const rstd = e.alloc(rows);
    e.k.layernorm_forward(x.ptr, res ? res.ptr : 0, res ? input.ptr : 0, this.weight.value.ptr, this.bias.value.ptr, y.ptr, mean, rstd, rows, n, this.eps);
    this.cache = { input, mean, rstd, rows };
    return y;
  }

  backward(dy: Tensor): Tensor {
    const c = this.cache;
    if (!c) throw new Error('LayerNorm.backward before forward');
    const dx = Tensor.scratch(this.engine, dy.shape);
    this.engine.k.layernorm_backward(
      c.input.ptr,
      c.mean,
      c.rstd,
      this.weight.value.ptr,
      dy.ptr,
      dx.ptr,
      this.weight.grad.ptr,
      this.bias.grad.ptr,
      c.rows,
      this.features,
    );
    this.cache = undefined;
    return dx;
  }

  parameters(): Parameter[] {
    return [this.weight, this.bias];
  }

  setTraining(): void {}
}
