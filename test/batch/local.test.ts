/**
 * The local batch runner with fixture jobs on a temp SQLite database: isolation of broken stocks and dying
 * threads, the summary, the registry, and how --resume treats run folders the progress file does not know about.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { listRegistry } from '../../src/runs/registry.js';
import { readProgress, runLocalBatch, type BatchSummary } from '../../src/batch/index.js';
import { listRuns } from '../../src/runs/index.js';
import { seriesToBars, writeBars } from '../../src/data/index.js';
import { UserError } from '../../src/util/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { fixtureKind, syntheticSeries, type FixtureConfig } from './fixture-jobs.js';

async function seeded(stocks: Array<[string, number]>): Promise<TestDatabase> {
  const tdb = await createTestDatabase('sqlite');
  for (const [symbol, n] of stocks) await writeBars(tdb.handle.db, 'sqlite', seriesToBars(syntheticSeries(symbol, n)));
  return tdb;
}

test('broken stocks and dying threads are recorded; every other stock completes and is registered', { timeout: 60_000 }, async () => {
  const tdb = await seeded([
    ['000001', 40],
    ['000002', 40],
    ['000003', 40],
    ['000004', 40],
    ['000005', 5],
    ['000006', 40],
    ['000007', 40],
  ]);
  try {
    const config: FixtureConfig = { sleepMs: 20, minBars: 10, throwOn: ['000002'], uncaughtOn: ['000003'], exitOn: ['000004'] };
    const states: number[] = [];
    const summary = await runLocalBatch({
      handle: tdb.handle,
      kind: fixtureKind(config),
      config,
      symbols: ['000001', '000002', '000003', '000004', '000005', '000006', '000007', '000008'],
      workers: 2,
      outputDir: join(tdb.dir, 'out'),
      batchDir: join(tdb.dir, 'out', 'batches', 'b1'),
      onUpdate: (s) => states.push(s.processed),
    });
    const by = new Map(summary.stocks.map((s) => [s.symbol, s]));
    assert.deepEqual(summary.counts, { pending: 0, completed: 3, failed: 3, skipped: 2 });
    for (const s of ['000001', '000006', '000007']) assert.equal(by.get(s)!.status, 'completed');
    assert.match(by.get('000002')!.reason!, /deliberate failure in 000002/);
    assert.match(by.get('000003')!.reason!, /worker thread died while training 000003 .*deliberate uncaught throw/);
    assert.match(by.get('000004')!.reason!, /worker thread died while training 000004 \(exit code 7\)/);
    assert.match(by.get('000005')!.reason!, /only 5 bars/);
    assert.match(by.get('000008')!.reason!, /no K-line data/);
    assert.equal(summary.threadsReplaced, 2);
    assert.equal(states.at(-1), 8, 'the last update counts every stock');

    // The runs are ordinary runs of out/; the batch keeps only its bookkeeping in out/batches/b1/.
    const onDisk = JSON.parse(readFileSync(join(tdb.dir, 'out', 'batches', 'b1', 'batch_summary.json'), 'utf8')) as BatchSummary;
    assert.equal(onDisk.name, 'b1');
    for (const s of ['000001', '000006', '000007']) assert.equal(by.get(s)!.path, join(tdb.dir, 'out', by.get(s)!.runName!));
    assert.deepEqual(
      listRuns(join(tdb.dir, 'out'))
        .filter((r) => r.status === 'completed')
        .map((r) => r.symbol)
        .sort(),
      ['000001', '000006', '000007'],
    );
    const log = readFileSync(join(tdb.dir, 'out', 'batches', 'b1', 'batch.log'), 'utf8');
    assert.match(log, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] batch b1 started: 8 of 8 stocks/m);
    assert.match(log, /\] 000002 failed: .*deliberate failure/);
    assert.match(log, /\] batch b1 finished: 3 completed, 3 failed, 2 skipped/);
    assert.deepEqual(
      onDisk.stocks.map((s) => [s.symbol, s.status]),
      summary.stocks.map((s) => [s.symbol, s.status]),
    );
    const registry = await listRegistry(tdb.handle.db);
    assert.deepEqual(registry.map((r) => r.symbol).sort(), ['000001', '000006', '000007']);
    assert.ok(registry.every((r) => r.configHash === summary.configHash && r.metrics?.bars === 40));

    // --retry-failed retries exactly the failed stocks; now they pass.
    const fixed: FixtureConfig = { ...config, throwOn: [], uncaughtOn: [], exitOn: [] };
    await assert.rejects(
      runLocalBatch({
        handle: tdb.handle,
        kind: fixtureKind(fixed),
        config: fixed,
        symbols: ['000001'],
        workers: 1,
        outputDir: join(tdb.dir, 'out'),
        batchDir: join(tdb.dir, 'out', 'batches', 'b1'),
        resume: true,
      }),
      (err: Error) => err instanceof UserError && /started with another config/.test(err.message),
    );
    await assert.rejects(
      runLocalBatch({
        handle: tdb.handle,
        kind: fixtureKind(config),
        config,
        symbols: ['000001'],
        workers: 1,
        outputDir: join(tdb.dir, 'out'),
        batchDir: join(tdb.dir, 'out', 'batches', 'b1'),
      }),
      (err: Error) => err instanceof UserError && /pass --resume/.test(err.message),
    );
  } finally {
    await tdb.cleanup();
  }
});

test('--retry-failed trains failed stocks again; plain --resume leaves them', { timeout: 60_000 }, async () => {
  const tdb = await seeded([
    ['000001', 40],
    ['000002', 40],
  ]);
  try {
    const config: FixtureConfig = { sleepMs: 10, throwOn: ['000002'] };
    const runsDir = join(tdb.dir, 'out');
    const batchDir = join(runsDir, 'batches', 'b');
    const base = { handle: tdb.handle, kind: fixtureKind(config), config, symbols: ['000001', '000002'], workers: 1, outputDir: runsDir, batchDir };
    await runLocalBatch(base);
    const plain = await runLocalBatch({ ...base, resume: true });
    assert.equal(plain.stocks[1].attempts, 1);
    const failedFolder = readdirSync(runsDir).find((n) => n.startsWith('000002_'));
    assert.ok(failedFolder, 'the failed run left its folder');
    writeFileSync(join(runsDir, failedFolder, 'logs', 'marker.txt'), 'from the first attempt');
    const retried = await runLocalBatch({ ...base, resume: true, retryFailed: true });
    assert.equal(retried.stocks[1].status, 'failed');
    assert.equal(retried.stocks[1].attempts, 2);
    assert.equal(retried.stocks[0].attempts, 1, 'completed stocks are never trained again');
    // Issue 12 #9: the retry replaced the failed folder (same name), it did not train into ..._2 beside it.
    assert.deepEqual(
      readdirSync(runsDir).filter((n) => n.startsWith('000002_')),
      [failedFolder],
    );
    assert.ok(!existsSync(join(runsDir, failedFolder, 'logs', 'marker.txt')), 'the folder is the retry, not the first attempt');
  } finally {
    await tdb.cleanup();
  }
});

test('resume adopts a run that completed after the last progress write and replaces a half-written one', { timeout: 60_000 }, async () => {
  const tdb = await seeded([
    ['000001', 40],
    ['000002', 40],
    ['000003', 40],
  ]);
  try {
    const config: FixtureConfig = { sleepMs: 10 };
    const runsDir = join(tdb.dir, 'out');
    const batchDir = join(runsDir, 'batches', 'b');
    const base = { handle: tdb.handle, kind: fixtureKind(config), config, symbols: ['000001', '000002', '000003'], workers: 1, outputDir: runsDir, batchDir };
    const first = await runLocalBatch(base);
    // Pretend the process died: 000002 finished its run folder but the progress file never heard of it;
    // 000003 was killed mid-run (its folder says training, by a pid that is gone).
    const progressFile = join(batchDir, 'batch_progress.json');
    const progress = readProgress(batchDir)!;
    progress.stocks['000002'] = { ...progress.stocks['000002'], status: 'pending', runName: null, path: null, metrics: null };
    progress.stocks['000003'] = { ...progress.stocks['000003'], status: 'pending', runName: null, path: null, metrics: null };
    writeFileSync(progressFile, JSON.stringify(progress));
    const partial = join(runsDir, first.stocks[2].runName!);
    const meta = JSON.parse(readFileSync(join(partial, 'metadata.json'), 'utf8'));
    writeFileSync(join(partial, 'metadata.json'), JSON.stringify({ ...meta, status: 'training', pid: 999_999_999 }));
    mkdirSync(join(partial, 'checkpoints', 'checkpoint-1'), { recursive: true });

    const resumed = await runLocalBatch({ ...base, resume: true });
    assert.deepEqual(resumed.counts, { pending: 0, completed: 3, failed: 0, skipped: 0 });
    assert.equal(resumed.stocks[1].runName, first.stocks[1].runName, 'adopted, not retrained');
    assert.equal(resumed.stocks[1].attempts, 1);
    assert.equal(resumed.stocks[2].runName, first.stocks[2].runName, 'the partial folder was removed and its name reused');
    assert.equal(resumed.stocks[2].attempts, 2);
    assert.ok(!existsSync(join(partial, 'checkpoints', 'checkpoint-1')));
    assert.deepEqual(
      readdirSync(runsDir)
        .filter((n) => n !== 'batches')
        .sort(),
      first.stocks.map((s) => s.runName).sort(),
    );
  } finally {
    await tdb.cleanup();
  }
});
