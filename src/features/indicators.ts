/**
 * Technical indicators in the conventions of Chinese terminals (Tongdaxin / 同花顺), on raw price columns.
 * Formulas and warm-ups are documented in docs/FEATURES.md; the values are reference-tested against pandas.
 *
 * Warm-up ("lookback") follows TA-Lib: the number of leading rows before the indicator is defined by a full window,
 * where a recursive smoother of period N counts as a window of N rows. Recursive smoothers are still seeded from the
 * first bar (the terminal convention), so the rows after the warm-up carry the terminal's values.
 */
import { ewm, rollingMax, rollingMin, rollingMoments, rollingMean } from './rolling.js';

export function ma(close: Float64Array, period: number): Float64Array {
  return rollingMean(close, period);
}

/** EMA(X,N): alpha = 2/(N+1), seeded with the first value. */
export function ema(close: Float64Array, period: number): Float64Array {
  return ewm(close, 2 / (period + 1));
}

export interface Macd {
  dif: Float64Array;
  dea: Float64Array;
  bar: Float64Array;
}

/** DIF = EMA(C,fast) − EMA(C,slow); DEA = EMA(DIF,signal); MACD bar = 2·(DIF − DEA). */
export function macd(close: Float64Array, fast = 12, slow = 26, signal = 9): Macd {
  const fastEma = ema(close, fast);
  const slowEma = ema(close, slow);
  const n = close.length;
  const dif = new Float64Array(n);
  for (let i = 0; i < n; i++) dif[i] = fastEma[i] - slowEma[i];
  const dea = ewm(dif, 2 / (signal + 1));
  const bar = new Float64Array(n);
  for (let i = 0; i < n; i++) bar[i] = 2 * (dif[i] - dea[i]);
  return { dif, dea, bar };
}

export const macdWarmup = (slow = 26, signal = 9): number => slow - 1 + signal - 1;

/**
 * RSI with Wilder smoothing: U = max(ΔC,0), D = max(−ΔC,0), RSI = 100·SMA(U,N,1) / (SMA(U,N,1) + SMA(D,N,1)).
 * SMA(·,N,1) is alpha 1/N seeded with the first difference (row 1). A flat stretch (both averages 0) gives 50.
 */
export function rsi(close: Float64Array, period: number): Float64Array {
  const n = close.length;
  const up = new Float64Array(n).fill(NaN);
  const down = new Float64Array(n).fill(NaN);
  for (let i = 1; i < n; i++) {
    const d = close[i] - close[i - 1];
    up[i] = d > 0 ? d : 0;
    down[i] = d < 0 ? -d : 0;
  }
  const avgUp = ewm(up, 1 / period, 1);
  const avgDown = ewm(down, 1 / period, 1);
  const out = new Float64Array(n).fill(NaN);
  for (let i = 1; i < n; i++) {
    const total = avgUp[i] + avgDown[i];
    out[i] = total > 0 ? (100 * avgUp[i]) / total : 50;
  }
  return out;
}

export interface Boll {
  mid: Float64Array;
  upper: Float64Array;
  lower: Float64Array;
}

/** BOLL: MID = MA(C,N); UPPER/LOWER = MID ± k·σ with σ the population standard deviation of the last N closes. */
export function boll(close: Float64Array, period = 20, k = 2): Boll {
  const { mean, std } = rollingMoments(close, period, true);
  const n = close.length;
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    upper[i] = mean[i] + k * std![i];
    lower[i] = mean[i] - k * std![i];
  }
  return { mid: mean, upper, lower };
}

export interface Kdj {
  k: Float64Array;
  d: Float64Array;
  j: Float64Array;
}

/**
 * KDJ(N,M1,M2): RSV = 100·(C − LLV(L,N)) / (HHV(H,N) − LLV(L,N)), and 50 when the N-day range is zero;
 * K = SMA(RSV,M1,1), D = SMA(K,M2,1), both starting from 50 on the day before the first full window; J = 3K − 2D.
 */
export function kdj(high: Float64Array, low: Float64Array, close: Float64Array, period = 9, m1 = 3, m2 = 3): Kdj {
  const n = close.length;
  const hhv = rollingMax(high, period);
  const llv = rollingMin(low, period);
  const k = new Float64Array(n).fill(NaN);
  const d = new Float64Array(n).fill(NaN);
  const j = new Float64Array(n).fill(NaN);
  let kPrev = 50;
  let dPrev = 50;
  for (let i = period - 1; i < n; i++) {
    const range = hhv[i] - llv[i];
    const rsv = range > 0 ? (100 * (close[i] - llv[i])) / range : range === 0 ? 50 : NaN;
    kPrev += (rsv - kPrev) / m1;
    dPrev += (kPrev - dPrev) / m2;
    k[i] = kPrev;
    d[i] = dPrev;
    j[i] = 3 * kPrev - 2 * dPrev;
  }
  return { k, d, j };
}

export const kdjWarmup = (period = 9, m1 = 3, m2 = 3): number => period - 1 + m1 - 1 + m2 - 1;
