/** Daily bars written by hand in tests. */
import type { KlineBar } from '../../src/data/types.js';

/** A bar at `close` (open, high and low too unless given): change and pct_chg follow from pre_close, the fundamentals are unknown. */
export function testBar(symbol: string, tradeDate: string, close: number, preClose: number, rest: Partial<KlineBar> = {}): KlineBar {
  return {
    symbol,
    tradeDate,
    open: close,
    high: close,
    low: close,
    close,
    preClose,
    change: close - preClose,
    pctChg: ((close - preClose) / preClose) * 100,
    vol: 1000,
    amount: 1000,
    turnoverRate: null,
    pe: null,
    pb: null,
    totalMv: null,
    circMv: null,
    limitStatus: null,
    ...rest,
  };
}
