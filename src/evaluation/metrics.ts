/**
 * Forecast metrics on plain number arrays, in float64. Each returns null when the value is undefined
 * (no samples, zero variance), never NaN, so results stay valid JSON.
 */

export type Numbers = ArrayLike<number>;

function checkPair(actual: Numbers, predicted: Numbers): void {
  if (actual.length !== predicted.length) throw new Error(`metric inputs differ in length: ${actual.length} actual, ${predicted.length} predicted`);
}

export function mean(values: Numbers): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Mean absolute error. */
export function mae(actual: Numbers, predicted: Numbers): number | null {
  checkPair(actual, predicted);
  if (actual.length === 0) return null;
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += Math.abs(predicted[i] - actual[i]);
  return s / actual.length;
}

/** Root mean squared error. */
export function rmse(actual: Numbers, predicted: Numbers): number | null {
  checkPair(actual, predicted);
  if (actual.length === 0) return null;
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += (predicted[i] - actual[i]) ** 2;
  return Math.sqrt(s / actual.length);
}

/** Mean absolute percentage error, in percent, over the samples whose actual value is not zero. */
export function mape(actual: Numbers, predicted: Numbers): number | null {
  checkPair(actual, predicted);
  let s = 0;
  let n = 0;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] === 0) continue;
    s += Math.abs((predicted[i] - actual[i]) / actual[i]);
    n++;
  }
  return n === 0 ? null : (100 * s) / n;
}

/** Coefficient of determination 1 − SSE/SST (sklearn's r2_score); null when the actual values are constant. */
export function r2(actual: Numbers, predicted: Numbers): number | null {
  checkPair(actual, predicted);
  const m = mean(actual);
  if (m === null) return null;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < actual.length; i++) {
    sse += (actual[i] - predicted[i]) ** 2;
    sst += (actual[i] - m) ** 2;
  }
  return sst === 0 ? null : 1 - sse / sst;
}

/** Pearson correlation; null with fewer than two samples or a constant input. */
export function pearson(x: Numbers, y: Numbers): number | null {
  checkPair(x, y);
  const mx = mean(x);
  const my = mean(y);
  if (mx === null || my === null || x.length < 2) return null;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks, ties sharing the average of their ranks (pandas' rank(method='average')). */
export function averageRanks(values: Numbers): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(values.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Spearman rank correlation: Pearson on average ranks, so ties are handled as pandas and scipy do. */
export function spearman(x: Numbers, y: Numbers): number | null {
  checkPair(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

/**
 * Direction accuracy of changes measured from the same reference (the last known close): the share of samples
 * whose predicted change has the actual change's sign. Samples with no actual change (a flat or suspended day)
 * have no direction to get right and are left out; a predicted change of exactly zero counts as wrong.
 */
export function directionAccuracy(actualChange: Numbers, predictedChange: Numbers): { accuracy: number | null; samples: number } {
  checkPair(actualChange, predictedChange);
  let hits = 0;
  let n = 0;
  for (let i = 0; i < actualChange.length; i++) {
    const a = Math.sign(actualChange[i]);
    if (a === 0) continue;
    n++;
    if (Math.sign(predictedChange[i]) === a) hits++;
  }
  return { accuracy: n === 0 ? null : hits / n, samples: n };
}
