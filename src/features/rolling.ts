/**
 * O(n) rolling primitives on Float64Array columns. Every output has the input's length and holds NaN where the
 * window is not yet full, so row t of every output depends on rows ≤ t only.
 */

/** Output of rollingMoments: the window mean, and the population standard deviation when asked for. */
export interface Moments {
  mean: Float64Array;
  std: Float64Array | null;
}

/**
 * Rolling mean and population standard deviation in O(n).
 *
 * A plain running sum drifts, and E[x²]−E[x]² cancels catastrophically on prices like 1800 with a variance near 0.
 * Instead the sums hold deviations from an anchor, and every `window` rows the anchor is reset to the exact two-pass
 * mean of the current window. Between resets at most `window` add/remove steps of small deviations accumulate, so the
 * mean stays within ~1e-15 relative of the exact value, and a constant window gives a standard deviation of exactly 0.
 * The amortised cost is two extra passes over each block of `window` rows.
 */
export function rollingMoments(x: Float64Array, window: number, withStd: boolean): Moments {
  const n = x.length;
  const mean = new Float64Array(n).fill(NaN);
  const std = withStd ? new Float64Array(n).fill(NaN) : null;
  let anchor = 0;
  let s1 = 0;
  let s2 = 0;
  for (let i = window - 1; i < n; i++) {
    if ((i - window + 1) % window === 0 || !Number.isFinite(s1) || !Number.isFinite(s2)) {
      let sum = 0;
      for (let j = i - window + 1; j <= i; j++) sum += x[j];
      anchor = sum / window;
      s1 = 0;
      s2 = 0;
      for (let j = i - window + 1; j <= i; j++) {
        const d = x[j] - anchor;
        s1 += d;
        s2 += d * d;
      }
      if (!Number.isFinite(anchor)) anchor = 0;
    } else {
      const dIn = x[i] - anchor;
      const dOut = x[i - window] - anchor;
      s1 += dIn - dOut;
      s2 += dIn * dIn - dOut * dOut;
    }
    const m = s1 / window;
    mean[i] = anchor + m;
    if (std) {
      const variance = s2 / window - m * m;
      std[i] = variance > 0 ? Math.sqrt(variance) : variance === variance ? 0 : NaN;
    }
  }
  return { mean, std };
}

export function rollingMean(x: Float64Array, window: number): Float64Array {
  return rollingMoments(x, window, false).mean;
}

/** Rolling maximum (or minimum) with a monotonic deque of indices: each index enters and leaves once, O(n). */
function rollingExtreme(x: Float64Array, window: number, max: boolean): Float64Array {
  const n = x.length;
  const out = new Float64Array(n).fill(NaN);
  const deque = new Int32Array(n);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    while (tail > head && (max ? x[deque[tail - 1]] <= v : x[deque[tail - 1]] >= v)) tail--;
    deque[tail++] = i;
    if (deque[head] <= i - window) head++;
    if (i >= window - 1) out[i] = x[deque[head]];
  }
  return out;
}

export function rollingMax(x: Float64Array, window: number): Float64Array {
  return rollingExtreme(x, window, true);
}

export function rollingMin(x: Float64Array, window: number): Float64Array {
  return rollingExtreme(x, window, false);
}

/**
 * Mean of the non-NaN values among the last `window` rows (NaN when the window holds none, or is not yet full).
 * Used for turnover, whose NULL days should not poison a whole window.
 */
export function rollingNanMean(x: Float64Array, window: number): Float64Array {
  const n = x.length;
  const out = new Float64Array(n).fill(NaN);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (x[i] === x[i]) {
      sum += x[i];
      count++;
    }
    if (i >= window) {
      const old = x[i - window];
      if (old === old) {
        sum -= old;
        count--;
      }
    }
    // Recompute exactly whenever the window empties, so rounding never survives into the next non-empty window.
    if (count === 0) sum = 0;
    if (i >= window - 1 && count > 0) out[i] = sum / count;
  }
  return out;
}

/**
 * Exponential smoothing y[t] = y[t−1] + alpha·(x[t] − y[t−1]), seeded with y[start] = x[start] (pandas
 * `ewm(alpha, adjust=False)`); rows before `start` are NaN. Tongdaxin's SMA(X,N,M) is alpha = M/N, EMA(X,N) is 2/(N+1).
 */
export function ewm(x: Float64Array, alpha: number, start = 0): Float64Array {
  const n = x.length;
  const out = new Float64Array(n).fill(NaN);
  if (start >= n) return out;
  let y = x[start];
  out[start] = y;
  for (let i = start + 1; i < n; i++) {
    y += alpha * (x[i] - y);
    out[i] = y;
  }
  return out;
}
