import { sql, type CreateTableBuilder } from 'kysely';
import { UserError } from '../../util/errors.js';
import { sqlNow, type DatabaseHandle } from './connection.js';
import { KLINE_COLUMNS, BASIC_INFO_COLUMNS, type Db, type Dialect } from './schema.js';

/**
 * Ordered, append-only. Each step creates only what is missing (IF NOT EXISTS), so it is harmless on a
 * user's existing stock_db and when two processes migrate at once; `klinecast_migration` records what ran.
 */
interface Migration {
  name: string;
  up(db: Db, dialect: Dialect): Promise<void>;
}

function columnTypes(dialect: Dialect) {
  const mysql = dialect === 'mysql';
  return {
    symbol: sql`varchar(10)`,
    date: mysql ? sql`date` : sql`text`,
    datetime: mysql ? sql`datetime` : sql`text`,
    decimal: (precision: number, scale: number) => (mysql ? sql.raw(`decimal(${precision},${scale})`) : sql`real`),
    text: (length: number) => (mysql ? sql.raw(`varchar(${length})`) : sql`text`),
    longText: sql`text`,
    tinyint: mysql ? sql`tinyint` : sql`integer`,
  };
}

/**
 * InnoDB + utf8mb4 on MySQL (Chinese names). On SQLite a table keyed by its primary key is WITHOUT ROWID,
 * which stores rows in key order as InnoDB does, so one stock's bars are read sequentially.
 */
function tableOptions<T extends string, C extends string>(builder: CreateTableBuilder<T, C>, dialect: Dialect, clustered = false): CreateTableBuilder<T, C> {
  if (dialect === 'mysql') return builder.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci`);
  return clustered ? builder.modifyEnd(sql`without rowid`) : builder;
}

export const MIGRATIONS: Migration[] = [
  {
    // Column names, types and the unique (symbol, trade_date) key follow the original tushare stock_db (DESIGN.md §1).
    name: '001_stock_tables',
    async up(db, dialect) {
      const t = columnTypes(dialect);
      const price = t.decimal(12, 4);
      await tableOptions(
        db.schema
          .createTable('stock_kline_data')
          .ifNotExists()
          .addColumn('symbol', t.symbol, (c) => c.notNull())
          .addColumn('trade_date', t.date, (c) => c.notNull())
          .addColumn('open', price, (c) => c.notNull())
          .addColumn('high', price, (c) => c.notNull())
          .addColumn('low', price, (c) => c.notNull())
          .addColumn('close', price, (c) => c.notNull())
          .addColumn('pre_close', price, (c) => c.notNull())
          .addColumn('change', price, (c) => c.notNull())
          .addColumn('pct_chg', t.decimal(10, 4), (c) => c.notNull())
          .addColumn('vol', t.decimal(20, 2), (c) => c.notNull())
          .addColumn('amount', t.decimal(20, 4), (c) => c.notNull())
          .addColumn('turnover_rate', t.decimal(12, 4))
          .addColumn('pe', t.decimal(16, 4))
          .addColumn('pb', t.decimal(16, 4))
          .addColumn('total_mv', t.decimal(20, 4))
          .addColumn('circ_mv', t.decimal(20, 4))
          .addColumn('limit_status', t.tinyint)
          // The key clusters each stock's bars together on InnoDB, so range and bulk reads are sequential.
          .addPrimaryKeyConstraint('pk_stock_kline_data', ['symbol', 'trade_date']),
        dialect,
        true,
      ).execute();
      await tableOptions(
        db.schema
          .createTable('stock_basic_info')
          .ifNotExists()
          .addColumn('symbol', t.symbol, (c) => c.notNull().primaryKey())
          .addColumn('name', t.text(64), (c) => c.notNull())
          .addColumn('exchange', t.text(16))
          .addColumn('market', t.text(16))
          .addColumn('stock_type', t.text(16))
          .addColumn('industry', t.text(64))
          .addColumn('list_date', t.date)
          .addColumn('delist_date', t.date)
          .addColumn('is_active', t.tinyint, (c) => c.notNull().defaultTo(1)),
        dialect,
      ).execute();
    },
  },
  {
    name: '002_trade_calendar',
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await tableOptions(
        db.schema.createTable('trade_calendar').ifNotExists().addColumn('trade_date', t.date, (c) => c.notNull().primaryKey()),
        dialect,
        true,
      ).execute();
      // A user's existing stock_db already knows its trading days: every date that has a bar.
      await db
        .insertInto('trade_calendar')
        .orIgnore()
        .columns(['trade_date'])
        .expression((eb) => eb.selectFrom('stock_kline_data').select('trade_date').distinct())
        .execute();
    },
  },
  {
    name: '003_model_registry',
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await tableOptions(
        db.schema
          .createTable('model_registry')
          .ifNotExists()
          .addColumn('id', dialect === 'mysql' ? sql`bigint` : sql`integer`, (c) => c.primaryKey().autoIncrement())
          .addColumn('run_name', t.text(191), (c) => c.notNull().unique())
          .addColumn('symbol', t.symbol)
          .addColumn('model_type', t.text(32), (c) => c.notNull())
          .addColumn('config_hash', t.text(64), (c) => c.notNull())
          .addColumn('status', t.text(16), (c) => c.notNull())
          .addColumn('metrics', t.longText)
          .addColumn('path', t.text(1024), (c) => c.notNull())
          .addColumn('host', t.text(255), (c) => c.notNull())
          .addColumn('created_at', t.datetime, (c) => c.notNull())
          .addColumn('finished_at', t.datetime),
        dialect,
      ).execute();
      await createIndexIfMissing(db, dialect, 'model_registry', 'idx_model_registry_symbol', 'symbol');
    },
  },
];

/** MySQL 8 has no CREATE INDEX IF NOT EXISTS (SQLite and MariaDB do), so ask information_schema first. */
async function createIndexIfMissing(db: Db, dialect: Dialect, table: 'model_registry', name: string, column: string): Promise<void> {
  if (dialect === 'mysql') {
    const { rows } = await sql<{ n: number }>`
      select count(*) as n from information_schema.statistics
      where table_schema = database() and table_name = ${table} and index_name = ${name}`.execute(db);
    if (Number(rows[0]?.n) > 0) return;
    await db.schema.createIndex(name).on(table).column(column).execute();
  } else {
    await db.schema.createIndex(name).ifNotExists().on(table).column(column).execute();
  }
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export async function migrate(handle: DatabaseHandle): Promise<MigrationResult> {
  const { db, dialect } = handle;
  const t = columnTypes(dialect);
  await tableOptions(
    db.schema
      .createTable('klinecast_migration')
      .ifNotExists()
      .addColumn('name', t.text(128), (c) => c.notNull().primaryKey())
      .addColumn('applied_at', t.datetime, (c) => c.notNull()),
    dialect,
  ).execute();
  const done = new Set((await db.selectFrom('klinecast_migration').select('name').execute()).map((r) => r.name));
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  for (const m of MIGRATIONS) {
    if (done.has(m.name)) {
      result.alreadyApplied.push(m.name);
      continue;
    }
    await m.up(db, dialect);
    await db.insertInto('klinecast_migration').orIgnore().values({ name: m.name, applied_at: sqlNow() }).execute();
    result.applied.push(m.name);
  }
  await verifyColumns(handle);
  return result;
}

/** A user's own tables may predate a column klinecast reads; say which, instead of failing inside a query. */
async function verifyColumns(handle: DatabaseHandle): Promise<void> {
  const tables = await handle.db.introspection.getTables();
  const need: Record<string, readonly string[]> = { stock_kline_data: KLINE_COLUMNS, stock_basic_info: BASIC_INFO_COLUMNS };
  const problems: string[] = [];
  for (const [table, columns] of Object.entries(need)) {
    const meta = tables.find((t) => t.name === table);
    if (!meta) {
      problems.push(`table ${table} is missing`);
      continue;
    }
    const have = new Set(meta.columns.map((c) => c.name.toLowerCase()));
    const missing = columns.filter((c) => !have.has(c));
    if (missing.length) problems.push(`table ${table} lacks column(s) ${missing.join(', ')}`);
  }
  if (problems.length) {
    throw new UserError(`database ${handle.url} is not compatible with klinecast: ${problems.join('; ')}`, 'db_schema');
  }
}
