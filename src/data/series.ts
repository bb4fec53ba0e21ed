import type { KlineBar, KlineSeries } from './types.js';

/** Bars of one symbol (ordered by date) in the columnar form features and batch work consume; NULL becomes NaN. */
export function barsToSeries(bars: KlineBar[]): KlineSeries {
  if (bars.length === 0) throw new Error('barsToSeries needs at least one bar (the symbol comes from the bars)');
  const column = (pick: (b: KlineBar) => number | null) => Float64Array.from(bars, (b) => pick(b) ?? NaN);
  return {
    symbol: bars[0].symbol,
    dates: bars.map((b) => b.tradeDate),
    open: column((b) => b.open),
    high: column((b) => b.high),
    low: column((b) => b.low),
    close: column((b) => b.close),
    preClose: column((b) => b.preClose),
    change: column((b) => b.change),
    pctChg: column((b) => b.pctChg),
    vol: column((b) => b.vol),
    amount: column((b) => b.amount),
    turnoverRate: column((b) => b.turnoverRate),
  };
}
