/**
 * The JSON the HTTP API sends and receives (docs/API.md), as types only: the server answers with them, the queue's
 * training jobs produce them, and the web dashboard reads them. Pure declarations, so any layer (and the browser
 * bundle) can import them; the result files' shapes come from evaluation/results.ts, which is pure too.
 */
export type {
  BaselineMetrics,
  CrossSectionDay,
  CrossSectionResults,
  EvalResultsFile,
  ModelMetrics,
  PredictionRecord,
  PredictionsFile,
  PriceMetrics,
} from '../evaluation/results.js';

/** The headline test metrics of a run: metadata.json's eval_metrics, and each listed run's. */
export interface EvalMetricsSummary {
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  r2: number | null;
  direction_accuracy: number | null;
  ic: number | null;
  rank_ic: number | null;
  skill: number | null;
  persistence_mae: number | null;
}

/** A run as GET /api/v1/runs lists it. The server's folder path is left out: clients address runs by name. */
export interface RunSummary {
  name: string;
  /** A written status, or crashed / corrupt as a reader concludes them. */
  status: string;
  reason: string | null;
  problems: string[];
  symbol: string | null;
  /** A universal run's number of stocks; null for a single-stock run. */
  stocks: number | null;
  model_type: string | null;
  created_at: string | null;
  finished_at: string | null;
  best_val_loss: number | null;
  epochs_trained: number | null;
  eval_metrics: EvalMetricsSummary | null;
  checkpoints: string[];
  has_best: boolean;
  has_model: boolean;
  size_bytes: number;
  /** The old-layout batch folder (out/{legacy_batch}/runs/) holding the run, read-only; null for a run in out/ itself. */
  legacy_batch: string | null;
}

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
  /** The last bar the forecast starts from, and its close as stored (raw). */
  base_date: string;
  base_close: number;
  /** How the run's bars were adjusted; prices are in the raw price of the base day whatever it is. */
  adjust?: 'qfq' | 'hfq' | 'none';
  horizon: number;
  /** e.g. 0.9 for a 90% interval; null without intervals. */
  interval_level: number | null;
  /** conformal (calibrated on the run's validation residuals) or mc-dropout (not calibrated); null without intervals. */
  interval_method: 'conformal' | 'mc-dropout' | null;
  trend: 'up' | 'down' | 'flat';
  predictions: ForecastDay[];
  /**
   * Present when there is something to say: a better run skipped because it cannot be loaded (corrupt), a last bar
   * older than the market's last trading day.
   */
  warnings?: string[];
}

/** GET /api/v1/runs/:name/ranking: a universal run's stocks ranked by predicted next-day return, best first. */
export interface Ranking {
  run: string;
  /** What the run outputs: log_return, or a cross-sectional score (cs_zscore_log_return, cs_rank_log_return). */
  target: string;
  /** Stocks asked for (the database's active stocks) and how many could be forecast. */
  requested: number;
  ranked: number;
  interval_level: number | null;
  interval_method: 'conformal' | 'mc-dropout' | null;
  items: Array<{
    rank: number;
    symbol: string;
    base_date: string;
    base_close: number;
    /** null for a run on cross-sectional targets: its key is `score`, from which no return or price follows. */
    return: number | null;
    price: number | null;
    lower: number | null;
    upper: number | null;
    /** A run on cross-sectional targets: the score it ranks by; null otherwise. */
    score: number | null;
  }>;
  failures: Array<{ symbol: string; code: string; message: string }>;
}

/** One row of GET /api/v1/predictions: a recorded forecast of one step, and what happened once the day arrived. */
export interface LedgerRow {
  run: string;
  symbol: string;
  base_date: string;
  target_date: string;
  step: number;
  base_close: number;
  predicted_price: number;
  /** log return from base_close */
  predicted_return: number;
  lower: number | null;
  upper: number | null;
  interval_method: string | null;
  interval_level: number | null;
  source: 'cli' | 'api' | 'batch';
  created_at: string;
  updated_at: string;
  /** false when the target day's bar was already in the database when it was first recorded (left out of live scores) */
  live: boolean | null;
  /** null until the target day's bar is in the database */
  actual_close: number | null;
  /** predicted − actual */
  error: number | null;
  abs_error: number | null;
  actual_return: number | null;
  in_interval: boolean | null;
}

/** The figures of one segment in GET /api/v1/predictions/score. */
export interface LedgerFigures {
  n: number;
  mae: number | null;
  /** 1 − MAE / MAE of persistence */
  skill: number | null;
  direction_accuracy: number | null;
  coverage: number | null;
  level: number | null;
}

/** GET /api/v1/predictions/score: per run, live figures of its reconciled forecasts beside its test segment's. */
export interface LedgerScore {
  runs: Array<{
    run: string;
    symbols: string[];
    recorded: number;
    pending: number;
    /** rows recorded after their target day's bar was in: counted, not scored */
    hindsight: number;
    first_base_date: string | null;
    last_target_date: string | null;
    live: LedgerFigures & { persistence_mae: number | null };
    /** null when the run's results/eval_results.json is gone */
    test: LedgerFigures | null;
    /** per step ahead when more than one step was recorded (test from per_horizon; its coverage is pooled only, so null) */
    steps: Array<{ step: number; live: LedgerFigures & { persistence_mae: number | null }; test: LedgerFigures | null }>;
  }>;
}

export type TrainingJobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface TrainingJobProgress {
  epoch: number;
  epochs: number;
  train_loss: number | null;
  val_loss: number | null;
}

/** GET /api/v1/training/:id, whether the job runs in the server's threads or on the BullMQ queue. */
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

/** A batch of `klinecast batch` (out/batches/{name}/), as GET /api/v1/batches lists it; its runs are ordinary runs. */
export interface BatchItem {
  name: string;
  model_type: string | null;
  config_hash: string | null;
  created_at: string | null;
  updated_at: string | null;
  /** true when batch_summary.json covers the latest progress (the last invocation ended) */
  finished: boolean;
  /** the last finished invocation's wall time and rate, from batch_summary.json */
  finished_at: string | null;
  seconds: number | null;
  per_minute: number | null;
  counts: { pending: number; completed: number; failed: number; skipped: number } | null;
  stocks_total: number;
  /** why the folder's files could not be read, or null */
  problem: string | null;
}

export interface BatchStock {
  symbol: string;
  status: string;
  /** the run in out/ (GET /api/v1/runs/{run_name}) */
  run_name: string | null;
  metrics: Record<string, number | null> | null;
  reason: string | null;
  attempts: number;
  seconds: number | null;
  finished_at: string | null;
}

export interface BatchDetails extends BatchItem {
  stocks: BatchStock[];
}

/** GET /api/v1/best-run: the run the best-run rule chooses, with how it compared (docs/PREDICTION.md, "Best run"). */
export interface BestRunAnswer {
  run: RunSummary;
  metric: string;
  ranked_by: string;
  basis: 'shared_days' | 'skill' | 'own';
  value: number | null;
  shared_days: number | null;
  rule: string;
  ranking: Array<{ name: string; value: number | null; days: number | null }>;
}

/** GET /api/v1/training/defaults: the fields of POST /api/v1/training (the CLI's flags) with the CLI's defaults. */
export interface TrainingDefaults {
  fields: Array<{ field: string; flag: string; path: string; kind: string; help: string; default: unknown }>;
}

/** One saved simulation as a list shows it (GET .../simulations): the runs layer builds it, the dashboard reads it. */
export interface SimulationListItem {
  name: string;
  created_at: string | null;
  strategy: string | null;
  benchmark: string | null;
  start: string | null;
  end: string | null;
  annualised_return: number | null;
  excess_annualised: number | null;
  information_ratio: number | null;
  max_drawdown: number | null;
  /** Why simulation.json could not be read, else null. */
  problem: string | null;
}
