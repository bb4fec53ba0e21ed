import type { Layer } from '../engine/layer.js';
import type { Rng } from '../engine/rng.js';
import type { Engine, Tensor } from '../engine/runtime.js';
import type { ModelConfig } from './config.js';

/**
 * A whole forecaster: forward maps a batch of windows [B, T, inputSize] to [B, outputSize] (one value per horizon
 * day); backward takes d(loss)/d(output) and accumulates every parameter's gradient. parameters() carries the full
 * PyTorch state_dict names (rnn.weight_ih_l0, fc.0.weight, ...) in state_dict order.
 */
export interface Network extends Layer {
  readonly config: ModelConfig;
  readonly engine: Engine;
  /**
   * `stocks` [B]: each window's row of the stock embedding (src/models/embedding.ts); required exactly when
   * config.stockEmbeddingDim > 0, ignored otherwise.
   */
  forward(x: Tensor, stocks?: Int32Array): Tensor;
  /** Makes backward return d(loss)/d(input) too (a forecaster skips it by default: its input is data). */
  requireInputGrad?(): void;
}

export type NetworkFactory = (config: ModelConfig, engine: Engine, rng: Rng) => Network;
