import type { Parameter, Tensor } from './runtime.js';

/**
 * A differentiable block with an explicit forward and backward, and no autograd tape (tinygrad's small explicit op set,
 * nanoGPT's readability). forward() keeps what backward() needs in the step arena; backward() adds each parameter's
 * gradient into `param.grad` and returns the gradient with respect to the input.
 *
 * Sequence tensors are batch-first [batch, time, features], as PyTorch's `batch_first=True`.
 */
export interface Layer {
  forward(x: Tensor): Tensor;
  backward(dy: Tensor): Tensor;
  /** Parameters in PyTorch state_dict order, with state_dict names relative to this layer. */
  parameters(): Parameter[];
  /** Training mode turns dropout on; evaluation mode makes forward deterministic. */
  setTraining(training: boolean): void;
}
