/** `klinecast data import | demo | check`: getting K-lines in, making a demo market, and auditing what is there. */
import type { Command } from 'commander';
import { relative } from 'node:path';
import {
  DEMO_DEFAULTS,
  checkData,
  generateDemoMarket,
  importCsvFiles,
  migrate,
  requireIsoDate,
  withDatabase,
  writeDemoMarket,
  type CheckReport,
  type ImportReport,
} from '../../data/index.js';
import { UserError } from '../../util/errors.js';
import { ProgressLine, printJson, printTable } from '../output.js';
import { withDatabaseOptions, type DatabaseOptions } from './db.js';

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export function parseIntegerOption(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

function printImportReport(report: ImportReport): void {
  printTable(
    ['file', 'format', 'symbols', 'rows', 'inserted', 'updated', 'unchanged', 'skipped', 'rejected'],
    report.files.map((f) => [displayPath(f.file), f.format, f.symbols.join(' ') || null, f.rows, f.inserted, f.updated, f.unchanged, f.skipped, f.rejected]),
  );
  const t = report.totals;
  console.log(
    `\n${t.files} file(s), ${t.rows} rows: ${t.inserted} inserted, ${t.updated} updated, ${t.unchanged} unchanged, ${t.skipped} skipped, ${t.rejected} rejected; ` +
      `${t.newStocks} new stock(s), ${t.newTradingDays} new trading day(s)`,
  );
  for (const issue of report.issues) console.error(`${displayPath(issue.file)}:${issue.line}: ${issue.reason}`);
  if (report.ledger?.reconciled)
    console.log(`prediction ledger: ${report.ledger.reconciled} forecast(s) now have their actual close (klinecast predictions score)`);
  if (report.ledgerError) console.error(`warning: ${report.ledgerError}`);
}

export function printCheckReport(report: CheckReport, detailed: boolean): void {
  printTable(
    ['symbol', 'name', 'rows', 'first', 'last', 'coverage %', 'missing', 'longest gap', 'jumps', 'ohlc errors', 'ex-rights'],
    report.stocks.map((s) => [
      s.symbol,
      s.name,
      s.rows,
      s.first,
      s.last,
      (s.coverage * 100).toFixed(2),
      s.missing,
      s.longestGap,
      s.jumps,
      s.ohlcViolations,
      s.exRights.length,
    ]),
  );
  const t = report.totals;
  console.log(
    `\n${t.stocks} stock(s), ${t.rows} bars; ${t.missing} missing trading day(s), ${t.jumps} suspicious jump(s), ${t.ohlcViolations} OHLC violation(s), ` +
      `${t.exRights} ex-rights day(s)`,
  );
  console.log(`calendar: ${report.calendar.storedDays} stored trading days ${report.calendar.first ?? '-'} .. ${report.calendar.last ?? '-'}`);
  const withEvents = report.stocks.filter((s) => s.exRights.length > 0);
  if (withEvents.length) {
    // The days data.adjust corrects (docs/DATA.md "Adjusted prices"), each with its factor step factor_t / factor_{t-1}.
    console.log(`\nex-rights days (adjusted by data.adjust qfq/hfq; step = factor_t / factor_t-1):`);
    printTable(
      ['symbol', 'date', 'step', 'source', 'previous close', 'pre_close'],
      withEvents.flatMap((s) => s.exRights.map((e) => [s.symbol, e.date, e.step.toFixed(6), e.source, e.previousClose, e.preClose])),
    );
  }
  if (!detailed) return;
  for (const s of report.stocks) {
    if (s.gaps.length) {
      console.log(`\ngaps (${s.gaps.length}):`);
      printTable(
        ['from', 'to', 'trading days'],
        s.gaps.map((g) => [g.from, g.to, g.days]),
      );
    }
    if (s.findings.length) {
      console.log(`\nfindings (${s.findings.length}):`);
      printTable(
        ['date', 'kind', 'detail'],
        s.findings.map((f) => [f.date, f.kind, f.detail]),
      );
    }
  }
}

export function register(program: Command): void {
  const data = program.command('data').description('K-line data: import CSV exports, generate the demo market, check quality');

  withDatabaseOptions(
    data
      .command('import')
      .description('import CSV files or folders of them (klinecast, tushare, akshare or baostock exports, detected from the header)')
      .argument('<paths...>', "CSV files and/or folders (each folder's *.csv, not recursive)"),
  ).action(async (paths: string[], opts: DatabaseOptions) => {
    await withDatabase(
      opts.database,
      async (handle) => {
        await migrate(handle);
        let progress: ProgressLine | null = null;
        const report = await importCsvFiles(handle, paths, (done, total, file) => {
          progress ??= new ProgressLine('import', total);
          progress.update(done, displayPath(file.file));
        });
        (progress as ProgressLine | null)?.finish();
        if (opts.json) printJson({ database: handle.url, ...report });
        else printImportReport(report);
        // Good rows are in; a non-zero exit tells scripts that some were not.
        if (!report.ok) process.exitCode = 1;
      },
      { createDatabase: true },
    );
  });

  withDatabaseOptions(
    data
      .command('demo')
      .description('fill the database with a seeded synthetic market (same seed, same data)')
      .option('--stocks <n>', 'number of stocks', String(DEMO_DEFAULTS.stocks))
      .option('--start <date>', 'first calendar date', DEMO_DEFAULTS.start)
      .option('--end <date>', 'last calendar date', DEMO_DEFAULTS.end)
      .option('--seed <n>', 'random seed', String(DEMO_DEFAULTS.seed))
      .option('--replace', 'overwrite demo symbols that already hold other bars'),
  ).action(async (opts: DatabaseOptions & { stocks: string; start: string; end: string; seed: string; replace?: boolean }) => {
    const market = generateDemoMarket({
      stocks: parseIntegerOption(opts.stocks, '--stocks', 1, 10_000),
      start: requireIsoDate(opts.start, '--start'),
      end: requireIsoDate(opts.end, '--end'),
      seed: parseIntegerOption(opts.seed, '--seed', 0, 2 ** 32 - 1),
    });
    await withDatabase(
      opts.database,
      async (handle) => {
        await migrate(handle);
        const progress = new ProgressLine('demo', market.stocks.length);
        const result = await writeDemoMarket(handle, market, { replace: opts.replace, onStock: (done) => progress.update(done) });
        progress.finish();
        if (opts.json) {
          printJson({ database: handle.url, ...result, symbols: market.stocks.map((s) => s.symbol) });
          return;
        }
        printTable(
          ['symbol', 'name', 'board', 'industry'],
          market.stocks.map((s) => [s.symbol, s.name, s.stockType, s.industry]),
        );
        console.log(
          `\ndemo market (seed ${result.seed}): ${result.stocks} stocks, ${result.tradingDays} trading days ${result.start} .. ${result.end}; ` +
            `${result.inserted} bars inserted, ${result.updated} updated, ${result.unchanged} unchanged in ${handle.url}`,
        );
      },
      { createDatabase: true },
    );
  });

  withDatabaseOptions(
    data
      .command('check')
      .description('coverage per stock, gaps against the trading calendar, suspicious jumps, ex-rights days and OHLC violations')
      .argument('[symbol]', 'one stock (details of its gaps and findings)'),
  ).action(async (symbol: string | undefined, opts: DatabaseOptions) => {
    await withDatabase(opts.database, async (handle) => {
      await migrate(handle);
      const report = await checkData(handle, symbol);
      if (symbol !== undefined && report.stocks.length === 0) throw new UserError(`no bars for ${symbol} in ${handle.url}`);
      if (opts.json) printJson({ database: handle.url, ...report });
      else printCheckReport(report, symbol !== undefined);
    });
  });
}
