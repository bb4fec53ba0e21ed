/**
 * tushare adj_factor exports (`pro.adj_factor(ts_code=…)`: ts_code, trade_date, adj_factor), read row by row into
 * the adj_factor table's rows. klinecast's own spelling (symbol instead of ts_code) is read too. Bad rows become
 * issues with their line and reason, as bars do.
 */
import { daysBetween, parseDateLoose, todayInChina } from '../dates.js';
import { parseSymbolLoose } from '../symbols.js';
import type { IsoDate, Symbol6 } from '../types.js';
import type { CsvRow } from './csv.js';
import { normaliseHeader } from './formats.js';
import { closedDayReason, DECIMAL_RE, MARKET_OPENED, shown, type ImportIssue, type RowReaderOptions } from './parse.js';

export interface AdjFactorRow {
  symbol: Symbol6;
  tradeDate: IsoDate;
  adjFactor: number;
}

const PANDAS_INDEX = ['', 'unnamed: 0', 'index'];
const PRICE_COLUMNS = ['open', 'high', 'low', 'close'];

/** An adj_factor export: an adj_factor column and no prices (a daily export that carries adj_factor is read as bars). */
export function isAdjFactorHeader(header: readonly string[]): boolean {
  const names = header.map(normaliseHeader);
  return names.includes('adj_factor') && !PRICE_COLUMNS.some((c) => names.includes(c));
}

export type AdjFactorResult = { kind: 'row'; row: AdjFactorRow } | { kind: 'issue'; issue: ImportIssue };

export class AdjFactorRowReader {
  readonly format = 'tushare_adj_factor';
  private readonly width: number;
  /** the first line of each (symbol, date), for duplicates */
  private readonly seen = new Map<string, number>();
  private readonly today: IsoDate;

  private constructor(
    private readonly file: string,
    header: string[],
    private readonly symbolCol: number,
    private readonly dateCol: number,
    private readonly factorCol: number,
    options: RowReaderOptions,
  ) {
    this.width = header.length;
    this.today = options.today ?? todayInChina();
  }

  /** The reader for an adj_factor header, or the whole-file issue that rejects it (unknown or missing columns). */
  static fromHeader(file: string, header: CsvRow, options: RowReaderOptions = {}): AdjFactorRowReader | ImportIssue {
    if (header.fields === null) return { file, line: header.line, reason: `unreadable header: ${header.error}` };
    const names = header.fields.map(normaliseHeader);
    const find = (...candidates: string[]) => names.findIndex((n) => candidates.includes(n));
    const symbolCol = find('ts_code', 'symbol');
    const dateCol = find('trade_date');
    const factorCol = find('adj_factor');
    const known = new Set(['ts_code', 'symbol', 'trade_date', 'adj_factor', ...PANDAS_INDEX]);
    const unknown = header.fields.filter((_, i) => !known.has(names[i])).map((h) => h.trim());
    if (unknown.length) return { file, line: header.line, reason: `adj_factor header has unknown column(s): ${unknown.join(', ')}` };
    const lacking = [symbolCol < 0 ? 'ts_code' : null, dateCol < 0 ? 'trade_date' : null].filter((x): x is string => x !== null);
    if (lacking.length) return { file, line: header.line, reason: `adj_factor header lacks column(s): ${lacking.join(', ')}` };
    return new AdjFactorRowReader(file, header.fields, symbolCol, dateCol, factorCol, options);
  }

  row(row: CsvRow): AdjFactorResult {
    const issue = (reason: string): AdjFactorResult => ({ kind: 'issue', issue: { file: this.file, line: row.line, reason } });
    if (row.fields === null) return issue(row.error);
    const fields = row.fields;
    if (fields.length !== this.width) return issue(`expected ${this.width} fields, found ${fields.length}`);
    const rawSymbol = fields[this.symbolCol].trim();
    const symbol = parseSymbolLoose(rawSymbol);
    if (symbol === null) return issue(`unknown symbol format "${shown(rawSymbol)}" (expected 600519, 600519.SH or sh.600519)`);
    const rawDate = fields[this.dateCol].trim();
    const tradeDate = parseDateLoose(rawDate);
    if (tradeDate === null) return issue(`bad date "${shown(rawDate)}" (expected YYYY-MM-DD or YYYYMMDD)`);
    const closed = closedDayReason(tradeDate, this.today);
    if (closed !== null) return issue(closed);
    const rawFactor = fields[this.factorCol].trim();
    if (rawFactor === '') return issue('missing adj_factor');
    const adjFactor = Number(rawFactor);
    if (!Number.isFinite(adjFactor) || !DECIMAL_RE.test(rawFactor)) return issue(`bad number in adj_factor: "${shown(rawFactor)}"`);
    if (!(adjFactor > 0)) return issue(`non-positive adj_factor ${adjFactor}`);
    const key = `${symbol}:${daysBetween(MARKET_OPENED, tradeDate)}`;
    const first = this.seen.get(key);
    if (first !== undefined) return issue(`duplicate date ${tradeDate} for ${symbol} (first at line ${first})`);
    this.seen.set(key, row.line);
    return { kind: 'row', row: { symbol, tradeDate, adjFactor } };
  }
}
