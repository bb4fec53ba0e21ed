/**
 * A small reader of the real A-share CSVs in ../shared/data/ashare into KlineSeries, for tests and benchmarks.
 * It reads files in place and knows only that folder's header (see its SOURCES.md); the real importer lives in
 * src/data. Empty cells become NaN; turnover_rate is absent there, so it is NaN throughout.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KlineSeries } from '../../src/data/types.js';
import { ASHARE_DIR } from './env.js';

const COLUMNS = ['open', 'high', 'low', 'close', 'pre_close', 'change', 'pct_chg', 'vol', 'amount'] as const;

/** The 6-digit codes of the stock files (index/ is left out). */
export function ashareSymbols(dir = ASHARE_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d{6}\.csv$/.test(f))
    .map((f) => f.slice(0, 6))
    .sort();
}

export function parseAshareCsv(text: string, symbol: string): KlineSeries {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0].split(',');
  const index = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${symbol}: CSV has no column ${name}`);
    return i;
  };
  const dateCol = index('trade_date');
  const cols = COLUMNS.map(index);
  const n = lines.length - 1;
  const arrays = COLUMNS.map(() => new Float64Array(n));
  const dates = new Array<string>(n);
  for (let r = 0; r < n; r++) {
    const cells = lines[r + 1].split(',');
    dates[r] = cells[dateCol];
    for (let c = 0; c < cols.length; c++) {
      const cell = cells[cols[c]];
      arrays[c][r] = cell === '' || cell === undefined ? NaN : Number(cell);
    }
  }
  const [open, high, low, close, preClose, change, pctChg, vol, amount] = arrays;
  return { symbol, dates, open, high, low, close, preClose, change, pctChg, vol, amount, turnoverRate: new Float64Array(n).fill(NaN) };
}

export function readAshare(symbol: string, dir = ASHARE_DIR): KlineSeries {
  return parseAshareCsv(readFileSync(join(dir, `${symbol}.csv`), 'utf8'), symbol);
}
