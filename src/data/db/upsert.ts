import { sql, type InsertObject } from 'kysely';
import type { DatabaseSchema, Db, Dialect } from './schema.js';

/**
 * Inserts rows, replacing the `update` columns of a row whose unique `key` already exists: the one upsert both dialects
 * share (MySQL's ON DUPLICATE KEY UPDATE, SQLite's ON CONFLICT … DO UPDATE). Each replaced column takes the value of
 * the row being inserted.
 */
export async function upsert<T extends keyof DatabaseSchema & string>(
  db: Db,
  dialect: Dialect,
  table: T,
  rows: ReadonlyArray<InsertObject<DatabaseSchema, T>>,
  key: ReadonlyArray<string>,
  update: ReadonlyArray<string>,
): Promise<void> {
  if (rows.length === 0) return;
  const insert = db.insertInto(table).values(rows as InsertObject<DatabaseSchema, T>[]);
  if (dialect === 'mysql') {
    await insert.onDuplicateKeyUpdate(Object.fromEntries(update.map((c) => [c, sql`values(${sql.ref(c)})`])) as never).execute();
  } else {
    await insert.onConflict((oc) => oc.columns(key as never).doUpdateSet(Object.fromEntries(update.map((c) => [c, sql.ref(`excluded.${c}`)])) as never)).execute();
  }
}
