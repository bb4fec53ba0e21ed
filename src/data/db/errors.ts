/**
 * Database errors as one line a user can act on: which table, which column, and the fix. The drivers' own errors
 * (mysql2's `Unknown column 'turnover_rate' in 'field list'`, better-sqlite3's `no such column`) name neither the
 * table nor what to do, and arrive with a stack of driver frames; the CLI prints this line instead (exit 2) and the
 * stack only with --verbose or KLINECAST_DEBUG=1. Pure functions: no driver is loaded here.
 */

/** A database failure described for the user; `cause` is the driver's error. */
export class DatabaseError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly table: string | null,
    readonly column: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseError';
  }
}

interface DriverError {
  code?: unknown;
  errno?: unknown;
  sqlMessage?: unknown;
  sql?: unknown;
  message?: unknown;
}

const MAPPING_HINT = 'the schema section of klinecast.config.json (docs/DATA.md "Schema mapping"; `klinecast db inspect` shows it)';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNRESET',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_LOCK_WAIT_TIMEOUT', 'ER_QUERY_TIMEOUT', 'ER_STATEMENT_TIMEOUT', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Text from the user (a URL, a name) safe inside a one-line message: control characters are shown escaped. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The first table a statement names (INSERT INTO t, FROM t, UPDATE t, ALTER TABLE t, ON t). */
export function tableOfStatement(statement: string): string | null {
  const m = /\b(?:into|from|update|table|on)\s+(?:if\s+(?:not\s+)?exists\s+)?[`"]?([A-Za-z_][\w$]*)[`"]?(?:\s*\.\s*[`"]?([A-Za-z_][\w$]*)[`"]?)?/i.exec(statement);
  if (!m) return null;
  return m[2] ?? m[1];
}

/** Which klinecast table an INSERT into the user's `table` writes: the K-lines when it carries prices. */
function klinecastTableOf(statement: string, table: string | null): string {
  if (statement) return /["`]open["`]|["`]close["`]|trade_date/.test(statement) ? 'stock_kline_data' : 'stock_basic_info';
  return table && /basic|info/i.test(table) ? 'stock_basic_info' : 'stock_kline_data';
}

/** Is this a driver's error (mysql2 or better-sqlite3), as opposed to klinecast's own or a programming error? */
export function isDriverError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as DriverError & Error;
  const code = typeof e.code === 'string' ? e.code : '';
  return e.name === 'SqliteError' || code.startsWith('ER_') || code.startsWith('SQLITE_') || (CONNECTION_CODES.has(code) && (typeof e.errno === 'number' || 'fatal' in e));
}

/**
 * The user's one line for a driver error, or null when `err` is not a database error. `where` names the database
 * (its URL with the password masked) when the caller knows it.
 */
export function describeDatabaseError(err: unknown, where?: string): DatabaseError | null {
  if (err instanceof DatabaseError) return err;
  if (!isDriverError(err)) return null;
  const e = err as DriverError & Error;
  const code = String(e.code ?? 'ERROR');
  const text = oneLine(String(e.sqlMessage ?? e.message ?? ''));
  const statement = typeof e.sql === 'string' ? e.sql : '';
  let table = statement ? tableOfStatement(statement) : null;
  let column: string | null = null;
  const db = where ? ` in ${where}` : '';
  const make = (message: string) => new DatabaseError(oneLine(message), code, table, column, { cause: err });

  // Unknown column: mysql2 "Unknown column 'x' in 'field list'"; SQLite "no such column: x", "table t has no column named x".
  let m = /Unknown column '([^']+)'/i.exec(text) ?? /no such column: ([\w."]+)/i.exec(text);
  const named = /table (\S+) has no column named (\S+)/i.exec(text);
  if (named) [table, column] = [named[1], named[2]];
  if (m || named) {
    column ??= m![1].replace(/"/g, '').split('.').pop()!;
    return make(
      `table ${table ?? '(unknown)'}${db} has no column ${column}: run \`klinecast db migrate\` to add klinecast's nullable columns, ` +
        `or map ${column} to one of your columns in ${MAPPING_HINT}`,
    );
  }
  // NOT NULL without a default: mysql2 "Field 'x' doesn't have a default value" / "Column 'x' cannot be null"; SQLite "NOT NULL constraint failed: t.x".
  m = /Field '([^']+)' doesn't have a default value/i.exec(text) ?? /Column '([^']+)' cannot be null/i.exec(text);
  const notNull = /NOT NULL constraint failed: (\w+)\.(\w+)/i.exec(text);
  if (notNull) [table, column] = [notNull[1], notNull[2]];
  if (m || notNull) {
    column ??= m![1];
    const kc = klinecastTableOf(statement, table);
    return make(
      `table ${table ?? '(unknown)'}${db}: column ${column} is NOT NULL without a default and klinecast does not fill it: ` +
        `add "schema": {"${kc}": {"fill": {"${column}": <value>}}} to klinecast.config.json, or give the column a default ` +
        `(ALTER TABLE ${table ?? '<table>'} ALTER COLUMN ${column} SET DEFAULT <value>)`,
    );
  }
  m = /Table '(?:[^'.]+\.)?([^']+)' doesn't exist/i.exec(text) ?? /no such table: ([\w.]+)/i.exec(text);
  if (code === 'ER_NO_SUCH_TABLE' || m) {
    table = m ? m[1] : table;
    return make(
      `table ${table ?? '(unknown)'} does not exist${db}: run \`klinecast db migrate\` to create klinecast's tables, or map klinecast's ` +
        `table name to yours in ${MAPPING_HINT}`,
    );
  }
  if (/ON CONFLICT clause does not match any PRIMARY KEY or UNIQUE constraint/i.test(text)) {
    return make(`table ${table ?? '(unknown)'}${db} has no unique key on (symbol, trade_date) that klinecast can upsert on: run \`klinecast db migrate\` to add it`);
  }
  if (code === 'ER_BAD_DB_ERROR') {
    const name = /Unknown database '([^']+)'/i.exec(text)?.[1] ?? '(unknown)';
    return make(`database ${name} does not exist${where ? ` on ${where}` : ''}: run \`klinecast db migrate\` to create it, or fix the name in the database URL`);
  }
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') {
    const user = /user '([^']*)'/i.exec(text)?.[1];
    return make(`access denied${user ? ` for user ${user}` : ''}${db}: check the user and password in the database URL, and that the user has privileges on the database (${text})`);
  }
  m = /(\w+) command denied to user '([^']*)'@'[^']*' for table [`']?([^`']+)[`']?/i.exec(text);
  if (code === 'ER_TABLEACCESS_DENIED_ERROR' || code === 'ER_COLUMNACCESS_DENIED_ERROR' || m) {
    if (m) table = m[3];
    return make(
      `access denied${db}: ${m ? `user ${m[2]} may not ${m[1].toUpperCase()} on table ${m[3]}` : text}: ` +
        `GRANT SELECT, INSERT, UPDATE, CREATE, ALTER, INDEX on the database to that user, or use another user`,
    );
  }
  if (TIMEOUT_CODES.has(code) || /database is locked|timed? ?out/i.test(text)) {
    return make(
      `timed out${table ? ` on table ${table}` : ''}${db} (${text || code}): another process holds a lock or the server does not answer; ` +
        `retry when it is idle, or check the server`,
    );
  }
  if (CONNECTION_CODES.has(code)) {
    return make(`lost the connection to the database${db} (${code}): check that the server runs and is reachable, then retry`);
  }
  m = /Data too long for column '([^']+)'/i.exec(text) ?? /(?:Incorrect \w+ value|Data truncated).*column '([^']+)'/i.exec(text);
  if (m) {
    column = m[1];
    return make(
      `table ${table ?? '(unknown)'}${db}: column ${column} cannot hold klinecast's value (${text}): widen the column, ` +
        `or tell klinecast its spelling in ${MAPPING_HINT} (symbolFormat, dateFormat)`,
    );
  }
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return make(`SQLite database${db} cannot be used (${text}): check the file's path and permissions, and that it is a SQLite database`);
  }
  return make(`database error${table ? ` on table ${table}` : ''}${db}: ${text} [${code}]`);
}

/** Errors of a connection, not of a query: the network and mysql2's fatal errors, and SQLite's unopenable file. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'SQLITE_CANTOPEN',
  'SQLITE_IOERR',
]);

/** True when `err` (or what it wraps) says the database cannot be reached, as opposed to a bug or bad SQL. */
export function isDatabaseUnreachable(err: unknown): boolean {
  for (let e = err as { code?: unknown; fatal?: unknown; cause?: unknown; errors?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
    // mysql2 marks every error that ends a connection fatal, and "closed state" when a dead one is reused.
    if (e.fatal === true || /connection is in closed state|Pool is closed/i.test(String((e as Error).message))) return true;
    // AggregateError (a dual-stack connect that failed on every address)
    if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnreachable(x))) return true;
    e = e.cause as typeof e;
  }
  return false;
}
