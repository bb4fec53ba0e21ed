/** A 6-digit A-share code without exchange suffix, e.g. "600519". */
export type Symbol6 = string;

/** A calendar date as "YYYY-MM-DD". Dates travel as strings so that no time zone can shift them. */
export type IsoDate = string;

/** 0 = none, 1 = closed at limit-up, -1 = closed at limit-down (DESIGN.md §1). */
export type LimitStatus = 0 | 1 | -1;

/** One row of `stock_kline_data`, with numbers as numbers. */
export interface KlineBar {
  symbol: Symbol6;
  tradeDate: IsoDate;
  open: number;
  high: number;
  low: number;
  close: number;
  preClose: number;
  change: number;
  pctChg: number;
  /** lots of 100 shares */
  vol: number;
  /** thousand CNY */
  amount: number;
  turnoverRate: number | null;
  pe: number | null;
  pb: number | null;
  totalMv: number | null;
  circMv: number | null;
  limitStatus: LimitStatus | null;
}

/**
 * One symbol's bars in columns, ordered by date. This is what features and batch work consume:
 * typed arrays keep 5,000 stocks × 1,000 days out of the object heap.
 * Nullable columns hold NaN where the database has NULL.
 */
export interface KlineSeries {
  symbol: Symbol6;
  dates: IsoDate[];
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  preClose: Float64Array;
  change: Float64Array;
  pctChg: Float64Array;
  vol: Float64Array;
  amount: Float64Array;
  turnoverRate: Float64Array;
}

/** One row of `stock_basic_info`. */
export interface StockInfo {
  symbol: Symbol6;
  name: string;
  exchange: string | null;
  market: string | null;
  stockType: string | null;
  industry: string | null;
  listDate: IsoDate | null;
  delistDate: IsoDate | null;
  isActive: boolean;
}
