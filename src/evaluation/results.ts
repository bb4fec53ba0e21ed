/**
 * What an evaluation produces: metric records and the shapes of results/eval_results.json and results/predictions.json
 * (DESIGN.md §5). The run folder stores them; the evaluator computes them.
 */

/** Price-unit metrics of a forecast. MAPE is in percent. */
export interface PriceMetrics {
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  r2: number | null;
}

/** Everything measured for the model on one set of (sample, step) pairs. */
export interface ModelMetrics extends PriceMetrics {
  /** Share (0-1) of days where the predicted move from the last close has the actual move's sign; flat days excluded. */
  direction_accuracy: number | null;
  /** The number of non-flat days direction_accuracy counts. */
  direction_samples: number;
  /** MAE and RMSE of the log returns. */
  return_mae: number | null;
  return_rmse: number | null;
  /** Pearson and Spearman (average ranks for ties) correlation of predicted against actual returns. */
  ic: number | null;
  rank_ic: number | null;
  /** 1 − MAE / MAE of persistence, in price units. */
  skill: number | null;
  /** 1 − return MAE / return MAE of the zero-return forecast. */
  return_skill: number | null;
}

export interface BaselineMetrics {
  /** Tomorrow's price = the last known close, scored in price units. */
  persistence: PriceMetrics;
  /** A predicted log return of 0, scored on returns. */
  zero_return: { return_mae: number | null; return_rmse: number | null };
}

/** results/eval_results.json. */
export interface EvalResultsFile {
  evaluated_at: string;
  split: string;
  n_samples: number;
  horizon: number;
  return_type: 'log';
  /** Pooled over every (sample, step) pair. */
  test_metrics: ModelMetrics;
  baselines: BaselineMetrics;
  /** One entry per step ahead (1…horizon) when horizon > 1, else null. */
  per_horizon: Array<{ step: number; test_metrics: ModelMetrics; baselines: BaselineMetrics }> | null;
  [extra: string]: unknown;
}

/** One row of results/predictions.json: one test day and one step ahead. */
export interface PredictionRecord {
  /** The day of the last known close (the forecast is made after its close). */
  date: string;
  /** 1…horizon. */
  step: number;
  /** The trading day forecast, when known. */
  target_date: string | null;
  last_close: number;
  actual_price: number;
  predicted_price: number;
  actual_return: number;
  predicted_return: number;
}

/** results/predictions.json. */
export interface PredictionsFile {
  generated_at: string;
  split: string;
  horizon: number;
  n_samples: number;
  return_type: 'log';
  records: PredictionRecord[];
  [extra: string]: unknown;
}
