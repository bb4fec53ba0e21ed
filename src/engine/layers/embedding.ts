import { type Engine, type Parameter, Tensor, createParameter } from '../runtime.js';
import type { Rng } from '../rng.js';

/**
 * nn.Embedding(numEmbeddings, dim): forward gathers one row of `weight` [numEmbeddings, dim] per index, backward
 * scatter-adds each output row's gradient into the row it came from (an index used twice in a batch gets both).
 * weight starts as PyTorch's default, N(0, 1).
 *
 * The gather and the scatter-add are plain JavaScript over the engine's memory, not WebAssembly kernels: a batch
 * moves B × dim floats (32 × 8 at the universal model's sizes), microseconds against a step's milliseconds of GEMMs
 * (docs/ENGINE.md, "Embedding").
 */
export class Embedding {
  readonly weight: Parameter;
  private indices: Int32Array | undefined;

  constructor(
    private readonly engine: Engine,
    readonly numEmbeddings: number,
    readonly dim: number,
    rng: Rng,
  ) {
    this.weight = createParameter(engine, 'weight', [numEmbeddings, dim]);
    const w = this.weight.value.data();
    for (let i = 0; i < w.length; i++) w[i] = rng.normal();
  }

  /** indices [B] → rows [B, dim]. */
  forward(indices: Int32Array): Tensor {
    const { dim, numEmbeddings } = this;
    for (const i of indices) if (!(i >= 0 && i < numEmbeddings)) throw new Error(`Embedding(${numEmbeddings}, ${dim}): index ${i} out of range`);
    const out = Tensor.scratch(this.engine, [indices.length, dim]);
    const y = out.data();
    const w = this.weight.value.data();
    for (let b = 0; b < indices.length; b++) y.set(w.subarray(indices[b] * dim, (indices[b] + 1) * dim), b * dim);
    this.indices = indices;
    return out;
  }

  /** dy [B, dim] → weight.grad[indices[b]] += dy[b] (there is no input gradient: indices are not differentiable). */
  backward(dy: Tensor): void {
    const indices = this.indices;
    if (!indices) throw new Error('Embedding.backward before forward');
    const { dim } = this;
    const g = this.weight.grad.data();
    const d = dy.data();
    for (let b = 0; b < indices.length; b++) {
      const row = indices[b] * dim;
      for (let j = 0; j < dim; j++) g[row + j] += d[b * dim + j];
    }
    this.indices = undefined;
  }

  parameters(): Parameter[] {
    return [this.weight];
  }
}

/**
 * x [B, T, F] and one row per sample e [B, D] → [B, T, F + D]: every time step's features followed by its sample's
 * row (torch.cat([x, e.unsqueeze(1).expand(-1, T, -1)], dim=2)).
 */
export function concatPerStep(engine: Engine, x: Tensor, e: Tensor): Tensor {
  const [B, T, F] = x.shape as [number, number, number];
  const D = e.shape[1];
  if (e.shape[0] !== B) throw new Error(`concatPerStep: ${B} windows but ${e.shape[0]} rows`);
  const out = Tensor.scratch(engine, [B, T, F + D]);
  const y = out.data();
  const xs = x.data();
  const es = e.data();
  for (let b = 0; b < B; b++) {
    const row = es.subarray(b * D, (b + 1) * D);
    for (let t = 0; t < T; t++) {
      const at = (b * T + t) * (F + D);
      y.set(xs.subarray((b * T + t) * F, (b * T + t + 1) * F), at);
      y.set(row, at + F);
    }
  }
  return out;
}

/** The backward of concatPerStep for its second input: dy [B, T, F + D] → dE [B, D] = Σ_t dy[b, t, F:]. */
export function perStepRowGrad(engine: Engine, dy: Tensor, features: number): Tensor {
  const [B, T, W] = dy.shape as [number, number, number];
  const D = W - features;
  const out = Tensor.scratch(engine, [B, D]);
  const g = out.data();
  g.fill(0);
  const d = dy.data();
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const at = (b * T + t) * W + features;
      for (let j = 0; j < D; j++) g[b * D + j] += d[at + j];
    }
  }
  return out;
}
