import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { recordTradingDates } from '../calendar.js';
import type { DatabaseHandle } from '../db/connection.js';
import type { Db } from '../db/schema.js';
import { boardOf } from '../symbols.js';
import type { StockInfo, Symbol6 } from '../types.js';
import { insertMissingStockInfo, writeBars } from '../writer.js';
import { decodeCsv } from './csv.js';
import { completeDrafts, parseKlineCsv, type ImportIssue, type KlineDraft } from './parse.js';

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

async function previousCloses(db: Db, drafts: KlineDraft[]): Promise<Map<Symbol6, number>> {
  const out = new Map<Symbol6, number>();
  const firsts = new Map<Symbol6, KlineDraft>();
  for (const d of drafts) if (!firsts.has(d.symbol)) firsts.set(d.symbol, d);
  for (const [symbol, d] of firsts) {
    if (d.preClose !== null || d.change !== null || d.pctChg !== null) continue;
    const row = await db
      .selectFrom('stock_kline_data')
      .select('close')
      .where('symbol', '=', symbol)
      .where('trade_date', '<', d.tradeDate)
      .orderBy('trade_date', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (row) out.set(symbol, Number(row.close));
  }
  return out;
}

/**
 * Imports CSV exports: each file is parsed, its good rows upserted in one transaction together with
 * the stock_basic_info rows of new symbols and the trading calendar's new dates. Bad rows are reported,
 * never fatal; a file that cannot be read at all is reported and the next file goes on.
 */
export async function importCsvFiles(
  handle: DatabaseHandle,
  paths: string[],
  onFile?: (done: number, total: number, result: FileImportResult) => void,
): Promise<ImportReport> {
  const files = expandImportPaths(paths);
  const report: ImportReport = {
    files: [],
    issues: [],
    totals: { files: files.length, rows: 0, inserted: 0, updated: 0, unchanged: 0, skipped: 0, rejected: 0, newStocks: 0, newTradingDays: 0 },
    ok: true,
  };
  const readAndParse = (file: string) => {
    const result: FileImportResult = { file, format: null, symbols: [], rows: 0, inserted: 0, updated: 0, unchanged: 0, skipped: 0, rejected: 0, error: null };
    try {
      return { result, parsed: parseKlineCsv(decodeCsv(readFileSync(file)), file) };
    } catch (err) {
      result.error = `cannot read: ${(err as Error).message}`;
      return { result, parsed: null };
    }
  };
  const store = async ({ result, parsed }: ReturnType<typeof readAndParse>) => {
    const file = result.file;
    const issues: ImportIssue[] = [];
    if (parsed === null) {
      issues.push({ file, line: 0, reason: result.error! });
    } else {
      result.format = parsed.format;
      result.rows = parsed.rows;
      result.skipped = parsed.skipped;
      issues.push(...parsed.issues);
      if (parsed.format === null || (parsed.drafts.length === 0 && parsed.issues.some((i) => i.line === 1))) {
        result.error = parsed.issues[0]?.reason ?? 'unreadable';
      }
      if (parsed.drafts.length > 0) {
        await handle.db.transaction().execute(async (trx) => {
          const completed = completeDrafts(parsed.drafts, file, await previousCloses(trx, parsed.drafts));
          issues.push(...completed.issues);
          const counts = await writeBars(trx, handle.dialect, completed.bars);
          Object.assign(result, counts);
          result.symbols = [...new Set(completed.bars.map((b) => b.symbol))];
          report.totals.newStocks += await insertMissingStockInfo(trx, result.symbols.map(minimalStockInfo));
          report.totals.newTradingDays += await recordTradingDates(trx, completed.bars.map((b) => b.tradeDate));
        });
      }
      issues.sort((a, b) => a.line - b.line);
      // A file-level problem (header) rejects every data row; otherwise each issue is one row.
      result.rejected = result.error !== null ? result.rows : issues.length;
    }
    report.issues.push(...issues);
    for (const k of ['rows', 'inserted', 'updated', 'unchanged', 'skipped', 'rejected'] as const) report.totals[k] += result[k];
    if (result.error !== null || result.rejected > 0) report.ok = false;
    report.files.push(result);
    onFile?.(report.files.length, files.length, result);
  };
  // Files are written one at a time (no lock contention), but the next file is parsed while the database
  // works on the previous one: parsing is CPU in this process, writing is mostly the server's.
  let writing: Promise<void> = Promise.resolve();
  for (const file of files) {
    const next = readAndParse(file);
    await writing;
    writing = store(next);
  }
  await writing;
  return report;
}
