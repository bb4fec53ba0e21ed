/**
 * Data-layer benchmark (`npm run bench:data`): import the 33 real stocks into MariaDB/MySQL and SQLite,
 * re-import them (nothing changes), and bulk-load them back through the streaming loader.
 * Targets (issue 2): MySQL import < 10 s, bulk load < 2 s.
 *
 * MySQL server: KLINECAST_BENCH_MYSQL_URL, else KLINECAST_TEST_MYSQL_URL, else mysql://root@127.0.0.1:3306/test;
 * a temporary database is created on it and dropped afterwards.
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { importCsvFiles, migrate, openDatabase, StockDataLoader, type DatabaseHandle } from '../src/data/index.js';
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
  const my = results[0];
  console.log(
    `\nMySQL import ${my.importSeconds.toFixed(2)} s (target < 10 s: ${my.importSeconds < 10 ? 'met' : 'MISSED'}); ` +
      `bulk load ${my.bulkLoadSeconds.toFixed(2)} s (target < 2 s: ${my.bulkLoadSeconds < 2 ? 'met' : 'MISSED'})`,
  );
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
