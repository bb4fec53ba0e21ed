/**
 * The out/{run}/ standard (DESIGN.md §4): the folder layout and file types, the TrainingManager that writes a run,
 * reading runs back with crash detection, choosing and pruning, export, the one model loader, (and, in ./registry.js, the
 * database's registry of trained runs).
 */
export * from './files.js';
export {
  BACKTESTS_DIR,
  BATCHES_DIR,
  BATCH_PROGRESS_FILE,
  DEFAULT_OUTPUT_DIR,
  LEGACY_BATCH_RUNS_DIR,
  RESERVED_OUTPUT_FOLDERS,
  checkFolderName,
  claimRunDir,
  containedDir,
  defaultRunName,
  existingRunDirFor,
  legacyRunRoots,
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
  isRunFolder,
  listCheckpointNames,
  listFiles,
  listRuns,
  readRun,
  readRunDetails,
  scanOutputDir,
  toRunSummary,
} from './store.js';
export type { OutputDirScan, ReadOptions, RunDetails, RunInfo } from './store.js';
export {
  BEST_METRICS,
  HIGHER_IS_BETTER,
  MIN_SHARED_DAYS,
  RUN_METRICS,
  RUN_STATUS_FILTERS,
  SCALE_FREE_METRICS,
  bestRun,
  canonicalMetric,
  checkBestMetric,
  checkRunMetric,
  deleteRunDir,
  parseStatusList,
  planPrune,
  queryRuns,
  rankRuns,
  rankedRuns,
  runMetric,
  sortRuns,
} from './select.js';
export type { PruneCriteria, PrunePlan, RankFilter, RankedRun, RankingBasis, RunFilterStatus, RunQuery, RunRanking, SymbolFigures } from './select.js';
export { exportRun } from './export.js';
export { TrainingManager, appendLog, logTimestamp, writeModelFolder } from './manager.js';
export * from './backtests.js';
export type { CheckpointInput, CreateRunOptions, LoadedCheckpoint, ModelFolderContents, OpenRunOptions, StateDict, StateSource } from './manager.js';
export { loadModelFolder, loadRunModel, weightsPathOf } from './model.js';
export type { CheckpointChoice, LoadedModel, RunModel } from './model.js';
// The model registry (./registry.js) is imported on its own, not from here: it loads the query builder, and batch
// pool threads, which import this module, must not load database code (docs/BATCH.md, "Measured").
export type { RegistryEntry, RegistryFilter, RegistryMetrics, RegistryStatus } from './registry.js';
