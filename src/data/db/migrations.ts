import { sql, type Compilable, type CreateTableBuilder, type RawBuilder } from 'kysely';
import { UserError } from '../../util/errors.js';
import { sqlNow, type DatabaseHandle } from './connection.js';
import { REQUIRED_COLUMNS, MAPPED_TABLES, type ResolvedSchema, type ResolvedTable } from './mapping.js';
import type { Db, Dialect } from './schema.js';

/**
 * Ordered, append-only. Each step creates only what is missing (IF NOT EXISTS), so it is harmless on a
 * user's existing stock_db and when two processes migrate at once; `klinecast_migration` records what ran.
 */
interface Migration {
  name: string;
  up(ctx: MigrationContext): Promise<void>;
}

/** What a step runs with: `run` prints (records) each statement, and executes it unless this is a dry run. */
interface MigrationContext {
  db: Db;
  dialect: Dialect;
  schema: ResolvedSchema;
  /** what a step leaves alone and the user should know (collected into MigrationResult.warnings) */
  warnings: string[];
  run(query: Compilable & { execute(): Promise<unknown> }): Promise<void>;
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
    integer: sql`integer`,
    double: mysql ? sql`double` : sql`real`,
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
    async up({ db, dialect, schema, run }) {
      const t = columnTypes(dialect);
      const price = t.decimal(12, 4);
      // A user's existing table (under klinecast's name or mapped to another) is completed afterwards, never recreated.
      if (!schema.stock_kline_data.exists) await run(tableOptions(
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
      ));
      if (!schema.stock_basic_info.exists) await run(tableOptions(
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
      ));
    },
  },
  {
    name: '002_trade_calendar',
    async up({ db, dialect, run }) {
      const t = columnTypes(dialect);
      await run(tableOptions(
        db.schema.createTable('trade_calendar').ifNotExists().addColumn('trade_date', t.date, (c) => c.notNull().primaryKey()),
        dialect,
        true,
      ));
      // A user's existing stock_db already knows its trading days: every date that has a bar (in klinecast's spelling).
      await run(db
        .insertInto('trade_calendar')
        .orIgnore()
        .columns(['trade_date'])
        .expression((eb) => eb.selectFrom('stock_kline_data').select('trade_date').distinct()));
    },
  },
  {
    name: '003_model_registry',
    async up({ db, dialect, run }) {
      const t = columnTypes(dialect);
      await run(tableOptions(
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
      ));
      await createIndexIfMissing({ db, dialect, run }, 'model_registry', 'idx_model_registry_symbol', ['symbol']);
    },
  },
  {
    // The prediction ledger. A user's own ai_predictions (the original project's) is completed after the steps instead.
    name: '004_prediction_ledger',
    async up({ db, dialect, run }) {
      if (await tableExists(db, LEDGER_TABLE)) return;
      let builder = db.schema
        .createTable(LEDGER_TABLE)
        .ifNotExists()
        .addColumn('id', dialect === 'mysql' ? sql`bigint` : sql`integer`, (c) => c.primaryKey().autoIncrement());
      for (const column of ledgerColumns(dialect)) builder = builder.addColumn(column.name, column.type, (c) => (column.required ? c.notNull() : c));
      await run(tableOptions(builder, dialect));
      await createIndexIfMissing({ db, dialect, run }, LEDGER_TABLE, LEDGER_KEY_INDEX, LEDGER_KEY, true);
      await createIndexIfMissing({ db, dialect, run }, LEDGER_TABLE, 'idx_ai_predictions_target', ['target_date']);
    },
  },
  {
    // tushare adj_factor, keyed like the bars so one stock's factors are read in one range scan (src/data/adjust.ts).
    name: '005_adj_factor',
    async up({ db, dialect, run }) {
      const t = columnTypes(dialect);
      await run(tableOptions(
        db.schema
          .createTable('adj_factor')
          .ifNotExists()
          .addColumn('symbol', t.symbol, (c) => c.notNull())
          .addColumn('trade_date', t.date, (c) => c.notNull())
          .addColumn('adj_factor', t.decimal(20, 6), (c) => c.notNull())
          .addPrimaryKeyConstraint('pk_adj_factor', ['symbol', 'trade_date']),
        dialect,
        true,
      ));
    },
  },
];

export const LEDGER_TABLE = 'ai_predictions';
/** The ledger's key: one row per forecast of one step of one run (DESIGN.md §1); a repeat updates it. */
export const LEDGER_KEY = ['run_name', 'symbol', 'base_date', 'target_date', 'step'] as const;
const LEDGER_KEY_INDEX = 'uk_ai_predictions_key';

/** klinecast's ledger columns after `id`; `required` ones are NOT NULL in the table klinecast creates, never in a user's. */
function ledgerColumns(dialect: Dialect): Array<{ name: string; type: RawBuilder<unknown>; required: boolean }> {
  const t = columnTypes(dialect);
  const column = (name: string, type: RawBuilder<unknown>, required = false) => ({ name, type, required });
  return [
    column('run_name', t.text(191), true),
    column('symbol', t.symbol, true),
    column('base_date', t.date, true),
    column('target_date', t.date, true),
    column('step', t.integer, true),
    column('base_close', t.double, true),
    column('predicted_price', t.double, true),
    column('predicted_return', t.double, true),
    column('lower_bound', t.double),
    column('upper_bound', t.double),
    column('interval_method', t.text(32)),
    column('interval_level', t.double),
    column('source', t.text(16), true),
    column('created_at', t.datetime, true),
    column('updated_at', t.datetime, true),
    column('live', t.tinyint),
    column('actual_close', t.double),
    column('error', t.double),
    column('abs_error', t.double),
    column('actual_return', t.double),
    column('in_interval', t.tinyint),
    column('reconciled_at', t.datetime),
  ];
}

/**
 * A user's own ai_predictions (the original Python project created one and never filled it; its shape varies) gets
 * klinecast's missing columns, all nullable, and the ledger's unique key. Its rows and columns are left as they are:
 * the legacy rows have no run and stay out of klinecast's lists and scores. Nothing here refuses: what klinecast
 * cannot do on the table (add the key, fill the user's own NOT NULL columns) is a warning, and recording then warns.
 */
async function completeLedgerTable({ db, dialect, run, warnings }: Pick<MigrationContext, 'db' | 'dialect' | 'run' | 'warnings'>): Promise<void> {
  const table = (await db.introspection.getTables()).find((t) => t.name === LEDGER_TABLE);
  if (!table) return;
  const present = new Set(table.columns.map((c) => c.name.toLowerCase()));
  for (const column of ledgerColumns(dialect)) {
    if (!present.has(column.name)) await run(db.schema.alterTable(LEDGER_TABLE).addColumn(column.name, column.type));
  }
  const wanted = [...LEDGER_KEY].sort().join(',');
  if (!(await uniqueKeys(db, dialect, LEDGER_TABLE)).some((k) => [...k].sort().join(',') === wanted)) {
    try {
      // The legacy rows hold NULL in the new key columns, and NULLs never collide in a unique index on either dialect.
      await run(db.schema.createIndex(LEDGER_KEY_INDEX).unique().on(LEDGER_TABLE).columns([...LEDGER_KEY]));
    } catch (err) {
      warnings.push(
        `cannot add the unique key ${LEDGER_KEY_INDEX} (${LEDGER_KEY.join(', ')}) on ${LEDGER_TABLE}: ${(err as Error).message.split('\n')[0]}; ` +
          'forecasts are not recorded until it exists',
      );
    }
  }
  const filled = new Set<string>([...ledgerColumns(dialect).map((c) => c.name), 'id', ...Object.keys(LEGACY_LEDGER_FILL)]);
  for (const c of table.columns) {
    if (!c.isNullable && !c.hasDefaultValue && !c.isAutoIncrementing && !filled.has(c.name.toLowerCase())) {
      warnings.push(
        `${LEDGER_TABLE}.${c.name} is NOT NULL without a default and klinecast does not fill it: recording forecasts fails until it has a default or allows NULL`,
      );
    }
  }
}

/**
 * The original project's spellings of ledger fields (ai_predictions with stock_code, predict_date, predicted_price):
 * a user's table that has them gets them filled from klinecast's fields, so its own tools keep reading the rows.
 */
export const LEGACY_LEDGER_FILL: Readonly<Record<string, 'symbol' | 'target_date' | 'base_date' | 'run_name' | 'predicted_price'>> = {
  stock_code: 'symbol',
  code: 'symbol',
  predict_date: 'target_date',
  prediction_date: 'target_date',
  base_trade_date: 'base_date',
  model_name: 'run_name',
  predicted_close: 'predicted_price',
  predict_price: 'predicted_price',
};

/** MySQL 8 has no CREATE INDEX IF NOT EXISTS (SQLite and MariaDB do), so ask information_schema first. */
async function createIndexIfMissing(
  { db, dialect, run }: Pick<MigrationContext, 'db' | 'dialect' | 'run'>,
  table: 'model_registry' | typeof LEDGER_TABLE,
  name: string,
  columns: readonly string[],
  unique = false,
): Promise<void> {
  const index = (ifNotExists: boolean) => {
    const b = db.schema.createIndex(name);
    const named = ifNotExists ? b.ifNotExists() : b;
    return (unique ? named.unique() : named).on(table).columns([...columns]);
  };
  if (dialect === 'mysql') {
    const tableExists = await sql<{ n: number }>`
      select count(*) as n from information_schema.tables where table_schema = database() and table_name = ${table}`.execute(db);
    if (Number(tableExists.rows[0]?.n) > 0) {
      const { rows } = await sql<{ n: number }>`
        select count(*) as n from information_schema.statistics
        where table_schema = database() and table_name = ${table} and index_name = ${name}`.execute(db);
      if (Number(rows[0]?.n) > 0) return;
    }
    await run(index(false));
  } else {
    await run(index(true));
  }
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
  /** every statement run (or, with dryRun, that would run), in order */
  statements: string[];
  /** what klinecast cannot fix in the user's tables and leaves alone (NOT NULL columns it does not fill) */
  warnings: string[];
  dryRun: boolean;
}

export interface MigrateOptions {
  /** print the statements without running any */
  dryRun?: boolean;
  /** called with each statement before it runs */
  onStatement?(statement: string): void;
}

async function tableExists(db: Db, name: string): Promise<boolean> {
  return (await db.introspection.getTables()).some((t) => t.name === name);
}

/**
 * Creates what is missing and completes a user's existing tables with klinecast's nullable columns and keys.
 * Never drops, renames or changes a user's column or row; what it cannot fix safely (a required column that is
 * missing, a unique key that duplicates prevent) is refused in one message that names it and the fix.
 */
export async function migrate(handle: DatabaseHandle, options: MigrateOptions = {}): Promise<MigrationResult> {
  const { db, dialect } = handle;
  const dryRun = options.dryRun === true;
  const result: MigrationResult = { applied: [], alreadyApplied: [], statements: [], warnings: [], dryRun };
  const run: MigrationContext['run'] = async (query) => {
    const text = query.compile().sql;
    result.statements.push(text);
    options.onStatement?.(text);
    if (!dryRun) await query.execute();
  };
  const t = columnTypes(dialect);
  const ledger = await tableExists(db, 'klinecast_migration');
  if (!ledger) {
    await run(
      tableOptions(
        db.schema
          .createTable('klinecast_migration')
          .ifNotExists()
          .addColumn('name', t.text(128), (c) => c.notNull().primaryKey())
          .addColumn('applied_at', t.datetime, (c) => c.notNull()),
        dialect,
      ),
    );
  }
  const done = ledger || !dryRun ? new Set((await db.selectFrom('klinecast_migration').select('name').execute()).map((r) => r.name)) : new Set<string>();
  for (const m of MIGRATIONS) {
    if (done.has(m.name)) {
      result.alreadyApplied.push(m.name);
      continue;
    }
    await m.up({ db, dialect, schema: handle.schema, warnings: result.warnings, run });
    if (!dryRun) await db.insertInto('klinecast_migration').orIgnore().values({ name: m.name, applied_at: sqlNow() }).execute();
    result.applied.push(m.name);
  }
  if (!dryRun) await handle.refreshSchema();
  const problems: string[] = [];
  for (const name of MAPPED_TABLES) await completeTable(handle, handle.schema[name], run, problems, result.warnings);
  await completeLedgerTable({ db, dialect, run, warnings: result.warnings });
  if (!dryRun && result.statements.length) await handle.refreshSchema();
  if (problems.length) {
    throw new UserError(`database ${handle.url} cannot be completed for klinecast without changing your data: ${problems.join('; ')}`, 'db_schema');
  }
  return result;
}

/** The type klinecast gives a column it adds to a user's table (the same as in its own tables, always nullable). */
function addedColumnType(dialect: Dialect, column: string): RawBuilder<unknown> {
  const t = columnTypes(dialect);
  const types: Record<string, RawBuilder<unknown>> = {
    turnover_rate: t.decimal(12, 4),
    pe: t.decimal(16, 4),
    pb: t.decimal(16, 4),
    total_mv: t.decimal(20, 4),
    circ_mv: t.decimal(20, 4),
    limit_status: t.tinyint,
    exchange: t.text(16),
    market: t.text(16),
    stock_type: t.text(16),
    industry: t.text(64),
    list_date: t.date,
    delist_date: t.date,
    is_active: t.tinyint,
  };
  return types[column] ?? t.text(64);
}

/** Unique keys (primary key included) of a table, each as its set of column names (lower case). */
export async function uniqueKeys(db: Db, dialect: Dialect, table: string): Promise<string[][]> {
  if (dialect === 'mysql') {
    const { rows } = await sql<{ index_name: string; column_name: string }>`
      select index_name, column_name from information_schema.statistics
      where table_schema = database() and table_name = ${table} and non_unique = 0 order by index_name, seq_in_index`.execute(db);
    const keys = new Map<string, string[]>();
    for (const r of rows) keys.set(r.index_name, [...(keys.get(r.index_name) ?? []), String(r.column_name).toLowerCase()]);
    return [...keys.values()];
  }
  const { rows: indexes } = await sql<{ name: string; unique: number }>`select name, "unique" from pragma_index_list(${table})`.execute(db);
  const keys: string[][] = [];
  for (const index of indexes.filter((i) => Number(i.unique) === 1)) {
    const { rows } = await sql<{ name: string }>`select name from pragma_index_info(${index.name}) order by seqno`.execute(db);
    keys.push(rows.map((r) => String(r.name).toLowerCase()));
  }
  // A rowid table's single INTEGER PRIMARY KEY has no index entry; klinecast's keys are never that column alone.
  return keys;
}

async function completeTable(handle: DatabaseHandle, table: ResolvedTable, run: MigrationContext['run'], problems: string[], warnings: string[]): Promise<void> {
  const { db, dialect } = handle;
  if (!table.exists) return; // created by the migrations above (a dry run shows the CREATE)
  const required = new Set(REQUIRED_COLUMNS[table.name]);
  const lacking = Object.entries(table.origin)
    .filter(([column, origin]) => origin === 'missing' && required.has(column))
    .map(([column]) => column);
  if (lacking.length) {
    problems.push(
      `table ${table.table} lacks the required column(s) ${lacking.join(', ')}: map them to your columns in the schema section of klinecast.config.json ` +
        `(schema.${table.name}.columns, docs/DATA.md "Schema mapping")`,
    );
    return;
  }
  for (const [column, origin] of Object.entries(table.origin)) {
    if (origin !== 'missing') continue;
    // A table that spells dates as YYYYMMDD gets its new date columns in the same spelling.
    const type = table.dateFormat === 'yyyymmdd' && ['list_date', 'delist_date'].includes(column) ? columnTypes(dialect).text(8) : addedColumnType(dialect, column);
    await run(
      db.schema.alterTable(table.table).addColumn(column, type, (c) => (column === 'is_active' ? c.notNull().defaultTo(1) : c)),
    );
  }
  await ensureUniqueKey(handle, table, run, problems);
  warnings.push(...unfilledColumns(table));
}

/** The user's own NOT NULL columns without a default that klinecast does not write: an insert would fail on them. */
export function unfilledColumns(table: ResolvedTable): string[] {
  const written = new Set(
    [...Object.values(table.columns).filter((c): c is string => c !== null), ...Object.keys(table.fill)].map((c) => c.toLowerCase()),
  );
  return table.userColumns
    .filter((c) => !c.isNullable && !c.hasDefaultValue && !c.isAutoIncrementing && !written.has(c.name.toLowerCase()))
    .map(
      (c) =>
        `${table.table}.${c.name} is NOT NULL without a default and klinecast does not fill it: rows klinecast writes need ` +
        `"schema": {"${table.name}": {"fill": {"${c.name}": <value>}}} in klinecast.config.json, or a default on the column`,
    );
}

/** The columns of the unique key klinecast upserts on, in the user's names. */
export function keyColumns(table: ResolvedTable): string[] {
  return (table.name === 'stock_kline_data' ? ['symbol', 'trade_date'] : ['symbol']).map((c) => table.columns[c] ?? c);
}

async function ensureUniqueKey(handle: DatabaseHandle, table: ResolvedTable, run: MigrationContext['run'], problems: string[]): Promise<void> {
  const { db, dialect } = handle;
  const key = keyColumns(table);
  const wanted = key.map((c) => c.toLowerCase()).sort().join(',');
  const keys = await uniqueKeys(db, dialect, table.table);
  if (keys.some((k) => [...k].sort().join(',') === wanted)) return;
  const cols = key.map((c) => sql.ref(c));
  const { rows } = await sql<Record<string, unknown>>`
    select ${sql.join(cols)}, count(*) as n from ${sql.table(table.table)} group by ${sql.join(cols)} having count(*) > 1 limit 5`.execute(db);
  if (rows.length) {
    const named = rows.map((r) => `(${key.map((c) => String(r[c])).join(', ')}) ×${Number(r.n)}`).join(', ');
    problems.push(
      `table ${table.table} has no unique key on (${key.join(', ')}) and klinecast cannot add one: duplicate rows ${named}${rows.length === 5 ? ' …' : ''}; ` +
        `remove the duplicates, then run \`klinecast db migrate\` again`,
    );
    return;
  }
  const name = `uk_klinecast_${table.table}`.slice(0, 60);
  try {
    await run(db.schema.createIndex(name).unique().on(table.table).columns(key));
  } catch (err) {
    problems.push(`cannot add the unique key ${name} on ${table.table} (${key.join(', ')}): ${(err as Error).message.split('\n')[0]}`);
  }
}
