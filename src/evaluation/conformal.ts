/**
 * Split-conformal prediction intervals on log returns (Vovk et al.; Lei et al. 2018). The absolute residuals of the
 * model on a calibration segment it was not fit on (the validation segment) are kept, sorted, per horizon step. For a
 * level 1 − α the half-width is the ⌈(n + 1)(1 − α)⌉-th smallest of the n residuals, which covers a new point with
 * probability ≥ 1 − α when calibration and test residuals are exchangeable. Markets drift, so coverage on a later
 * test segment is measured and reported, never assumed.
 */

export interface ConformalCalibration {
  method: 'split_conformal';
  /** Residuals are actual − predicted log return. */
  target: 'log_return';
  calibration: 'validation';
  /** Calibration windows. */
  samples: number;
  /** Per step 1…horizon: |actual − predicted| on the calibration segment, ascending. */
  absResiduals: number[][];
}

/** The calibration of `predicted` against `actual`, both [n, horizon] row-major log returns. */
export function calibrateConformal(actual: ArrayLike<number>, predicted: ArrayLike<number>, horizon: number): ConformalCalibration {
  if (actual.length !== predicted.length || actual.length % horizon !== 0) {
    throw new Error(`calibrateConformal: ${actual.length} actual and ${predicted.length} predicted values for horizon ${horizon}`);
  }
  const n = actual.length / horizon;
  const absResiduals = Array.from({ length: horizon }, (_, k) => {
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) r[i] = Math.abs(actual[i * horizon + k] - predicted[i * horizon + k]);
    for (const v of r) if (!Number.isFinite(v)) throw new Error('calibrateConformal: a residual is not finite');
    return Array.from(r.sort());
  });
  return { method: 'split_conformal', target: 'log_return', calibration: 'validation', samples: n, absResiduals };
}

/**
 * The half-width (in log return) of the interval of step k (0-based) at `level`: Infinity when the calibration set is
 * too small for that level (fewer than 1/(1 − level) − 1 residuals), as the method requires.
 */
export function conformalHalfWidth(calibration: ConformalCalibration, step: number, level: number): number {
  if (!(level > 0 && level < 1)) throw new Error(`conformalHalfWidth: level ${level} is not in (0, 1)`);
  const sorted = calibration.absResiduals[step];
  if (!sorted) throw new Error(`conformalHalfWidth: no calibration for step ${step + 1}`);
  const rank = Math.ceil((sorted.length + 1) * level);
  return rank > sorted.length ? Infinity : sorted[rank - 1];
}

/** The level every default interval has: 90%. */
export const DEFAULT_INTERVAL_LEVEL = 0.9;

/** model/intervals.json read back: a UserError-free check, since the loader wraps what it throws with the file's name. */
export function parseConformalCalibration(json: unknown): ConformalCalibration {
  const c = json as Partial<ConformalCalibration> | null;
  const ok =
    c !== null &&
    typeof c === 'object' &&
    c.method === 'split_conformal' &&
    c.target === 'log_return' &&
    Number.isInteger(c.samples) &&
    Array.isArray(c.absResiduals) &&
    c.absResiduals.every(
      (step) => Array.isArray(step) && step.length === c.samples && step.every((v, i) => Number.isFinite(v) && v >= 0 && (i === 0 || v >= step[i - 1])),
    );
  if (!ok) throw new Error('not a split-conformal calibration (method, target, samples and sorted non-negative absResiduals per step)');
  return c as ConformalCalibration;
}

/** The per-step half-widths at `level` (see conformalHalfWidth). */
export function conformalHalfWidths(calibration: ConformalCalibration, level: number): number[] {
  return calibration.absResiduals.map((_, k) => conformalHalfWidth(calibration, k, level));
}
