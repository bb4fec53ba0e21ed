/**
 * What the HTTP layer needs from the prediction engine and the training workers, as small interfaces.
 * The server resolves and validates everything it can (symbol, run, last bar date, config) before calling them,
 * so an implementation only computes. A UserError thrown by either is answered as a 4xx with its code and message.
 */
import type { TrainConfig } from '../training/index.js';
import type { Forecast, Ranking, TrainingJob } from '../wire/index.js';

export type { Forecast, ForecastDay, Ranking, TrainingJob, TrainingJobProgress, TrainingJobState } from '../wire/index.js';

export interface PredictOptions {
  /** 1…the run's horizon; undefined asks for the whole horizon. */
  days?: number;
  /** A validated run name inside the server's output dir (the server picks the best run when the client names none). */
  run: string;
  /** The last bar date to forecast from: the server reads it first, so the cache key and the forecast agree. */
  endDate: string;
}

export interface Predictor {
  predict(symbol: string, options: PredictOptions): Promise<Forecast>;
  /** A universal run's ranking of the database's stocks; `endDate` as in predict, `top` cuts the list. */
  rank?(run: string, options: { endDate?: string; top?: number }): Promise<Ranking>;
}

export interface TrainingJobs {
  /** `config` is complete and validated; its output.outputDir is the server's and data.database the server's URL. */
  start(config: TrainConfig): Promise<TrainingJob>;
  /** null for an unknown id. */
  get(id: string): Promise<TrainingJob | null>;
  /** Asks a queued or running job to stop (the run ends as interrupted, after a last checkpoint); null for an unknown id. */
  cancel(id: string): Promise<TrainingJob | null>;
  /** Called when the server closes: stop taking jobs and release threads or connections. */
  close?(): Promise<void>;
}
