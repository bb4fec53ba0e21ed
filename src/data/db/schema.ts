import type { Generated, Kysely } from 'kysely';

/**
 * The tables klinecast reads and writes, as Kysely sees them. Only the columns klinecast uses are
 * declared, so a user's own `stock_db` with extra columns (an `id`, timestamps) works unchanged.
 * Dates travel as 'YYYY-MM-DD' strings on both dialects (mysql2 runs with dateStrings).
 */
export interface StockKlineTable {
  symbol: string;
  trade_date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  pre_close: number;
  change: number;
  pct_chg: number;
  vol: number;
  amount: number;
  turnover_rate: number | null;
  pe: number | null;
  pb: number | null;
  total_mv: number | null;
  circ_mv: number | null;
  limit_status: number | null;
}

export interface StockBasicInfoTable {
  symbol: string;
  name: string;
  exchange: string | null;
  market: string | null;
  stock_type: string | null;
  industry: string | null;
  list_date: string | null;
  delist_date: string | null;
  /** 1 / 0 (a number on both dialects) */
  is_active: number;
}

export interface TradeCalendarTable {
  trade_date: string;
}

/** One trained model, written by batch work (DESIGN.md §6); `metrics` is JSON text. */
export interface ModelRegistryTable {
  id: Generated<number>;
  run_name: string;
  symbol: string | null;
  model_type: string;
  config_hash: string;
  status: string;
  metrics: string | null;
  path: string;
  host: string;
  /** 'YYYY-MM-DD HH:MM:SS' UTC */
  created_at: string;
  finished_at: string | null;
}

/** tushare's adj_factor (复权因子) per stock and day, filled by `data import` from an adj_factor export (src/data/adjust.ts). */
export interface AdjFactorTable {
  symbol: string;
  trade_date: string;
  adj_factor: number;
}

/**
 * `ai_predictions`, the prediction ledger (DESIGN.md §1): one row per forecast (run, symbol, base date, target date,
 * step), the actual close and its error once the target day's bar is stored. Every column klinecast adds to a user's
 * existing (legacy) table is nullable, so the declared types allow null where a legacy row may hold it.
 */
export interface AiPredictionsTable {
  id: Generated<number>;
  run_name: string | null;
  symbol: string | null;
  /** the last bar the forecast starts from */
  base_date: string | null;
  /** the trading day forecast */
  target_date: string | null;
  /** 1…horizon */
  step: number | null;
  /** the base day's close, which is also the persistence forecast of the target day */
  base_close: number | null;
  predicted_price: number | null;
  /** log return from base_close: predicted_price = base_close · exp(predicted_return) */
  predicted_return: number | null;
  lower_bound: number | null;
  upper_bound: number | null;
  /** conformal | mc-dropout, null without an interval */
  interval_method: string | null;
  interval_level: number | null;
  /** cli | api | batch */
  source: string | null;
  /** 'YYYY-MM-DD HH:MM:SS' UTC: the first time this key was forecast, and the last */
  created_at: string | null;
  updated_at: string | null;
  /**
   * 1 when the forecast was first recorded before its target day's bar was in the database (a real forecast), 0 when
   * that bar was there already (a forecast from a past end date, made with hindsight of the calendar); kept on updates.
   */
  live: number | null;
  actual_close: number | null;
  /** predicted − actual, in price units */
  error: number | null;
  abs_error: number | null;
  /** log(actual_close / base_close) */
  actual_return: number | null;
  /** 1 when lower ≤ actual ≤ upper, 0 outside, null without an interval */
  in_interval: number | null;
  reconciled_at: string | null;
}

export interface MigrationTable {
  name: string;
  applied_at: string;
}

export interface DatabaseSchema {
  stock_kline_data: StockKlineTable;
  stock_basic_info: StockBasicInfoTable;
  trade_calendar: TradeCalendarTable;
  model_registry: ModelRegistryTable;
  adj_factor: AdjFactorTable;
  ai_predictions: AiPredictionsTable;
  klinecast_migration: MigrationTable;
}

export type Db = Kysely<DatabaseSchema>;
export type Dialect = 'mysql' | 'sqlite';

/** Numeric scales of the MySQL DECIMAL columns; values are rounded to these before any write on either dialect. */
export const KLINE_SCALE = {
  open: 4,
  high: 4,
  low: 4,
  close: 4,
  pre_close: 4,
  change: 4,
  pct_chg: 4,
  vol: 2,
  amount: 4,
  turnover_rate: 4,
  pe: 4,
  pb: 4,
  total_mv: 4,
  circ_mv: 4,
} as const;

/** adj_factor's scale: tushare publishes 3 decimals; 6 keep other sources' factors too. */
export const ADJ_FACTOR_SCALE = 6;

export const KLINE_COLUMNS = [
  'symbol', 'trade_date', 'open', 'high', 'low', 'close', 'pre_close', 'change', 'pct_chg', 'vol', 'amount',
  'turnover_rate', 'pe', 'pb', 'total_mv', 'circ_mv', 'limit_status',
] as const satisfies ReadonlyArray<keyof StockKlineTable>;

export const BASIC_INFO_COLUMNS = [
  'symbol', 'name', 'exchange', 'market', 'stock_type', 'industry', 'list_date', 'delist_date', 'is_active',
] as const satisfies ReadonlyArray<keyof StockBasicInfoTable>;
