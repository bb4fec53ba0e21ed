/** Evaluation: forecast metrics and the naive baselines every report is measured against (DESIGN.md §5). */
export { evaluateForecasts } from './evaluator.js';
export type { Evaluation, ForecastInput, Matrix } from './evaluator.js';
export { averageRanks, directionAccuracy, mae, mape, mean, pearson, r2, rmse, spearman } from './metrics.js';
export type { BaselineMetrics, EvalResultsFile, ModelMetrics, PredictionRecord, PredictionsFile, PriceMetrics } from './results.js';
