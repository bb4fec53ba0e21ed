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
  /**
   * Set when the prices are adjusted (data.adjust qfq / hfq, src/data/adjust.ts): how, and each bar's multiplier.
   * Prices (open, high, low, close, pre_close, change) are the raw ones × multiplier and vol is the raw one ÷ it;
   * amount, pct_chg and turnover_rate are as stored. Absent: the bars are as stored.
   */
  adjustment?: SeriesAdjustment;
}

/** How a series was adjusted (KlineSeries.adjustment). */
export interface SeriesAdjustment {
  mode: 'qfq' | 'hfq';
  /** where the factor steps came from: the adj_factor table, pre_close against the previous close, or both (adj_factor where it has the day) */
  source: 'adj_factor' | 'pre_close' | 'mixed';
  /** per bar: adjusted price = raw price × multiplier; 1 on the last bar (qfq) or the first (hfq) */
  multiplier: Float64Array;
  /** the ex-rights days found in the series, each with its factor step */
  exRights: ExRightsEvent[];
}

/** An ex-rights / ex-dividend day (除权除息日): the adjustment factor steps up by `step` = factor_t / factor_{t−1}. */
export interface ExRightsEvent {
  date: IsoDate;
  /** factor_t / factor_{t−1} (> 1 for a dividend or bonus shares: 1.5 for 10送5) */
  step: number;
  source: 'adj_factor' | 'pre_close';
  /** the raw close of the bar before and the raw pre_close of this bar */
  previousClose: number;
  preClose: number;
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
