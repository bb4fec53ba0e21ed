// The engine's public surface: memory and tensors, the seeded RNG, layers, losses, optimisers and weight files.
export { Engine, EngineMemoryError, Tensor, createParameter, type Parameter } from './runtime.js';
export type { Layer } from './layer.js';
export { Rng, type RngState } from './rng.js';
export { HUBER_DELTA, LOSS_KINDS, lossForwardBackward, lossSumForwardBackward, lossValue, type LossKind } from './loss.js';
export { Linear } from './layers/linear.js';
export { ReLU } from './layers/activation.js';
export { Dropout } from './layers/dropout.js';
export { Sequential, prefixed } from './layers/sequential.js';
export { Recurrent, createGRU, createLSTM, type RecurrentKind } from './layers/recurrent.js';
export { LayerNorm } from './layers/layernorm.js';
export { MultiheadAttention } from './layers/attention.js';
export { PositionalEncoding } from './layers/positional.js';
export { TransformerEncoder, TransformerEncoderLayer, type EncoderLayerOptions } from './layers/transformer.js';
export * from './optim/index.js';
export * from './io/index.js';
