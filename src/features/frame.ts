import type { IsoDate, KlineSeries } from '../data/types.js';
import { UserError } from '../util/errors.js';
import { FeatureContext, featureDefinition, warmupOf } from './registry.js';

/**
 * A symbol's features after the warm-up rows are dropped: row r of `values` is trading day `dates[r]`, with the
 * features in `featureNames` order (row-major [rows, F]). Suspensions are gaps in `dates`, never empty rows.
 */
export interface FeatureFrame {
  symbol: string;
  featureNames: string[];
  /** Leading rows of the series dropped because some feature was not yet defined on them. */
  warmupDropped: number;
  rows: number;
  dates: IsoDate[];
  /** Close of each kept row as the series has it (adjusted when data.adjust is), for targets and price reconstruction. */
  close: Float64Array;
  values: Float64Array;
}

/** Full-length feature columns (NaN in each feature's own warm-up), keyed by name. */
export function computeFeatureColumns(series: KlineSeries, names: readonly string[]): Map<string, Float64Array> {
  const ctx = new FeatureContext(series);
  const columns = new Map<string, Float64Array>();
  for (const name of names) columns.set(name, featureDefinition(name).compute(ctx));
  return columns;
}

/** Computes the features and drops the warm-up rows. Values are not yet checked: see assertFiniteRows. */
export function computeFeatureFrame(series: KlineSeries, names: readonly string[]): FeatureFrame {
  const warmup = warmupOf(names);
  const n = series.close.length;
  const rows = Math.max(0, n - warmup);
  const columns = computeFeatureColumns(series, names);
  const width = names.length;
  const values = new Float64Array(rows * width);
  names.forEach((name, f) => {
    const column = columns.get(name)!;
    for (let r = 0; r < rows; r++) values[r * width + f] = column[warmup + r];
  });
  return {
    symbol: series.symbol,
    featureNames: [...names],
    warmupDropped: Math.min(warmup, n),
    rows,
    dates: series.dates.slice(warmup),
    close: series.close.slice(warmup),
    values,
  };
}

/**
 * Fails on the first NaN or ±Infinity in rows [from, to) of the frame, naming symbol, date and feature:
 * nothing non-finite may reach the engine, and a bad bar should be found in the data, not guessed around.
 */
export function assertFiniteRows(frame: FeatureFrame, from = 0, to = frame.rows): void {
  const width = frame.featureNames.length;
  for (let r = from; r < to; r++) {
    for (let f = 0; f < width; f++) {
      const v = frame.values[r * width + f];
      if (!Number.isFinite(v)) {
        throw new UserError(
          `${frame.symbol}: feature "${frame.featureNames[f]}" is ${v} on ${frame.dates[r]}; check that bar and the ones ` +
            `before it for zero or missing values (the source may lack this column), or leave the feature out`,
          'non_finite_feature',
          { symbol: frame.symbol, date: frame.dates[r], feature: frame.featureNames[f], value: String(v) },
        );
      }
    }
    const c = frame.close[r];
    if (!(c > 0) || !Number.isFinite(c)) {
      throw new UserError(`${frame.symbol}: close is ${c} on ${frame.dates[r]}; log-return targets need positive closes`, 'non_finite_feature', {
        symbol: frame.symbol,
        date: frame.dates[r],
        feature: 'close',
        value: String(c),
      });
    }
  }
}
