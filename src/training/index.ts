/** Training: the run folder standard (TrainingManager, run store) that every run writes and every tool reads. */
export { TrainingManager } from './manager.js';
export type { CheckpointInput, CreateRunOptions, LoadedCheckpoint, OpenRunOptions, StateDict, StateSource } from './manager.js';
export {
  DEFAULT_OUTPUT_DIR,
  DEFAULT_STALE_AFTER_MS,
  HIGHER_IS_BETTER,
  RUN_METRICS,
  RUN_STATUS_FILTERS,
  bestRun,
  checkRunMetric,
  canonicalMetric,
  claimRunDir,
  defaultRunName,
  deleteRunDir,
  dirSize,
  effectiveStatus,
  exportRun,
  listFiles,
  listRuns,
  parseAge,
  parseStatusList,
  planPrune,
  readRun,
  readRunDetails,
  resolveRunRef,
  runDirFor,
  runMetric,
  sortRuns,
  validateRunName,
} from './run-store.js';
export type { PruneCriteria, PrunePlan, ReadOptions, RunDetails, RunInfo } from './run-store.js';
export * from './run-files.js';
export {
  TrainConfigSchema,
  TrainingSchema,
  TrainModelSchema,
  SchedulerSchema,
  mergeConfig,
  parseTrainConfig,
  readConfigFile,
  resolveTrainConfig,
} from './config.js';
export type { SchedulerConfig, TrainConfig, TrainConfigInput, TrainingConfig } from './config.js';
export { Trainer, evaluateScaled } from './trainer.js';
export type { EpochSummary, FitResult, StepInfo, StopReason, TrainerCallbacks, TrainerOptions } from './trainer.js';
export { databaseOfRun, evaluateRun, loadTrainingSeries, readRunConfig, runTraining } from './train-run.js';
export type { RunEvaluation, RunTrainingOptions, TrainingReport } from './train-run.js';
export { Forecaster } from './forecaster.js';
export type { BacktestFold, BacktestResult, ForecastStep, PointForecast } from './forecaster.js';
