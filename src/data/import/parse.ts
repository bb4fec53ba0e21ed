import { basename } from 'node:path';
import { daysBetween, parseDateLoose, todayInChina, weekday } from '../dates.js';
import { roundTo } from '../db/rows.js';
import { KLINE_SCALE } from '../db/schema.js';
import { parseSymbolLoose } from '../symbols.js';
import type { IsoDate, KlineBar, LimitStatus, Symbol6 } from '../types.js';
import { EXCHANGE_HOLIDAYS } from '../holidays.js';
import type { CsvRow } from './csv.js';
import { detectFormat, type DetectedLayout } from './formats.js';

export interface ImportIssue {
  file: string;
  /** 1-based line in the file; 1 is the header (whole-file problems) */
  line: number;
  reason: string;
}

/** A valid row before pre_close / change / pct_chg are completed. */
export interface KlineDraft {
  line: number;
  symbol: Symbol6;
  tradeDate: IsoDate;
  open: number;
  high: number;
  low: number;
  close: number;
  preClose: number | null;
  change: number | null;
  pctChg: number | null;
  vol: number;
  amount: number;
  turnoverRate: number | null;
  pe: number | null;
  pb: number | null;
  totalMv: number | null;
  circMv: number | null;
  limitStatus: LimitStatus | null;
}

/** The 6-digit code in a file name such as 600519.csv, 600519.SH.csv, sh.600519.csv or sh600519_daily.csv. */
export function symbolFromFileName(file: string): Symbol6 | null {
  const m = /(?:^|[^\d])(\d{6})(?:[^\d]|$)/.exec(basename(file));
  return m ? m[1] : null;
}

const NUMERIC_FIELDS = ['open', 'high', 'low', 'close', 'preClose', 'change', 'pctChg', 'vol', 'amount', 'turnoverRate', 'pe', 'pb', 'totalMv', 'circMv', 'limitStatus', 'tradeStatus'] as const;
type NumericField = (typeof NUMERIC_FIELDS)[number];

class RowError extends Error {}

/** Empty, NaN, null and "--" (a dash is how some Chinese exports write "no value"). */
function isEmptyCell(raw: string): boolean {
  if (raw === '' || raw === '--') return true;
  const c = raw.charCodeAt(0);
  // only strings starting with n/N can spell nan/null
  return (c === 110 || c === 78) && (raw.toLowerCase() === 'nan' || raw.toLowerCase() === 'null');
}

/** A decimal number as exports write it; hex (0x10), binary, octal, Infinity and `1_000` are bad values. */
export const DECIMAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A cell's text for an error message: short, so a reason never carries a long piece of the file. */
export function shown(raw: string): string {
  return raw.length > 24 ? `${raw.slice(0, 24)}…` : raw;
}

/** The first trading day of the Shanghai Stock Exchange; no A-share bar is older. */
export const MARKET_OPENED: IsoDate = '1990-12-19';

const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/**
 * Why a bar cannot be dated `date`, or null: the exchanges never trade on a weekend, on a known holiday
 * (holidays.ts), before the market opened, or on a day that has not come yet in China.
 */
export function closedDayReason(date: IsoDate, today: IsoDate): string | null {
  if (date < MARKET_OPENED) return `date ${date} is before the Shanghai exchange opened on ${MARKET_OPENED}`;
  if (date > today) return `date ${date} is in the future (today is ${today} in China)`;
  const wd = weekday(date);
  if (wd === 0 || wd === 6) return `date ${date} is a ${WEEKDAY_NAMES[wd]}: the exchanges do not trade on weekends`;
  if (EXCHANGE_HOLIDAYS.has(date)) return `date ${date} is an exchange holiday: the exchanges were closed`;
  return null;
}

export interface RowReaderOptions {
  /** the last date a bar may carry; default today in China */
  today?: IsoDate;
}

/** Each row is a draft, an issue, or a deliberately skipped row (baostock's suspended days). */
export type RowResult = { kind: 'draft'; draft: KlineDraft } | { kind: 'issue'; issue: ImportIssue } | { kind: 'skipped' };

/**
 * Reads one CSV export row by row into validated drafts, so a file of any size streams through. Built from
 * the header; every rejected row becomes an issue with its line and reason. The only state kept across rows
 * is the (symbol, date) pairs seen, for duplicates: one small map entry per distinct bar.
 */
export class KlineRowReader {
  readonly format: string;
  private readonly present: Array<{ field: NumericField; col: number; scale: number; name: string }>;
  private readonly symbolCol: number | undefined;
  private readonly dateCol: number;
  private readonly width: number;
  private readonly fileSymbol: Symbol6 | null;
  private readonly today: IsoDate;
  /**
   * The first line of each (symbol, date), for duplicates: per symbol, pages of PAGE_DAYS days' lines (0 = not
   * seen yet). 4 bytes a calendar day, so a stock with 30 years of bars holds about 44 KB, whatever the file size.
   */
  private readonly seen = new Map<Symbol6, Array<Int32Array | undefined>>();

  private constructor(
    private readonly file: string,
    header: string[],
    layout: DetectedLayout,
    options: RowReaderOptions,
  ) {
    const { format, index, scale } = layout;
    this.format = format.name;
    this.width = header.length;
    this.fileSymbol = symbolFromFileName(file);
    // Only the columns this file has, resolved once: row() runs for every line of every file.
    this.present = NUMERIC_FIELDS.flatMap((field) =>
      index[field] === undefined ? [] : [{ field, col: index[field]!, scale: scale[field] ?? 1, name: header[index[field]!].trim() }],
    );
    this.symbolCol = index.symbol;
    this.dateCol = index.date!;
    this.today = options.today ?? todayInChina();
  }

  /** The reader for a file with this header, or the whole-file issue (line 1) that rejects it. */
  static fromHeader(file: string, header: CsvRow | undefined, options: RowReaderOptions = {}): KlineRowReader | ImportIssue {
    if (header === undefined) return { file, line: 1, reason: 'empty file (no header)' };
    if (header.fields === null) return { file, line: header.line, reason: `unreadable header: ${header.error}` };
    const detection = detectFormat(header.fields);
    if (!detection.ok) return { file, line: header.line, reason: detection.reason };
    const { format, index } = detection.layout;
    if (index.symbol === undefined && symbolFromFileName(file) === null) {
      return { file, line: header.line, reason: `unknown symbol: the ${format.name} file has no code column and its name holds no 6-digit code` };
    }
    return new KlineRowReader(file, header.fields, detection.layout, options);
  }

  row(row: CsvRow): RowResult {
    const { line } = row;
    try {
      if (row.fields === null) throw new RowError(row.error);
      const fields = row.fields;
      if (fields.length !== this.width) throw new RowError(`expected ${this.width} fields, found ${fields.length}`);
      const values: Record<NumericField, number | null> = {
        open: null, high: null, low: null, close: null, preClose: null, change: null, pctChg: null, vol: null, amount: null,
        turnoverRate: null, pe: null, pb: null, totalMv: null, circMv: null, limitStatus: null, tradeStatus: null,
      };
      for (const { field, col, scale: factor, name } of this.present) {
        const raw = fields[col].trim();
        if (isEmptyCell(raw)) continue;
        const v = Number(raw);
        if (!Number.isFinite(v) || !DECIMAL_RE.test(raw)) throw new RowError(`bad number in ${name}: "${shown(raw)}"`);
        values[field] = factor === 1 ? v : v * factor;
      }
      if (values.tradeStatus === 0) return { kind: 'skipped' };
      let symbol: Symbol6;
      if (this.symbolCol !== undefined) {
        const raw = fields[this.symbolCol].trim();
        const parsed = parseSymbolLoose(raw);
        if (parsed === null) throw new RowError(`unknown symbol format "${shown(raw)}" (expected 600519, 600519.SH or sh.600519)`);
        symbol = parsed;
      } else symbol = this.fileSymbol!;
      const rawDate = fields[this.dateCol].trim();
      const tradeDate = parseDateLoose(rawDate);
      if (tradeDate === null) throw new RowError(`bad date "${shown(rawDate)}" (expected YYYY-MM-DD or YYYYMMDD)`);
      const closed = closedDayReason(tradeDate, this.today);
      if (closed !== null) throw new RowError(closed);
      const { open, high, low, close, vol, amount } = values;
      if (open === null) throw new RowError('missing open');
      if (high === null) throw new RowError('missing high');
      if (low === null) throw new RowError('missing low');
      if (close === null) throw new RowError('missing close');
      if (vol === null) throw new RowError('missing vol');
      if (amount === null) throw new RowError('missing amount');
      if (open <= 0 || high <= 0 || low <= 0 || close <= 0 || (values.preClose !== null && values.preClose <= 0)) {
        const bad = (['open', 'high', 'low', 'close', 'preClose'] as const).find((f) => values[f] !== null && values[f]! <= 0)!;
        throw new RowError(`non-positive price: ${bad === 'preClose' ? 'pre_close' : bad} = ${values[bad]}`);
      }
      if (high < low) throw new RowError(`high ${high} < low ${low}`);
      if (open > high || open < low) throw new RowError(`open ${open} outside [low ${low}, high ${high}]`);
      if (close > high || close < low) throw new RowError(`close ${close} outside [low ${low}, high ${high}]`);
      if (vol < 0) throw new RowError(`negative volume ${vol}`);
      if (amount < 0) throw new RowError(`negative amount ${amount}`);
      const ls = values.limitStatus;
      if (ls !== null && ls !== 0 && ls !== 1 && ls !== -1) throw new RowError(`limit_status ${ls} is not -1, 0 or 1`);
      let pages = this.seen.get(symbol);
      if (pages === undefined) this.seen.set(symbol, (pages = []));
      const day = daysBetween(MARKET_OPENED, tradeDate);
      const page = (pages[day >> PAGE_SHIFT] ??= new Int32Array(1 << PAGE_SHIFT));
      const firstLine = page[day & ((1 << PAGE_SHIFT) - 1)];
      if (firstLine !== 0) throw new RowError(`duplicate date ${tradeDate} for ${symbol} (first at line ${firstLine})`);
      page[day & ((1 << PAGE_SHIFT) - 1)] = line;
      return {
        kind: 'draft',
        draft: {
          line,
          symbol,
          tradeDate,
          open,
          high,
          low,
          close,
          preClose: values.preClose,
          change: values.change,
          pctChg: values.pctChg,
          vol,
          amount,
          turnoverRate: values.turnoverRate,
          pe: values.pe,
          pb: values.pb,
          totalMv: values.totalMv,
          circMv: values.circMv,
          limitStatus: ls as LimitStatus | null,
        },
      };
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      return { kind: 'issue', issue: { file: this.file, line, reason: err.message } };
    }
  }
}

/** 512 days a page of the duplicate index */
const PAGE_SHIFT = 9;

/** The pre_close a draft carries or derives by itself (close − change, or from pct_chg), or null when it needs the previous bar. */
export function ownPreClose(d: KlineDraft): number | null {
  if (d.preClose !== null) return d.preClose;
  if (d.change !== null) return d.close - d.change;
  if (d.pctChg !== null && d.pctChg > -100) return d.close / (1 + d.pctChg / 100);
  return null;
}

/**
 * Completes a draft into a bar: pre_close from the file, else close − change, else from pct_chg, else
 * `previousClose` (the close of the bar before it, in the file or stored); change and pct_chg are derived
 * from pre_close when missing.
 */
export function completeDraft(d: KlineDraft, file: string, previousClose: number | null): KlineBar | ImportIssue {
  let preClose = ownPreClose(d) ?? previousClose;
  if (preClose === null || !(preClose > 0)) {
    return {
      file,
      line: d.line,
      reason: preClose === null
        ? `cannot derive pre_close for ${d.symbol} ${d.tradeDate}: no pre_close, change or pct_chg and no earlier bar`
        : `non-positive derived pre_close ${preClose}`,
    };
  }
  preClose = roundTo(preClose, KLINE_SCALE.pre_close);
  const change = d.change ?? d.close - preClose;
  const pctChg = d.pctChg ?? ((d.close - preClose) / preClose) * 100;
  return {
    symbol: d.symbol,
    tradeDate: d.tradeDate,
    open: d.open,
    high: d.high,
    low: d.low,
    close: d.close,
    preClose,
    change,
    pctChg,
    vol: d.vol,
    amount: d.amount,
    turnoverRate: d.turnoverRate,
    pe: d.pe,
    pb: d.pb,
    totalMv: d.totalMv,
    circMv: d.circMv,
    limitStatus: d.limitStatus,
  };
}
