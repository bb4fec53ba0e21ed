/**
 * Training: the TrainConfig schema, the Trainer (one readable epoch loop, a library: progress through callbacks,
 * stopping through an AbortSignal), runTraining (a whole run into out/{run}/) and the Darts-like Forecaster.
 */
export {
  SchedulerSchema,
  TrainConfigSchema,
  TrainModelSchema,
  TrainingSchema,
  autoThreads,
  batchConfig,
  mergeConfig,
  parseTrainConfig,
  readConfigFile,
  readRunConfig,
  resolveThreads,
  resolveTrainConfig,
  trainConfigHash,
  withDataSource,
  withRecordedData,
  withResolvedThreads,
} from './config.js';
export type { SchedulerConfig, TrainConfig, TrainConfigInput, TrainingConfig } from './config.js';
export { Trainer, evaluateScaled, networkWeights, predictWindows } from './trainer.js';
export type { EpochSummary, FitResult, StepInfo, StopReason, TrainerCallbacks, TrainerOptions } from './trainer.js';
export { evaluateRun, loadTrainingSeries, registryEntryOf, reportMetrics, runTraining } from './train-run.js';
export type { RunEvaluation, RunTrainingOptions, TrainingReport } from './train-run.js';
export { Forecaster } from './forecaster.js';
export type { BacktestFold, BacktestResult, ForecastStep, PointForecast } from './forecaster.js';
