/**
 * A-share trading rules as of a date: the board of a code, its daily price limit, the days after listing without a
 * limit, lot sizes, and whether a price sits at the limit (docs/TRADING.md, "Rules", names the sources and dates).
 */
import { boardOf, type Board } from '../../data/symbols.js';
import type { IsoDate, Symbol6 } from '../../data/types.js';

export type TradingBoard = 'main' | 'chinext' | 'star' | 'bse';

const BOARDS: Record<Board, TradingBoard> = { 主板: 'main', 创业板: 'chinext', 科创板: 'star', 北交所: 'bse' };

/** The board of a 6-digit code, by the data layer's one prefix table (boardOf): main, ChiNext, STAR or Beijing; null for anything else (indices, funds). */
export function tradingBoardOf(symbol: Symbol6): TradingBoard | null {
  const info = boardOf(symbol);
  return info ? BOARDS[info.stockType] : null;
}

/** ST or *ST, from the stock's name or stock_type in stock_basic_info (today's name: a past ST spell that ended is not seen). */
export function isSpecialTreatment(name: string | null | undefined, stockType?: string | null): boolean {
  return /^(S\*?|\*)?ST/i.test((name ?? '').trim()) || /ST/.test(stockType ?? '');
}

/** ChiNext moved to ±20% limits (and 5 unlimited days after listing) with the registration reform's first trading day. */
export const CHINEXT_REFORM_DATE = '2020-08-24';
/** The main boards adopted the same listing rule (5 days without limit) with full registration. */
export const MAIN_REGISTRATION_DATE = '2023-04-10';

/** The daily limit as a fraction of pre_close (0.1 = ±10%) on trade day `date` (the listing's unlimited days aside). */
export function priceLimit(board: TradingBoard, st: boolean, date: IsoDate): number {
  switch (board) {
    case 'main':
      return st ? 0.05 : 0.1;
    case 'chinext':
      return date >= CHINEXT_REFORM_DATE ? 0.2 : st ? 0.05 : 0.1;
    case 'star':
      return 0.2;
    case 'bse':
      return 0.3;
  }
}

/**
 * How many of a stock's first trading days (the listing day is day 1) have no price limit, for a stock listed on
 * `listDate`: 5 on STAR, on ChiNext from 2020-08-24 and on the main boards from 2023-04-10; otherwise only the listing
 * day (whose old ±44% / −36% band is wider than any move the limit rules model, so it counts as unlimited); BSE 1.
 */
export function unlimitedListingDays(board: TradingBoard, listDate: IsoDate): number {
  if (board === 'star') return 5;
  if (board === 'chinext') return listDate >= CHINEXT_REFORM_DATE ? 5 : 1;
  if (board === 'main') return listDate >= MAIN_REGISTRATION_DATE ? 5 : 1;
  return 1;
}

/** Round half up to the fen (0.01 CNY), as the exchanges round limit prices; the 1e-7 absorbs binary error (10.05 · 1.1). */
export function roundToFen(price: number): number {
  return Math.round(price * 100 + 1e-7) / 100;
}

/** The limit-up and limit-down prices from the previous close. */
export function limitPrices(preClose: number, limit: number): { up: number; down: number } {
  return { up: roundToFen(preClose * (1 + limit)), down: roundToFen(preClose * (1 - limit)) };
}

/**
 * Whether `price` is at (or beyond) the limit price. Within half a fen: on unadjusted prices, which lie on the 0.01 grid,
 * that is exactly "equals the limit price"; on adjusted (qfq) prices, which do not, it tolerates their rescaled tick.
 */
export function atLimitUp(price: number, up: number): boolean {
  return price >= up - 0.005 - 1e-9;
}

export function atLimitDown(price: number, down: number): boolean {
  return price <= down + 0.005 + 1e-9;
}

/** Minimum buy and step, in shares: STAR buys start at 200 shares then go in steps of 1; elsewhere lots of 100. */
export function lotRule(board: TradingBoard | null): { min: number; step: number } {
  return board === 'star' ? { min: 200, step: 1 } : { min: 100, step: 100 };
}

/** The largest buy quantity ≤ `shares` the board allows, or 0 when even the minimum does not fit. */
export function roundBuyShares(shares: number, board: TradingBoard | null): number {
  const { min, step } = lotRule(board);
  const whole = Math.floor(shares + 1e-9);
  if (whole < min) return 0;
  return Math.floor(whole / step) * step;
}

/**
 * The quantity of a sell of `shares` out of `held`: a whole position can always be sold (odd lots included). A part is
 * rounded down to the lot of 100; on STAR a part must be at least 200 shares (then any number), and a holding under 200
 * can only be sold whole. 0 when the part is too small.
 */
export function roundSellShares(shares: number, held: number, board: TradingBoard | null): number {
  if (shares >= held) return held;
  if (board === 'star') return held < 200 ? held : shares < 200 ? 0 : Math.floor(shares);
  return Math.floor(shares / 100) * 100;
}
