/**
 * The HTTP API's training jobs on the batch queue: when the server is configured with a queue, POST /training
 * enqueues a BullMQ job that any `klinecast worker` trains, and GET reads the job back. The shape is the
 * server's TrainingJobs port (src/server/ports.ts), in the API's own types (src/wire).
 */
import type { Job } from 'bullmq';
import { batchConfig, type TrainConfig } from '../training/index.js';
import type { TrainingJob, TrainingJobState } from '../wire/index.js';
import { UserError } from '../util/errors.js';
import {
  CANCELLED_REASON,
  CANCEL_REQUEST_TTL_S,
  cancelKey,
  enqueueTraining,
  openQueue,
  type JobProgress,
  type QueueTarget,
  type TrainJobData,
  type TrainJobResult,
} from './queue.js';

export interface QueueTrainingJobs {
  start(config: TrainConfig): Promise<TrainingJob>;
  get(id: string): Promise<TrainingJob | null>;
  /**
   * Removes a job that has not started. A running job is asked to stop: the worker training it aborts after the
   * current step (last checkpoint kept) and the job then reads as cancelled; until then it stays running.
   */
  cancel(id: string): Promise<TrainingJob | null>;
  /** closes the Redis connection (server shutdown) */
  close(): Promise<void>;
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

async function describe(job: Job<TrainJobData, TrainJobResult>): Promise<TrainingJob> {
  const state = await job.getState();
  const p = job.progress as JobProgress | number | undefined;
  const result = job.returnvalue ?? null;
  const mapped: TrainingJobState =
    state === 'active'
      ? 'running'
      : state === 'completed'
        ? result?.status === 'skipped'
          ? 'failed'
          : 'completed'
        : state === 'failed'
          ? job.failedReason?.startsWith(CANCELLED_REASON)
            ? 'cancelled'
            : 'failed'
          : 'queued';
  return {
    id: String(job.id),
    state: mapped,
    symbol: job.data.symbol,
    model_type: job.data.modelType,
    run_name: result?.status === 'completed' ? result.runName : null,
    progress:
      p && typeof p === 'object' && typeof p.epoch === 'number' && typeof p.epochs === 'number'
        ? { epoch: p.epoch, epochs: p.epochs, train_loss: p.trainLoss ?? null, val_loss: p.valLoss ?? null }
        : null,
    error: result?.status === 'skipped' ? result.reason : job.failedReason || null,
    created_at: new Date(job.timestamp).toISOString(),
    started_at: iso(job.processedOn),
    finished_at: iso(job.finishedOn),
  };
}

export function queueTrainingJobs(target: QueueTarget): QueueTrainingJobs {
  const queue = openQueue(target);
  const find = async (id: string) => (await queue.getJob(id)) as Job<TrainJobData, TrainJobResult> | undefined;
  return {
    async start(config) {
      const symbol = config.data.symbol;
      // One stock, or one universal model over data.symbols (a single job that a worker's thread trains whole).
      if (!symbol && config.data.symbols === null) throw new UserError('a queued training job needs data.symbol or data.symbols', 'bad_config');
      const jobConfig = batchConfig(config);
      const { jobIds } = await enqueueTraining(target, { modelType: config.model.modelType }, jobConfig, symbol ? [symbol] : null);
      const job = await find(jobIds[0]);
      if (!job) throw new Error(`job ${jobIds[0]} vanished right after it was enqueued`);
      return describe(job);
    },
    async get(id) {
      const job = await find(id);
      return job ? describe(job) : null;
    },
    async cancel(id) {
      const job = await find(id);
      if (!job) return null;
      const state = await job.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
        const before = await describe(job);
        await job.remove();
        return { ...before, state: 'cancelled', finished_at: new Date().toISOString() };
      }
      if (state === 'active') {
        const redis = await queue.client;
        await redis.set(cancelKey(target, id), '1', { EX: CANCEL_REQUEST_TTL_S });
      }
      return describe(job);
    },
    close: () => queue.close(),
  };
}
