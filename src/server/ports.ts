/**
 * What the HTTP layer needs from the prediction engine and the training workers, as small interfaces.
 * The server resolves and validates everything it can (symbol, run, last bar date, config) before calling them,
 * so an implementation only computes. A UserError thrown by either is answered as a 4xx with its code and message.
 */
import type { TrainConfig } from '../training/config.js';

/** One forecast day. `lower`/`upper` bound the interval at `interval_level`, null when no interval was computed. */
export interface ForecastDay {
  date: string;
  price: number;
  /** The predicted log return from the base close. */
  return: number;
  lower: number | null;
  upper: number | null;
}

/** The body of POST /api/v1/predict. */
export interface Forecast {
  symbol: string;
  /** The run whose model made the forecast. */
  run: string;
  /** The last bar the forecast starts from, and its close. */
  base_date: string;
  base_close: number;
  horizon: number;
  /** e.g. 0.9 for a 90% interval; null without intervals. */
  interval_level: number | null;
  trend: 'up' | 'down' | 'flat';
  predictions: ForecastDay[];
}

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
}

export type TrainingJobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface TrainingJobProgress {
  epoch: number;
  epochs: number;
  train_loss: number | null;
  val_loss: number | null;
}

/** GET /api/v1/training/:id. */
export interface TrainingJob {
  id: string;
  state: TrainingJobState;
  symbol: string | null;
  model_type: string;
  /** Known once the run folder is claimed. */
  run_name: string | null;
  progress: TrainingJobProgress | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
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
