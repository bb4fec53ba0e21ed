/**
 * The forecasts a simulation trades on: a run's results/predictions.json or a backtest's forecasts.json (the same
 * PredictionsFile shape; a backtest adds `fold`). Validated here, at the boundary; only step-1 records are used: the
 * predicted return for t+1 made after the close of t.
 */
import { z } from 'zod';
import type { SignalInput } from './market.js';
import { normalizeSymbol } from '../../data/symbols.js';
import { UserError } from '../../util/errors.js';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');

const RecordSchema = z.object({
  symbol: z.string().optional(),
  date: isoDate,
  step: z.number().int().min(1),
  predicted_return: z.number().nullable(),
  fold: z.number().int().optional(),
});

export const ForecastsFileSchema = z.object({
  symbol: z.string().nullable().optional(),
  horizon: z.number().int().min(1).optional(),
  records: z.array(RecordSchema),
});

export interface ParsedForecasts {
  forecasts: SignalInput[];
  symbols: string[];
  /** Distinct forecast days. */
  days: number;
  first: string | null;
  last: string | null;
}

/** Step-1 forecasts of a PredictionsFile-shaped value; `file` names it in errors, `symbol` is a single-stock run's stock. */
export function parseForecasts(value: unknown, file: string, runSymbol?: string | null): ParsedForecasts {
  const parsed = ForecastsFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`${file} is not a forecasts file: ${issue.path.join('.') || '(top)'}: ${issue.message}`, 'bad_forecasts');
  }
  const fileSymbol = parsed.data.symbol ?? runSymbol ?? null;
  const forecasts: SignalInput[] = [];
  const symbols = new Set<string>();
  const days = new Set<string>();
  /** (stock, day) → its index in `forecasts` and the fold it came from (−1 without one). */
  const seen = new Map<string, { at: number; fold: number }>();
  for (const [i, r] of parsed.data.records.entries()) {
    if (r.step !== 1 || r.predicted_return === null) continue;
    const raw = r.symbol ?? fileSymbol;
    if (raw === null) throw new UserError(`${file}: record ${i} names no symbol, and neither does the file or its run`, 'bad_forecasts');
    const symbol = normalizeSymbol(raw);
    if (symbol === null) throw new UserError(`${file}: record ${i} has symbol "${raw}", not an A-share code`, 'bad_forecasts');
    const key = `${symbol} ${r.date}`;
    // Overlapping backtest folds may forecast a day twice: the later fold (trained on more) wins, else the later record.
    const fold = r.fold ?? -1;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      if (fold >= earlier.fold) {
        forecasts[earlier.at].score = r.predicted_return;
        earlier.fold = fold;
      }
      continue;
    }
    seen.set(key, { at: forecasts.length, fold });
    symbols.add(symbol);
    days.add(r.date);
    forecasts.push({ symbol, date: r.date, score: r.predicted_return });
  }
  if (forecasts.length === 0) throw new UserError(`${file} holds no step-1 forecast with a predicted_return`, 'bad_forecasts');
  const sorted = [...days].sort();
  return { forecasts, symbols: [...symbols].sort(), days: sorted.length, first: sorted[0], last: sorted[sorted.length - 1] };
}
