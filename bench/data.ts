/**
 * Data-layer benchmark (`npm run bench:data`): import the 33 real stocks into MariaDB/MySQL and SQLite,
 * re-import them (nothing changes), and bulk-load them back through the streaming loader; then import one
 * generated 200 MB file in a child process and report its peak RSS.
 * Targets (issue 2): MySQL import < 10 s, bulk load < 2 s; (issue 12) peak RSS of the 200 MB import < 300 MB.
 *
 * MySQL server: KLINECAST_BENCH_MYSQL_URL, else KLINECAST_TEST_MYSQL_URL, else mysql://root@127.0.0.1:3306/test;
 * a temporary database is created on it and dropped afterwards.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCsvFiles, migrate, openDatabase, ruleTradingDays, StockDataLoader, type DatabaseHandle } from '../src/data/index.js';
import { dropMysqlDatabase, scratchMysqlUrl } from '../test/helpers/db.js';
import { ASHARE_DIR } from '../test/helpers/env.js';

const MYSQL_SERVER = process.env.KLINECAST_BENCH_MYSQL_URL ?? process.env.KLINECAST_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

interface Figures {
  dialect: string;
  importSeconds: number;
  rows: number;
  reimportSeconds: number;
  bulkLoadSeconds: number;
  stocks: number;
}

async function measure(handle: DatabaseHandle): Promise<Figures> {
  await migrate(handle);
  let t = performance.now();
  const report = await importCsvFiles(handle, [ASHARE_DIR]);
  const importSeconds = (performance.now() - t) / 1000;
  if (!report.ok) throw new Error(`import reported problems: ${JSON.stringify(report.issues.slice(0, 3))}`);
  t = performance.now();
  const again = await importCsvFiles(handle, [ASHARE_DIR]);
  const reimportSeconds = (performance.now() - t) / 1000;
  if (again.totals.inserted + again.totals.updated !== 0) throw new Error('re-import changed rows');
  t = performance.now();
  let stocks = 0;
  let rows = 0;
  for await (const s of new StockDataLoader(handle).streamSeries()) {
    stocks++;
    rows += s.dates.length;
  }
  const bulkLoadSeconds = (performance.now() - t) / 1000;
  if (rows !== report.totals.inserted) throw new Error(`bulk load returned ${rows} rows, imported ${report.totals.inserted}`);
  return { dialect: handle.dialect, importSeconds, rows, reimportSeconds, bulkLoadSeconds, stocks };
}

const BIG_FILE_BYTES = 200 * 1024 * 1024;

/**
 * A klinecast-format file of `bytes` or a little more: stocks 600000, 600001, … each with every rule trading day
 * of 1995-2023 (about 7,000 rows, 100 bytes a row), as a whole-market export would be.
 */
function writeBigFile(path: string, bytes: number): number {
  const dates = ruleTradingDays('1995-01-03', '2023-12-29');
  const fd = openSync(path, 'w');
  let written = writeSync(fd, 'symbol,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n');
  let rows = 0;
  for (let s = 0; written < bytes; s++) {
    const symbol = String(600000 + s);
    let close = 10 + (s % 50);
    const lines: string[] = [];
    for (let i = 0; i < dates.length; i++) {
      const pre = close;
      close = Math.round(pre * (1 + (((i * 7919 + s * 104729) % 2001) - 1000) / 100000) * 100) / 100;
      const high = Math.max(pre, close) + 0.05;
      const low = Math.max(0.01, Math.min(pre, close) - 0.05);
      const change = Math.round((close - pre) * 100) / 100;
      lines.push(
        `${symbol},${dates[i]},${pre.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${close.toFixed(2)},${pre.toFixed(2)},${change.toFixed(2)},${((change / pre) * 100).toFixed(4)},${10000 + i},${(close * 1000 + i).toFixed(3)}`,
      );
    }
    written += writeSync(fd, lines.join('\n') + '\n');
    rows += lines.length;
  }
  closeSync(fd);
  return rows;
}

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} cores; load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const results: Figures[] = [];

  const mysqlUrl = scratchMysqlUrl(MYSQL_SERVER);
  const handle = await openDatabase(mysqlUrl, { createDatabase: true });
  try {
    results.push(await measure(handle));
  } finally {
    await handle.close();
    await dropMysqlDatabase(mysqlUrl);
  }

  const dir = mkdtempSync(join(tmpdir(), 'klinecast-bench-'));
  const sqlite = await openDatabase(`sqlite:${join(dir, 'bench.db')}`);
  try {
    results.push(await measure(sqlite));
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('\ndialect  stocks  rows     import s  rows/s   re-import s  bulk load s');
  for (const r of results) {
    console.log(
      `${r.dialect.padEnd(7)}  ${String(r.stocks).padStart(6)}  ${String(r.rows).padEnd(7)}  ${r.importSeconds.toFixed(2).padStart(8)}  ${String(Math.round(r.rows / r.importSeconds)).padStart(7)}  ${r.reimportSeconds.toFixed(2).padStart(11)}  ${r.bulkLoadSeconds.toFixed(2).padStart(11)}`,
    );
  }
  // Import memory: one 200 MB file, imported in a child process whose peak RSS is the import's alone.
  const bigDir = mkdtempSync(join(tmpdir(), 'klinecast-bench-big-'));
  const memory: Array<{ dialect: string; rows: number; seconds: number; peakRssMb: number }> = [];
  try {
    const bigFile = join(bigDir, 'market.csv');
    const rows = writeBigFile(bigFile, BIG_FILE_BYTES);
    const sizeMb = statSync(bigFile).size / 1024 / 1024;
    const child = fileURLToPath(new URL('./import-rss.ts', import.meta.url));
    const bigMysql = scratchMysqlUrl(MYSQL_SERVER);
    const targets: Array<[string, string]> = [
      ['sqlite', `sqlite:${join(bigDir, 'big.db')}`],
      ['mysql', bigMysql],
    ];
    for (const [dialect, url] of targets) {
      try {
        const out = execFileSync(process.execPath, ['--import', 'tsx', child, bigFile, url], { encoding: 'utf8', maxBuffer: 1 << 20 });
        memory.push({ dialect, ...(JSON.parse(out.trim().split('\n').at(-1)!) as { rows: number; seconds: number; peakRssMb: number }) });
      } finally {
        if (dialect === 'mysql') await dropMysqlDatabase(bigMysql);
      }
    }
    console.log(`\nimport of one generated ${sizeMb.toFixed(0)} MB file (${rows} rows, ${Math.ceil(rows / 7000)} stocks), child process:`);
    console.log('dialect  rows     import s  rows/s   peak RSS MB');
    for (const m of memory) {
      console.log(
        `${m.dialect.padEnd(7)}  ${String(m.rows).padEnd(7)}  ${m.seconds.toFixed(1).padStart(8)}  ${String(Math.round(m.rows / m.seconds)).padStart(7)}  ${m.peakRssMb.toFixed(0).padStart(11)}`,
      );
    }
  } finally {
    rmSync(bigDir, { recursive: true, force: true });
  }

  const my = results[0];
  console.log(
    `\nMySQL import ${my.importSeconds.toFixed(2)} s (target < 10 s: ${my.importSeconds < 10 ? 'met' : 'MISSED'}); ` +
      `bulk load ${my.bulkLoadSeconds.toFixed(2)} s (target < 2 s: ${my.bulkLoadSeconds < 2 ? 'met' : 'MISSED'})`,
  );
  const worst = Math.max(...memory.map((m) => m.peakRssMb));
  console.log(`200 MB import peak RSS ${worst.toFixed(0)} MB (target < 300 MB: ${worst < 300 ? 'met' : 'MISSED'})`);
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
