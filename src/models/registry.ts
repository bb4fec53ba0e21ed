import type { Rng } from '../engine/rng.js';
import type { Engine } from '../engine/runtime.js';
import type { ModelConfig, ModelType } from './config.js';
import type { Network, NetworkFactory } from './network.js';
import { StockEmbeddingForecaster } from './embedding.js';
import { createGRUModel, createLSTMModel } from './recurrent.js';
import { createTransformerModel } from './transformer.js';

/** Every architecture by its config.modelType; one line per model. */
const NETWORKS: Partial<Record<ModelType, NetworkFactory>> = {
  lstm: createLSTMModel,
  gru: createGRUModel,
  transformer: createTransformerModel,
};

export function registeredModelTypes(): ModelType[] {
  return Object.keys(NETWORKS) as ModelType[];
}

/** Builds the network for a validated config; its parameters are initialised from `rng` (PyTorch's default schemes). */
export function createNetwork(config: ModelConfig, engine: Engine, rng: Rng): Network {
  const factory = NETWORKS[config.modelType];
  if (!factory) throw new Error(`model type "${config.modelType}" is not available (known: ${registeredModelTypes().join(', ')})`);
  return config.stockEmbeddingDim > 0 ? new StockEmbeddingForecaster(config, engine, rng, factory) : factory(config, engine, rng);
}
