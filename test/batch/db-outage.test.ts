/**
 * Issue 12 #5, the database lost in the middle of a batch. The outage is a local TCP proxy in front of MariaDB that
 * the test kills at a chosen moment (when the first stock is recorded completed) and restarts, or not:
 * - shorter than the retry budget: the batch waits, retries, and completes every stock;
 * - longer: the batch stops, writes its summary naming the outage, fails no stock for it (the ones it could not
 *   start or register stay pending), and a plain resume completes them; the CLI names the outage in one line, exit 3.
 * SQLite cannot lose its connection, so these run on MariaDB only; DatabaseRetry itself is tested without a database.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readProgress, runLocalBatch, type BatchSummary, type LocalBatchOptions } from '../../src/batch/index.js';
import {
  DatabaseOutageError,
  DatabaseRetry,
  StockDataLoader,
  generateDemoMarket,
  isDatabaseUnreachable,
  openDatabase,
  seriesToBars,
  writeBars,
  writeDemoMarket,
  type DatabaseHandle,
  type DatabaseRetryNotice,
} from '../../src/data/index.js';
import { listRegistry } from '../../src/runs/registry.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { mysql } from '../helpers/env.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { TINY_TRAIN_FLAGS, runCliToEnd, startCli } from './cli-process.js';
import { fixtureKind, syntheticSeries, type FixtureConfig } from './fixture-jobs.js';

const lost = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', errno: -111 });
const FAST = { budgetMs: 60_000, firstDelayMs: 1, maxDelayMs: 4 };

describe('DatabaseRetry', () => {
  test('a stream that loses its connection is reopened where the consumer stands: every item once, in order', async () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    const yielded: string[] = [];
    const opened: string[][] = [];
    const notices: DatabaseRetryNotice[] = [];
    let failures = 2;
    const retry = new DatabaseRetry(FAST, (n) => notices.push(n));
    const open = async function* () {
      const rest = items.filter((x) => !yielded.includes(x));
      opened.push(rest);
      for (const [i, x] of rest.entries()) {
        if (i === 2 && failures-- > 0) throw lost();
        yield x;
      }
    };
    for await (const x of retry.stream('reading', open)) yielded.push(x);
    assert.deepEqual(yielded, items);
    assert.deepEqual(opened, [items, ['c', 'd', 'e'], ['e']]);
    assert.deepEqual(
      notices.map((n) => [n.what, n.attempt, n.code]),
      [
        ['reading', 1, 'ECONNREFUSED'],
        ['reading', 1, 'ECONNREFUSED'],
      ],
      'progress in between starts the backoff again',
    );
    assert.equal(retry.outage, null);
  });

  test('backoff doubles up to its cap; after the budget every call fails at once with the same outage', async () => {
    const delays: number[] = [];
    // A clock of the test's own: sleeping advances it exactly, so the budget does not depend on the machine's load.
    let now = 0;
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const retry = new DatabaseRetry({ budgetMs: 40, firstDelayMs: 2, maxDelayMs: 8 }, (n) => delays.push(n.delayMs), clock);
    await assert.rejects(
      retry.call('registering r1', () => Promise.reject(lost())),
      (err: Error) =>
        err instanceof DatabaseOutageError &&
        /^database outage: the database did not answer for 0 s \(ECONNREFUSED\) while registering r1; gave up retrying$/.test(err.message),
    );
    assert.deepEqual(delays, [2, 4, 8, 8, 8, 8, 2], 'doubling to the cap, the last wait cut to what is left of the 40 ms budget');
    assert.equal(now, 40);
    const outage = retry.outage;
    assert.ok(outage);
    let called = false;
    await assert.rejects(
      retry.call('registering r2', async () => (called = true)),
      (err) => err === outage,
    );
    assert.equal(called, false, 'given up: the database is not asked again');
  });

  test('other errors pass through untouched, without a retry', async () => {
    const retry = new DatabaseRetry(FAST, () => assert.fail('no retry for a bad query'));
    const bad = Object.assign(new Error("Unknown column 'x'"), { code: 'ER_BAD_FIELD_ERROR', errno: 1054 });
    await assert.rejects(
      retry.call('reading', () => Promise.reject(bad)),
      (err) => err === bad,
    );
  });
});

const SYMBOLS = ['000001', '000002', '000003', '000004', '000005', '000006'];
/**
 * The loader reads rows in batches of 2,000 (two stocks of 1,000 bars); 300 KB is about 3,000 result rows, so the
 * first batch arrives (the first stock is complete), and the result stops midway through the second.
 */
const BARS = 1000;
const MIDWAY = 300_000;
const JOB: FixtureConfig = { sleepMs: 100, minBars: 10 };

describe('a batch that loses MariaDB', { skip: mysql.skip }, () => {
  let tdb: TestDatabase;
  let proxy: TcpProxy;
  let viaProxy: DatabaseHandle;

  before(async () => {
    tdb = await createTestDatabase('mysql');
    for (const s of SYMBOLS) await writeBars(tdb.handle.db, 'mysql', seriesToBars(syntheticSeries(s, BARS)));
    const url = new URL(tdb.url);
    proxy = await startTcpProxy(url.hostname, Number(url.port || 3306));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    viaProxy = await openDatabase(url.toString());
  });

  after(async () => {
    await viaProxy?.close().catch(() => undefined);
    await proxy?.close();
    await tdb?.cleanup();
  });

  test('a K-line stream whose connection dies midway fails with the connection error instead of waiting forever', { timeout: 60_000 }, async () => {
    proxy.limitDownstream(MIDWAY);
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const series of new StockDataLoader(viaProxy).streamSeries({ symbols: SYMBOLS })) {
          got.push(series.symbol);
          if (got.length === 1) await proxy.kill();
        }
      })(),
      (err: Error) => isDatabaseUnreachable(err) && (err as { code?: string }).code === 'PROTOCOL_CONNECTION_LOST',
    );
    assert.deepEqual(got, [SYMBOLS[0]]);
    await proxy.restart();
  });

  /**
   * A batch through the proxy, its K-line query stopped midway (so the outage hits the stream, not only the
   * registry), that kills the proxy once the first stock is recorded completed.
   */
  const batch = (dir: string, extra: Partial<LocalBatchOptions>): Promise<BatchSummary> => {
    let killed = false;
    proxy.limitDownstream(MIDWAY);
    return runLocalBatch({
      handle: viaProxy,
      kind: fixtureKind(JOB),
      config: JOB,
      symbols: SYMBOLS,
      workers: 1,
      // Runs directly in {dir}/ as train writes them; the batch's own files in {dir}/batches/b/.
      outputDir: join(tdb.dir, dir),
      batchDir: join(tdb.dir, dir, 'batches', 'b'),
      onUpdate: (state) => {
        if (!killed && state.counts.completed === 1) {
          killed = true;
          void proxy.kill();
        }
      },
      ...extra,
    });
  };

  test('an outage shorter than the retry budget: the batch waits for the database and completes every stock', async () => {
    const notices: DatabaseRetryNotice[] = [];
    const summary = await batch('short', {
      databaseRetry: { budgetMs: 60_000, firstDelayMs: 200, maxDelayMs: 1_000 },
      onDatabaseRetry: (n) => {
        notices.push(n);
        // Back as soon as the batch noticed: its next try finds the database again.
        if (notices.length === 1) void proxy.restart();
      },
    });
    assert.equal(notices[0]?.what, 'reading K-lines', 'the stream lost its connection midway and was reopened');
    assert.equal(summary.databaseOutage, null);
    assert.deepEqual(summary.counts, { pending: 0, completed: SYMBOLS.length, failed: 0, skipped: 0 });
    const registered = (await listRegistry(tdb.handle.db)).filter((r) => r.path.startsWith(join(tdb.dir, 'short')));
    assert.deepEqual(registered.map((r) => r.symbol).sort(), SYMBOLS);
  });

  test('an outage longer than the budget: summary with the outage, no stock failed for it, and a plain resume completes them', async () => {
    const dir = join(tdb.dir, 'long');
    const summary = await batch('long', { databaseRetry: { budgetMs: 1_000, firstDelayMs: 100, maxDelayMs: 400 } });
    assert.ok(summary.databaseOutage, 'the summary names the outage');
    assert.match(
      summary.databaseOutage.reason,
      /^database outage: the database did not answer for \d+ s \((ECONNREFUSED|PROTOCOL_CONNECTION_LOST|ECONNRESET)\)/,
    );
    assert.equal(summary.counts.failed, 0);
    assert.equal(summary.counts.completed, 1, 'only the stock registered before the outage');
    assert.equal(summary.counts.pending, SYMBOLS.length - 1);
    for (const s of summary.stocks) assert.doesNotMatch(s.reason ?? '', /worker thread died|pool closed/, s.symbol);
    const progress = readProgress(join(dir, 'batches', 'b'))!;
    for (const s of SYMBOLS.slice(1)) assert.deepEqual([progress.stocks[s].status, progress.stocks[s].attempts], ['pending', 0], `${s} never started`);
    const onDisk = JSON.parse(readFileSync(join(dir, 'batches', 'b', 'batch_summary.json'), 'utf8')) as BatchSummary;
    assert.deepEqual(onDisk.databaseOutage, summary.databaseOutage);

    await proxy.restart();
    const resumed = await runLocalBatch({
      handle: viaProxy,
      kind: fixtureKind(JOB),
      config: JOB,
      symbols: SYMBOLS,
      workers: 1,
      outputDir: dir,
      batchDir: join(dir, 'batches', 'b'),
      resume: true,
    });
    assert.equal(resumed.databaseOutage, null);
    assert.deepEqual(resumed.counts, { pending: 0, completed: SYMBOLS.length, failed: 0, skipped: 0 });
    assert.ok(resumed.stocks.every((s) => s.reason === null));
    assert.equal(
      readdirSync(dir).filter((n) => n !== 'batches').length,
      SYMBOLS.length,
      'one run folder per stock: trained-but-unregistered ones were adopted, not retrained beside',
    );
    const registered = (await listRegistry(tdb.handle.db)).filter((r) => r.path.startsWith(dir));
    assert.deepEqual(registered.map((r) => r.symbol).sort(), SYMBOLS);
  });
});

test(
  'klinecast batch: a lost database is one line naming the outage, exit 3, and `batch --resume` finishes the rest',
  { skip: mysql.skip, timeout: 240_000 },
  async () => {
    const tdb = await createTestDatabase('mysql');
    const url = new URL(tdb.url);
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 3306));
    try {
      await writeDemoMarket(tdb.handle, generateDemoMarket({ stocks: 6, start: '2023-01-01', end: '2024-12-31', seed: 3 }));
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      const dir = join(tdb.dir, 'batch');
      const args = ['batch', '--database', url.toString(), '--output-dir', dir, '--workers', '1', ...TINY_TRAIN_FLAGS];
      const first = startCli([...args, '--name', 'lost', '--db-retry-seconds', '1']);
      const batchDir = join(dir, 'batches', 'lost');
      const progressFile = join(batchDir, 'batch_progress.json');
      // Killed when the progress file first records a completed stock (polled: the batch is another process).
      while (!(existsSync(progressFile) && Object.values(readProgress(batchDir)!.stocks).some((s) => s.status === 'completed'))) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await proxy.kill();
      assert.equal(await first.exited, 3, first.stderr());
      const errors = first
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('error:'));
      assert.equal(errors.length, 1, first.stderr());
      assert.match(errors[0], /^error: database outage: .* \d+ stock\(s\) left pending .*--resume/);
      assert.doesNotMatch(first.stderr(), /^\s+at /m, 'no stack');
      const summary = JSON.parse(readFileSync(join(batchDir, 'batch_summary.json'), 'utf8')) as BatchSummary;
      assert.ok(summary.databaseOutage);
      assert.equal(summary.counts.failed, 0);
      assert.ok(summary.counts.pending >= 1);

      await proxy.restart();
      const resumed = await runCliToEnd([...args, '--resume', '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const after = JSON.parse(resumed.stdout) as BatchSummary;
      assert.deepEqual(after.counts, { pending: 0, completed: 6, failed: 0, skipped: 0 });
    } finally {
      await proxy.close();
      await tdb.cleanup();
    }
  },
);
