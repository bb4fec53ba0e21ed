import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { recordTradingDates } from '../calendar.js';
import type { DatabaseHandle } from '../db/connection.js';
import type { Db } from '../db/schema.js';
import { boardOf } from '../symbols.js';
import type { IsoDate, KlineBar, StockInfo, Symbol6 } from '../types.js';
import { reconcileForecasts, type ReconcileResult } from '../ledger.js';
import { insertMissingStockInfo, writeAdjFactors, writeBars } from '../writer.js';
import { AdjFactorRowReader, isAdjFactorHeader, type AdjFactorRow } from './adj-factor.js';
import { readCsvFile, type CsvRow } from './csv.js';
import { completeDraft, KlineRowReader, ownPreClose, type ImportIssue, type KlineDraft } from './parse.js';

export interface FileImportResult {
  file: string;
  format: string | null;
  symbols: Symbol6[];
  /** data rows in the file */
  rows: number;
  inserted: number;
  updated: number;
  unchanged: number;
  skipped: number;
  rejected: number;
  /** set when the whole file was rejected (unreadable, unknown header) */
  error: string | null;
}

export interface ImportReport {
  files: FileImportResult[];
  issues: ImportIssue[];
  totals: { files: number; rows: number; inserted: number; updated: number; unchanged: number; skipped: number; rejected: number; newStocks: number; newTradingDays: number };
  /** false when any row or file was rejected */
  ok: boolean;
  /**
   * The prediction ledger reconciled with the bars just imported (forecasts whose target day arrived get their actual
   * close); null when nothing was written. A ledger that cannot be reconciled never fails the import: see ledgerError.
   */
  ledger: ReconcileResult | null;
  ledgerError?: string;
}

/** Files to import: each FILE as given, each DIR's *.csv (not recursive, so an index/ sub-folder is never mixed in), sorted. */
export function expandImportPaths(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UserError(`${p}: no such file or directory`);
    }
    if (st.isDirectory()) {
      const csvs = readdirSync(p).filter((n) => n.toLowerCase().endsWith('.csv')).sort().map((n) => join(p, n));
      if (csvs.length === 0) throw new UserError(`${p}: directory has no .csv files`);
      files.push(...csvs);
    } else files.push(p);
  }
  return files;
}

/** A placeholder description for a stock first seen in an import; a user's own stock_basic_info rows are never overwritten. */
export function minimalStockInfo(symbol: Symbol6): StockInfo {
  const board = boardOf(symbol);
  return {
    symbol,
    name: symbol,
    exchange: board?.exchange ?? null,
    market: board?.market ?? null,
    stockType: board?.stockType ?? null,
    industry: null,
    listDate: null,
    delistDate: null,
    isActive: true,
  };
}

/**
 * Valid rows written per batch (two statements). With the stream's 64 KB chunks this bounds import memory: larger
 * batches outlive V8's young generation and grow the heap (20,000 rows measured 2x the peak RSS of 2,000).
 */
const BATCH_ROWS = 2_000;

/** Issues kept per file in the report; beyond that they are counted in `rejected` and summed up in one last issue. */
export const MAX_ISSUES_PER_FILE = 10_000;

export interface ImportOptions {
  /** the last date a bar may carry (default: today in China); for tests */
  today?: IsoDate;
}

/**
 * Streams one file into the database in one transaction: rows are validated as they are read and written in
 * batches, so memory stays bounded whatever the file size. Rows that carry no pre_close, change or pct_chg
 * wait until the end of the file, when the previous bar (in the file or stored) is known.
 */
async function importFile(handle: DatabaseHandle, file: string, report: ImportReport, options: ImportOptions): Promise<FileImportResult> {
  const { result, issues, reject, rejected } = startFile(file);
  let rows: AsyncGenerator<CsvRow[]>;
  let pending: CsvRow[] = [];
  let reader: KlineRowReader | ImportIssue;
  try {
    rows = readCsvFile(file);
    // The header is the first non-blank line.
    while (pending.length === 0) {
      const next = await rows.next();
      if (next.done) break;
      pending = next.value;
    }
    const header = pending[0];
    if (header?.fields && isAdjFactorHeader(header.fields)) return await importAdjFactorFile(handle, file, rows, pending, report, options);
    reader = KlineRowReader.fromHeader(file, header, options);
  } catch (err) {
    result.error = `cannot read: ${readError(err)}`;
    issues.push({ file, line: 0, reason: result.error });
    return finish(result, issues, 0, report);
  }
  if (!(reader instanceof KlineRowReader)) {
    return await rejectWholeFile(result, issues, reader, pending, rows, report);
  }
  const rowReader = reader;
  result.format = rowReader.format;
  const symbols = new Set<Symbol6>();
  const dates = new Set<IsoDate>();
  /** drafts that need the previous bar's close, completed at the end */
  const needPrevious: KlineDraft[] = [];
  try {
    await handle.db.transaction().execute(async (trx) => {
    let writing: Promise<void> = Promise.resolve();
    const write = async (bars: KlineBar[]) => {
      const counts = await writeBars(trx, handle.dialect, bars);
      result.inserted += counts.inserted;
      result.updated += counts.updated;
      result.unchanged += counts.unchanged;
      for (const b of bars) {
        symbols.add(b.symbol);
        dates.add(b.tradeDate);
      }
    };
    let bars: KlineBar[] = [];
    const take = (batch: CsvRow[]) => {
      for (const row of batch) {
        result.rows++;
        const r = rowReader.row(row);
        if (r.kind === 'skipped') result.skipped++;
        else if (r.kind === 'issue') reject(r.issue);
        else if (ownPreClose(r.draft) === null) needPrevious.push(r.draft);
        else {
          const bar = completeDraft(r.draft, file, null);
          if ('reason' in bar) reject(bar);
          else bars.push(bar);
        }
      }
    };
    take(pending.slice(1));
    pending = [];
    // The next batch is parsed while the database writes the previous one; writes stay sequential.
    const flush = async (force: boolean) => {
      if (bars.length === 0 || (!force && bars.length < BATCH_ROWS)) return;
      const full = bars;
      bars = [];
      await writing;
      writing = write(full);
    };
    try {
      for await (const batch of rows) {
        take(batch);
        await flush(false);
      }
    } catch (err) {
      await writing.catch(() => undefined);
      throw new ReadFailure(readError(err));
    }
    await flush(true);
    await writing;
    if (needPrevious.length) {
      for (const bar of await completeFromPrevious(trx, file, needPrevious, reject)) {
        bars.push(bar);
        if (bars.length >= BATCH_ROWS) await write(bars.splice(0));
      }
      if (bars.length) await write(bars.splice(0));
    }
    result.symbols = [...symbols].sort();
    report.totals.newStocks += await insertMissingStockInfo(trx, result.symbols.map(minimalStockInfo));
    report.totals.newTradingDays += await recordTradingDates(trx, dates);
    });
  } catch (err) {
    if (!(err instanceof ReadFailure)) throw err;
    return failedMidway(result, issues, err.message, report);
  }
  return finish(result, issues, rejected(), report);
}

/**
 * A tushare adj_factor export into the adj_factor table, streamed and written in batches in one transaction like bars;
 * bad rows are issues with their line, and the good ones are kept.
 */
async function importAdjFactorFile(
  handle: DatabaseHandle,
  file: string,
  rows: AsyncGenerator<CsvRow[]>,
  pending: CsvRow[],
  report: ImportReport,
  options: ImportOptions,
): Promise<FileImportResult> {
  const { result, issues, reject, rejected } = startFile(file);
  const reader = AdjFactorRowReader.fromHeader(file, pending[0], options);
  if (!(reader instanceof AdjFactorRowReader)) {
    return await rejectWholeFile(result, issues, reader, pending, rows, report);
  }
  result.format = reader.format;
  const symbols = new Set<Symbol6>();
  try {
    await handle.db.transaction().execute(async (trx) => {
      let good: AdjFactorRow[] = [];
      const write = async () => {
        const counts = await writeAdjFactors(trx, handle.dialect, good.splice(0));
        result.inserted += counts.inserted;
        result.updated += counts.updated;
        result.unchanged += counts.unchanged;
      };
      const take = async (batch: CsvRow[]) => {
        for (const row of batch) {
          result.rows++;
          const r = reader.row(row);
          if (r.kind === 'issue') reject(r.issue);
          else {
            good.push(r.row);
            symbols.add(r.row.symbol);
          }
        }
        if (good.length >= BATCH_ROWS) await write();
      };
      await take(pending.slice(1));
      try {
        for await (const batch of rows) await take(batch);
      } catch (err) {
        throw new ReadFailure(readError(err));
      }
      if (good.length) await write();
      good = [];
    });
  } catch (err) {
    if (!(err instanceof ReadFailure)) throw err;
    return failedMidway(result, issues, err.message, report);
  }
  result.symbols = [...symbols].sort();
  return finish(result, issues, rejected(), report);
}

/** The file could not be read to its end (the rows before were parsed; the transaction rolls back). */
class ReadFailure extends Error {}

function readError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return e.code ?? e.message;
}

/** A file's result and issues as they gather: every rejected row is counted, the first MAX_ISSUES_PER_FILE are listed. */
function startFile(file: string) {
  const result: FileImportResult = { file, format: null, symbols: [], rows: 0, inserted: 0, updated: 0, unchanged: 0, skipped: 0, rejected: 0, error: null };
  const issues: ImportIssue[] = [];
  let rejected = 0;
  const reject = (issue: ImportIssue) => {
    rejected++;
    if (issues.length < MAX_ISSUES_PER_FILE) issues.push(issue);
  };
  return { result, issues, reject, rejected: () => rejected };
}

/** A whole-file problem (its header) rejects every data row; they are only counted. */
async function rejectWholeFile(
  result: FileImportResult,
  issues: ImportIssue[],
  problem: ImportIssue,
  pending: CsvRow[],
  rows: AsyncGenerator<CsvRow[]>,
  report: ImportReport,
): Promise<FileImportResult> {
  result.error = problem.reason;
  issues.push(problem);
  result.rows = Math.max(0, pending.length - 1);
  for await (const batch of rows) result.rows += batch.length;
  return finish(result, issues, result.rows, report);
}

/** The file broke off while being read: its transaction rolled back, so nothing of it is stored and every row counts as rejected. */
function failedMidway(result: FileImportResult, issues: ImportIssue[], reason: string, report: ImportReport): FileImportResult {
  Object.assign(result, { inserted: 0, updated: 0, unchanged: 0, symbols: [], error: `cannot read: ${reason}` });
  issues.length = 0;
  issues.push({ file: result.file, line: 0, reason: result.error! });
  return finish(result, issues, result.rows, report);
}

function finish(result: FileImportResult, issues: ImportIssue[], rejected: number, report: ImportReport): FileImportResult {
  issues.sort((a, b) => a.line - b.line);
  const listed = issues.length;
  result.rejected = rejected;
  if (result.error === null && rejected > listed) {
    issues.push({ file: result.file, line: issues[listed - 1].line, reason: `${rejected - listed} more rejected row(s) not listed (the report keeps the first ${listed} of each file)` });
  }
  for (const issue of issues) report.issues.push(issue);
  return result;
}

/**
 * Completes drafts without their own pre_close from the bar before each, ascending per symbol: the previous
 * draft of the file or the stored bar just before (the file's other rows are stored by now).
 */
async function completeFromPrevious(db: Db, file: string, drafts: KlineDraft[], reject: (issue: ImportIssue) => void): Promise<KlineBar[]> {
  drafts.sort((a, b) => (a.symbol === b.symbol ? (a.tradeDate < b.tradeDate ? -1 : 1) : a.symbol < b.symbol ? -1 : 1));
  const out: KlineBar[] = [];
  let i = 0;
  while (i < drafts.length) {
    const symbol = drafts[i].symbol;
    let j = i;
    while (j < drafts.length && drafts[j].symbol === symbol) j++;
    const stored = await db
      .selectFrom('stock_kline_data')
      .select(['trade_date', 'close'])
      .where('symbol', '=', symbol)
      .where('trade_date', '<', drafts[j - 1].tradeDate)
      .orderBy('trade_date')
      .execute();
    let s = 0;
    let prev: { date: IsoDate; close: number } | null = null;
    for (let k = i; k < j; k++) {
      const d = drafts[k];
      while (s < stored.length && stored[s].trade_date < d.tradeDate) {
        if (prev === null || stored[s].trade_date > prev.date) prev = { date: stored[s].trade_date, close: Number(stored[s].close) };
        s++;
      }
      const bar = completeDraft(d, file, prev?.close ?? null);
      if ('reason' in bar) reject(bar);
      else out.push(bar);
      // The close is valid even when this row cannot be completed, so the next row may still derive from it.
      prev = { date: d.tradeDate, close: d.close };
    }
    i = j;
  }
  return out;
}

/**
 * Imports CSV exports: each file is streamed, its good rows upserted in one transaction together with
 * the stock_basic_info rows of new symbols and the trading calendar's new dates. Bad rows are reported,
 * never fatal; a file that cannot be read at all is reported and the next file goes on.
 */
export async function importCsvFiles(
  handle: DatabaseHandle,
  paths: string[],
  onFile?: (done: number, total: number, result: FileImportResult) => void,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const files = expandImportPaths(paths);
  const report: ImportReport = {
    files: [],
    issues: [],
    totals: { files: files.length, rows: 0, inserted: 0, updated: 0, unchanged: 0, skipped: 0, rejected: 0, newStocks: 0, newTradingDays: 0 },
    ok: true,
    ledger: null,
  };
  for (const file of files) {
    const result = await importFile(handle, file, report, options);
    for (const k of ['rows', 'inserted', 'updated', 'unchanged', 'skipped', 'rejected'] as const) report.totals[k] += result[k];
    if (result.error !== null || result.rejected > 0) report.ok = false;
    report.files.push(result);
    onFile?.(report.files.length, files.length, result);
  }
  if (report.totals.inserted + report.totals.updated > 0) {
    try {
      report.ledger = await reconcileForecasts(handle);
    } catch (err) {
      report.ledgerError = `the prediction ledger was not reconciled: ${(err as Error).message.split('\n')[0]} (run \`klinecast predictions reconcile\` later)`;
    }
  }
  return report;
}
