import { CompiledQuery } from 'kysely';
import { barToRow, infoToRow, roundTo, sameKlineRow } from './db/rows.js';
import { mappingOf } from './db/mapping.js';
import { upsert } from './db/upsert.js';
import { ADJ_FACTOR_SCALE, KLINE_COLUMNS, type AdjFactorTable, type Db, type Dialect, type StockKlineTable } from './db/schema.js';
import type { KlineBar, StockInfo } from './types.js';

export interface WriteCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

/** Rows per multi-row statement: 1,000 × 17 parameters stays under SQLite's variable limit and MySQL's packet size. */
const ROWS_PER_STATEMENT = 1000;

const UPDATED_COLUMNS = KLINE_COLUMNS.filter((c) => c !== 'symbol' && c !== 'trade_date');

/**
 * Upserts bars, writing only rows that are new or differ from what is stored, so re-importing the same
 * data changes nothing and the counts say exactly what happened. Call inside a transaction.
 */
export async function writeBars(db: Db, dialect: Dialect, bars: KlineBar[]): Promise<WriteCounts> {
  const counts: WriteCounts = { inserted: 0, updated: 0, unchanged: 0 };
  const bySymbol = new Map<string, StockKlineTable[]>();
  for (const bar of bars) {
    const row = barToRow(bar);
    const list = bySymbol.get(row.symbol);
    if (list) list.push(row);
    else bySymbol.set(row.symbol, [row]);
  }
  const pending: StockKlineTable[] = [];
  for (const [symbol, rows] of bySymbol) {
    let first = rows[0].trade_date;
    let last = first;
    for (const r of rows) {
      if (r.trade_date < first) first = r.trade_date;
      if (r.trade_date > last) last = r.trade_date;
    }
    const stored = await db
      .selectFrom('stock_kline_data')
      .selectAll()
      .where('symbol', '=', symbol)
      .where('trade_date', '>=', first)
      .where('trade_date', '<=', last)
      .execute();
    const byDate = new Map(stored.map((r) => [r.trade_date, r]));
    for (const row of rows) {
      const old = byDate.get(row.trade_date);
      if (!old) counts.inserted++;
      else if (sameKlineRow(old, row)) {
        counts.unchanged++;
        continue;
      } else counts.updated++;
      pending.push(row);
      if (pending.length >= ROWS_PER_STATEMENT) await upsertRows(db, dialect, pending.splice(0));
    }
  }
  if (pending.length) await upsertRows(db, dialect, pending);
  return counts;
}

/**
 * The bulk write is the import's hot path, so its statement text is built once per (dialect, row count)
 * and run through Kysely as a raw compiled query: building a 17,000-value AST per statement cost more
 * than the database's own work.
 */
const upsertSqlCache = new Map<string, string>();

function upsertSql(dialect: Dialect, rowCount: number): string {
  const key = `${dialect}:${rowCount}`;
  let text = upsertSqlCache.get(key);
  if (text === undefined) {
    const q = (name: string) => (dialect === 'mysql' ? `\`${name}\`` : `"${name}"`);
    const tuple = `(${KLINE_COLUMNS.map(() => '?').join(',')})`;
    const values = new Array<string>(rowCount).fill(tuple).join(',');
    const conflict =
      dialect === 'mysql'
        ? `on duplicate key update ${UPDATED_COLUMNS.map((c) => `${q(c)} = values(${q(c)})`).join(', ')}`
        : `on conflict (${q('symbol')}, ${q('trade_date')}) do update set ${UPDATED_COLUMNS.map((c) => `${q(c)} = excluded.${q(c)}`).join(', ')}`;
    text = `insert into ${q('stock_kline_data')} (${KLINE_COLUMNS.map(q).join(', ')}) values ${values} ${conflict}`;
    upsertSqlCache.set(key, text);
  }
  return text;
}

async function upsertRows(db: Db, dialect: Dialect, rows: StockKlineTable[]): Promise<void> {
  const mapping = mappingOf(db);
  if (mapping && !mapping.identity) {
    // A user's own table (other names, spellings, units): through the query builder, which the mapping rewrites.
    await upsert(db, dialect, 'stock_kline_data', rows, ['symbol', 'trade_date'], UPDATED_COLUMNS);
    return;
  }
  const params: unknown[] = new Array(rows.length * KLINE_COLUMNS.length);
  let k = 0;
  for (const row of rows) for (const c of KLINE_COLUMNS) params[k++] = row[c];
  await db.executeQuery(CompiledQuery.raw(upsertSql(dialect, rows.length), params));
}

/** Inserts info rows for symbols not yet known; existing rows (a user's curated names) are left alone. */
export async function insertMissingStockInfo(db: Db, infos: StockInfo[]): Promise<number> {
  if (infos.length === 0) return 0;
  const known = new Set(
    (await db.selectFrom('stock_basic_info').select('symbol').where('symbol', 'in', infos.map((i) => i.symbol)).execute()).map((r) => r.symbol),
  );
  const fresh = infos.filter((i) => !known.has(i.symbol));
  for (let i = 0; i < fresh.length; i += ROWS_PER_STATEMENT) {
    await db.insertInto('stock_basic_info').orIgnore().values(fresh.slice(i, i + ROWS_PER_STATEMENT).map(infoToRow)).execute();
  }
  return fresh.length;
}

/** Inserts or replaces info rows (the demo generator owns its stocks' descriptions). */
export async function upsertStockInfo(db: Db, dialect: Dialect, infos: StockInfo[]): Promise<void> {
  const cols = ['name', 'exchange', 'market', 'stock_type', 'industry', 'list_date', 'delist_date', 'is_active'];
  for (let i = 0; i < infos.length; i += ROWS_PER_STATEMENT) {
    await upsert(db, dialect, 'stock_basic_info', infos.slice(i, i + ROWS_PER_STATEMENT).map(infoToRow), ['symbol'], cols);
  }
}

/**
 * Upserts adj_factor rows (rounded to the column's scale), writing only new or changed ones, with the same counts as
 * writeBars. Call inside a transaction.
 */
export async function writeAdjFactors(db: Db, dialect: Dialect, rows: ReadonlyArray<{ symbol: string; tradeDate: string; adjFactor: number }>): Promise<WriteCounts> {
  const counts: WriteCounts = { inserted: 0, updated: 0, unchanged: 0 };
  const bySymbol = new Map<string, AdjFactorTable[]>();
  for (const r of rows) {
    const row = { symbol: r.symbol, trade_date: r.tradeDate, adj_factor: roundTo(r.adjFactor, ADJ_FACTOR_SCALE) };
    const list = bySymbol.get(row.symbol);
    if (list) list.push(row);
    else bySymbol.set(row.symbol, [row]);
  }
  const pending: AdjFactorTable[] = [];
  for (const [symbol, list] of bySymbol) {
    const dates = list.map((r) => r.trade_date).sort();
    const stored = await db
      .selectFrom('adj_factor')
      .select(['trade_date', 'adj_factor'])
      .where('symbol', '=', symbol)
      .where('trade_date', '>=', dates[0])
      .where('trade_date', '<=', dates[dates.length - 1])
      .execute();
    const byDate = new Map(stored.map((r) => [r.trade_date, Number(r.adj_factor)]));
    for (const row of list) {
      const old = byDate.get(row.trade_date);
      if (old === undefined) counts.inserted++;
      else if (old === row.adj_factor) {
        counts.unchanged++;
        continue;
      } else counts.updated++;
      pending.push(row);
    }
  }
  for (let i = 0; i < pending.length; i += ROWS_PER_STATEMENT) {
    await upsert(db, dialect, 'adj_factor', pending.slice(i, i + ROWS_PER_STATEMENT), ['symbol', 'trade_date'], ['adj_factor']);
  }
  return counts;
}
