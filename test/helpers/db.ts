/**
 * A fresh, migrated database per test, on each dialect: a temp-file SQLite always, and a temporary MySQL
 * database (created, then dropped) when KLINECAST_TEST_MYSQL_URL is set. Other areas' tests reuse it:
 *
 *   forEachDialect('loads bars', async (tdb) => { const loader = new StockDataLoader(tdb.handle); ... });
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createPool } from 'mysql2';
import { migrate, openDatabase, parseDatabaseUrl, type DatabaseHandle, type Dialect } from '../../src/data/index.js';
import { mysql } from './env.js';

export interface TestDatabase {
  handle: DatabaseHandle;
  dialect: Dialect;
  /** the URL to hand to a CLI (`--database`) or another process */
  url: string;
  /** a scratch folder for the test's own files (fixtures, outputs), removed afterwards */
  dir: string;
  /** closes the handle and removes the database; safe to call twice */
  cleanup(): Promise<void>;
}

async function serverQuery(serverUrl: string, statement: string): Promise<void> {
  const target = parseDatabaseUrl(serverUrl);
  if (target.dialect !== 'mysql') throw new Error(`KLINECAST_TEST_MYSQL_URL must be a mysql:// URL, got ${serverUrl}`);
  const pool = createPool({ host: target.host, port: target.port, user: target.user, password: target.password, connectionLimit: 1 });
  try {
    await new Promise<void>((res, rej) => pool.query(statement, (err) => (err ? rej(err) : res())));
  } finally {
    await new Promise<void>((res) => pool.end(() => res()));
  }
}

/** A MySQL URL for a database that does not exist yet, on the test server. */
export function scratchMysqlUrl(serverUrl: string | undefined = mysql.url): string {
  if (!serverUrl) throw new Error('KLINECAST_TEST_MYSQL_URL is not set');
  const u = new URL(serverUrl);
  u.pathname = `/klinecast_t_${randomBytes(6).toString('hex')}`;
  return u.toString();
}

export async function dropMysqlDatabase(url: string): Promise<void> {
  const target = parseDatabaseUrl(url);
  if (target.dialect !== 'mysql') return;
  await serverQuery(url, `DROP DATABASE IF EXISTS \`${target.database.replace(/`/g, '``')}\``);
}

export async function createTestDatabase(dialect: Dialect, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-test-'));
  let url: string;
  if (dialect === 'sqlite') {
    url = `sqlite:${join(dir, 'test.db')}`;
  } else {
    url = scratchMysqlUrl();
    const name = parseDatabaseUrl(url);
    await serverQuery(url, `CREATE DATABASE \`${(name as { database: string }).database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  }
  const handle = await openDatabase(url);
  if (options.migrate !== false) await migrate(handle);
  let cleaned = false;
  return {
    handle,
    dialect,
    url,
    dir,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await handle.close();
      if (dialect === 'mysql') await dropMysqlDatabase(url);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The dialects a test runs on; MySQL skips visibly without KLINECAST_TEST_MYSQL_URL. */
export function dialects(): Array<{ dialect: Dialect; skip: string | false }> {
  return [
    { dialect: 'sqlite', skip: false },
    { dialect: 'mysql', skip: mysql.skip },
  ];
}

/** Registers `name [sqlite]` and `name [mysql]`, each on its own fresh migrated database. */
export function forEachDialect(
  name: string,
  fn: (tdb: TestDatabase, t: TestContext) => Promise<void>,
  options: { migrate?: boolean; timeout?: number; skip?: string | false } = {},
): void {
  for (const { dialect, skip } of dialects()) {
    test(`${name} [${dialect}]`, { skip: options.skip || skip, timeout: options.timeout ?? 120_000 }, async (t) => {
      const tdb = await createTestDatabase(dialect, options);
      try {
        await fn(tdb, t);
      } finally {
        await tdb.cleanup();
      }
    });
  }
}
