import type { Parameter } from '../runtime.js';

const f32 = Math.fround;

/**
 * torch.nn.utils.clip_grad_norm_ (L2, 1.13): the total norm is the norm of the per-parameter norms; every gradient is
 * multiplied by min(maxNorm / (total + 1e-6), 1). Returns the total norm before clipping. Like torch's default
 * (error_if_nonfinite=False), a NaN/Inf norm is returned and propagates into the gradients rather than throwing.
 *
 * Squares are summed in float64 and each norm rounded to float32, where torch keeps its float32 norms.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  if (params.length === 0) return 0;
  const k = params[0].grad.engine.k;
  let sumOfNormSquares = 0;
  for (const p of params) {
    const norm = f32(Math.sqrt(k.sum_sq(p.grad.ptr, p.grad.size)));
    sumOfNormSquares += norm * norm;
  }
  const total = f32(Math.sqrt(sumOfNormSquares));
  const coef = Math.min(f32(f32(maxNorm) / f32(total + f32(1e-6))), 1);
  // torch multiplies even when coef is 1; multiplying by 1 changes nothing, so skip the pass.
  if (coef !== 1) for (const p of params) k.scale(p.grad.ptr, p.grad.ptr, p.grad.size, coef);
  return total;
}
