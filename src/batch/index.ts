/** Batch training of many stocks: the local worker-thread pool and the BullMQ queue (the registry they write is src/runs). */
export type { JobFunction, JobInput, JobKind, JobMetrics, JobOutput, JobRef, ProgressDetail } from './job.js';
export { JobFailedError, WorkerCrashedError, WorkerPool, type PoolOptions, type PoolTask } from './pool.js';
export { resolveSymbols, runLocalBatch, type BatchState, type BatchStockSummary, type BatchSummary, type LocalBatchOptions } from './local.js';
export { LOG_FILE, PROGRESS_FILE, SUMMARY_FILE, readProgress, type BatchProgress, type StockProgress, type StockStatus } from './progress.js';
export {
  batchDirFor,
  batchesRoot,
  defaultBatchName,
  existingBatchDirFor,
  latestBatch,
  listBatches,
  readBatchFolder,
  validateBatchName,
  type BatchFolder,
} from './folders.js';
export {
  CANCELLED_REASON,
  DEFAULT_QUEUE_PREFIX,
  QUEUE_NAME,
  cancelKey,
  enqueueTraining,
  queueStatus,
  queuedJob,
  startQueueWorker,
  type EnqueueOptions,
  type EnqueueResult,
  type JobProgress,
  type QueueCounts,
  type QueueTarget,
  type QueueWorkerHandle,
  type QueueWorkerOptions,
  type TrainJobData,
  type TrainJobResult,
  type WorkerEvent,
} from './queue.js';
export { trainJob, trainKind } from './train-job.js';
export { noSeries } from './transfer.js';
export { queueTrainingJobs, type QueueTrainingJobs } from './queue-jobs.js';
