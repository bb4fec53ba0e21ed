import type { DatabaseHandle, StockDataLoader } from '../data/index.js';
import { listRuns, type RunInfo } from '../runs/index.js';
import type { PredictionCache } from './cache.js';
import type { Predictor, TrainingJobs } from './ports.js';

/** What every route plugin gets: the open database, the run folder root and the pluggable services. */
export interface ServerContext {
  database: DatabaseHandle;
  loader: StockDataLoader;
  /** Absolute path of the folder holding the runs. */
  outputDir: string;
  apiKey: string | null;
  predictor: Predictor | null;
  trainingJobs: TrainingJobs | null;
  cache: PredictionCache;
  version: string;
  /** Every run in outputDir, read at most once per runListTtlMs (see RunList). */
  runs: RunList;
}

/**
 * Reading every run folder costs tens of milliseconds for a few dozen runs, and both GET /runs and every
 * predict without a named run need the list; so it is read at most once per `ttlMs` (statuses lag by that much).
 */
export class RunList {
  private cached: { at: number; runs: RunInfo[] } | null = null;

  constructor(
    private readonly outputDir: string,
    private readonly ttlMs: number,
  ) {}

  get(): RunInfo[] {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.runs;
    const runs = listRuns(this.outputDir);
    this.cached = { at: now, runs };
    return runs;
  }
}
