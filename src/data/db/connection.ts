import Database from 'better-sqlite3';
import { Kysely, MysqlDialect, SqliteDialect, sql, type CompiledQuery } from 'kysely';
import { createPool, type Pool, type PoolConnection, type PoolOptions } from 'mysql2';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../../util/errors.js';
import { printable } from './errors.js';
import { identitySchema, loadSchemaConfig, resolveSchema, SchemaMappingPlugin, type ResolvedSchema, type SchemaConfig } from './mapping.js';
import type { DatabaseSchema, Db, Dialect } from './schema.js';
import { maskUrl, parseDatabaseUrl, resolveDatabaseUrl, type DatabaseTarget } from './url.js';

export { DEFAULT_DATABASE_URL, maskUrl, parseDatabaseUrl, resolveDatabaseUrl, sqlNow, urlOfTarget, type DatabaseTarget } from './url.js';

/** An open database. `db` serves every query; `reader` serves long streaming reads (see openDatabase). */
export interface DatabaseHandle {
  readonly db: Db;
  readonly dialect: Dialect;
  /** the URL with any password masked, for messages */
  readonly url: string;
  readonly target: DatabaseTarget;
  /**
   * A Kysely for streaming reads that stay open across awaits. On MySQL it is `db` (a pool has
   * more connections); on SQLite it is a second read-only connection, because the single write
   * connection is held by a stream until it ends and any other query would wait on it forever.
   */
  reader(): Db;
  /**
   * Streams a query's rows in arrays of up to `batchSize`, on the reading side of the database: mysql2's
   * row stream from a pooled connection, or better-sqlite3's iterator on the read-only connection. Batches
   * rather than single rows because Kysely's own `.stream()` pays several async hops per row and leaves
   * mysql2 at its default high-water mark of 16 rows, which measured 2-4x slower on a whole-market load.
   */
  streamRows<R>(query: CompiledQuery<R>, batchSize?: number): AsyncGenerator<R[]>;
  /**
   * How klinecast's tables and columns map onto this database's (src/data/db/mapping.ts): the configured `schema`
   * section plus what the tables show. Every query through `db` and `reader()` goes through it.
   */
  readonly schema: ResolvedSchema;
  /** Re-reads the tables (after `db migrate` added columns or tables) and returns the new mapping. */
  refreshSchema(): Promise<ResolvedSchema>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** MySQL: create the database when the server says it does not exist (used by migrate and quickstart). */
  createDatabase?: boolean;
  /** The schema mapping; default: the `schema` section of KLINECAST_CONFIG or ./klinecast.config.json. */
  schema?: SchemaConfig;
}

export async function openDatabase(url?: string, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const resolved = resolveDatabaseUrl(url);
  const target = parseDatabaseUrl(resolved);
  const config = options.schema ?? loadSchemaConfig();
  const mapping = new SchemaMappingPlugin(identitySchema(target.dialect));
  const handle = target.dialect === 'sqlite' ? openSqlite(resolved, target, mapping) : await openMysql(resolved, target, options, mapping);
  const refresh = async () => (mapping.schema = await resolveSchema(handle.db, target.dialect, config));
  try {
    await refresh();
  } catch (err) {
    await handle.close();
    throw err;
  }
  return Object.assign(handle, { refreshSchema: refresh });
}

type OpenedHandle = Omit<DatabaseHandle, 'refreshSchema'>;

/** Opens, runs `fn`, and always closes, so a CLI command never leaves a pool holding the process open. */
export async function withDatabase<T>(url: string | undefined, fn: (handle: DatabaseHandle) => Promise<T>, options?: OpenOptions): Promise<T> {
  const handle = await openDatabase(url, options);
  try {
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

function openSqlite(url: string, target: { dialect: 'sqlite'; path: string }, mapping: SchemaMappingPlugin): OpenedHandle {
  const inMemory = target.path === ':memory:';
  const file = inMemory ? ':memory:' : resolve(target.path);
  let raw: Database.Database;
  try {
    if (!inMemory) ensureFolder(dirname(file));
    raw = annotateStatements(new Database(file));
  } catch (err) {
    throw new UserError(printable(`cannot open SQLite database ${file}: ${(err as Error).message}`), 'db_unreachable');
  }
  // WAL lets the streaming reader run beside writes; NORMAL sync is safe under WAL and much faster.
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 10000');
  raw.pragma('foreign_keys = ON');
  raw.pragma('temp_store = MEMORY');
  raw.pragma('cache_size = -32000');
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: raw }), plugins: [mapping] });
  let readerRaw: Database.Database | undefined;
  let reader: Db | undefined;
  const openReader = (): Database.Database => {
    if (!readerRaw) {
      readerRaw = annotateStatements(new Database(file, { readonly: true, fileMustExist: true }));
      readerRaw.pragma('busy_timeout = 10000');
    }
    return readerRaw;
  };
  return {
    db,
    dialect: 'sqlite',
    url,
    target,
    get schema() {
      return mapping.schema;
    },
    reader() {
      if (inMemory) return db;
      reader ??= new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: openReader() }), plugins: [mapping] });
      return reader;
    },
    async *streamRows<R>(query: CompiledQuery<R>, batchSize = 2000): AsyncGenerator<R[]> {
      // In memory there is only one connection; a paused iterator would block it, so read it all at once.
      if (inMemory) {
        const rows = raw.prepare(query.sql).all(...(query.parameters as unknown[])) as R[];
        for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize);
        return;
      }
      const iterator = openReader().prepare(query.sql).iterate(...(query.parameters as unknown[])) as IterableIterator<R>;
      try {
        let batch: R[] = [];
        for (const row of iterator) {
          batch.push(row);
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length) yield batch;
      } finally {
        iterator.return?.();
      }
    },
    async close() {
      await reader?.destroy();
      if (!reader) readerRaw?.close();
      await db.destroy();
    },
  };
}

/**
 * Creates a folder and its missing parents one level at a time: mkdirSync's recursive mode spins forever on some
 * special file systems (a path under /proc), which would hang `--database sqlite:/proc/x/k.db` instead of failing.
 */
function ensureFolder(folder: string): void {
  const missing: string[] = [];
  let at = folder;
  while (!existsSync(at)) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const dir of missing) mkdirSync(dir);
}

/**
 * better-sqlite3's errors do not carry the statement (mysql2's do). It is attached where SQLite reports a problem,
 * when preparing (an unknown table or column) and when running (a NOT NULL column without a value), so the one-line
 * message can name the table and what to do (db/errors.ts).
 */
function annotateStatements(database: Database.Database): Database.Database {
  const withSql = <A extends unknown[], R>(source: string, fn: (...args: A) => R) =>
    (...args: A): R => {
      try {
        return fn(...args);
      } catch (err) {
        if (err !== null && typeof err === 'object') (err as { sql?: string }).sql = source;
        throw err;
      }
    };
  const prepare = database.prepare.bind(database);
  database.prepare = ((source: string) => {
    const statement = withSql(source, prepare)(source);
    statement.run = withSql(source, statement.run.bind(statement));
    return statement;
  }) as typeof database.prepare;
  return database;
}

function mysqlPoolOptions(target: Extract<DatabaseTarget, { dialect: 'mysql' }>, withDatabase: boolean): PoolOptions {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: withDatabase ? target.database : undefined,
    connectionLimit: 8,
    charset: 'utf8mb4',
    // DECIMAL columns arrive as numbers and DATE columns as 'YYYY-MM-DD' (no time-zone shift).
    decimalNumbers: true,
    dateStrings: true,
    supportBigNumbers: true,
    connectTimeout: 10_000,
  };
}

const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  PROTOCOL_CONNECTION_LOST: 'connection lost',
  ER_ACCESS_DENIED_ERROR: 'access denied',
  ER_DBACCESS_DENIED_ERROR: 'access to the database denied',
  ER_BAD_DB_ERROR: 'the database does not exist',
};

/** What to do about each, appended to the one-line message. */
const UNREACHABLE_HINTS: Record<string, string> = {
  ECONNREFUSED: 'is the server running, and listening on that port?',
  ETIMEDOUT: 'check the host, the port and any firewall between',
  ENOTFOUND: 'check the host name in the database URL',
  EAI_AGAIN: 'check the host name and DNS',
  ER_ACCESS_DENIED_ERROR: 'check the user and password in the database URL',
  ER_DBACCESS_DENIED_ERROR: 'GRANT the user privileges on the database, or use another user',
  ER_BAD_DB_ERROR: 'run `klinecast db migrate` to create it, or fix the name in the URL',
};

async function ping(pool: Pool): Promise<void> {
  await new Promise<void>((res, rej) => pool.query('select 1', (err) => (err ? rej(err) : res())));
}

async function endPool(pool: Pool): Promise<void> {
  await new Promise<void>((res) => pool.end(() => res()));
}

async function openMysql(
  url: string,
  target: Extract<DatabaseTarget, { dialect: 'mysql' }>,
  options: OpenOptions,
  mapping: SchemaMappingPlugin,
): Promise<OpenedHandle> {
  const where = `MySQL at ${target.host}:${target.port} (database "${target.database}", user "${target.user}")`;
  let pool = createPool(mysqlPoolOptions(target, true));
  try {
    await ping(pool);
  } catch (err) {
    await endPool(pool);
    const code = (err as { code?: string }).code ?? '';
    if (code === 'ER_BAD_DB_ERROR' && options.createDatabase) {
      await createMysqlDatabase(target, where);
      pool = createPool(mysqlPoolOptions(target, true));
      await ping(pool).catch(async (e) => {
        await endPool(pool);
        throw unreachable(where, e);
      });
    } else {
      throw unreachable(where, err);
    }
  }
  const db = new Kysely<DatabaseSchema>({ dialect: new MysqlDialect({ pool }), plugins: [mapping] });
  return {
    db,
    dialect: 'mysql',
    url: maskUrl(url),
    target,
    get schema() {
      return mapping.schema;
    },
    reader: () => db,
    async *streamRows<R>(query: CompiledQuery<R>, batchSize = 2000): AsyncGenerator<R[]> {
      const conn = await new Promise<PoolConnection>((res, rej) => pool.getConnection((err, c) => (err ? rej(err) : res(c))));
      let lost = false;
      const stream = conn.query(query.sql, query.parameters as unknown[]).stream({ highWaterMark: batchSize });
      // mysql2 does not end a paused query stream whose connection dies (the connection emits 'end' and a
      // PROTOCOL_CONNECTION_LOST error, the stream neither): without this, a reader that lost the server mid-stream
      // waits forever instead of failing, and nothing above it can retry.
      const onLost = (err?: Error) => {
        lost = true;
        stream.destroy(err ?? Object.assign(new Error('Connection lost: the server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }));
      };
      const onEnd = () => onLost();
      conn.on('error', onLost);
      conn.on('end', onEnd);
      try {
        let batch: R[] = [];
        try {
          for await (const row of stream) {
            batch.push(row as R);
            if (batch.length >= batchSize) {
              yield batch;
              batch = [];
            }
          }
        } catch (err) {
          // Breaking out of the loop closes the stream early; mysql2 then reports a premature close.
          if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
        }
        if (batch.length) yield batch;
      } finally {
        conn.off('error', onLost);
        conn.off('end', onEnd);
        if (lost) conn.destroy();
        else conn.release();
      }
    },
    close: () => db.destroy(),
  };
}

function unreachable(where: string, err: unknown): UserError {
  const code = (err as { code?: string }).code ?? '';
  const reason = UNREACHABLE_CODES[code] ?? (err as Error).message ?? String(err);
  const hint = UNREACHABLE_HINTS[code] ? ` (${UNREACHABLE_HINTS[code]})` : '';
  return new UserError(`cannot connect to ${where}: ${reason}${code && !UNREACHABLE_CODES[code] ? ` [${code}]` : ''}${hint}`, 'db_unreachable');
}

async function createMysqlDatabase(target: Extract<DatabaseTarget, { dialect: 'mysql' }>, where: string): Promise<void> {
  const pool = createPool({ ...mysqlPoolOptions(target, false), connectionLimit: 1 });
  try {
    const name = target.database.replace(/`/g, '``');
    await new Promise<void>((res, rej) =>
      pool.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`, (err) => (err ? rej(err) : res())),
    );
  } catch (err) {
    throw unreachable(where, err);
  } finally {
    await endPool(pool);
  }
}

export { sql };
