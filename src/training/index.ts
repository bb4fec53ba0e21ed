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
export { API_FLAGS, SHARED_FLAGS, TRAINING_FLAGS, apiFieldOf, configLayer, describeFieldPath } from './flags.js';
export type { TrainingFieldKind, TrainingFlag } from './flags.js';
export type { ForecastStep, PointForecast } from './forecaster.js';
export { BacktestSettingsSchema, backtestConfigOfRun, parseBacktestSettings, planFolds, runBacktest, walkForward } from './backtest.js';
export type {
  BacktestCallbacks,
  BacktestConfigFile,
  BacktestIntervals,
  BacktestReport,
  BacktestResultsFile,
  BacktestSettings,
  BacktestSettingsInput,
  FoldPlan,
  FoldResults,
  RunBacktestOptions,
  WalkForwardResult,
} from './backtest.js';
