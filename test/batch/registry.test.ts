import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { canonicalJson, configHash, jobIdFor } from '../../src/util/hash.js';
import { findCompleted, listRegistry, registerRun } from '../../src/runs/registry.js';
import { type RegistryEntry } from '../../src/runs/index.js';
import { parseSymbolsFlag } from '../../src/cli/output.js';
import { UserError } from '../../src/util/errors.js';
import { runCli } from '../data/run-cli.js';
import { forEachDialect } from '../helpers/db.js';

const entry = (over: Partial<RegistryEntry> = {}): RegistryEntry => ({
  runName: '600519_lstm_20260101_000000',
  symbol: '600519',
  modelType: 'lstm',
  configHash: 'aaaaaaaaaaaaaaaa',
  status: 'completed',
  metrics: { mae: 1.5, skill: 0.01 },
  path: '/runs/600519_lstm_20260101_000000',
  host: 'host-a',
  createdAt: '2026-01-01 00:00:00',
  finishedAt: '2026-01-01 00:05:00',
  ...over,
});

forEachDialect('registering a run twice leaves one row with the newest fields; filters select by symbol, model, status, hash and host', async ({ handle }) => {
  await registerRun(handle.db, handle.dialect, entry());
  await registerRun(handle.db, handle.dialect, entry({ metrics: { mae: 1.25 }, path: '/shared/600519_lstm_20260101_000000', host: 'host-b' }));
  await registerRun(
    handle.db,
    handle.dialect,
    entry({
      runName: '000001_gru_x',
      symbol: '000001',
      modelType: 'gru',
      configHash: 'bbbbbbbbbbbbbbbb',
      status: 'failed',
      metrics: null,
      createdAt: '2026-01-02 00:00:00',
    }),
  );
  const all = await listRegistry(handle.db);
  assert.deepEqual(
    all.map((r) => r.runName),
    ['000001_gru_x', '600519_lstm_20260101_000000'],
    'newest first',
  );
  const first = all[1];
  assert.deepEqual(first, entry({ metrics: { mae: 1.25 }, path: '/shared/600519_lstm_20260101_000000', host: 'host-b' }));
  assert.deepEqual(
    (await listRegistry(handle.db, { symbol: '000001' })).map((r) => r.status),
    ['failed'],
  );
  assert.equal((await listRegistry(handle.db, { modelType: 'lstm', status: ['completed'], host: 'host-b' })).length, 1);
  assert.equal((await listRegistry(handle.db, { configHash: 'bbbbbbbbbbbbbbbb', status: ['completed'] })).length, 0);
  assert.equal((await listRegistry(handle.db, { limit: 1 })).length, 1);
  assert.equal((await findCompleted(handle.db, '600519', 'aaaaaaaaaaaaaaaa'))?.runName, '600519_lstm_20260101_000000');
  assert.equal(await findCompleted(handle.db, '000001', 'bbbbbbbbbbbbbbbb'), null, 'a failed run is not a completed one');
});

forEachDialect('`klinecast runs list --registry` shows the registered runs with filters, as a table or JSON', async ({ handle, url }) => {
  await registerRun(handle.db, handle.dialect, entry());
  await registerRun(
    handle.db,
    handle.dialect,
    entry({ runName: '000001_gru_x', symbol: '000001', modelType: 'gru', status: 'failed', metrics: null, createdAt: '2026-01-02 00:00:00' }),
  );
  const json = runCli(['runs', 'list', '--registry', '--database', url, '--json', '--status', 'completed']);
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(
    JSON.parse(json.stdout).map((e: RegistryEntry) => [e.runName, e.metrics?.mae]),
    [['600519_lstm_20260101_000000', 1.5]],
  );
  const table = runCli(['runs', 'list', '--registry', '--database', url, '--model', 'gru']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /000001_gru_x\s+000001\s+gru\s+failed/);
  assert.doesNotMatch(table.stdout, /^600519_lstm/m);
  const bad = runCli(['runs', 'list', '--registry', '--database', url, '--status', 'crashed']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /only completed and failed runs; unknown status crashed/);
});

test('the config hash ignores key order and undefined fields, and job ids are (symbol, hash)', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
  assert.equal(configHash({ b: 1, a: 2 }), configHash({ a: 2, b: 1 }));
  assert.notEqual(configHash({ a: 2, b: 1 }), configHash({ a: 2, b: 2 }));
  assert.match(configHash({}), /^[0-9a-f]{16}$/);
  assert.equal(jobIdFor('600519', 'abcdef0123456789'), '600519-abcdef0123456789');
});

test('--symbols accepts all, a list and @file with comments, and names a bad code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-symbols-'));
  try {
    assert.equal(parseSymbolsFlag('all'), 'all');
    assert.deepEqual(parseSymbolsFlag('600519, 000001'), ['600519', '000001']);
    const file = join(dir, 's.txt');
    writeFileSync(file, '# banks\n600036 601398\n000001,  # ping an\n\n');
    assert.deepEqual(parseSymbolsFlag(`@${file}`), ['600036', '601398', '000001']);
    assert.throws(
      () => parseSymbolsFlag('600519,60051'),
      (e: Error) => e instanceof UserError && /"60051" is not an A-share code/.test(e.message),
    );
    assert.throws(
      () => parseSymbolsFlag(`@${join(dir, 'missing.txt')}`),
      (e: Error) => e instanceof UserError && /cannot read symbols file/.test(e.message),
    );
    assert.throws(
      () => parseSymbolsFlag(' , '),
      (e: Error) => e instanceof UserError && /names no stock/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
