/**
 * Adaptive conformal inference (ACI; Gibbs & Candès, "Adaptive conformal inference under distribution shift",
 * NeurIPS 2021). Split-conformal intervals assume the calibration residuals and the later ones are exchangeable;
 * markets drift, so a walk-forward keeps one miscoverage level α_t per (stock, step) and moves it after each
 * realised forecast:
 *
 *   α_{t+1} = α_t + γ · (α − err_t),   err_t = 1 when the actual value fell outside the interval made with α_t, else 0
 *
 * A miss lowers α_t (wider intervals next time), a hit raises it a little; over a long run the share of misses tends
 * to α whatever the data do. The interval at α_t is the split-conformal one at level 1 − α_t on the calibration
 * residuals (conformalHalfWidth): α_t ≤ 0 gives an unbounded interval, α_t ≥ 1 a zero-width one.
 *
 * A forecast's miss is known only on its target day, so an h-step forecast updates α only once that day has
 * closed: when forecasting from day t, the updates of every earlier forecast whose target day is ≤ t are applied
 * first, in order. For one-step forecasts that is the paper's sequence exactly.
 */
import { conformalHalfWidth } from './conformal.js';

/** γ, the step of α_t: the paper's choice for its stock-volatility example. */
export const DEFAULT_ACI_GAMMA = 0.005;

export interface AciForecast {
  /** The sequence it belongs to (one α_t each), e.g. `${symbol}:${step}`. */
  key: string;
  /** The day the forecast is made after (its last known close), ISO. */
  date: string;
  /** The day it forecasts, ISO; its miss is known from this day on. */
  targetDate: string;
  /** |actual − predicted|, in the units of the calibration residuals. */
  residual: number;
  /** The calibration residuals of this forecast's model and step, ascending (ConformalCalibration.absResiduals[step]). */
  calibration: readonly number[];
}

export interface AciResult {
  /** Per forecast, in input order: the half-width used (Infinity: unbounded). */
  halfWidths: number[];
  /** Per forecast: α_t the interval was made with. */
  alphas: number[];
  /** Per forecast: 1 when the residual exceeded the half-width. */
  misses: number[];
}

/** The half-width at miscoverage α_t on sorted calibration residuals: the split-conformal one at level 1 − α_t. */
export function aciHalfWidth(calibration: readonly number[], alphaT: number): number {
  if (alphaT <= 0) return Infinity;
  if (alphaT >= 1) return 0;
  return conformalHalfWidth(
    { method: 'split_conformal', target: 'log_return', calibration: 'validation', samples: calibration.length, absResiduals: [calibration as number[]] },
    0,
    1 - alphaT,
  );
}

/**
 * Runs ACI over `forecasts`, which must be in time order (by date) within each key. `level` is the target coverage
 * 1 − α; α_1 = α for every key.
 */
export function adaptiveConformal(forecasts: readonly AciForecast[], options: { level: number; gamma?: number }): AciResult {
  const { level } = options;
  const gamma = options.gamma ?? DEFAULT_ACI_GAMMA;
  if (!(level > 0 && level < 1)) throw new Error(`adaptiveConformal: level ${level} is not in (0, 1)`);
  if (!(gamma > 0 && Number.isFinite(gamma))) throw new Error(`adaptiveConformal: gamma ${gamma} must be a positive number`);
  const alpha = 1 - level;
  const state = new Map<string, { alpha: number; lastDate: string; pending: Array<{ targetDate: string; miss: number }> }>();
  const out: AciResult = { halfWidths: [], alphas: [], misses: [] };
  for (const f of forecasts) {
    let s = state.get(f.key);
    if (!s) state.set(f.key, (s = { alpha, lastDate: '', pending: [] }));
    if (f.date < s.lastDate) throw new Error(`adaptiveConformal: ${f.key} goes back in time (${f.date} after ${s.lastDate})`);
    s.lastDate = f.date;
    // Targets of one key come in order of their forecasts, so the realised ones are a prefix of the queue.
    while (s.pending.length > 0 && s.pending[0].targetDate <= f.date) s.alpha += gamma * (alpha - (s.pending.shift() as { miss: number }).miss);
    const halfWidth = aciHalfWidth(f.calibration, s.alpha);
    const miss = f.residual > halfWidth ? 1 : 0;
    out.halfWidths.push(halfWidth);
    out.alphas.push(s.alpha);
    out.misses.push(miss);
    s.pending.push({ targetDate: f.targetDate, miss });
  }
  return out;
}
