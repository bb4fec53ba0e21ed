/**
 * Cross-sectional target normalisation of a universal model (Qlib's CSZScoreNorm / CSRankNorm): per date, across the
 * stocks of that date, the next-day log return becomes a z-score or a centred percentile rank. The network then
 * learns to order the stocks of a day, not to forecast their returns, so its outputs are scores: they rank, but no
 * price can be computed from them (docs/UNIVERSAL_MODEL.md, "Cross-sectional targets").
 */
import { z } from 'zod';
import type { IsoDate } from '../data/types.js';

export const TARGET_NORMS = ['none', 'zscore', 'rank'] as const;
export const TargetNormSchema = z.enum(TARGET_NORMS);
export type TargetNorm = z.infer<typeof TargetNormSchema>;

/** What model/scaler.json and model/config.json call the target of each normalisation. */
export const TARGET_KINDS = { none: 'log_return', zscore: 'cs_zscore_log_return', rank: 'cs_rank_log_return' } as const;
export type TargetKind = (typeof TARGET_KINDS)[TargetNorm];

/** Whether a target kind is a cross-sectional score (true) or a log return that prices can be computed from (false). */
export function isScoreTarget(kind: string): boolean {
  return kind !== TARGET_KINDS.none;
}

/** The `target.definition` text of model/scaler.json for a normalisation. */
export function targetDefinition(norm: TargetNorm): string {
  const returns = 'y_k = (t_k - center_k) / scale_k, k = 1..horizon';
  if (norm === 'zscore')
    return `${returns}, t_k = per date over that date's stocks (log(close[t+k] / close[t]) - mean) / std (ddof 1; 0 for a date with < 2 stocks or std 0): a score, not a return`;
  if (norm === 'rank')
    return `${returns}, t_k = per date over that date's stocks the percentile rank of log(close[t+k] / close[t]) (average ties, rank / n) - 0.5 (0 for a date with < 2 stocks): a score, not a return`;
  return 'y_k = (log(close[t+k] / close[t]) - center_k) / scale_k, k = 1..horizon; price_k = close[t] * exp(y_k * scale_k + center_k)';
}

/**
 * Normalises `values` [n, horizon] (row-major) per date of `dates` [n] and per column, across the rows of that date:
 * - zscore: (v − mean) / std, std with ddof 1 as pandas' .std() that Qlib's CSZScoreNorm uses;
 * - rank: pandas rank(pct=True) − 0.5, average ranks for ties, as Qlib's CSRankNorm before its × 3.46 (the target
 *   scaler standardises the result anyway), so values lie in (−0.5, 0.5].
 * A date with fewer than 2 rows (no cross-section) or, for zscore, zero spread gets 0.
 */
export function crossSectionalNorm(values: Float64Array, dates: readonly IsoDate[], horizon: number, norm: TargetNorm): Float64Array {
  const n = dates.length;
  if (values.length !== n * horizon) throw new Error(`crossSectionalNorm: ${values.length} values for ${n} dates × horizon ${horizon}`);
  if (norm === 'none') return Float64Array.from(values);
  const out = new Float64Array(values.length);
  const byDate = new Map<IsoDate, number[]>();
  for (let i = 0; i < n; i++) {
    const rows = byDate.get(dates[i]);
    if (rows) rows.push(i);
    else byDate.set(dates[i], [i]);
  }
  for (const rows of byDate.values()) {
    const m = rows.length;
    if (m < 2) continue; // out stays 0
    for (let k = 0; k < horizon; k++) {
      const v = rows.map((i) => values[i * horizon + k]);
      if (norm === 'zscore') {
        const mean = v.reduce((a, b) => a + b, 0) / m;
        const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (m - 1));
        rows.forEach((i, j) => (out[i * horizon + k] = std > 0 ? (v[j] - mean) / std : 0));
      } else {
        const order = v.map((_, j) => j).sort((a, b) => v[a] - v[b]);
        for (let s = 0; s < m; ) {
          let e = s;
          while (e + 1 < m && v[order[e + 1]] === v[order[s]]) e++;
          const pct = (s + e + 2) / 2 / m; // the average 1-based rank of the tie group, over m
          for (let t = s; t <= e; t++) out[rows[order[t]] * horizon + k] = pct - 0.5;
          s = e + 1;
        }
      }
    }
  }
  return out;
}
