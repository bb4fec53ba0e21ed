/**
 * A fuzz of 200 malformed database URLs and schema mappings (issue 11): every one is refused with a one-line error a
 * user can act on (a UserError or a described database error), never a stack trace or a hang. Seeded, so the same
 * 200 cases run every time; a sample also goes through the CLI for the exit status and stderr.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { describeDatabaseError, openDatabase, parseSchemaConfig, SeededRandom, type SchemaConfig } from '../../src/data/index.js';
import { loadSchemaConfig } from '../../src/data/db/mapping.js';
import { UserError } from '../../src/util/errors.js';
import { createTestDatabase } from '../helpers/db.js';
import { runCli } from './run-cli.js';

const rng = new SeededRandom(11, 0);
const pick = <T>(items: readonly T[]): T => items[rng.int(0, items.length - 1)];
const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(pick([rng.int(32, 126), rng.int(0x4e00, 0x4f00), 0, 10, 0x202e]))).join('');

/** 100 database URLs that cannot work: bad schemes, ports, encodings, hosts, paths; closed ports only (no waiting). */
function badUrls(): string[] {
  // (An empty --database means "not given": the environment's or the default database, so it is not in this list.)
  const fixed = [
    ' ',
    'mysql',
    'mysql:',
    'mysql://',
    'mysql:///',
    'mysql://127.0.0.1',
    'mysql://127.0.0.1:3306',
    'mysql://127.0.0.1:3306/',
    'mysql://127.0.0.1:abc/db',
    'mysql://127.0.0.1:99999/db',
    'mysql://127.0.0.1:-1/db',
    'mysql://[::1/db',
    'mysql://u:p@127.0.0.1:1/db',
    'mysql://u:%zz@127.0.0.1:1/db',
    'mysql://%E0%A4%A@127.0.0.1:1/db',
    'mysql://127.0.0.1:1/%ZZ',
    'mysql://127.0.0.1:9/stock_db',
    'mariadb://127.0.0.1:1/stock_db',
    'postgres://127.0.0.1/db',
    'sqlite:',
    'sqlite://',
    'sqlite:/proc/klinecast/x.db',
    'sqlite:/dev/null/x.db',
    'file:data.db',
    'http://127.0.0.1:3306/db',
    'MYSQL://127.0.0.1:1/db',
    '://',
    'mysql://user name@127.0.0.1:1/db',
    'mysql://127.0.0.1:1/db?ssl=%',
  ];
  const out = [...fixed];
  while (out.length < 100) {
    const kind = rng.int(0, 5);
    if (kind === 0) out.push(junk(rng.int(1, 40)));
    else if (kind === 1) out.push(`mysql://${junk(rng.int(0, 8)).replace(/[/@:]/g, '')}@127.0.0.1:${pick([1, 9, 7, 13])}/${junk(rng.int(1, 6)).replace(/\//g, '')}`);
    else if (kind === 2) out.push(`mysql://127.0.0.1:${pick(['', 'x', '0x10', '1e3', '65536', '3306.5', ' 1'])}/${pick(['', 'db', '%', '%%', '..'])}`);
    else if (kind === 3) out.push(`${pick(['mysqlx', 'sqlite3', 'mysql+pymysql', 'jdbc:mysql', 'redis'])}://127.0.0.1/db`);
    else if (kind === 4) out.push(`sqlite:/proc/${junk(rng.int(1, 10)).replace(/[\0/]/g, '_')}/k.db`);
    else out.push(`mysql://127.0.0.1:1/${'x'.repeat(rng.int(65, 300))}`);
  }
  return out;
}

const VALID: SchemaConfig = parseSchemaConfig({
  stock_kline_data: { table: 'daily', columns: { symbol: 'ts_code' }, dateFormat: 'yyyymmdd', volUnit: 'lots', amountUnit: 'thousand' },
  stock_basic_info: { table: 'stock_basic', boardColumn: 'market' },
});

/** 100 schema mappings that cannot work: wrong shapes and types, bad names, unknown fields, tables and columns the database lacks. */
function badMappings(): unknown[] {
  const badNames = ['', ' ', 'ts code', 'a;drop table x', 'x`y', '"q"', '1abc', 'x'.repeat(65), '表', 'a-b', null, 3, true, [], {}];
  // (null and undefined mean no mapping.)
  const out: unknown[] = [42, 'schema', [], [{}], { stock_kline_data: 'daily' }, { stock_kline_data: [] }, { stock_kline: {} }, { STOCK_KLINE_DATA: {} }];
  const mutations: Array<() => unknown> = [
    () => ({ stock_kline_data: { table: pick(badNames) } }),
    () => ({ stock_kline_data: { columns: { [pick(['symbol', 'trade_date', 'close', 'vol'])]: pick(badNames) } } }),
    () => ({ stock_kline_data: { columns: { [pick(['symbol', 'trade_date', 'open', 'amount'])]: null } } }), // required columns cannot be null
    () => ({ stock_kline_data: { columns: { [junk(rng.int(1, 12))]: 'x' } } }),
    () => ({ stock_kline_data: { [pick(['dateFormat', 'symbolFormat', 'volUnit', 'amountUnit'])]: pick(['YYYYMMDD', 'iso', 'lot', 'shares ', 'CNY', 7, null, '']) } }),
    () => ({ stock_kline_data: { fill: pick([[], 'x', { [pick(badNames.filter((n) => typeof n === 'string')) as string]: 1 }, { source: {} }, { source: [1] }]) } }),
    () => ({ stock_basic_info: { activeValues: pick([[], 'L', [{}], [null], Array.from({ length: 20 }, () => 'L')]) } }),
    () => ({ stock_basic_info: { boardColumn: pick(badNames) } }),
    () => ({ stock_basic_info: { columns: { name: null } } }),
    () => ({ ...VALID, [junk(rng.int(1, 6))]: {} }),
    () => ({ stock_kline_data: { ...VALID.stock_kline_data, [junk(rng.int(1, 6))]: 1 } }),
    // Well-formed, but the database has no such table or column.
    () => ({ stock_kline_data: { table: pick(['daily_nope', 'stock_kline', 'kline']) } }),
    () => ({ stock_kline_data: { table: 'daily', columns: { [pick(['symbol', 'close', 'pct_chg'])]: pick(['code', 'closing', 'pctchg']) } } }),
    () => ({ stock_kline_data: { table: 'daily', fill: { [pick(['source', 'src', 'origin'])]: 'x' } } }),
    () => ({ stock_basic_info: { table: 'stock_basic', boardColumn: pick(['board', 'list_board', 'type']) } }),
  ];
  while (out.length < 100) out.push(pick(mutations)());
  return out;
}

/** The refusal of one case: a one-line UserError or a described database error; anything else fails the test. */
function assertOneLine(err: unknown, what: string): void {
  assert.ok(err, `${what}: accepted`);
  const known = err instanceof UserError ? err : describeDatabaseError(err);
  assert.ok(known, `${what}: not a user-facing error: ${err instanceof Error ? err.stack : String(err)}`);
  assert.doesNotMatch(known.message, /[\r\n]/, `${what}: more than one line: ${known.message}`);
  assert.doesNotMatch(known.message, /\bat .+:\d+:\d+/, `${what}: a stack frame in the message`);
  assert.ok(known.message.length < 600, `${what}: ${known.message.length} characters`);
}

test('100 malformed database URLs: each is a one-line error, none a stack trace', { timeout: 120_000 }, async () => {
  const urls = badUrls();
  assert.equal(urls.length, 100);
  for (const url of urls) {
    let err: unknown = null;
    try {
      const handle = await openDatabase(url, { schema: {} });
      await handle.close();
    } catch (e) {
      err = e;
    }
    assertOneLine(err, JSON.stringify(url));
  }
});

test('100 malformed schema mappings: each is a one-line error, none a stack trace', { timeout: 120_000 }, async () => {
  const tdb = await createTestDatabase('sqlite', { migrate: false });
  try {
    await sql.raw('create table daily (ts_code text not null, trade_date text not null, open real, high real, low real, close real, pre_close real, "change" real, pct_chg real, vol real, amount real)').execute(tdb.handle.db);
    await sql.raw('create table stock_basic (ts_code text primary key, symbol text, name text, market text, list_status text)').execute(tdb.handle.db);
    const mappings = badMappings();
    assert.equal(mappings.length, 100);
    for (const mapping of mappings) {
      let err: unknown = null;
      try {
        const handle = await openDatabase(tdb.url, { schema: parseSchemaConfig(mapping) });
        await handle.close();
      } catch (e) {
        err = e;
      }
      assertOneLine(err, JSON.stringify(mapping));
    }
  } finally {
    await tdb.cleanup();
  }
});

test('config files that do not parse are one-line errors naming the file', async () => {
  const tdb = await createTestDatabase('sqlite', { migrate: false });
  try {
    for (const [i, body] of ['{', '[]', '"x"', '{"schema": 3}', '{"schema": {"stock_kline_data": {"table": "a b"}}}', '\u0000'].entries()) {
      const file = join(tdb.dir, `bad${i}.json`);
      writeFileSync(file, body);
      let err: unknown = null;
      try {
        loadSchemaConfig({ KLINECAST_CONFIG: file });
      } catch (e) {
        err = e;
      }
      assertOneLine(err, body);
      assert.match((err as Error).message, new RegExp(`bad${i}\\.json`));
    }
    assert.throws(() => loadSchemaConfig({ KLINECAST_CONFIG: join(tdb.dir, 'missing.json') }), /cannot read config file .*missing\.json.*ENOENT/);
  } finally {
    await tdb.cleanup();
  }
});

test('through the CLI: a sample of the bad URLs and mappings exits 2 with one stderr line and no stack', { timeout: 180_000 }, async () => {
  const tdb = await createTestDatabase('sqlite', { migrate: false });
  try {
    const urls = badUrls().filter((u) => u.trim() !== '' && !u.includes('\0'));
    for (const url of [urls[3], urls[9], urls[13], urls[22], urls[40], urls[77]]) {
      const result = runCli(['data', 'check', '--database', url], { cwd: tdb.dir });
      assert.equal(result.status, 2, `${url}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, `${url}: ${result.stderr}`);
      assert.match(result.stderr, /^error: /);
    }
    for (const schema of [{ stock_kline_data: { table: 'a;b' } }, { stock_kline_data: { table: 'no_such_table' } }, { stock_basic_info: { activeValues: [] } }]) {
      writeFileSync(join(tdb.dir, 'klinecast.config.json'), JSON.stringify({ schema }));
      const result = runCli(['db', 'inspect', '--database', tdb.url], { cwd: tdb.dir });
      assert.equal(result.status, 2, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], /^error: .*schema\.stock_(kline_data|basic_info)/);
    }
  } finally {
    await tdb.cleanup();
  }
});
