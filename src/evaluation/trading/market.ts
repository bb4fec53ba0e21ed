/**
 * The market a simulation trades in: every stock's bars on one trading calendar, as dense typed arrays, and the
 * forecasts as scores on the same grid. Built once from plain rows; the day loop then reads arrays only.
 */
import type { IsoDate, LimitStatus, Symbol6 } from '../../data/types.js';
import { isSpecialTreatment, tradingBoardOf, type TradingBoard } from './rules.js';

/** One stock's bar as the simulation needs it. */
export interface MarketBarInput {
  date: IsoDate;
  open: number;
  close: number;
  preClose: number;
  /** Lots of 100 shares; 0 counts as suspended. */
  vol: number;
  limitStatus?: LimitStatus | null;
}

export interface MarketStockInput {
  symbol: Symbol6;
  bars: MarketBarInput[];
  /** stock_basic_info name and stock_type, when the database has them (ST is read from them). */
  name?: string | null;
  stockType?: string | null;
  listDate?: IsoDate | null;
}

export interface MarketStock {
  symbol: Symbol6;
  board: TradingBoard | null;
  st: boolean;
  listDate: IsoDate | null;
}

/** Code 2 in limitStatus: the bar does not say (the column is NULL or absent). */
export const LIMIT_UNKNOWN = 2;

export interface Market {
  /** Trading days, ascending: the union of the stocks' bar dates. */
  dates: IsoDate[];
  stocks: MarketStock[];
  /** [stock · dates.length + day]; NaN where the stock has no bar that day. */
  open: Float64Array;
  close: Float64Array;
  preClose: Float64Array;
  vol: Float64Array;
  /** 1 limit-up, -1 limit-down, 0 neither, LIMIT_UNKNOWN when the bar does not say. */
  limitStatus: Int8Array;
  /** The day's number since listing (the listing day is 1), 0 when the list date is unknown or later. */
  listingDay: Int32Array;
}

export function buildMarket(inputs: MarketStockInput[], extraDates: IsoDate[] = []): Market {
  const dateSet = new Set<IsoDate>(extraDates);
  for (const s of inputs) for (const b of s.bars) dateSet.add(b.date);
  const dates = [...dateSet].sort();
  const dayOf = new Map(dates.map((d, i) => [d, i]));
  const nd = dates.length;
  const size = inputs.length * nd;
  const open = new Float64Array(size).fill(NaN);
  const close = new Float64Array(size).fill(NaN);
  const preClose = new Float64Array(size).fill(NaN);
  const vol = new Float64Array(size).fill(NaN);
  const limitStatus = new Int8Array(size).fill(LIMIT_UNKNOWN);
  const listingDay = new Int32Array(size);
  const stocks: MarketStock[] = inputs.map((s, k) => {
    for (const b of s.bars) {
      const at = k * nd + (dayOf.get(b.date) as number);
      open[at] = b.open;
      close[at] = b.close;
      preClose[at] = b.preClose;
      vol[at] = b.vol;
      if (b.limitStatus === 0 || b.limitStatus === 1 || b.limitStatus === -1) limitStatus[at] = b.limitStatus;
    }
    const listDate = s.listDate ?? null;
    if (listDate !== null) {
      let count = 0;
      for (let d = 0; d < nd; d++) {
        const at = k * nd + d;
        if (dates[d] >= listDate && !Number.isNaN(close[at])) listingDay[at] = ++count;
      }
    }
    return { symbol: s.symbol, board: tradingBoardOf(s.symbol), st: isSpecialTreatment(s.name, s.stockType), listDate };
  });
  return { dates, stocks, open, close, preClose, vol, limitStatus, listingDay };
}

/** One forecast: made after the close of `date` for `symbol`. Higher scores rank first (the predicted return). */
export interface SignalInput {
  symbol: Symbol6;
  date: IsoDate;
  score: number;
}

/** Scores on the market's grid: [day · stocks.length + stock], NaN where there is no forecast. */
export interface Signals {
  scores: Float64Array;
  /** 1 on days with at least one forecast. */
  hasSignal: Uint8Array;
  /** Forecasts whose stock or date is not in the market (counted, not used). */
  unmatched: number;
}

export function buildSignals(market: Market, inputs: SignalInput[]): Signals {
  const ns = market.stocks.length;
  const nd = market.dates.length;
  const dayOf = new Map(market.dates.map((d, i) => [d, i]));
  const stockOf = new Map(market.stocks.map((s, i) => [s.symbol, i]));
  const scores = new Float64Array(ns * nd).fill(NaN);
  const hasSignal = new Uint8Array(nd);
  let unmatched = 0;
  for (const s of inputs) {
    const d = dayOf.get(s.date);
    const k = stockOf.get(s.symbol);
    if (d === undefined || k === undefined || !Number.isFinite(s.score)) {
      unmatched++;
      continue;
    }
    scores[d * ns + k] = s.score;
    hasSignal[d] = 1;
  }
  return { scores, hasSignal, unmatched };
}
