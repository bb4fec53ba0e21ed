/**
 * The user's own stock_db, as it is (issue 11): each test creates a user-shaped database first (tushare `daily` with
 * ts_code and YYYYMMDD dates, a stock_db missing klinecast's nullable columns, a table with an extra NOT NULL column,
 * 600519.SH-style symbols, tushare's `market` = board), then runs migrate, import, check, train, predict and batch on
 * it through the CLI, and compares a checksum of the user's own columns and rows before and after.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import {
  generateDemoMarket,
  importCsvFiles,
  migrate,
  openDatabase,
  StockDataLoader,
  type Dialect,
  type KlineBar,
  type SchemaConfigInput,
} from '../../src/data/index.js';
import { dialects, createTestDatabase, forEachDialect, type TestDatabase } from '../helpers/db.js';
import { ashare, ASHARE_DIR } from '../helpers/env.js';
import { test } from 'node:test';
import { runCli } from './run-cli.js';

const market = generateDemoMarket({ stocks: 2, start: '2023-01-01', end: '2024-03-31', seed: 7 });
/** The user's own stock (already in their database) and the one klinecast imports. */
const OWN: KlineBar[] = market.bars(0).map((b) => ({ ...b, symbol: '600519' }));
const IMPORTED: KlineBar[] = market.bars(1).map((b) => ({ ...b, symbol: '000001' }));

const TINY = { dataset: { seqLength: 10 }, model: { hiddenSize: 8, numLayers: 1, headHiddenSize: 8 }, training: { epochs: 1, batchSize: 64, patience: 0 } };
const TINY_FLAGS = ['--epochs', '1', '--hidden-size', '8', '--num-layers', '1', '--head-hidden-size', '8', '--seq-length', '10', '--batch-size', '64', '--patience', '0'];

type Value = string | number | null;

interface Shape {
  name: string;
  /** the schema section of klinecast.config.json, when the shape needs one */
  config?: SchemaConfigInput;
  ddl(d: Dialect): string[];
  kline: { table: string; columns: string[]; row(bar: KlineBar, i: number): Value[]; key: string[] };
  info: { table: string; columns: string[]; row: Value[]; key: string[] };
  /** how `batch` picks its stocks on this shape */
  batch: string[];
  /** extra assertions after import */
  afterImport?(tdb: TestDatabase): Promise<void>;
}

const num = (d: Dialect, mysql: string) => (d === 'mysql' ? mysql : 'real');
const text = (d: Dialect, n: number) => (d === 'mysql' ? `varchar(${n})` : 'text');
const compact = (date: string) => date.replace(/-/g, '');
const PRICES = ['open', 'high', 'low', 'close', 'pre_close', 'change', 'pct_chg'];
const priceCols = (d: Dialect) => PRICES.map((c) => `${q(d, c)} ${num(d, 'decimal(12,4)')} not null`).join(', ');
const q = (d: Dialect, name: string) => (d === 'mysql' ? `\`${name}\`` : `"${name}"`);
const prices = (b: KlineBar): Value[] => [b.open, b.high, b.low, b.close, b.preClose, b.change, b.pctChg];
const full = ['turnover_rate', 'pe', 'pb', 'total_mv', 'circ_mv', 'limit_status'];

const SHAPES: Shape[] = [
  {
    name: 'tushare daily as pandas to_sql wrote it: ts_code, YYYYMMDD dates, vol in shares, amount in CNY; stock_basic with market = board',
    config: { stock_kline_data: { table: 'daily', volUnit: 'shares', amountUnit: 'cny' }, stock_basic_info: { table: 'stock_basic' } },
    ddl: (d) => [
      `create table daily (${q(d, 'index')} bigint, ts_code ${text(d, 12)} not null, trade_date ${text(d, 8)} not null, ${PRICES.map((c) => `${q(d, c)} double`).join(', ')}, vol double, amount double)`,
      `create table stock_basic (ts_code ${text(d, 12)} not null primary key, symbol ${text(d, 6)}, name ${text(d, 32)}, area ${text(d, 16)}, industry ${text(d, 32)}, market ${text(d, 16)}, list_date ${text(d, 8)}, list_status ${text(d, 1)})`,
    ],
    kline: {
      table: 'daily',
      columns: ['index', 'ts_code', 'trade_date', ...PRICES, 'vol', 'amount'],
      row: (b, i) => [i, '600519.SH', compact(b.tradeDate), ...prices(b), Math.round(b.vol * 100), Math.round(b.amount * 1000 * 10) / 10],
      key: ['ts_code', 'trade_date'],
    },
    info: {
      table: 'stock_basic',
      columns: ['ts_code', 'symbol', 'name', 'area', 'industry', 'market', 'list_date', 'list_status'],
      row: ['600519.SH', '600519', '贵州茅台', '贵州', '白酒', '主板', '20010827', 'L'],
      key: ['ts_code'],
    },
    batch: ['--stock-type', '主板'],
    async afterImport(tdb) {
      const { rows } = await sql<Record<string, unknown>>`select ts_code, trade_date, vol, amount from daily where ts_code = '000001.SZ' order by trade_date limit 1`.execute(tdb.handle.db);
      const first = IMPORTED[0];
      assert.deepEqual(
        { ...rows[0], vol: Number(rows[0].vol), amount: Number(rows[0].amount) },
        { ts_code: '000001.SZ', trade_date: compact(first.tradeDate), vol: Math.round(first.vol * 100), amount: Number((first.amount * 1000).toFixed(1)) },
      );
      const info = await sql<Record<string, unknown>>`select ts_code, symbol, market, list_status from stock_basic where symbol = '000001'`.execute(tdb.handle.db);
      assert.deepEqual(info.rows, [{ ts_code: '000001.SZ', symbol: '000001', market: '主板', list_status: 'L' }]);
    },
  },
  {
    name: "a stock_db missing klinecast's nullable columns (with an id and a timestamp of its own)",
    ddl: (d) => [
      `create table stock_kline_data (id ${d === 'mysql' ? 'bigint auto_increment primary key' : 'integer primary key autoincrement'}, symbol ${text(d, 10)} not null, trade_date ${d === 'mysql' ? 'date' : 'text'} not null, ${priceCols(d)}, vol ${num(d, 'decimal(20,2)')} not null, amount ${num(d, 'decimal(20,4)')} not null, created_at ${d === 'mysql' ? 'timestamp' : 'text'} not null default current_timestamp, unique (symbol, trade_date))`,
      `create table stock_basic_info (symbol ${text(d, 10)} not null primary key, name ${text(d, 32)} not null, market ${text(d, 8)}, industry ${text(d, 32)}, list_date ${d === 'mysql' ? 'date' : 'text'})`,
    ],
    kline: {
      table: 'stock_kline_data',
      columns: ['symbol', 'trade_date', ...PRICES, 'vol', 'amount', 'created_at'],
      row: (b) => ['600519', b.tradeDate, ...prices(b), b.vol, b.amount, '2024-04-01 08:00:00'],
      key: ['symbol', 'trade_date'],
    },
    info: { table: 'stock_basic_info', columns: ['symbol', 'name', 'market', 'industry', 'list_date'], row: ['600519', '贵州茅台', 'SH', '白酒', '2001-08-27'], key: ['symbol'] },
    batch: ['--symbols', 'all'],
  },
  {
    name: 'a table with extra NOT NULL columns klinecast does not know (ts_code is filled, source through the mapping)',
    config: { stock_kline_data: { fill: { source: 'klinecast' } } },
    ddl: (d) => [
      `create table stock_kline_data (symbol ${text(d, 10)} not null, ts_code ${text(d, 12)} not null, trade_date ${d === 'mysql' ? 'date' : 'text'} not null, ${priceCols(d)}, vol ${num(d, 'decimal(20,2)')} not null, amount ${num(d, 'decimal(20,4)')} not null, ${full.map((c) => `${c} ${num(d, 'decimal(20,4)')}`).join(', ')}, source ${text(d, 16)} not null, primary key (symbol, trade_date))`,
      `create table stock_basic_info (symbol ${text(d, 10)} not null primary key, name ${text(d, 32)} not null, exchange ${text(d, 8)}, market ${text(d, 8)}, stock_type ${text(d, 16)}, industry ${text(d, 32)}, list_date ${text(d, 10)}, delist_date ${text(d, 10)}, is_active ${d === 'mysql' ? 'tinyint' : 'integer'} not null default 1)`,
    ],
    kline: {
      table: 'stock_kline_data',
      columns: ['symbol', 'ts_code', 'trade_date', ...PRICES, 'vol', 'amount', 'source'],
      row: (b) => ['600519', '600519.SH', b.tradeDate, ...prices(b), b.vol, b.amount, 'tushare'],
      key: ['symbol', 'trade_date'],
    },
    info: { table: 'stock_basic_info', columns: ['symbol', 'name', 'exchange', 'market', 'stock_type', 'is_active'], row: ['600519', '贵州茅台', 'SSE', 'SH', '主板', 1], key: ['symbol'] },
    batch: ['--symbols', 'all'],
    async afterImport(tdb) {
      const { rows } = await sql<Record<string, unknown>>`select ts_code, source from stock_kline_data where symbol = '000001' limit 1`.execute(tdb.handle.db);
      assert.deepEqual(rows, [{ ts_code: '000001.SZ', source: 'klinecast' }]);
    },
  },
  {
    name: '600519.SH-style symbols in both tables',
    ddl: (d) => [
      `create table stock_kline_data (symbol ${text(d, 10)} not null, trade_date ${d === 'mysql' ? 'date' : 'text'} not null, ${priceCols(d)}, vol ${num(d, 'decimal(20,2)')} not null, amount ${num(d, 'decimal(20,4)')} not null, ${full.map((c) => `${c} ${num(d, 'decimal(20,4)')}`).join(', ')}, primary key (symbol, trade_date))`,
      `create table stock_basic_info (symbol ${text(d, 10)} not null primary key, name ${text(d, 32)} not null, exchange ${text(d, 8)}, market ${text(d, 8)}, stock_type ${text(d, 16)}, industry ${text(d, 32)}, list_date ${text(d, 10)}, delist_date ${text(d, 10)}, is_active ${d === 'mysql' ? 'tinyint' : 'integer'} not null default 1)`,
    ],
    kline: { table: 'stock_kline_data', columns: ['symbol', 'trade_date', ...PRICES, 'vol', 'amount'], row: (b) => ['600519.SH', b.tradeDate, ...prices(b), b.vol, b.amount], key: ['symbol', 'trade_date'] },
    info: { table: 'stock_basic_info', columns: ['symbol', 'name', 'exchange', 'market', 'stock_type'], row: ['600519.SH', '贵州茅台', 'SSE', 'SH', '主板'], key: ['symbol'] },
    batch: ['--stock-type', '主板'],
    async afterImport(tdb) {
      const { rows } = await sql<{ symbol: string }>`select distinct symbol from stock_kline_data order by symbol`.execute(tdb.handle.db);
      assert.deepEqual(rows, [{ symbol: '000001.SZ' }, { symbol: '600519.SH' }]);
      const info = await sql<{ symbol: string }>`select symbol from stock_basic_info order by symbol`.execute(tdb.handle.db);
      assert.deepEqual(info.rows, [{ symbol: '000001.SZ' }, { symbol: '600519.SH' }]);
    },
  },
  {
    name: "tushare's market = board (主板) with an empty stock_type",
    ddl: (d) => [
      `create table stock_kline_data (symbol ${text(d, 10)} not null, trade_date ${d === 'mysql' ? 'date' : 'text'} not null, ${priceCols(d)}, vol ${num(d, 'decimal(20,2)')} not null, amount ${num(d, 'decimal(20,4)')} not null, ${full.map((c) => `${c} ${num(d, 'decimal(20,4)')}`).join(', ')}, primary key (symbol, trade_date))`,
      `create table stock_basic_info (symbol ${text(d, 10)} not null primary key, name ${text(d, 32)} not null, exchange ${text(d, 8)}, market ${text(d, 16)}, stock_type ${text(d, 16)}, industry ${text(d, 32)}, list_date ${text(d, 10)}, delist_date ${text(d, 10)}, is_active ${d === 'mysql' ? 'tinyint' : 'integer'} not null default 1)`,
    ],
    kline: { table: 'stock_kline_data', columns: ['symbol', 'trade_date', ...PRICES, 'vol', 'amount'], row: (b) => ['600519', b.tradeDate, ...prices(b), b.vol, b.amount], key: ['symbol', 'trade_date'] },
    info: { table: 'stock_basic_info', columns: ['symbol', 'name', 'exchange', 'market', 'stock_type'], row: ['600519', '贵州茅台', 'SSE', '主板', null], key: ['symbol'] },
    batch: ['--stock-type', '主板'],
  },
];

async function exec(tdb: TestDatabase, statement: string): Promise<void> {
  await sql.raw(statement).execute(tdb.handle.db);
}

async function insertRows(tdb: TestDatabase, table: string, columns: string[], rows: Value[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    await sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))}) values ${sql.join(chunk.map((r) => sql`(${sql.join(r)})`))}`.execute(
      tdb.handle.db,
    );
  }
}

/** A checksum of the user's original columns of the user's original rows (columns klinecast added are left out). */
async function checksum(tdb: TestDatabase, table: string, columns: string[], key: string[], keys: Set<string>): Promise<{ rows: number; hash: string }> {
  const { rows } = await sql<Record<string, unknown>>`select ${sql.join(columns.map((c) => sql.ref(c)))} from ${sql.table(table)} order by ${sql.join(key.map((c) => sql.ref(c)))}`.execute(
    tdb.handle.db,
  );
  const mine = rows.filter((r) => keys.has(key.map((k) => String(r[k])).join('|')));
  const hash = createHash('sha256');
  for (const r of mine) hash.update(JSON.stringify(columns.map((c) => (r[c] === null ? null : String(r[c])))));
  return { rows: mine.length, hash: hash.digest('hex') };
}

function noStack(result: { stderr: string; stdout: string }): void {
  assert.doesNotMatch(result.stderr, /\n\s+at .+:\d+:\d+/, 'a stack trace reached the user');
}

function ok(result: ReturnType<typeof runCli>, what: string): string {
  noStack(result);
  assert.equal(result.status, 0, `${what} exited ${result.status}: ${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

function csvOf(bars: KlineBar[]): string {
  const header = 'symbol,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount';
  return [header, ...bars.map((b) => [b.symbol, b.tradeDate, b.open, b.high, b.low, b.close, b.preClose, b.change, b.pctChg, b.vol, b.amount].join(','))].join('\n') + '\n';
}

for (const shape of SHAPES) {
  for (const { dialect, skip } of dialects()) {
    test(`the user's own database, ${shape.name} [${dialect}]`, { skip, timeout: 600_000 }, async () => {
      const tdb = await createTestDatabase(dialect, { migrate: false });
      try {
        for (const statement of shape.ddl(dialect)) await exec(tdb, statement);
        await insertRows(tdb, shape.kline.table, shape.kline.columns, OWN.map(shape.kline.row));
        await insertRows(tdb, shape.info.table, shape.info.columns, [shape.info.row]);
        const klineKeys = new Set(OWN.map((b, i) => shape.kline.key.map((k) => String(shape.kline.row(b, i)[shape.kline.columns.indexOf(k)])).join('|')));
        const infoKeys = new Set([shape.info.key.map((k) => String(shape.info.row[shape.info.columns.indexOf(k)])).join('|')]);
        const before = [
          await checksum(tdb, shape.kline.table, shape.kline.columns, shape.kline.key, klineKeys),
          await checksum(tdb, shape.info.table, shape.info.columns, shape.info.key, infoKeys),
        ];
        assert.equal(before[0].rows, OWN.length);

        const cwd = tdb.dir;
        const db = ['--database', tdb.url];
        const writeConfig = (schema: SchemaConfigInput | undefined) => writeFileSync(join(cwd, 'klinecast.config.json'), JSON.stringify({ schema: schema ?? {} }, null, 2));
        // The extra-NOT-NULL shape first runs without its mapping: the import fails in one line naming the column and the fix.
        writeConfig(shape.config?.stock_kline_data?.fill ? { ...shape.config, stock_kline_data: { ...shape.config.stock_kline_data, fill: undefined } } : shape.config);
        const cli = (args: string[]) => runCli(args, { cwd });

        const dry = ok(cli(['db', 'migrate', '--dry-run', ...db]), 'db migrate --dry-run');
        assert.match(dry, /would run: /);
        assert.match(dry, /dry run: \d+ statement\(s\) would run, nothing was changed/);
        const migrated = ok(cli(['db', 'migrate', ...db]), 'db migrate');
        assert.match(migrated, /^run: create table if not exists .*trade_calendar/m);
        assert.match(ok(cli(['db', 'migrate', ...db]), 'db migrate again'), /schema is up to date/);

        const csv = join(cwd, '000001.csv');
        writeFileSync(csv, csvOf(IMPORTED));
        if (shape.config?.stock_kline_data?.fill) {
          const failed = cli(['data', 'import', csv, ...db]);
          noStack(failed);
          assert.equal(failed.status, 2, failed.stderr);
          const line = failed.stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
          assert.equal(line.length, 1, failed.stderr);
          assert.match(line[0], /table stock_kline_data.*column source is NOT NULL without a default.*"fill": \{"source"/);
          const inspected = JSON.parse(ok(cli(['db', 'inspect', '--json', ...db]), 'db inspect')) as { ready: boolean; warnings: string[] };
          assert.equal(inspected.ready, false);
          assert.match(inspected.warnings.join('\n'), /stock_kline_data\.source is NOT NULL without a default/);
          writeConfig(shape.config);
        }
        const inspection = JSON.parse(ok(cli(['db', 'inspect', '--json', ...db]), 'db inspect')) as { ready: boolean; missing: string[]; warnings: string[] };
        assert.deepEqual({ ready: inspection.ready, missing: inspection.missing, warnings: inspection.warnings }, { ready: true, missing: [], warnings: [] });

        const imported = JSON.parse(ok(cli(['data', 'import', csv, '--json', ...db]), 'data import')) as { totals: { inserted: number; rejected: number } };
        assert.deepEqual([imported.totals.inserted, imported.totals.rejected], [IMPORTED.length, 0]);
        const again = JSON.parse(ok(cli(['data', 'import', csv, '--json', ...db]), 'data import again')) as { totals: { unchanged: number; inserted: number; updated: number } };
        assert.deepEqual([again.totals.inserted, again.totals.updated, again.totals.unchanged], [0, 0, IMPORTED.length]);
        await shape.afterImport?.(tdb);

        for (const spelling of ['600519', '600519.SH', 'sh600519', 'SH600519']) {
          const check = JSON.parse(ok(cli(['data', 'check', spelling, '--json', ...db]), `data check ${spelling}`)) as { stocks: Array<{ symbol: string; rows: number }> };
          assert.deepEqual(check.stocks.map((s) => [s.symbol, s.rows]), [['600519', OWN.length]]);
        }

        const trained = JSON.parse(ok(cli(['train', '--symbol', '600519.SH', ...TINY_FLAGS, '--no-progress', '--json', ...db]), 'train')) as { runName: string };
        assert.ok(trained.runName, 'train reports its run');
        const forecast = JSON.parse(ok(cli(['predict', '--symbol', 'sh600519', '--samples', '0', '--json', ...db]), 'predict')) as { symbol: string; baseDate: string };
        assert.equal(forecast.symbol, '600519');
        assert.equal(forecast.baseDate, OWN[OWN.length - 1].tradeDate);

        writeFileSync(join(cwd, 'tiny.json'), JSON.stringify(TINY));
        const batch = JSON.parse(ok(cli(['batch', ...shape.batch, '--config', 'tiny.json', '--workers', '1', '--no-progress', '--json', ...db]), 'batch')) as {
          stocks: Array<{ symbol: string; status: string }>;
        };
        assert.deepEqual(
          batch.stocks.map((s) => [s.symbol, s.status]).sort(),
          [
            ['000001', 'completed'],
            ['600519', 'completed'],
          ],
        );

        const after = [
          await checksum(tdb, shape.kline.table, shape.kline.columns, shape.kline.key, klineKeys),
          await checksum(tdb, shape.info.table, shape.info.columns, shape.info.key, infoKeys),
        ];
        assert.deepEqual(after, before, "the user's own columns and rows changed");
      } finally {
        await tdb.cleanup();
      }
    });
  }
}

forEachDialect(
  'real bars through a mapping in shares and CNY come back exactly: a re-import of five real stocks changes nothing, and the loader reads lots and thousand CNY',
  async (tdb) => {
    const d = tdb.dialect;
    await exec(
      tdb,
      `create table daily (ts_code ${text(d, 12)} not null, trade_date ${text(d, 8)} not null, ${PRICES.map((c) => `${q(d, c)} double`).join(', ')}, vol double, amount double, primary key (ts_code, trade_date))`,
    );
    // An empty table cannot show how it spells symbols and dates: the mapping says so.
    const handle = await openDatabase(tdb.url, {
      schema: { stock_kline_data: { table: 'daily', symbolFormat: 'suffix', dateFormat: 'yyyymmdd', volUnit: 'shares', amountUnit: 'cny' } },
    });
    try {
      await migrate(handle);
      const files = ['600519', '000001', '300750', '600900', '000002'].map((s) => join(ASHARE_DIR, `${s}.csv`));
      const first = await importCsvFiles(handle, files);
      assert.equal(first.totals.rejected, 0);
      const again = await importCsvFiles(handle, files);
      assert.deepEqual([again.totals.inserted, again.totals.updated, again.totals.unchanged], [0, 0, first.totals.inserted]);
      const bar = (await new StockDataLoader(handle).loadKline('600519.SH', '2023-03-16', '2023-03-16'))[0];
      const { rows } = await sql<{ vol: number; amount: number }>`select vol, amount from daily where ts_code = '600519.SH' and trade_date = '20230316'`.execute(handle.db);
      assert.equal(Number(rows[0].vol), Math.round(bar.vol * 100));
      assert.ok(Math.abs(Number(rows[0].amount) - bar.amount * 1000) < 0.05, `${rows[0].amount} vs ${bar.amount}`);
    } finally {
      await handle.close();
    }
  },
  { migrate: false, skip: ashare.skip, timeout: 300_000 },
);
