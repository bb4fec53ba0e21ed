/** Predictions: a trained run → forecasts of the next trading days with calibrated intervals, and the ledger that scores them. */
export {
  DEFAULT_LEVEL,
  DEFAULT_SAMPLES,
  DEFAULT_SEED,
  INTERVAL_METHODS,
  ForecastOptionsSchema,
  TREND_FLAT_BAND,
  forecastPrepared,
  forecastSeries,
  parseForecastOptions,
  prepareInput,
  quantileSorted,
  requestedDays,
  trendOf,
  type Forecast,
  type IntervalMethod,
  type ForecastDay,
  type ForecastOptions,
  type ForecastOptionsInput,
  type PreparedInput,
  type Trend,
} from './forecast.js';
export { FORWARD_CHUNK, forwardDropoutSamples, forwardPoint, stockRowsFor, type InferenceModel } from './model.js';
export {
  BEST_RUN_METRIC,
  PredictRequestSchema,
  PredictionEngine,
  type BatchForecast,
  type PredictRequest,
  type PredictionEngineOptions,
  type PredictionFailure,
  type RankedForecast,
  type Ranking,
} from './engine.js';
export { ledgerRows, scoreEntries, scoreLedger, testFigures, type LedgerFigures, type LedgerScore, type RunScore, type StepScore } from './ledger.js';
