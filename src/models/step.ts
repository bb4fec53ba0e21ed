import { type LossKind, lossForwardBackward, lossSumForwardBackward } from '../engine/loss.js';
import { Tensor } from '../engine/runtime.js';
import type { Network } from './network.js';
import { zeroGrad } from './state.js';

/**
 * One training step's math without the update: zero the gradients, forward a batch x [B, T, inputSize] in training
 * mode, take the mean loss against y [B, outputSize], backward. Returns the loss; the gradients are left in each
 * parameter's `grad` for the optimizer (clip, then step). The step arena is reset before and after, so only
 * persistent memory survives.
 */
export function trainStep(network: Network, loss: LossKind, x: Float32Array, y: Float32Array, batchSize: number, stocks?: Int32Array): number {
  return forwardBackward(network, x, y, batchSize, stocks, (e, pred, target, grad) => lossForwardBackward(e, loss, pred, target, grad));
}

/**
 * trainStep on `sliceSize` rows of a batch of `batchSize` (data-parallel training, src/models/parallel.ts): the same
 * forward and backward, but the loss gradient is scaled by the whole batch's element count, so the slices'
 * gradients sum to the batch-mean gradient. Returns the slice's loss sum; Σ sums / (batchSize × outputSize) is the
 * batch's mean loss. The single-thread path (trainStep) does not go through here.
 */
export function trainStepSlice(
  network: Network,
  loss: LossKind,
  x: Float32Array,
  y: Float32Array,
  sliceSize: number,
  batchSize: number,
  stocks?: Int32Array,
): number {
  const { outputSize } = network.config;
  return forwardBackward(network, x, y, sliceSize, stocks, (e, pred, target, grad) =>
    lossSumForwardBackward(e, loss, pred, target, grad, batchSize * outputSize),
  );
}

/** Zero the gradients, forward `rows` windows in training mode, let `lossOf` fill the loss gradient, backward. */
function forwardBackward(
  network: Network,
  x: Float32Array,
  y: Float32Array,
  rows: number,
  stocks: Int32Array | undefined,
  lossOf: (e: Network['engine'], pred: Tensor, target: Tensor, grad: Tensor) => number,
): number {
  const e = network.engine;
  const { inputSize, outputSize } = network.config;
  const seqLength = checkBatch(network, x, y, rows);
  e.resetArena();
  try {
    zeroGrad(network);
    network.setTraining(true);
    const input = Tensor.scratch(e, [rows, seqLength, inputSize]);
    input.set(x);
    const target = Tensor.scratch(e, [rows, outputSize]);
    target.set(y);
    const pred = network.forward(input, stocks);
    const grad = Tensor.scratch(e, pred.shape);
    const value = lossOf(e, pred, target, grad);
    network.backward(grad);
    return value;
  } finally {
    e.resetArena();
  }
}

/**
 * Forward in evaluation mode (dropout off): x [B, T, inputSize] → a copy of the outputs [B, outputSize]. `stocks` [B]:
 * the embedding rows, for a network with a stock embedding.
 */
export function predict(network: Network, x: Float32Array, batchSize: number, stocks?: Int32Array): Float32Array {
  const e = network.engine;
  const { inputSize } = network.config;
  const seqLength = checkBatch(network, x, undefined, batchSize);
  e.resetArena();
  try {
    network.setTraining(false);
    const input = Tensor.scratch(e, [batchSize, seqLength, inputSize]);
    input.set(x);
    return Float32Array.from(network.forward(input, stocks).data());
  } finally {
    network.setTraining(true);
    e.resetArena();
  }
}

function checkBatch(network: Network, x: Float32Array, y: Float32Array | undefined, batchSize: number): number {
  const { inputSize, outputSize } = network.config;
  const perSample = x.length / batchSize;
  const seqLength = perSample / inputSize;
  if (!Number.isInteger(batchSize) || batchSize <= 0 || !Number.isInteger(seqLength) || seqLength <= 0) {
    throw new Error(`batch: x holds ${x.length} values, not ${batchSize} windows × T steps × ${inputSize} features`);
  }
  if (y && y.length !== batchSize * outputSize) {
    throw new Error(`batch: y holds ${y.length} values, expected ${batchSize} × ${outputSize}`);
  }
  return seqLength;
}
