import type { DatabaseHandle, StockDataLoader } from '../data/index.js';
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
}
