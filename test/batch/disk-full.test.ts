/**
 * Issue 12 #9, a full disk: `train` and `batch` end with one line naming the disk (its mount point) and the folder,
 * no Node stack; a batch whose runs hit the full disk records them as failed with that line, and after space is
 * freed `batch --resume --retry-failed` replaces their folders (same names, never `…_2` beside them).
 * The full disk is a real one: a 1 MB tmpfs, mounted by the test (needs root; skipped with a message otherwise).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createMarket, type Fixture } from '../prediction/fixture.js';
import { TINY_TRAIN_FLAGS, runCliToEnd } from './cli-process.js';
import type { BatchSummary } from '../../src/batch/index.js';

/** Mounts a tmpfs (1 MB unless told) at `dir`; false when this process may not mount (not root, no tmpfs). */
function mountTmpfs(dir: string, size = '1m'): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

/** Fills the file system holding `dir` up to the last byte. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

const probe = join(process.env.TMPDIR ?? '/tmp', `klinecast-mount-probe-${process.pid}`);
const canMount = mountTmpfs(probe);
if (canMount) spawnSync('umount', [probe]);
rmSync(probe, { recursive: true, force: true });
const skip = canMount ? false : 'SKIPPED: the disk-full tests mount a tmpfs, which needs root';
if (skip) console.warn(`\n*** ${skip} ***\n`);

describe('a full disk under the output folder', { skip }, () => {
  let fx: Fixture;
  let disk: string;
  let batches: string;

  before(async () => {
    fx = await createMarket();
    // The output folder (where runs go) on the full disk; its batches/ on a roomy one, so the batch's progress and
    // summary can still be written while every run fails.
    disk = join(fx.root, 'out');
    assert.ok(mountTmpfs(disk));
    batches = join(disk, 'batches');
    assert.ok(mountTmpfs(batches, '16m'));
    fill(disk);
  });

  after(async () => {
    if (batches) spawnSync('umount', ['-l', batches]);
    if (disk) spawnSync('umount', ['-l', disk]);
    await fx?.close();
  });

  /** The stderr lines, minus blank ones. */
  const lines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '');

  test('train: exit 2 and one line naming the disk and the folder, no stack', async () => {
    const out = join(disk, 'out');
    const r = await runCliToEnd(['train', '--symbol', fx.symbols[0], ...TINY_TRAIN_FLAGS, '--output-dir', out, '--database', fx.url]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    const escaped = disk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(
      r.stderr,
      new RegExp(
        `^error: no space left on the disk mounted at ${escaped} \\(0 bytes free\\): writing \\S+ in ${escaped}/out\\S* failed \\(ENOSPC\\); free some space`,
      ),
    );
    assert.ok(!r.stderr.includes('    at '), 'no stack');
  });

  test('batch: the batch folder itself on the full disk is one line, exit 2', async () => {
    const r = await runCliToEnd(['batch', '--symbols', fx.symbols.join(','), ...TINY_TRAIN_FLAGS, '--output-dir', join(disk, 'inner'), '--database', fx.url]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^error: no space left on the disk mounted at \S+ \(0 bytes free\): writing \S+ in \S+inner\S* failed \(ENOSPC\)/);
  });

  test('batch: runs on the full disk fail with that line; after freeing space --resume --retry-failed replaces their folders', async () => {
    const args = ['batch', '--symbols', fx.symbols.join(','), ...TINY_TRAIN_FLAGS, '--workers', '1', '--output-dir', disk, '--database', fx.url];
    const first = await runCliToEnd([...args, '--name', 'full', '--json']);
    assert.equal(first.code, 1, first.stderr);
    assert.ok(!first.stderr.includes('    at '), first.stderr);
    const summary = JSON.parse(first.stdout) as BatchSummary;
    assert.equal(summary.counts.failed, fx.symbols.length, JSON.stringify(summary.stocks));
    for (const s of summary.stocks) assert.match(s.reason ?? '', /^no space left on the disk mounted at \S+out \(0 bytes free\): writing /);
    const leftovers = readdirSync(disk).filter((n) => /^\d{6}_/.test(n));
    assert.ok(leftovers.length > 0, 'the failed runs left folders behind');

    rmSync(join(disk, 'filler'));
    const retried = await runCliToEnd([...args, '--resume', 'full', '--retry-failed', '--json']);
    assert.equal(retried.code, 0, retried.stderr);
    const after = JSON.parse(retried.stdout) as BatchSummary;
    assert.equal(after.counts.completed, fx.symbols.length, JSON.stringify(after.stocks));
    const folders = readdirSync(disk)
      .filter((n) => /^\d{6}_/.test(n))
      .sort();
    assert.deepEqual(folders, after.stocks.map((s) => s.runName!).sort(), 'one folder per stock, no _2');
    for (const name of leftovers) assert.ok(folders.includes(name), `${name} was replaced under its own name`);
    assert.equal(JSON.parse(readFileSync(join(batches, 'full', 'batch_summary.json'), 'utf8')).counts.completed, fx.symbols.length);
  });
});
