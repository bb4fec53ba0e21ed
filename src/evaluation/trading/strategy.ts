/** The strategies `klinecast simulate` offers: Qlib's TopkDropout over many stocks, and long-flat on one stock. */
import type { DayContext, Strategy } from './simulator.js';

export interface TopkOptions {
  /** Stocks to hold. */
  topk: number;
  /** At most this many held stocks are replaced a day. */
  nDrop: number;
  /** Share of the cash (after the day's sells) spent on the day's buys, split evenly (Qlib's risk_degree). */
  riskDegree: number;
}

export const TOPK_DEFAULTS: TopkOptions = { topk: 10, nDrop: 2, riskDegree: 0.95 };

/** A score for ranking: a stock without a forecast ranks below every forecast one, as NaN sorts last in Qlib. */
const rankScore = (scores: Float64Array, stock: number) => (Number.isNaN(scores[stock]) ? -Infinity : scores[stock]);

/**
 * Qlib's TopkDropoutStrategy (method_sell "bottom", method_buy "top", only_tradable false): of the held stocks and the
 * best (n_drop + topk − held) others, the held ones among the n_drop lowest are sold; the best (sold + topk − held)
 * others are bought, each with cash · risk_degree / their number. Orders that cannot fill (limit, suspension) are
 * refused by the simulator, so a refused sell stays held and a refused buy leaves its cash idle, as in Qlib.
 */
export function topkDropout(options: TopkOptions): Strategy {
  const { topk, nDrop, riskDegree } = options;
  return {
    name: 'topk',
    decide(ctx: DayContext) {
      const { scores } = ctx;
      const held = ctx.holdings();
      const heldSet = new Set(held);
      const wanted = nDrop + topk - held.length;
      const candidates: number[] = [];
      if (wanted > 0) {
        for (let k = 0; k < scores.length; k++) if (!heldSet.has(k) && !Number.isNaN(scores[k])) candidates.push(k);
        // Ties broken by stock order, so the result is deterministic.
        candidates.sort((a, b) => scores[b] - scores[a] || a - b);
        candidates.length = Math.min(candidates.length, wanted);
      }
      const comb = [...held, ...candidates].sort((a, b) => rankScore(scores, b) - rankScore(scores, a) || a - b);
      const bottom = new Set(nDrop > 0 ? comb.slice(-nDrop) : []);
      const sell = held.filter((k) => bottom.has(k));
      const buy = candidates.slice(0, Math.max(0, sell.length + topk - held.length));
      for (const k of sell) ctx.sell(k);
      if (buy.length === 0) return;
      const value = (ctx.cash() * riskDegree) / buy.length;
      for (const k of buy) ctx.buy(k, value);
    },
  };
}

export interface LongFlatOptions {
  /** The market index of the one stock traded. */
  stock: number;
  /** Hold while the predicted return is above this. */
  threshold: number;
  /** Share of the equity put in when entering (0-1]. */
  position: number;
}

export const LONG_FLAT_DEFAULTS = { threshold: 0, position: 0.95 };

/** One stock: buy when flat and the forecast is above the threshold, sell everything when held and it is not. A day without a forecast changes nothing. */
export function longFlat(options: LongFlatOptions): Strategy {
  return {
    name: 'long-flat',
    decide(ctx: DayContext) {
      const score = ctx.scores[options.stock];
      if (Number.isNaN(score)) return;
      const holding = ctx.shares(options.stock) > 0;
      if (holding && score <= options.threshold) ctx.sell(options.stock);
      else if (!holding && score > options.threshold) ctx.buy(options.stock, Math.min(ctx.cash(), ctx.previousEquity() * options.position));
    },
  };
}
