/**
 * The prediction ledger's table access (`ai_predictions`, DESIGN.md §1): record forecasts (an upsert on run + symbol +
 * base date + target date + step, so a repeat updates its row), list them, and reconcile them with the bars that
 * arrived since: actual close, error, absolute error, actual return, and whether the actual lay in the interval.
 * What a forecast is and how rows are scored belong to the prediction layer; this module only stores and reads.
 */
import type { InsertObject } from 'kysely';
import type { DatabaseHandle } from './db/connection.js';
import { LEDGER_KEY, LEDGER_TABLE, LEGACY_LEDGER_FILL } from './db/migrations.js';
import type { AiPredictionsTable, DatabaseSchema, Db } from './db/schema.js';
import { upsert } from './db/upsert.js';
import { sqlNow } from './db/url.js';
import type { IsoDate, Symbol6 } from './types.js';

export const LEDGER_SOURCES = ['cli', 'api', 'batch'] as const;
export type LedgerSource = (typeof LEDGER_SOURCES)[number];

/** One step of one forecast, as recorded. */
export interface LedgerForecast {
  run: string;
  symbol: Symbol6;
  baseDate: IsoDate;
  targetDate: IsoDate;
  step: number;
  baseClose: number;
  predictedPrice: number;
  predictedReturn: number;
  lower: number | null;
  upper: number | null;
  intervalMethod: string | null;
  intervalLevel: number | null;
  source: LedgerSource;
}

/** A ledger row as read back: the forecast, when it was recorded, and what happened once known. */
export interface LedgerEntry extends LedgerForecast {
  createdAt: string;
  updatedAt: string;
  /**
   * false for a forecast whose target day's bar was already in the database when it was first recorded (one from a past
   * --end-date): scores leave it out of the live figures. null on rows recorded without the flag.
   */
  live: boolean | null;
  /** null until the target day's bar is in the database and the row was reconciled */
  actualClose: number | null;
  /** predicted − actual */
  error: number | null;
  absError: number | null;
  /** log(actual / base close), comparable with predictedReturn */
  actualReturn: number | null;
  /** null without an interval or before reconciliation */
  inInterval: boolean | null;
  reconciledAt: string | null;
}

export interface LedgerFilter {
  run?: string;
  symbol?: Symbol6;
  /** forecasts whose base date is on or after this day */
  since?: IsoDate;
  /** rows whose target day is known (reconciled) only */
  reconciledOnly?: boolean;
}

export interface ReconcileResult {
  /** unreconciled rows looked at */
  pending: number;
  /** rows that got their actual close now */
  reconciled: number;
}

/** Rows per multi-row statement: 500 × 23 parameters stays under SQLite's variable limit. */
const ROWS_PER_STATEMENT = 500;

/** The actual fields, reset whenever a forecast is recorded again (its prediction may have changed), then reconciled anew. */
const ACTUAL_COLUMNS = ['actual_close', 'error', 'abs_error', 'actual_return', 'in_interval', 'reconciled_at'] as const;
/** A forecast's own figures: what recording it again may change. */
const PREDICTION_COLUMNS = [
  'base_close',
  'predicted_price',
  'predicted_return',
  'lower_bound',
  'upper_bound',
  'interval_method',
  'interval_level',
  'source',
] as const;
const UPDATED_COLUMNS = [...PREDICTION_COLUMNS, 'updated_at', ...ACTUAL_COLUMNS] as const;

/**
 * The legacy columns of a user's own ai_predictions that are filled beside klinecast's (LEGACY_LEDGER_FILL), read from
 * the table once per resolved schema: `db migrate` refreshes the schema, which drops this cache with it.
 */
const legacyColumnsCache = new WeakMap<object, Promise<string[]>>();

async function legacyColumns(handle: DatabaseHandle): Promise<string[]> {
  let cached = legacyColumnsCache.get(handle.schema);
  if (!cached) {
    cached = handle.db.introspection.getTables().then((tables) => {
      const table = tables.find((t) => t.name === LEDGER_TABLE);
      return table ? table.columns.map((c) => c.name).filter((c) => Object.hasOwn(LEGACY_LEDGER_FILL, c.toLowerCase())) : [];
    });
    legacyColumnsCache.set(handle.schema, cached);
    cached.catch(() => legacyColumnsCache.delete(handle.schema));
  }
  return cached;
}

function toRow(f: LedgerForecast, now: string, known: boolean): InsertObject<DatabaseSchema, 'ai_predictions'> {
  return {
    run_name: f.run,
    symbol: f.symbol,
    base_date: f.baseDate,
    target_date: f.targetDate,
    step: f.step,
    base_close: f.baseClose,
    predicted_price: f.predictedPrice,
    predicted_return: f.predictedReturn,
    lower_bound: f.lower,
    upper_bound: f.upper,
    interval_method: f.intervalMethod,
    interval_level: f.intervalLevel,
    source: f.source,
    created_at: now,
    updated_at: now,
    live: known ? 0 : 1,
    actual_close: null,
    error: null,
    abs_error: null,
    actual_return: null,
    in_interval: null,
    reconciled_at: null,
  };
}

/**
 * Records forecasts: one row per (run, symbol, base date, target date, step); a key already recorded is updated (its
 * prediction, source and updated_at; created_at stays the first time), and its actual fields are reconciled again at
 * once, so a forecast from a past base date is scored as soon as it is made. Throws what the database throws
 * (a missing table, a read-only file): the caller decides whether that may stop the forecast.
 */
export async function recordForecasts(handle: DatabaseHandle, forecasts: readonly LedgerForecast[]): Promise<ReconcileResult> {
  if (forecasts.length === 0) return { pending: 0, reconciled: 0 };
  const legacy = await legacyColumns(handle);
  const now = sqlNow();
  // Whether each target day's bar is in already decides `live`; only the first recording sets it (not in UPDATED_COLUMNS).
  const closes = await closesOf(handle.db, forecasts.map((f) => ({ symbol: f.symbol, date: f.targetDate })));
  const rows = forecasts.map((f) => {
    const row = toRow(f, now, closes.has(`${f.symbol} ${f.targetDate}`)) as Record<string, unknown>;
    for (const column of legacy) row[column] = row[LEGACY_LEDGER_FILL[column.toLowerCase()]];
    return row as InsertObject<DatabaseSchema, 'ai_predictions'>;
  });
  const update = [...UPDATED_COLUMNS, ...legacy];
  await handle.db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      await upsert(trx, handle.dialect, 'ai_predictions', rows.slice(i, i + ROWS_PER_STATEMENT), LEDGER_KEY, update);
    }
  });
  const runs = new Set(forecasts.map((f) => f.run));
  const symbols = [...new Set(forecasts.map((f) => f.symbol))];
  let total: ReconcileResult = { pending: 0, reconciled: 0 };
  for (const run of runs) {
    const r = await reconcileRows(handle.db, { run }, symbols);
    total = { pending: total.pending + r.pending, reconciled: total.reconciled + r.reconciled };
  }
  return total;
}

type Row = Pick<
  AiPredictionsTable,
  | 'run_name'
  | 'symbol'
  | 'base_date'
  | 'target_date'
  | 'step'
  | 'base_close'
  | 'predicted_price'
  | 'predicted_return'
  | 'lower_bound'
  | 'upper_bound'
  | 'interval_method'
  | 'interval_level'
  | 'source'
  | 'created_at'
  | 'updated_at'
  | 'live'
  | 'actual_close'
  | 'error'
  | 'abs_error'
  | 'actual_return'
  | 'in_interval'
  | 'reconciled_at'
>;

function filtered(db: Db, filter: LedgerFilter, symbols?: readonly string[]) {
  let q = db
    .selectFrom('ai_predictions')
    // A user's legacy rows carry no run or base date: they are not klinecast's forecasts and cannot be scored.
    .where('run_name', 'is not', null)
    .where('base_date', 'is not', null)
    .where('target_date', 'is not', null);
  if (filter.run !== undefined) q = q.where('run_name', '=', filter.run);
  if (filter.symbol !== undefined) q = q.where('symbol', '=', filter.symbol);
  if (symbols !== undefined) q = q.where('symbol', 'in', symbols.length ? [...symbols] : ['']);
  if (filter.since !== undefined) q = q.where('base_date', '>=', filter.since);
  if (filter.reconciledOnly) q = q.where('actual_close', 'is not', null);
  return q;
}

function toEntry(r: Row): LedgerEntry {
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    run: r.run_name as string,
    symbol: r.symbol as string,
    baseDate: r.base_date as string,
    targetDate: r.target_date as string,
    step: Number(r.step),
    baseClose: Number(r.base_close),
    predictedPrice: Number(r.predicted_price),
    predictedReturn: Number(r.predicted_return),
    lower: num(r.lower_bound),
    upper: num(r.upper_bound),
    intervalMethod: r.interval_method,
    intervalLevel: num(r.interval_level),
    source: r.source as LedgerSource,
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    live: r.live === null ? null : Number(r.live) === 1,
    actualClose: num(r.actual_close),
    error: num(r.error),
    absError: num(r.abs_error),
    actualReturn: num(r.actual_return),
    inInterval: r.in_interval === null ? null : Number(r.in_interval) === 1,
    reconciledAt: r.reconciled_at === null ? null : String(r.reconciled_at),
  };
}

const SELECTED = [
  'run_name',
  'symbol',
  'base_date',
  'target_date',
  'step',
  ...PREDICTION_COLUMNS,
  'created_at',
  'updated_at',
  'live',
  ...ACTUAL_COLUMNS,
] as const satisfies ReadonlyArray<keyof Row>;

/** Ledger rows, newest base date first (then run, symbol, target date, step); `limit` cuts the list. */
export async function listForecasts(handle: DatabaseHandle, filter: LedgerFilter = {}, limit?: number): Promise<LedgerEntry[]> {
  let q = filtered(handle.db, filter)
    .select([...SELECTED])
    .orderBy('base_date', 'desc')
    .orderBy('run_name')
    .orderBy('symbol')
    .orderBy('target_date')
    .orderBy('step');
  if (limit !== undefined) q = q.limit(limit);
  return (await q.execute()).map((r) => toEntry(r as Row));
}

/**
 * Fills the actual fields of every unreconciled row (in the filter) whose target day's bar is now in the database.
 * Idempotent: a reconciled row is left alone until it is recorded again.
 */
export async function reconcileForecasts(handle: DatabaseHandle, filter: Omit<LedgerFilter, 'reconciledOnly'> = {}): Promise<ReconcileResult> {
  return reconcileRows(handle.db, filter);
}

/** Symbols per close lookup: keeps the IN lists short on both dialects. */
const SYMBOLS_PER_LOOKUP = 400;

/** The closes of the (symbol, day) pairs that have a bar, keyed "symbol day": one ranged query per chunk of symbols. */
async function closesOf(db: Db, pairs: ReadonlyArray<{ symbol: string; date: string }>): Promise<Map<string, number>> {
  const bySymbol = new Map<string, Set<string>>();
  for (const p of pairs) {
    const dates = bySymbol.get(p.symbol) ?? new Set<string>();
    dates.add(p.date);
    bySymbol.set(p.symbol, dates);
  }
  const closes = new Map<string, number>();
  const all = [...bySymbol.keys()];
  for (let i = 0; i < all.length; i += SYMBOLS_PER_LOOKUP) {
    const chunk = all.slice(i, i + SYMBOLS_PER_LOOKUP);
    const dates = chunk.flatMap((s) => [...bySymbol.get(s)!]);
    const bars = await db
      .selectFrom('stock_kline_data')
      .select(['symbol', 'trade_date', 'close'])
      .where('symbol', 'in', chunk)
      .where('trade_date', '>=', dates.reduce((a, b) => (a < b ? a : b)))
      .where('trade_date', '<=', dates.reduce((a, b) => (a > b ? a : b)))
      .execute();
    for (const b of bars) if (bySymbol.get(b.symbol)?.has(b.trade_date)) closes.set(`${b.symbol} ${b.trade_date}`, Number(b.close));
  }
  return closes;
}

async function reconcileRows(db: Db, filter: Omit<LedgerFilter, 'reconciledOnly'>, symbols?: readonly string[]): Promise<ReconcileResult> {
  const pending = await filtered(db, filter, symbols)
    .where('actual_close', 'is', null)
    .select(['run_name', 'symbol', 'base_date', 'target_date', 'step', 'predicted_price', 'base_close', 'lower_bound', 'upper_bound'])
    .execute();
  if (pending.length === 0) return { pending: 0, reconciled: 0 };
  const closes = await closesOf(
    db,
    pending.map((r) => ({ symbol: r.symbol as string, date: r.target_date as string })),
  );
  const known = pending.filter((r) => closes.has(`${r.symbol} ${r.target_date}`));
  if (known.length === 0) return { pending: pending.length, reconciled: 0 };
  const now = sqlNow();
  await db.transaction().execute(async (trx) => {
    for (const r of known) {
      const actual = closes.get(`${r.symbol} ${r.target_date}`)!;
      const predicted = Number(r.predicted_price);
      const lower = r.lower_bound === null ? null : Number(r.lower_bound);
      const upper = r.upper_bound === null ? null : Number(r.upper_bound);
      await trx
        .updateTable('ai_predictions')
        .set({
          actual_close: actual,
          error: predicted - actual,
          abs_error: Math.abs(predicted - actual),
          actual_return: Math.log(actual / Number(r.base_close)),
          in_interval: lower === null || upper === null ? null : lower <= actual && actual <= upper ? 1 : 0,
          reconciled_at: now,
        })
        .where('run_name', '=', r.run_name)
        .where('symbol', '=', r.symbol)
        .where('base_date', '=', r.base_date)
        .where('target_date', '=', r.target_date)
        .where('step', '=', r.step)
        .execute();
    }
  });
  return { pending: pending.length, reconciled: known.length };
}
