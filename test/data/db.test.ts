import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { MIGRATIONS, migrate, openDatabase, resolveDatabaseUrl, StockDataLoader, importCsvFiles } from '../../src/data/index.js';
import { UserError } from '../../src/util/errors.js';
import { forEachDialect } from '../helpers/db.js';
import { runCli } from './run-cli.js';

test('URL resolution: explicit, then KLINECAST_DATABASE_URL, then DB_* variables, then the embedded default', () => {
  assert.equal(resolveDatabaseUrl(undefined, {}), 'sqlite:data/klinecast.db');
  assert.equal(resolveDatabaseUrl('sqlite:x.db', { KLINECAST_DATABASE_URL: 'sqlite:y.db' }), 'sqlite:x.db');
  assert.equal(resolveDatabaseUrl(undefined, { KLINECAST_DATABASE_URL: 'sqlite:y.db', DB_HOST: 'h' }), 'sqlite:y.db');
  assert.equal(
    resolveDatabaseUrl(undefined, { DB_HOST: 'db.example', DB_PORT: '3307', DB_USER: 'u', DB_PASSWORD: 'p@ss', DB_NAME: 'stock_db' }),
    'mysql://u:p%40ss@db.example:3307/stock_db',
  );
});

test('bad database URLs are user errors that say what was expected', async () => {
  await assert.rejects(openDatabase('postgres://x/y'), (e: unknown) => e instanceof UserError && /mysql:\/\/.*sqlite:path/.test(e.message));
  await assert.rejects(openDatabase('mysql://root@127.0.0.1:3306'), (e: unknown) => e instanceof UserError && /names no database/.test(e.message));
});

test('an unreachable MySQL gives a clear error naming host, port and database', async () => {
  await assert.rejects(openDatabase('mysql://root@127.0.0.1:1/stock_db'), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /127\.0\.0\.1:1/);
    assert.match(e.message, /stock_db/);
    assert.match(e.message, /connection refused/);
    return true;
  });
});

test('the CLI reports an unreachable MySQL in one line, without a stack trace', () => {
  const r = runCli(['db', 'migrate', '--database', 'mysql://root@127.0.0.1:1/stock_db']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^error: cannot connect to MySQL at 127\.0\.0\.1:1 \(database "stock_db"/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('SQLite runs in WAL mode and the default database folder is created', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-db-'));
  try {
    const handle = await openDatabase(`sqlite:${join(dir, 'nested', 'k.db')}`);
    const { rows } = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(handle.db);
    assert.equal(rows[0].journal_mode, 'wal');
    await handle.close();
    assert.ok(existsSync(join(dir, 'nested', 'k.db')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

forEachDialect('migrations run twice without harm and record what they applied', async ({ handle }) => {
  // The helper migrated once already.
  const again = await migrate(handle);
  assert.deepEqual(again.applied, []);
  assert.deepEqual(again.alreadyApplied, MIGRATIONS.map((m) => m.name));
  const tables = (await handle.db.introspection.getTables()).map((t) => t.name).sort();
  for (const t of ['klinecast_migration', 'model_registry', 'stock_basic_info', 'stock_kline_data', 'trade_calendar']) assert.ok(tables.includes(t), t);
  const recorded = await handle.db.selectFrom('klinecast_migration').select('name').execute();
  assert.equal(recorded.length, MIGRATIONS.length);
});

forEachDialect(
  "a user's existing stock_db (tushare-style tables with an id, other decimals, data) migrates and imports",
  async ({ handle, dialect, dir }) => {
    const mysql = dialect === 'mysql';
    const dec = mysql ? 'DECIMAL(10,2)' : 'REAL';
    const idCol = mysql ? 'id BIGINT AUTO_INCREMENT PRIMARY KEY' : 'id INTEGER PRIMARY KEY AUTOINCREMENT';
    await sql.raw(`CREATE TABLE stock_kline_data (${idCol}, symbol VARCHAR(10) NOT NULL, trade_date DATE NOT NULL,
      open ${dec}, high ${dec}, low ${dec}, close ${dec}, pre_close ${dec}, \`change\` ${dec}, pct_chg ${dec}, vol ${dec}, amount ${dec},
      turnover_rate ${dec}, pe ${dec}, pb ${dec}, total_mv ${dec}, circ_mv ${dec}, limit_status INT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      UNIQUE (symbol, trade_date))`).execute(handle.db);
    await sql.raw(`CREATE TABLE stock_basic_info (${idCol}, symbol VARCHAR(10) NOT NULL UNIQUE, name VARCHAR(50), exchange VARCHAR(10),
      market VARCHAR(20), stock_type VARCHAR(20), industry VARCHAR(50), list_date DATE, delist_date DATE, is_active TINYINT DEFAULT 1)`).execute(handle.db);
    await sql.raw(`INSERT INTO stock_kline_data (symbol, trade_date, open, high, low, close, pre_close, \`change\`, pct_chg, vol, amount)
      VALUES ('600519', '2023-03-01', 1800, 1820, 1790, 1810, 1795, 15, 0.84, 30000, 5400000)`).execute(handle.db);
    await sql.raw(`INSERT INTO stock_basic_info (symbol, name, stock_type, industry, is_active) VALUES ('600519', '贵州茅台', '主板', '白酒', 1)`).execute(handle.db);

    const first = await migrate(handle);
    assert.deepEqual(first.applied, MIGRATIONS.map((m) => m.name));
    const calendar = await handle.db.selectFrom('trade_calendar').select('trade_date').execute();
    assert.deepEqual(calendar.map((r) => r.trade_date), ['2023-03-01'], 'the calendar is filled from existing bars');
    await migrate(handle);

    const file = join(dir, '600519.csv');
    writeFileSync(file, 'symbol,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n600519,2023-03-02,1810,1830,1800,1820,1810,10,0.55,25000,4500000\n');
    const report = await importCsvFiles(handle, [file]);
    assert.ok(report.ok);
    assert.equal(report.totals.newStocks, 0, 'existing info rows are kept');
    const loader = new StockDataLoader(handle);
    const bars = await loader.loadKline('600519');
    assert.deepEqual(bars.map((b) => [b.tradeDate, b.close]), [['2023-03-01', 1810], ['2023-03-02', 1820]]);
    assert.equal((await loader.loadStockInfo('600519'))?.name, '贵州茅台');
  },
  { migrate: false },
);
