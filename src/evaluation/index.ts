/** Evaluation: forecast metrics and the naive baselines every report is measured against (DESIGN.md §5). */
export { CROSS_SECTION_DEFAULTS, crossSectionOfRecords, evaluateCrossSection } from './cross-section.js';
export { DEFAULT_ACI_GAMMA, aciHalfWidth, adaptiveConformal, type AciForecast, type AciResult } from './aci.js';
export type { CrossSectionInput } from './cross-section.js';
export { evaluateForecasts } from './evaluator.js';
export { SCORE_NOTE, asScoreEvaluation, type ScoreEvaluation } from './scores.js';
export type { Evaluation, ForecastInput, Matrix } from './evaluator.js';
export { averageRanks, directionAccuracy, mae, mape, mean, pearson, r2, rmse, spearman } from './metrics.js';
export type {
  BaselineMetrics,
  CrossSectionDay,
  DieboldMarianoResult,
  IntervalResults,
  SignificanceResults,
  CrossSectionResults,
  EvalResultsFile,
  ICSummary,
  ModelMetrics,
  PerStockSkill,
  PooledPriceMetrics,
  PredictionRecord,
  PredictionsFile,
  ScorePredictionRecord,
  ScorePredictionsFile,
  PriceMetrics,
  QuintileSpread,
} from './results.js';
export {
  DEFAULT_INTERVAL_LEVEL,
  calibrateConformal,
  conformalHalfWidth,
  conformalHalfWidths,
  parseConformalCalibration,
  type ConformalCalibration,
} from './conformal.js';
export { binomialTwoSidedP, describeDm, dieboldMariano, incompleteBeta, logGamma, studentTwoSidedP } from './significance.js';
