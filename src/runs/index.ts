/**
 * The out/{run}/ standard (DESIGN.md §4): the folder layout and file types, the TrainingManager that writes a run,
 * reading runs back with crash detection, choosing and pruning, export, the one model loader, (and, in ./registry.js, the
 * database's registry of trained runs).
 */
export * from './files.js';
export {
  DEFAULT_OUTPUT_DIR,
  RESERVED_OUTPUT_FOLDERS,
  claimRunDir,
  defaultRunName,
  existingRunDirFor,
  resolveRunRef,
  runDirFor,
  runRelative,
  runTimestamp,
  validateRunName,
} from './names.js';
export {
  DEFAULT_STALE_AFTER_MS,
  bestValLossOf,
  dirSize,
  effectiveStatus,
  isPidAlive,
  listCheckpointNames,
  listFiles,
  listRuns,
  readRun,
  readRunDetails,
  toRunSummary,
} from './store.js';
export type { ReadOptions, RunDetails, RunInfo } from './store.js';
export {
  HIGHER_IS_BETTER,
  RUN_METRICS,
  RUN_STATUS_FILTERS,
  bestRun,
  canonicalMetric,
  checkRunMetric,
  deleteRunDir,
  parseStatusList,
  planPrune,
  queryRuns,
  rankedRuns,
  runMetric,
  sortRuns,
} from './select.js';
export type { PruneCriteria, PrunePlan, RunFilterStatus, RunQuery } from './select.js';
export { exportRun } from './export.js';
export { TrainingManager, logTimestamp, writeModelFolder } from './manager.js';
export * from './backtests.js';
export type { CheckpointInput, CreateRunOptions, LoadedCheckpoint, ModelFolderContents, OpenRunOptions, StateDict, StateSource } from './manager.js';
export { loadModelFolder, loadRunModel, weightsPathOf } from './model.js';
export type { CheckpointChoice, LoadedModel, RunModel } from './model.js';
// The model registry (./registry.js) is imported on its own, not from here: it loads the query builder, and batch
// pool threads, which import this module, must not load database code (docs/BATCH.md, "Measured").
export type { RegistryEntry, RegistryFilter, RegistryMetrics, RegistryStatus } from './registry.js';
