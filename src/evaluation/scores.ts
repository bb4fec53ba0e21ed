/**
 * The evaluation of a model whose outputs are cross-sectional scores (a universal run trained on zscore- or
 * rank-normalised targets), not returns. Correlations and rankings stay valid: the pooled IC / Rank IC of score
 * against actual return, and the whole per-date cross-section (IC, Rank IC, quintile spread). Everything measured in
 * price or return units is not: a score is not a return, so no price, direction, error or skill can be computed from
 * it, and those figures are null, never a number that looks like a forecast.
 */
import type { Evaluation } from './evaluator.js';
import type { CrossSectionResults, EvalResultsFile, ModelMetrics, ScorePredictionsFile } from './results.js';

/** The evaluation of a score run: eval_results.json and its score predictions.json. */
export interface ScoreEvaluation {
  results: EvalResultsFile;
  predictions: ScorePredictionsFile;
}

/** What eval_results.json says of a score run (its `predictions` field). */
export const SCORE_NOTE = 'scores: the model ranks the stocks of a date; price, return, direction and skill metrics do not apply (null)';

function scoreMetrics(m: ModelMetrics): ModelMetrics {
  return {
    mae: null,
    rmse: null,
    mape: null,
    r2: null,
    direction_accuracy: null,
    direction_samples: 0,
    return_mae: null,
    return_rmse: null,
    ic: m.ic,
    rank_ic: m.rank_ic,
    skill: null,
    return_skill: null,
  };
}

function scoreCrossSection(c: CrossSectionResults): CrossSectionResults {
  return {
    ...c,
    per_stock: { stocks: c.per_stock.stocks, stocks_scored: 0, median_skill: null, worst_skill: null, worst_symbol: null, share_above_zero: null },
    pooled: { mae: null, rmse: null, mape: null, r2: null, persistence_mae: c.pooled.persistence_mae, skill: null },
  };
}

/**
 * An Evaluation computed with the scores in place of predicted returns, made honest: price-unit metrics null, no
 * significance test against the price baselines (they compare losses in price units), and every prediction record
 * carries `score` with predicted_price and predicted_return null. `targetKind` is recorded as `target`.
 */
export function asScoreEvaluation(evaluation: Evaluation, targetKind: string): ScoreEvaluation {
  const { results, predictions } = evaluation;
  const { significance: _significance, interval: _interval, cross_section, ...rest } = results;
  return {
    results: {
      ...rest,
      target: targetKind,
      predictions_are: SCORE_NOTE,
      test_metrics: scoreMetrics(results.test_metrics),
      per_horizon: results.per_horizon?.map((h) => ({ ...h, test_metrics: scoreMetrics(h.test_metrics) })) ?? null,
      ...(cross_section ? { cross_section: scoreCrossSection(cross_section) } : {}),
    },
    predictions: {
      ...predictions,
      target: targetKind,
      records: predictions.records.map(({ predicted_price: _price, predicted_return: score, lower: _lower, upper: _upper, ...r }) => ({
        ...r,
        predicted_price: null,
        predicted_return: null,
        score,
      })),
    },
  };
}
