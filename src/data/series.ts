import { createHash } from 'node:crypto';
import type { IsoDate, KlineBar, KlineSeries } from './types.js';

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

/** Trading days (bars) per close checksum: about a quarter of a year, so a changed bar is named to within three months. */
export const CLOSE_BLOCK_SIZE = 64;

/** One block of bars as a run records it: its date range and a hash of every (date, close) in it. */
export interface CloseBlock {
  firstDate: IsoDate;
  lastDate: IsoDate;
  /** the first 16 hex digits of SHA-256 over "date:close" lines (the stored close, see closeBlocks) */
  sha256: string;
}

/**
 * The series' bars in blocks of `blockSize`, each with a checksum of its dates and closes: what a run records so
 * that a resume can tell which bars changed since (a corrected close, a re-imported file) and name their dates.
 * The close hashed is the stored one (an adjusted series' close divided by its multiplier), to 12 significant digits:
 * one changed bar moves the qfq multiplier of every bar before it, which must not make all earlier blocks "changed",
 * and the division's last-digit noise must not either.
 */
export function closeBlocks(series: Pick<KlineSeries, 'dates' | 'close' | 'adjustment'>, blockSize: number = CLOSE_BLOCK_SIZE): CloseBlock[] {
  const blocks: CloseBlock[] = [];
  const multiplier = series.adjustment?.multiplier;
  for (let from = 0; from < series.dates.length; from += blockSize) {
    const to = Math.min(from + blockSize, series.dates.length);
    const hash = createHash('sha256');
    for (let i = from; i < to; i++) {
      const stored = multiplier ? series.close[i] / multiplier[i] : series.close[i];
      hash.update(`${series.dates[i]}:${Number(stored.toPrecision(12))}\n`);
    }
    blocks.push({ firstDate: series.dates[from], lastDate: series.dates[to - 1], sha256: hash.digest('hex').slice(0, 16) });
  }
  return blocks;
}

/**
 * The date ranges whose bars differ between recorded blocks and the series now (same block size), adjacent changed
 * blocks merged into one range. A block that is missing on either side counts as changed.
 */
export function changedCloseRanges(
  recorded: readonly CloseBlock[],
  series: Pick<KlineSeries, 'dates' | 'close' | 'adjustment'>,
  blockSize: number = CLOSE_BLOCK_SIZE,
): Array<{ firstDate: IsoDate; lastDate: IsoDate }> {
  const now = closeBlocks(series, blockSize);
  const ranges: Array<{ firstDate: IsoDate; lastDate: IsoDate }> = [];
  let previousChanged = false;
  for (let i = 0; i < Math.max(recorded.length, now.length); i++) {
    const a = recorded[i];
    const b = now[i];
    const changed = !a || !b || a.sha256 !== b.sha256 || a.firstDate !== b.firstDate || a.lastDate !== b.lastDate;
    if (changed) {
      const firstDate = [a?.firstDate, b?.firstDate].filter((d): d is string => Boolean(d)).sort()[0];
      const lastDate = [a?.lastDate, b?.lastDate].filter((d): d is string => Boolean(d)).sort().at(-1)!;
      if (previousChanged) ranges[ranges.length - 1].lastDate = lastDate > ranges[ranges.length - 1].lastDate ? lastDate : ranges[ranges.length - 1].lastDate;
      else ranges.push({ firstDate, lastDate });
    }
    previousChanged = changed;
  }
  return ranges;
}
