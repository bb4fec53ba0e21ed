import type { Engine, Tensor } from './runtime.js';

/** The regression losses, all with PyTorch's mean reduction (nn.MSELoss, nn.HuberLoss(delta=1), nn.L1Loss). */
export type LossKind = 'mse' | 'huber' | 'mae';
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'huber', 'mae'];
export const HUBER_DELTA = 1.0;

/** Mean loss of pred against target, and (into `grad`, same shape as pred) its gradient with respect to pred. */
export function lossForwardBackward(engine: Engine, kind: LossKind, pred: Tensor, target: Tensor, grad: Tensor): number {
  // The whole batch is one slice of itself: gradient scaled by 1/n, the sum divided by n, as PyTorch's mean.
  return lossSumForwardBackward(engine, kind, pred, target, grad, pred.size) / pred.size;
}

/** Mean loss only (validation). */
export function lossValue(engine: Engine, kind: LossKind, pred: Tensor, target: Tensor): number {
  const n = pred.size;
  if (target.size !== n) throw new Error(`loss: pred [${pred.shape}] and target [${target.shape}] differ in size`);
  const k = engine.k;
  switch (kind) {
    case 'mse':
      return k.mse_loss(pred.ptr, target.ptr, n) / n;
    case 'huber':
      return k.huber_loss(pred.ptr, target.ptr, n, HUBER_DELTA) / n;
    case 'mae':
      return k.mae_loss(pred.ptr, target.ptr, n) / n;
  }
}

/**
 * One slice of a batch split across threads (src/models/parallel.ts): the gradient is scaled by 1/`count`, the
 * element count of the whole batch, so each row's d(loss)/d(pred) is exactly the one the single-thread step computes
 * for that row, and the slices' gradients add up to the batch-mean gradient. Returns the slice's loss sum (not mean).
 */
export function lossSumForwardBackward(engine: Engine, kind: LossKind, pred: Tensor, target: Tensor, grad: Tensor, count: number): number {
  const n = pred.size;
  if (target.size !== n || grad.size !== n) throw new Error(`loss: pred [${pred.shape}], target [${target.shape}] and grad [${grad.shape}] differ in size`);
  const k = engine.k;
  switch (kind) {
    case 'mse':
      k.mse_grad(grad.ptr, pred.ptr, target.ptr, n, 1 / count);
      return k.mse_loss(pred.ptr, target.ptr, n);
    case 'huber':
      k.huber_grad(grad.ptr, pred.ptr, target.ptr, n, HUBER_DELTA, 1 / count);
      return k.huber_loss(pred.ptr, target.ptr, n, HUBER_DELTA);
    case 'mae':
      k.mae_grad(grad.ptr, pred.ptr, target.ptr, n, 1 / count);
      return k.mae_loss(pred.ptr, target.ptr, n);
  }
}
