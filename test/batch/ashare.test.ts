/**
 * Batch training of the 33 real A-share stocks (imported into a temporary MariaDB database) with a tiny config:
 * the local pool with two deliberately broken stocks, resume after SIGKILL, and BullMQ workers with one SIGKILLed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { QUEUE_NAME, queueStatus, readProgress, type BatchSummary } from '../../src/batch/index.js';
import { listRegistry } from '../../src/runs/registry.js';
import { importCsvFiles, writeBars } from '../../src/data/index.js';
import type { KlineBar } from '../../src/data/types.js';
import { readRun } from '../../src/runs/index.js';
import { ashareSymbols } from '../helpers/ashare.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testBar } from '../helpers/bars.js';
import { ashare, ASHARE_DIR, mysql, redis } from '../helpers/env.js';
import { runCliToEnd, startCli } from './cli-process.js';

const TINY = {
  data: { startDate: '2022-01-01', endDate: '2024-12-31' },
  dataset: { seqLength: 10 },
  model: { modelType: 'lstm', hiddenSize: 8, numLayers: 1, headHiddenSize: 8 },
  training: { epochs: 2, batchSize: 64, saveTotalLimit: 1 },
};
const REAL = ashare.available ? ashareSymbols() : [];
const SHORT = '000990';
const ZERO_CLOSE = '000991';

let tdb: TestDatabase;
const mysqlSkip = mysql.skip || ashare.skip;

function writeConfig(name: string, patch: { training?: Record<string, unknown> } = {}): string {
  const path = join(tdb.dir, name);
  writeFileSync(path, JSON.stringify({ ...TINY, training: { ...TINY.training, ...patch.training } }));
  return path;
}

function symbolsFile(symbols: string[]): string {
  const path = join(tdb.dir, `symbols-${randomBytes(3).toString('hex')}.txt`);
  writeFileSync(path, `# the real stocks\n${symbols.join('\n')}\n`);
  return path;
}

/** Bars of a synthetic stock on the real stocks' dates from 2022. */
function syntheticBars(symbol: string, days: number, close: (i: number) => number): KlineBar[] {
  const dates = readFileSync(join(ASHARE_DIR, '600519.csv'), 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[1])
    .filter((d) => d >= '2022-01-01')
    .slice(0, days);
  return dates.map((tradeDate, i) => {
    const c = close(i);
    const p = i > 0 ? close(i - 1) : c;
    return testBar(symbol, tradeDate, c, p, {
      high: c * 1.01,
      low: c * 0.99,
      pctChg: p ? ((c - p) / p) * 100 : 0,
      vol: 1000 + i,
      amount: 5000 + i,
      limitStatus: 0,
    });
  });
}

/** The run folders of an output folder (its batches/ bookkeeping is not a run). */
function runFolders(runsDir: string): Array<{ name: string; symbol: string; status: string }> {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir)
    .filter((name) => name !== 'batches')
    .map((name) => ({ name, symbol: name.slice(0, 6), status: readRun(join(runsDir, name)).status }));
}

before(async () => {
  if (mysqlSkip) return;
  tdb = await createTestDatabase('mysql');
  const report = await importCsvFiles(tdb.handle, [ASHARE_DIR]);
  assert.equal(report.totals.rejected, 0);
  // Two broken stocks: 30 bars (too short for any window), and one whose closes drop to zero (log returns blow up).
  await writeBars(
    tdb.handle.db,
    'mysql',
    syntheticBars(SHORT, 30, (i) => 10 + i * 0.01),
  );
  await writeBars(
    tdb.handle.db,
    'mysql',
    syntheticBars(ZERO_CLOSE, 200, (i) => (i % 50 === 49 ? 0 : 10 + Math.sin(i / 7))),
  );
});

after(async () => {
  await tdb?.cleanup();
});

test(
  'local batch on the 33 real stocks plus two broken ones: every real stock completes, the broken ones are recorded, the summary matches the folders',
  { skip: mysqlSkip, timeout: 180_000 },
  async () => {
    const outDir = join(tdb.dir, 'local');
    const batchDir = join(outDir, 'batches', 'real');
    const symbols = [...REAL, SHORT, ZERO_CLOSE];
    const batchArgs = ['batch', '--database', tdb.url, '--config', writeConfig('local.json'), '--symbols', symbols.join(','), '--output-dir', outDir];
    const { code, stdout, stderr } = await runCliToEnd([...batchArgs, '--name', 'real', '--workers', '2']);
    assert.equal(code, 1, `one failed stock makes the exit code 1; stderr:\n${stderr}`);
    assert.match(stdout, /33 completed, 1 failed, 1 skipped of 35/);
    const summary = JSON.parse(readFileSync(join(batchDir, 'batch_summary.json'), 'utf8')) as BatchSummary;
    const by = new Map(summary.stocks.map((s) => [s.symbol, s]));
    assert.equal(summary.stocks.length, 35);
    for (const s of REAL) {
      const entry = by.get(s)!;
      assert.equal(entry.status, 'completed', `${s}: ${entry.reason}`);
      assert.ok(Number.isFinite(entry.metrics?.mae), `${s} has test metrics`);
    }
    assert.equal(by.get(SHORT)!.status, 'skipped');
    assert.match(by.get(SHORT)!.reason!, /too little data: 30 bars/);
    assert.equal(by.get(ZERO_CLOSE)!.status, 'failed');
    assert.match(by.get(ZERO_CLOSE)!.reason!, /000991: .*(Infinity|NaN|close is 0)/);

    // The summary and the run folders agree one to one.
    const folders = runFolders(outDir).filter((f) => f.status === 'completed');
    assert.deepEqual(folders.map((f) => f.name).sort(), REAL.map((s) => by.get(s)!.runName).sort());
    for (const s of REAL) assert.equal(by.get(s)!.path, join(outDir, by.get(s)!.runName!));

    // Every completed run is in the registry.
    const registered = await listRegistry(tdb.handle.db, { configHash: summary.configHash });
    assert.deepEqual(registered.map((r) => r.runName).sort(), REAL.map((s) => by.get(s)!.runName).sort());
    assert.ok(registered.every((r) => r.status === 'completed' && r.modelType === 'lstm' && r.metrics && Number.isFinite(r.metrics.mae)));

    // --resume without --retry-failed settles nothing new; the progress file is unchanged in substance.
    const again = await runCliToEnd([...batchArgs, '--resume', 'real', '--json']);
    const resumed = JSON.parse(again.stdout) as BatchSummary;
    assert.deepEqual(resumed.counts, { pending: 0, completed: 33, failed: 1, skipped: 1 });
    assert.equal(runFolders(outDir).filter((f) => f.status === 'completed').length, 33);
  },
);

test('a batch SIGKILLed halfway and resumed trains every stock exactly once', { skip: mysqlSkip, timeout: 180_000 }, async () => {
  const outDir = join(tdb.dir, 'resume');
  const batchDir = join(outDir, 'batches', 'killed');
  const config = writeConfig('resume.json', { training: { seed: 7, epochs: 3 } });
  const args = ['batch', '--database', tdb.url, '--config', config, '--symbols', `@${symbolsFile(REAL)}`, '--workers', '2', '--output-dir', outDir];
  const first = startCli([...args, '--name', 'killed']);
  // Poll the progress file until about half the stocks are recorded, then kill without warning.
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const p = existsSync(join(batchDir, 'batch_progress.json')) ? readProgress(batchDir) : null;
    const done = p ? Object.values(p.stocks).filter((s) => s.status === 'completed').length : 0;
    if (done >= 15) break;
    assert.equal(first.child.exitCode, null, `batch ended before the kill:\n${first.stderr()}`);
  }
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  const before = readProgress(batchDir)!;
  const doneBefore = Object.entries(before.stocks).filter(([, s]) => s.status === 'completed');
  assert.ok(doneBefore.length >= 15 && doneBefore.length < 33, `${doneBefore.length} done at the kill`);

  // --resume without a name takes the latest batch, with its saved config and stocks.
  const second = await runCliToEnd(['batch', '--database', tdb.url, '--workers', '2', '--output-dir', outDir, '--resume', '--json']);
  assert.equal(second.code, 0, second.stderr);
  const summary = JSON.parse(second.stdout) as BatchSummary;
  assert.deepEqual(summary.counts, { pending: 0, completed: 33, failed: 0, skipped: 0 });
  // Stocks finished before the kill were not touched again.
  for (const [symbol, s] of doneBefore) {
    const now = summary.stocks.find((x) => x.symbol === symbol)!;
    assert.equal(now.runName, s.runName);
    assert.equal(now.attempts, 1);
  }
  // Exactly one run folder per stock, every one completed: folders of the killed stocks were cleaned or adopted.
  const folders = runFolders(outDir);
  assert.equal(folders.length, 33, folders.map((f) => `${f.name}:${f.status}`).join(' '));
  assert.deepEqual(folders.map((f) => f.symbol).sort(), REAL);
  assert.ok(folders.every((f) => f.status === 'completed'));
  const registered = await listRegistry(tdb.handle.db, { configHash: summary.configHash, status: ['completed'] });
  assert.equal(registered.length, 33);
  assert.equal(new Set(registered.map((r) => r.symbol)).size, 33);
});

test(
  'distributed: two workers, one SIGKILLed mid-job; every job completes exactly once and the registry holds 33 runs',
  { skip: mysqlSkip || redis.skip, timeout: 240_000 },
  async () => {
    const prefix = `kct_${randomBytes(4).toString('hex')}`;
    const url = redis.url!;
    // enough epochs that the kill usually lands while A is training, not between jobs
    const config = writeConfig('queue.json', { training: { seed: 11, epochs: 8 } });
    const dirA = join(tdb.dir, 'worker-a');
    const dirB = join(tdb.dir, 'worker-b');
    const workerArgs = (dir: string) => [
      'worker',
      '--queue',
      url,
      '--queue-prefix',
      prefix,
      '--concurrency',
      '1',
      '--output-dir',
      dir,
      '--database',
      tdb.url,
      '--lock-duration',
      '3000',
      '--stalled-interval',
      '1000',
    ];
    const a = startCli(workerArgs(dirA));
    const b = startCli(workerArgs(dirB));
    try {
      await Promise.all([a.waitFor(/worker on /), b.waitFor(/worker on /)]);
      const enqueue = ['batch', '--queue', url, '--queue-prefix', prefix, '--database', tdb.url, '--config', config, '--symbols', `@${symbolsFile(REAL)}`];
      const first = await runCliToEnd(enqueue);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /enqueued 33 job\(s\) \(0 already queued\)/);
      const second = await runCliToEnd(enqueue);
      assert.match(second.stdout, /enqueued 0 job\(s\) \(33 already queued\)/, 'the same (symbol, config) is not queued twice');

      // Kill worker A while it trains its second job.
      await a.waitFor(/start \d{6}[\s\S]*start (\d{6})/);
      const killedSymbol = [...a.stdout().matchAll(/start (\d{6})/g)].at(-1)![1];
      a.child.kill('SIGKILL');
      assert.equal(await a.exited, 'SIGKILL');

      const deadline = Date.now() + 180_000;
      let counts = await queueStatus({ url, prefix });
      while (counts.completed + counts.failed < 33 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        counts = await queueStatus({ url, prefix });
      }
      assert.deepEqual(
        { completed: counts.completed, failed: counts.failed, active: counts.active, waiting: counts.waiting },
        { completed: 33, failed: 0, active: 0, waiting: 0 },
      );
      const status = await runCliToEnd(['batch', 'status', '--queue', url, '--queue-prefix', prefix, '--json']);
      assert.equal(JSON.parse(status.stdout).completed, 33);

      // The job A was killed in was recovered (stalled) and finished by B.
      assert.match(b.stdout(), new RegExp(`done ${killedSymbol} ->`));
      // Exactly one completed run per stock across both workers' folders; A's interrupted run is not completed.
      const completed = [...runFolders(dirA), ...runFolders(dirB)].filter((f) => f.status === 'completed');
      assert.deepEqual(completed.map((f) => f.symbol).sort(), REAL);
      // A was killed mid-job: before its run folder was complete (B trained the stock), or, with a short job, after it
      // completed and registered the run but before BullMQ heard (B found it in the registry and reused it). Either way
      // the stock has exactly one completed run.
      assert.equal(completed.filter((f) => f.symbol === killedSymbol).length, 1, `completed runs of ${killedSymbol}`);
      const hash = /for config ([0-9a-f]{16})/.exec(first.stdout)![1];
      const registered = await listRegistry(tdb.handle.db, { status: ['completed'], configHash: hash });
      assert.equal(registered.length, 33);
      assert.deepEqual(registered.map((r) => r.symbol).sort(), REAL);
      assert.ok(registered.every((r) => r.path.startsWith(dirA) || r.path.startsWith(dirB)));

      // SIGTERM: B finishes (it is idle) and exits cleanly.
      b.child.kill('SIGTERM');
      assert.equal(await b.exited, 0);
    } finally {
      for (const p of [a, b]) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      const { hostname, port } = new URL(url);
      const queue = new Queue(QUEUE_NAME, { connection: { host: hostname, port: Number(port || 6379) }, prefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
  },
);
