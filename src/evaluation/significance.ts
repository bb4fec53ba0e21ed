/**
 * Is the model's edge over a baseline more than luck? The Diebold–Mariano test (1995) on the loss differential, with
 * the small-sample correction of Harvey, Leybourne and Newbold (1997) and Student-t p-values; and an exact binomial
 * test of direction accuracy against a coin. Each result carries the sentence every report shows.
 */
import type { DieboldMarianoResult } from './results.js';

const LANCZOS = [
  676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7): ~15 significant digits. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = 0.99999999999980993;
  for (let i = 0; i < LANCZOS.length; i++) a += LANCZOS[i] / (z + i + 1);
  const t = z + LANCZOS.length - 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom. */
export function studentTwoSidedP(t: number, df: number): number {
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * Diebold–Mariano with the HLN correction. `modelErrors` and `baselineErrors` are forecast errors on the same days,
 * in time order; `horizon` h is how many steps ahead they are (the long-run variance uses h − 1 autocovariances).
 */
export function dieboldMariano(
  modelErrors: ArrayLike<number>,
  baselineErrors: ArrayLike<number>,
  loss: 'squared' | 'absolute' = 'squared',
  horizon = 1,
): DieboldMarianoResult {
  const n = modelErrors.length;
  if (baselineErrors.length !== n) throw new Error(`dieboldMariano: ${n} model errors, ${baselineErrors.length} baseline errors`);
  const empty = { statistic: null, p_value: null, mean_difference: null, loss, horizon, samples: n };
  if (n < 3) return empty;
  const L = loss === 'squared' ? (e: number) => e * e : Math.abs;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = L(modelErrors[i]) - L(baselineErrors[i]);
  let mean = 0;
  for (const v of d) mean += v;
  mean /= n;
  const autocovariance = (k: number) => {
    let s = 0;
    for (let i = k; i < n; i++) s += (d[i] - mean) * (d[i - k] - mean);
    return s / n;
  };
  let variance = autocovariance(0);
  for (let k = 1; k < horizon; k++) variance += 2 * autocovariance(k);
  if (!(variance > 0)) return { ...empty, mean_difference: mean };
  const dm = mean / Math.sqrt(variance / n);
  const statistic = dm * Math.sqrt((n + 1 - 2 * horizon + (horizon * (horizon - 1)) / n) / n);
  return { statistic, p_value: studentTwoSidedP(statistic, n - 1), mean_difference: mean, loss, horizon, samples: n };
}

/** Exact two-sided binomial test of `successes` out of `trials` against p = 0.5 (the sum of outcomes no likelier). */
export function binomialTwoSidedP(successes: number, trials: number): number | null {
  if (trials === 0) return null;
  const logP = (k: number) => logGamma(trials + 1) - logGamma(k + 1) - logGamma(trials - k + 1) - trials * Math.LN2;
  const observed = logP(successes);
  let p = 0;
  for (let k = 0; k <= trials; k++) {
    const lp = logP(k);
    if (lp <= observed + 1e-12) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/** The sentence a report shows: whether the model beats `baseline` significantly at 5%. */
export function describeDm(result: DieboldMarianoResult, baseline: string): string {
  if (result.p_value === null || result.statistic === null) return `no test against ${baseline}: too few days or no difference at all`;
  const p = result.p_value < 0.001 ? result.p_value.toExponential(1) : result.p_value.toFixed(3);
  if (result.p_value >= 0.05) return `not distinguishable from ${baseline} (DM p = ${p})`;
  return result.statistic < 0 ? `beats ${baseline} significantly (DM p = ${p})` : `significantly worse than ${baseline} (DM p = ${p})`;
}
