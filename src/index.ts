/**
 * klinecast as a library: `import { TrainingManager, PredictionEngine, runTraining } from 'klinecast'`.
 * The same functions the CLI and the HTTP API are thin over, one line per layer (README "Source map").
 */
export {
  DEMO_DEFAULTS,
  StockDataLoader,
  generateDemoMarket,
  listForecasts,
  migrate,
  openDatabase,
  reconcileForecasts,
  recordForecasts,
  withDatabase,
  writeDemoMarket,
} from './data/index.js';
export type { DatabaseHandle, IsoDate, KlineSeries, LedgerEntry, LedgerFilter, LedgerForecast } from './data/index.js';
export { buildDataset } from './features/index.js';
export type { Dataset, DatasetConfig } from './features/index.js';
export { evaluateForecasts } from './evaluation/index.js';
export type { EvalResultsFile, PredictionsFile } from './evaluation/index.js';
export {
  MODEL_FILES,
  RUN_FILES,
  TrainingManager,
  bestRun,
  exportRun,
  listRuns,
  loadModelFolder,
  loadRunModel,
  queryRuns,
  rankRuns,
  readRun,
  toModelConfigFile,
  writeModelFolder,
} from './runs/index.js';
export type { LoadedModel, RunInfo, RunMetadata, RunModel, RunQuery, RunRanking } from './runs/index.js';
export { ONNX_INPUT, ONNX_OUTPUT, buildOnnxModel, exportOnnx, onnxOfRun } from './runs/onnx.js';
export type { OnnxExportOptions, OnnxExportResult } from './runs/onnx.js';
export { Forecaster, Trainer, evaluateRun, parseTrainConfig, readRunConfig, resolveTrainConfig, runTraining } from './training/index.js';
export type { FitResult, RunEvaluation, TrainConfig, TrainConfigInput, TrainerCallbacks, TrainingReport } from './training/index.js';
export { PredictionEngine, scoreLedger } from './prediction/index.js';
export type { Forecast, LedgerScore, PredictRequest, RunScore } from './prediction/index.js';
export { enqueueTraining, resolveSymbols, runLocalBatch, startQueueWorker, trainKind } from './batch/index.js';
export type { BatchSummary, LocalBatchOptions, QueueTarget } from './batch/index.js';
export { createServer } from './server/index.js';
export type { ServerOptions } from './server/index.js';
