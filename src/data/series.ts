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

/** Rows [from, to) of a series as views (the typed-array columns are subarrays; no copy). */
export function sliceSeries(series: KlineSeries, from: number, to: number = series.dates.length): KlineSeries {
  const cut = (a: Float64Array) => a.subarray(from, to);
  return {
    symbol: series.symbol,
    dates: series.dates.slice(from, to),
    open: cut(series.open),
    high: cut(series.high),
    low: cut(series.low),
    close: cut(series.close),
    preClose: cut(series.preClose),
    change: cut(series.change),
    pctChg: cut(series.pctChg),
    vol: cut(series.vol),
    amount: cut(series.amount),
    turnoverRate: cut(series.turnoverRate),
    ...(series.adjustment && {
      adjustment: {
        ...series.adjustment,
        multiplier: cut(series.adjustment.multiplier),
        exRights: series.adjustment.exRights.filter((e) => e.date > series.dates[from] && to > from && e.date <= series.dates[to - 1]),
      },
    }),
  };
}

/** The inverse of barsToSeries, for writing a series to the database: NaN turnover becomes NULL; columns the series does not carry are NULL. */
export function seriesToBars(series: KlineSeries): KlineBar[] {
  return series.dates.map((tradeDate, i) => ({
    symbol: series.symbol,
    tradeDate,
    open: series.open[i],
    high: series.high[i],
    low: series.low[i],
    close: series.close[i],
    preClose: series.preClose[i],
    change: series.change[i],
    pctChg: series.pctChg[i],
    vol: series.vol[i],
    amount: series.amount[i],
    turnoverRate: Number.isNaN(series.turnoverRate[i]) ? null : series.turnoverRate[i],
    pe: null,
    pb: null,
    totalMv: null,
    circMv: null,
    limitStatus: null,
  }));
}
