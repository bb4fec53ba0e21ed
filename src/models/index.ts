export { ModelConfigSchema, type ModelConfig, type ModelType } from './config.js';
export type { Network, NetworkFactory } from './network.js';
export { DEFAULT_UNKNOWN_STOCK_RATE, StockEmbeddingForecaster, UNKNOWN_STOCK_ROW, drawsUnknownStock, stockRow } from './embedding.js';
export { createNetwork, registeredModelTypes } from './registry.js';
export { RecurrentForecaster, createHead } from './recurrent.js';
export { loadStateDict, stateDict, zeroGrad, type StateTensor } from './state.js';
export { predict, trainStep, trainStepSlice } from './step.js';
export { trainingFlopsPerSample } from './flops.js';
// Workload W1 beside PyTorch (klinecast bench).
export * from './benchmark.js';
export { DataParallel, SliceRunner, sliceBounds, sliceRngStates, threadsUnavailable, type DataParallelOptions } from './parallel.js';
