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
  /** Universal runs only: the cross-sectional evaluation of step 1 (evaluateCrossSection). */
  cross_section?: CrossSectionResults;
  /** Whether the next-day forecasts beat the baselines by more than luck (evaluateForecasts, significance.ts). */
  significance?: SignificanceResults;
  /** The prediction interval of the test records, measured: does a "90%" interval cover about 90%? */
  interval?: IntervalResults;
  [extra: string]: unknown;
}

/** The Diebold–Mariano test of a model's losses against a baseline's on the same days. */
export interface DieboldMarianoResult {
  /** HLN-corrected statistic; negative: the model's loss is smaller than the baseline's. */
  statistic: number | null;
  /** Two-sided, Student t with n − 1 degrees of freedom. */
  p_value: number | null;
  /** Mean loss differential, model − baseline. */
  mean_difference: number | null;
  loss: 'squared' | 'absolute';
  horizon: number;
  samples: number;
}

/** Diebold–Mariano (HLN-corrected) and binomial tests of the next-day forecasts, with the sentence reports show. */
export interface SignificanceResults {
  /** Squared price error against persistence (tomorrow = today). */
  vs_persistence: DieboldMarianoResult;
  /** Absolute price error against persistence. */
  vs_persistence_absolute: DieboldMarianoResult;
  /** Squared return error against the zero-return forecast. */
  vs_zero_return: DieboldMarianoResult;
  direction: { accuracy: number | null; samples: number; p_value: number | null };
  /** e.g. "not distinguishable from persistence (DM p = 0.41)". */
  summary: string;
}

export interface IntervalResults {
  /** How the bounds were made: "split_conformal" (validation residuals) or another method's name. */
  method: string;
  level: number;
  /** Share of (sample, step) pairs whose actual price lies within [lower, upper]. */
  coverage: number;
  /** Mean upper − lower, in price units and as a share of the last close. */
  mean_width: number;
  mean_relative_width: number;
  samples: number;
}

/** One row of results/predictions.json: one test day and one step ahead. */
export interface PredictionRecord {
  /** The stock: every record of a universal run carries it (a single-stock run names its symbol at the file's top). */
  symbol?: string;
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
  /** The interval at eval_results.json interval.level, when the run has one. */
  lower?: number;
  upper?: number;
}

/**
 * A record of a score run (a universal run on cross-sectionally normalised targets): its output is a score that ranks
 * the stocks of a date, not a return, so no predicted price or return exists (null) and there is no interval.
 */
export interface ScorePredictionRecord extends Omit<PredictionRecord, 'predicted_price' | 'predicted_return' | 'lower' | 'upper'> {
  predicted_price: null;
  predicted_return: null;
  score: number;
}

/** results/predictions.json of a score run: `target` names the normalised target (e.g. cs_rank_log_return). */
export interface ScorePredictionsFile {
  generated_at: string;
  split: string;
  horizon: number;
  n_samples: number;
  return_type: 'log';
  target: string;
  records: ScorePredictionRecord[];
  [extra: string]: unknown;
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

/**
 * Per-date correlations summarised over the dates counted (a date counts when it has at least min_stocks_per_date
 * stocks and the correlation is defined). std is the sample standard deviation (n − 1, as pandas and Qlib).
 */
export interface ICSummary {
  mean: number | null;
  std: number | null;
  /** mean / std. */
  icir: number | null;
  /** mean / (std / √days). */
  t_stat: number | null;
  /** The number of dates counted. */
  days: number;
  /** Share (0-1) of the counted dates whose correlation is above 0. */
  positive_share: number | null;
}

/** One date of a cross-sectional evaluation; correlations and quintiles are null when the date does not count. */
export interface CrossSectionDay {
  /** The day of the last known close. */
  date: string;
  /** Stocks forecast on that date. */
  stocks: number;
  /** Pearson and Spearman (average ranks) correlation of predicted against actual step-1 log returns over that date's stocks. */
  ic: number | null;
  rank_ic: number | null;
  /** Mean actual log return of the max(1, ⌊stocks/5⌋) stocks with the highest / lowest predicted return. */
  top_quintile_return: number | null;
  bottom_quintile_return: number | null;
  /** top_quintile_return − bottom_quintile_return. */
  spread: number | null;
}

/** The daily top-minus-bottom quintile spread of actual log returns, averaged over the dates that have one. */
export interface QuintileSpread {
  mean_daily: number | null;
  /** mean_daily · periods_per_year (simple, not compounded). */
  annualised: number | null;
  mean_top: number | null;
  mean_bottom: number | null;
  days: number;
}

/** Each stock's skill 1 − MAE / MAE(persistence) in price units over its own dates, summarised over the stocks. */
export interface PerStockSkill {
  /** Distinct stocks. */
  stocks: number;
  /** Stocks whose skill is defined (persistence MAE > 0, i.e. the price moved at least once). */
  stocks_scored: number;
  median_skill: number | null;
  worst_skill: number | null;
  /** The stock with worst_skill (the first by symbol on a tie). */
  worst_symbol: string | null;
  /** Share (0-1) of the scored stocks whose skill is above 0. */
  share_above_zero: number | null;
}

/** Price metrics pooled over every (date, stock) entry, beside persistence on the same entries. */
export interface PooledPriceMetrics extends PriceMetrics {
  persistence_mae: number | null;
  /** 1 − mae / persistence_mae. */
  skill: number | null;
}

/** The `cross_section` block of results/eval_results.json for a universal run (one model over many stocks). */
export interface CrossSectionResults {
  return_type: 'log';
  /** (date, stock) entries. */
  n_samples: number;
  /** Distinct dates, counted or not. */
  n_dates: number;
  /** Distinct stocks. */
  n_stocks: number;
  /** A date's IC, Rank IC and quintiles count only when it has at least this many stocks. */
  min_stocks_per_date: number;
  /** Trading days per year used by quintile_spread.annualised. */
  periods_per_year: number;
  ic: ICSummary;
  rank_ic: ICSummary;
  quintile_spread: QuintileSpread;
  per_stock: PerStockSkill;
  pooled: PooledPriceMetrics;
  /** Every date, in ascending order. */
  daily: CrossSectionDay[];
}
