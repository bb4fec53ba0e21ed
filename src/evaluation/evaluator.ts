/**
 * Evaluation of return forecasts against the naive baselines (DESIGN.md §5). The network predicts log returns from
 * the last known close; prices are close · exp(return). Output is shaped for results/eval_results.json and
 * results/predictions.json.
 */
import type { BaselineMetrics, EvalResultsFile, IntervalResults, ModelMetrics, PredictionRecord, PredictionsFile, SignificanceResults } from './results.js';
import { binomialTwoSidedP, describeDm, dieboldMariano } from './significance.js';
import { directionAccuracy, mae, mape, pearson, r2, rmse, spearman } from './metrics.js';

/** Rows of a [N, H] matrix, or the matrix flattened row-major. */
export type Matrix = ReadonlyArray<ArrayLike<number>> | ArrayLike<number>;

export interface ForecastInput {
  /** The day of the last known close of each test sample (length N). */
  dates: readonly string[];
  /** The close of that day, the reference of every return (length N). */
  lastClose: ArrayLike<number>;
  /** Actual log returns ln(close_{t+h} / close_t) for h = 1…H. */
  actualReturns: Matrix;
  /** Predicted log returns, same shape. */
  predictedReturns: Matrix;
  /** The day each (sample, step) forecasts, [N, H] or flat; optional. */
  targetDates?: ReadonlyArray<string | null> | ReadonlyArray<ReadonlyArray<string | null>>;
  /** The stock of each sample (length N), for forecasts over many stocks: each record then carries its symbol. */
  symbols?: readonly string[];
  /**
   * An interval around every forecast: the half-width in log return (Infinity: unbounded), either per step (H values,
   * the same for every sample) or per forecast ([N, H] flat, e.g. a walk-forward's per-fold or adaptive widths).
   */
  intervals?: { method: string; level: number; halfWidths: ArrayLike<number> };
  /** Which segment this is; "test" by default. */
  split?: string;
}

export interface Evaluation {
  results: EvalResultsFile;
  predictions: PredictionsFile;
}

function flatten(matrix: Matrix, rows: number, what: string): { data: Float64Array; cols: number } {
  const nested = matrix.length > 0 && typeof (matrix as ArrayLike<unknown>)[0] === 'object';
  let data: Float64Array;
  if (nested) {
    const m = matrix as ReadonlyArray<ArrayLike<number>>;
    const cols = m[0].length;
    data = new Float64Array(m.length * cols);
    m.forEach((row, i) => {
      if (row.length !== cols) throw new Error(`${what}: row ${i} has ${row.length} values, row 0 has ${cols}`);
      for (let j = 0; j < cols; j++) data[i * cols + j] = row[j];
    });
  } else {
    data = Float64Array.from(matrix as ArrayLike<number>);
  }
  if (rows === 0 || data.length % rows !== 0) throw new Error(`${what}: ${data.length} values do not split into ${rows} samples`);
  return { data, cols: data.length / rows };
}

function nonFinite(values: Float64Array): number {
  return values.findIndex((v) => !Number.isFinite(v));
}

/** Model and baseline metrics of one set of (sample, step) pairs. */
function scoreSet(lastClose: Float64Array, actualR: Float64Array, predR: Float64Array): { test_metrics: ModelMetrics; baselines: BaselineMetrics } {
  const n = actualR.length;
  const actualP = new Float64Array(n);
  const predP = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    actualP[i] = lastClose[i] * Math.exp(actualR[i]);
    predP[i] = lastClose[i] * Math.exp(predR[i]);
  }
  const zeros = new Float64Array(n);
  const modelMae = mae(actualP, predP);
  const persistenceMae = mae(actualP, lastClose);
  const returnMae = mae(actualR, predR);
  const zeroReturnMae = mae(actualR, zeros);
  // Prices are close·exp(r) with close > 0, so the sign of a price change from the close is the sign of r.
  const direction = directionAccuracy(actualR, predR);
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : 1 - a / b);
  return {
    test_metrics: {
      mae: modelMae,
      rmse: rmse(actualP, predP),
      mape: mape(actualP, predP),
      r2: r2(actualP, predP),
      direction_accuracy: direction.accuracy,
      direction_samples: direction.samples,
      return_mae: returnMae,
      return_rmse: rmse(actualR, predR),
      ic: pearson(predR, actualR),
      rank_ic: spearman(predR, actualR),
      skill: ratio(modelMae, persistenceMae),
      return_skill: ratio(returnMae, zeroReturnMae),
    },
    baselines: {
      persistence: { mae: persistenceMae, rmse: rmse(actualP, lastClose), mape: mape(actualP, lastClose), r2: r2(actualP, lastClose) },
      zero_return: { return_mae: zeroReturnMae, return_rmse: rmse(actualR, zeros) },
    },
  };
}

/**
 * The next-day forecasts against persistence (price errors) and zero return (return errors), by Diebold–Mariano, and
 * direction accuracy against a coin. Samples are in time order for one stock; over many stocks the step-1 test needs
 * no order (h = 1 uses no autocovariance).
 */
function significanceOfStep1(close: Float64Array, actual: Float64Array, predicted: Float64Array, h: number): SignificanceResults {
  const n = close.length;
  const modelPrice = new Float64Array(n);
  const persistencePrice = new Float64Array(n);
  const modelReturn = new Float64Array(n);
  const zeroReturn = new Float64Array(n);
  const actualStep1 = new Float64Array(n);
  const predictedStep1 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = actual[i * h];
    const p = predicted[i * h];
    actualStep1[i] = a;
    predictedStep1[i] = p;
    const actualPrice = close[i] * Math.exp(a);
    modelPrice[i] = actualPrice - close[i] * Math.exp(p);
    persistencePrice[i] = actualPrice - close[i];
    modelReturn[i] = a - p;
    zeroReturn[i] = a;
  }
  const vsPersistence = dieboldMariano(modelPrice, persistencePrice, 'squared');
  const direction = directionAccuracy(actualStep1, predictedStep1);
  const hits = direction.accuracy === null ? 0 : Math.round(direction.accuracy * direction.samples);
  return {
    vs_persistence: vsPersistence,
    vs_persistence_absolute: dieboldMariano(modelPrice, persistencePrice, 'absolute'),
    vs_zero_return: dieboldMariano(modelReturn, zeroReturn, 'squared'),
    direction: { accuracy: direction.accuracy, samples: direction.samples, p_value: binomialTwoSidedP(hits, direction.samples) },
    summary: describeDm(vsPersistence, 'persistence'),
  };
}

/**
 * Scores predicted against actual returns on the same test days as the persistence and zero-return baselines.
 * Headline figures pool every (sample, step) pair; per_horizon splits them by step when H > 1.
 */
export function evaluateForecasts(input: ForecastInput): Evaluation {
  const n = input.dates.length;
  if (n === 0) throw new Error('evaluateForecasts: no test samples');
  if (input.lastClose.length !== n) throw new Error(`evaluateForecasts: ${input.lastClose.length} last closes for ${n} dates`);
  if (input.symbols && input.symbols.length !== n) throw new Error(`evaluateForecasts: ${input.symbols.length} symbols for ${n} dates`);
  const close = Float64Array.from(input.lastClose);
  if (close.some((c) => !(c > 0) || !Number.isFinite(c))) throw new Error('evaluateForecasts: every last close must be a positive number');
  const actual = flatten(input.actualReturns, n, 'actualReturns');
  const predicted = flatten(input.predictedReturns, n, 'predictedReturns');
  if (actual.cols !== predicted.cols) throw new Error(`evaluateForecasts: actual has horizon ${actual.cols}, predicted ${predicted.cols}`);
  for (const [what, values] of [
    ['actualReturns', actual.data],
    ['predictedReturns', predicted.data],
  ] as const) {
    const bad = nonFinite(values);
    if (bad >= 0) throw new Error(`evaluateForecasts: ${what} has a non-finite value at sample ${Math.floor(bad / actual.cols)}`);
  }
  const h = actual.cols;
  const targets = input.targetDates ? ((input.targetDates as ReadonlyArray<unknown>).flat() as Array<string | null>) : null;
  if (targets && targets.length !== n * h) throw new Error(`evaluateForecasts: ${targets.length} target dates for ${n}×${h} forecasts`);

  const closeRepeated = new Float64Array(n * h);
  for (let i = 0; i < n; i++) closeRepeated.fill(close[i], i * h, (i + 1) * h);
  const pooled = scoreSet(closeRepeated, actual.data, predicted.data);

  let perHorizon: EvalResultsFile['per_horizon'] = null;
  if (h > 1) {
    perHorizon = [];
    for (let s = 0; s < h; s++) {
      const a = new Float64Array(n);
      const p = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        a[i] = actual.data[i * h + s];
        p[i] = predicted.data[i * h + s];
      }
      perHorizon.push({ step: s + 1, ...scoreSet(close, a, p) });
    }
  }

  const halfWidths = input.intervals?.halfWidths;
  if (halfWidths && halfWidths.length !== h && halfWidths.length !== n * h) {
    throw new Error(`evaluateForecasts: ${halfWidths.length} interval half-widths for horizon ${h} and ${n} samples`);
  }
  const perForecast = halfWidths !== undefined && halfWidths.length === n * h;
  let covered = 0;
  let width = 0;
  let relativeWidth = 0;

  const now = new Date().toISOString();
  const split = input.split ?? 'test';
  const records: PredictionRecord[] = [];
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < h; s++) {
      const k = i * h + s;
      records.push({
        ...(input.symbols ? { symbol: input.symbols[i] } : {}),
        date: input.dates[i],
        step: s + 1,
        target_date: targets ? (targets[k] ?? null) : null,
        last_close: close[i],
        actual_price: close[i] * Math.exp(actual.data[k]),
        predicted_price: close[i] * Math.exp(predicted.data[k]),
        actual_return: actual.data[k],
        predicted_return: predicted.data[k],
        ...(halfWidths ? intervalOf(close[i], predicted.data[k], actual.data[k], halfWidths[perForecast ? k : s]) : {}),
      });
    }
  }
  function intervalOf(lastClose: number, predictedReturn: number, actualReturn: number, halfWidth: number): { lower: number; upper: number } {
    const lower = lastClose * Math.exp(predictedReturn - halfWidth);
    const upper = lastClose * Math.exp(predictedReturn + halfWidth);
    if (Math.abs(actualReturn - predictedReturn) <= halfWidth) covered++;
    width += upper - lower;
    relativeWidth += (upper - lower) / lastClose;
    return { lower, upper };
  }
  const interval: IntervalResults | undefined = input.intervals
    ? {
        method: input.intervals.method,
        level: input.intervals.level,
        coverage: covered / (n * h),
        mean_width: width / (n * h),
        mean_relative_width: relativeWidth / (n * h),
        samples: n * h,
      }
    : undefined;
  return {
    results: {
      evaluated_at: now,
      split,
      n_samples: n,
      horizon: h,
      return_type: 'log',
      ...pooled,
      per_horizon: perHorizon,
      significance: significanceOfStep1(close, actual.data, predicted.data, h),
      ...(interval ? { interval } : {}),
    },
    predictions: { generated_at: now, split, horizon: h, n_samples: n, return_type: 'log', records },
  };
}
