import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { JobFailedError, WorkerCrashedError, WorkerPool } from '../../src/batch/pool.js';
import { packSeries, unpackSeries } from '../../src/batch/transfer.js';
import { adjustSeries } from '../../src/data/index.js';
import { fixtureKind, syntheticSeries, type FixtureConfig } from './fixture-jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'klinecast-pool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a series round-trips through packing, and packing transfers (detaches) its column buffers', async () => {
  const s = syntheticSeries('600000', 30);
  const copy = { ...s, dates: [...s.dates], close: s.close.slice() };
  const { packed, transfer } = packSeries(s);
  assert.equal(transfer.length, 11);
  const { port1, port2 } = new MessageChannel();
  const received = new Promise<typeof packed>((resolve) => port2.once('message', resolve));
  port1.postMessage(packed, transfer);
  assert.equal(s.close.byteLength, 0, 'the main thread no longer holds the column');
  const back = unpackSeries(await received);
  port1.close();
  port2.close();
  assert.deepEqual(back.dates, copy.dates);
  assert.deepEqual(Array.from(back.close), Array.from(copy.close));
});

test('an adjusted series keeps its adjustment through packing (the thread must not adjust it again)', async () => {
  const raw = syntheticSeries('600000', 30);
  raw.preClose[10] = raw.close[9] * 0.9; // an ex-rights day
  const adjusted = adjustSeries(raw, 'qfq');
  const multiplier = Array.from(adjusted.adjustment!.multiplier);
  const { packed, transfer } = packSeries(adjusted);
  assert.equal(transfer.length, 12, 'the multiplier moves too');
  const { port1, port2 } = new MessageChannel();
  const received = new Promise<typeof packed>((resolve) => port2.once('message', resolve));
  port1.postMessage(packed, transfer);
  const back = unpackSeries(await received);
  port1.close();
  port2.close();
  assert.equal(back.adjustment!.mode, 'qfq');
  assert.deepEqual(Array.from(back.adjustment!.multiplier), multiplier);
  assert.deepEqual(
    back.adjustment!.exRights.map((e) => e.date),
    [raw.dates[10]],
  );
  assert.equal(adjustSeries(back, 'qfq'), back);
});

test('jobs that throw, throw uncaught, call process.exit or run out of memory fail alone; dead threads are replaced', async () => {
  const config: FixtureConfig = { sleepMs: 20, throwOn: ['000002'], uncaughtOn: ['000003'], exitOn: ['000004'], oomOn: ['000005'] };
  const pool = new WorkerPool({ size: 2, job: fixtureKind(config).ref, resourceLimits: { maxOldGenerationSizeMb: 64 } });
  try {
    const symbols = ['000001', '000002', '000003', '000004', '000005', '000006', '000007'];
    const results = await Promise.allSettled(
      symbols.map((s) => pool.run({ series: syntheticSeries(s, 40), config: { ...config, outputDir: dir, runName: `${s}_fixture_t` } })),
    );
    const bySymbol = Object.fromEntries(symbols.map((s, i) => [s, results[i]]));
    for (const s of ['000001', '000006', '000007']) {
      const r = bySymbol[s];
      assert.equal(r.status, 'fulfilled', `${s} completed`);
      assert.equal(r.status === 'fulfilled' && r.value.status, 'completed');
    }
    const reason = (s: string) => (bySymbol[s] as PromiseRejectedResult).reason as Error;
    assert.ok(reason('000002') instanceof JobFailedError);
    assert.match(reason('000002').message, /deliberate failure in 000002/);
    assert.ok(reason('000003') instanceof WorkerCrashedError);
    assert.match(reason('000003').message, /000003.*deliberate uncaught throw/);
    assert.ok(reason('000004') instanceof WorkerCrashedError);
    assert.match(reason('000004').message, /exit code 7/);
    assert.ok(reason('000005') instanceof WorkerCrashedError);
    assert.match(reason('000005').message, /out of memory/);
    assert.equal(pool.replacedThreads, 3);
    // The replacements work.
    const again = await pool.run({ series: syntheticSeries('000008', 40), config: { ...config, outputDir: dir, runName: '000008_fixture_t' } });
    assert.equal(again.status, 'completed');
  } finally {
    await pool.close();
  }
});

test('progress from the thread reaches the caller', async () => {
  const config: FixtureConfig = { sleepMs: 1000 };
  const pool = new WorkerPool({ size: 1, job: fixtureKind(config).ref });
  const seen: string[] = [];
  try {
    await pool.run({
      series: syntheticSeries('000009', 20),
      config: { ...config, outputDir: dir, runName: '000009_fixture_t' },
      onProgress: (_f, note) => seen.push(note ?? ''),
    });
  } finally {
    await pool.close();
  }
  assert.ok(seen.length >= 3, `progress notes: ${seen.join(', ')}`);
  assert.equal(seen.at(-1), 'step 4/4');
});
