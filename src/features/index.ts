// Features and datasets: K-line series → indicators → train-fit scaling → windows and targets for the engine.
export { DEFAULT_FEATURES, FEATURES, featureDefinition, warmupOf, type FeatureDefinition, type FeatureGroup } from './registry.js';
export { boll, ema, kdj, ma, macd, rsi, type Boll, type Kdj, type Macd } from './indicators.js';
export { ewm, rollingMax, rollingMean, rollingMin, rollingMoments, rollingNanMean } from './rolling.js';
export { assertFiniteRows, computeFeatureColumns, computeFeatureFrame, type FeatureFrame } from './frame.js';
export { Scaler, ScalerSpecSchema, ScalerStateSchema, type ScalerSpec, type ScalerState } from './scaler.js';
// Splits: ratio and date segments, and which windows a segment owns (walk-forward folds are src/training/backtest.ts').
export * from './split.js';
export {
  assembleDataset,
  buildDataset,
  buildInferenceInput,
  DatasetConfigSchema,
  loadScalerBundle,
  parseDatasetConfig,
  parseScalerBundle,
  reconstructPrices,
  saveScalerBundle,
  ScalerBundleSchema,
  WindowSet,
  type Dataset,
  type TrainingData,
  type Windows,
  type DatasetConfig,
  type DatasetConfigInput,
  type InferenceInput,
  type ScalerBundle,
} from './dataset.js';
export { DatasetCache, datasetCacheKey, deserializeDataset, serializeDataset, seriesVersion, type DatasetCacheOptions } from './cache.js';
export { UniverseWindows, bound as dateBound, buildUniverseDataset, type SkippedStock, type UniverseDataset, type UniverseMember } from './universe.js';
export {
  TARGET_KINDS,
  TARGET_NORMS,
  TargetNormSchema,
  crossSectionalNorm,
  isScoreTarget,
  targetDefinition,
  type TargetKind,
  type TargetNorm,
} from './target-norm.js';
