/**
 * The one unit of batch work: train one symbol's series with one config into one run folder.
 * The pool and the queue are generic over this contract, so they are tested with tiny job functions and
 * run the real trainer (src/batch/train-job.ts) in production.
 */
import type { AdjustMode } from '../data/adjust.js';
import type { KlineSeries } from '../data/types.js';
import type { RegistryMetrics } from '../runs/index.js';

/** A job's figures are what the registry stores for its run. */
export type JobMetrics = RegistryMetrics;

/** What a training job reports after each epoch (the HTTP API shows it). */
export interface ProgressDetail {
  epoch?: number;
  epochs?: number;
  trainLoss?: number | null;
  valLoss?: number | null;
}

export interface JobInput {
  series: KlineSeries;
  /**
   * The complete config of this one job, validated in the main thread, with its output folder and run name inside
   * (JobKind.configFor): the job carries nothing beside it.
   */
  config: unknown;
  /** fraction of the job done, 0..1, with a short note (e.g. "epoch 3/10") and numbers for machines */
  onProgress(fraction: number, note?: string, detail?: ProgressDetail): void;
  /** aborted when the job is cancelled while it runs; a job that honours it stops early and reports so */
  signal: AbortSignal;
}

export type JobOutput =
  | { status: 'completed'; runName: string; path: string; modelType: string; metrics: JobMetrics }
  /** the stock cannot be trained with this config (too little data after warm-up, no test segment …) */
  | { status: 'skipped'; reason: string };

export type JobFunction = (input: JobInput) => Promise<JobOutput>;

/**
 * Where a worker thread finds the job function: a module URL and the export name. A module, not a
 * closure, because functions cannot cross into a worker thread.
 */
export interface JobRef {
  module: string;
  export: string;
}

/** Main-thread side of a job kind: what it is called in run names and a cheap check before data is sent to a thread. */
export interface JobKind {
  ref: JobRef;
  /** model type for run names and the registry */
  modelType: string;
  /** a reason to skip this series without training it, or null */
  precheck(series: KlineSeries): string | null;
  /** How the job's bars are loaded (data.adjust of its config); default none, the bars as stored. */
  adjust?: AdjustMode;
  /**
   * The batch config made into one job's config: where its run folder goes and the run name to claim (batch
   * chooses it, so that a resumed batch can find a run it lost track of).
   */
  configFor(config: unknown, run: { outputDir: string; runName: string }): unknown;
  /**
   * The batch config with what depends on the machine fixed before it is hashed: `runsAtOnce` jobs share the cores
   * (Infinity: they run elsewhere, on machines unknown here); `recorded` is the config a resumed batch started with.
   */
  shareCores?(config: unknown, runsAtOnce: number, recorded: unknown): unknown;
}
