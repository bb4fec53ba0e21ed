import { basename } from 'node:path';
import { parseDateLoose } from '../dates.js';
import { roundTo } from '../db/rows.js';
import { KLINE_SCALE } from '../db/schema.js';
import { parseSymbolLoose } from '../symbols.js';
import type { IsoDate, KlineBar, LimitStatus, Symbol6 } from '../types.js';
import { parseCsv } from './csv.js';
import { detectFormat } from './formats.js';

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

export interface ParsedCsv {
  format: string | null;
  /** valid rows, grouped by symbol and ascending by date, duplicates removed */
  drafts: KlineDraft[];
  issues: ImportIssue[];
  /** rows deliberately not imported (baostock tradestatus=0: a suspended day with no trading) */
  skipped: number;
  /** data rows in the file */
  rows: number;
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

/**
 * Reads one CSV export into validated drafts. Every rejected row becomes an issue with its line and
 * reason; every valid row is kept. No database access: the importer completes the drafts.
 */
export function parseKlineCsv(text: string, file: string): ParsedCsv {
  const records = parseCsv(text);
  const first = records.next();
  const result: ParsedCsv = { format: null, drafts: [], issues: [], skipped: 0, rows: 0 };
  if (first.done) {
    result.issues.push({ file, line: 1, reason: 'empty file (no header)' });
    return result;
  }
  const header = first.value.fields;
  const detection = detectFormat(header);
  if (!detection.ok) {
    result.issues.push({ file, line: first.value.line, reason: detection.reason });
    for (const _ of records) result.rows++;
    return result;
  }
  const { format, index, scale } = detection.layout;
  result.format = format.name;
  const fileSymbol = symbolFromFileName(file);
  if (index.symbol === undefined && fileSymbol === null) {
    result.issues.push({ file, line: first.value.line, reason: `unknown symbol: the ${format.name} file has no code column and its name holds no 6-digit code` });
    for (const _ of records) result.rows++;
    return result;
  }

  // Only the columns this file has, resolved once: the row loop below runs for every line of every file.
  const present = NUMERIC_FIELDS.flatMap((field) =>
    index[field] === undefined ? [] : [{ field, col: index[field]!, scale: scale[field] ?? 1, name: header[index[field]!].trim() }],
  );
  const symbolCol = index.symbol;
  const dateCol = index.date!;
  const seen = new Map<string, number>();
  const drafts: KlineDraft[] = [];
  for (const { line, fields } of records) {
    result.rows++;
    try {
      if (fields.length !== header.length) throw new RowError(`expected ${header.length} fields, found ${fields.length}`);
      const values: Record<NumericField, number | null> = {
        open: null, high: null, low: null, close: null, preClose: null, change: null, pctChg: null, vol: null, amount: null,
        turnoverRate: null, pe: null, pb: null, totalMv: null, circMv: null, limitStatus: null, tradeStatus: null,
      };
      for (const { field, col, scale: factor, name } of present) {
        const raw = fields[col].trim();
        if (isEmptyCell(raw)) continue;
        const v = Number(raw);
        if (!Number.isFinite(v)) throw new RowError(`bad number in ${name}: "${raw}"`);
        values[field] = factor === 1 ? v : v * factor;
      }
      if (values.tradeStatus === 0) {
        result.skipped++;
        continue;
      }
      let symbol: Symbol6;
      if (symbolCol !== undefined) {
        const raw = fields[symbolCol].trim();
        const parsed = parseSymbolLoose(raw);
        if (parsed === null) throw new RowError(`unknown symbol format "${raw}" (expected 600519, 600519.SH or sh.600519)`);
        symbol = parsed;
      } else symbol = fileSymbol!;
      const rawDate = fields[dateCol].trim();
      const tradeDate = parseDateLoose(rawDate);
      if (tradeDate === null) throw new RowError(`bad date "${rawDate}" (expected YYYY-MM-DD or YYYYMMDD)`);
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
      const key = `${symbol} ${tradeDate}`;
      const firstLine = seen.get(key);
      if (firstLine !== undefined) throw new RowError(`duplicate date ${tradeDate} for ${symbol} (first at line ${firstLine})`);
      seen.set(key, line);
      drafts.push({
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
      });
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      result.issues.push({ file, line, reason: err.message });
    }
  }
  // Exports come newest-first as often as oldest-first; pre_close derivation needs date order.
  drafts.sort((a, b) => (a.symbol === b.symbol ? (a.tradeDate < b.tradeDate ? -1 : 1) : a.symbol < b.symbol ? -1 : 1));
  result.drafts = drafts;
  return result;
}

/**
 * Completes drafts into bars: pre_close from the file, else close − change, else from pct_chg, else the
 * previous bar's close (`previousClose` holds the stored close before each symbol's first draft);
 * change and pct_chg are derived from pre_close when missing.
 */
export function completeDrafts(drafts: KlineDraft[], file: string, previousClose: ReadonlyMap<Symbol6, number>): { bars: KlineBar[]; issues: ImportIssue[] } {
  const bars: KlineBar[] = [];
  const issues: ImportIssue[] = [];
  let prev: { symbol: Symbol6; close: number } | null = null;
  for (const d of drafts) {
    let preClose = d.preClose;
    if (preClose === null && d.change !== null) preClose = d.close - d.change;
    if (preClose === null && d.pctChg !== null && d.pctChg > -100) preClose = d.close / (1 + d.pctChg / 100);
    if (preClose === null && prev !== null && prev.symbol === d.symbol) preClose = prev.close;
    if (preClose === null) preClose = previousClose.get(d.symbol) ?? null;
    // The close is valid even when this row cannot be completed, so the next row may still derive from it.
    prev = { symbol: d.symbol, close: d.close };
    if (preClose === null || !(preClose > 0)) {
      issues.push({
        file,
        line: d.line,
        reason: preClose === null
          ? `cannot derive pre_close for ${d.symbol} ${d.tradeDate}: no pre_close, change or pct_chg and no earlier bar`
          : `non-positive derived pre_close ${preClose}`,
      });
      continue;
    }
    preClose = roundTo(preClose, KLINE_SCALE.pre_close);
    const change = d.change ?? d.close - preClose;
    const pctChg = d.pctChg ?? ((d.close - preClose) / preClose) * 100;
    bars.push({
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
    });
  }
  return { bars, issues };
}
