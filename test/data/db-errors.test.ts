/**
 * Every database error is one line naming the table, the column and the fix, exit status 2; a stack trace only with
 * --verbose or KLINECAST_DEBUG=1 (issue 11). The driver errors here are real ones, provoked on both dialects.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { createPool } from 'mysql2';
import { describeDatabaseError, parseDatabaseUrl } from '../../src/data/index.js';
import { createTestDatabase, forEachDialect, scratchMysqlUrl, type TestDatabase } from '../helpers/db.js';
import { mysql } from '../helpers/env.js';
import { runCli } from './run-cli.js';

/** The error a statement raises, described. */
async function described(tdb: TestDatabase, statement: string) {
  let err: unknown;
  try {
    await sql.raw(statement).execute(tdb.handle.db);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${statement} to fail`);
  const d = describeDatabaseError(err, tdb.handle.url);
  assert.ok(d, `not recognised as a database error: ${String(err)}`);
  assert.doesNotMatch(d.message, /\n/);
  return d;
}

forEachDialect('driver errors are described in one line with the table, the column and the fix', async (tdb) => {
  await sql.raw('create table user_kline (symbol varchar(10) not null, trade_date varchar(10) not null, close real, source varchar(8) not null)').execute(tdb.handle.db);

  const unknownSelect = await described(tdb, 'select turnover_rate from user_kline');
  assert.equal(unknownSelect.table, 'user_kline');
  assert.equal(unknownSelect.column, 'turnover_rate');
  assert.match(unknownSelect.message, /^table user_kline .*has no column turnover_rate: run `klinecast db migrate` .*or map turnover_rate/);

  const unknownInsert = await described(tdb, "insert into user_kline (symbol, trade_date, pe) values ('600519', '2024-01-02', 1)");
  assert.deepEqual([unknownInsert.table, unknownInsert.column], ['user_kline', 'pe']);

  const notNull = await described(tdb, "insert into user_kline (symbol, trade_date, close) values ('600519', '2024-01-02', 1)");
  assert.deepEqual([notNull.table, notNull.column], ['user_kline', 'source']);
  assert.match(notNull.message, /column source is NOT NULL without a default and klinecast does not fill it: add "schema": \{"stock_kline_data": \{"fill": \{"source"/);
  assert.match(notNull.message, /ALTER TABLE user_kline ALTER COLUMN source SET DEFAULT/);

  const noTable = await described(tdb, 'select * from daily');
  assert.equal(noTable.table, 'daily');
  assert.match(noTable.message, /^table daily does not exist.*run `klinecast db migrate`.*or map/);

  assert.equal(describeDatabaseError(new Error('a bug, not the database')), null);
});

test('a lock held past the timeout is one line saying so [mysql]', { skip: mysql.skip, timeout: 60_000 }, async () => {
  const tdb = await createTestDatabase('mysql', { migrate: false });
  const target = parseDatabaseUrl(tdb.url) as Extract<ReturnType<typeof parseDatabaseUrl>, { dialect: 'mysql' }>;
  const pool = createPool({ host: target.host, port: target.port, user: target.user, password: target.password, database: target.database, connectionLimit: 2 });
  const holder = await pool.promise().getConnection();
  const waiter = await pool.promise().getConnection();
  try {
    await holder.query('create table t (id int primary key, v int) engine=InnoDB');
    await holder.query('insert into t values (1, 1)');
    await holder.query('start transaction');
    await holder.query('select * from t where id = 1 for update');
    await waiter.query('set session innodb_lock_wait_timeout = 1');
    const err = await waiter.query('update t set v = 2 where id = 1').then(
      () => null,
      (e: unknown) => e,
    );
    const d = describeDatabaseError(err, tdb.url);
    assert.ok(d);
    assert.match(d.message, /^timed out on table t .*another process holds a lock/);
    await holder.query('rollback');
  } finally {
    holder.release();
    waiter.release();
    await pool.end();
    await tdb.cleanup();
  }
});

function oneErrorLine(result: ReturnType<typeof runCli>): string {
  assert.equal(result.status, 2, `exit ${result.status}: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at .+:\d+:\d+/, 'a stack trace reached the user');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /^error: /);
  return lines[0];
}

test('the CLI: access denied and an unknown database are one line and exit 2; --verbose and KLINECAST_DEBUG=1 add the stack', { skip: mysql.skip, timeout: 120_000 }, () => {
  const server = new URL(mysql.url!);
  const denied = new URL(server);
  denied.username = 'klinecast_no_such_user';
  denied.password = 'wrong';
  const deniedLine = oneErrorLine(runCli(['data', 'check', '--database', denied.toString()]));
  assert.match(deniedLine, /cannot connect to MySQL at .*user "klinecast_no_such_user".*access denied \(check the user and password in the database URL\)/);
  assert.doesNotMatch(deniedLine, /wrong/, 'the password is never printed');

  const missing = scratchMysqlUrl();
  const missingLine = oneErrorLine(runCli(['data', 'check', '--database', missing]));
  assert.match(missingLine, /the database does not exist \(run `klinecast db migrate` to create it, or fix the name in the URL\)/);

  const asked: Array<{ args: string[]; env: Record<string, string> }> = [
    { args: ['--verbose'], env: {} },
    { args: [], env: { KLINECAST_DEBUG: '1' } },
  ];
  for (const extra of asked) {
    const verbose = runCli(['data', 'check', '--database', denied.toString(), ...extra.args], { env: extra.env });
    assert.equal(verbose.status, 2);
    assert.match(verbose.stderr, /^error: cannot connect/);
    assert.match(verbose.stderr, /\n\s+at .+:\d+:\d+/, 'the stack is shown when asked for');
  }
});

test('the CLI: a SQLite database another process holds locked is one line and exit 2', { timeout: 120_000 }, async () => {
  const tdb = await createTestDatabase('sqlite');
  try {
    // Hold a write lock from this process while the CLI tries to write (busy_timeout 10 s, then SQLITE_BUSY).
    const raw = (await import('better-sqlite3')).default;
    const blocker = new raw((parseDatabaseUrl(tdb.url) as { path: string }).path);
    blocker.exec('begin exclusive');
    try {
      const line = oneErrorLine(runCli(['data', 'demo', '--stocks', '1', '--database', tdb.url]));
      assert.match(line, /^error: timed out.*another process holds a lock/);
    } finally {
      blocker.exec('rollback');
      blocker.close();
    }
  } finally {
    await tdb.cleanup();
  }
});
