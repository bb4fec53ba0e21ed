/**
 * Issue 15 part 1: `runs list` and `runs prune` touch only folders positively identified as runs. An out/ holding
 * batch folders (current and old layout), backtests/ and foreign folders of every age keeps all of them through
 * `prune --status corrupt --yes` and even a prune of every status; runs of the old layout (out/batch/runs/) are
 * listed and readable, never pruned.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { deleteRunDir, existingRunDirFor, isRunFolder, listRuns, scanOutputDir } from '../../src/runs/index.js';
import { UserError } from '../../src/util/errors.js';
import { writeCompletedRun } from '../training/manager-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'klinecast-prune-safety-'));
const out = join(root, 'out');
after(() => rmSync(root, { recursive: true, force: true }));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'runs', ...args, '--output-dir', out], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(path: string, text = '{}'): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** Every file under `dir`, relative to it: what must survive. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else found.push(relative(dir, p));
    }
  };
  walk(dir);
  return found.sort();
}

/** Sets the mtime of `dir` and everything under it to `ageMs` ago. */
function age(dir: string, ageMs: number): void {
  const when = new Date(Date.now() - ageMs);
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      utimesSync(p, when, when);
    }
  };
  walk(dir);
  utimesSync(dir, when, when);
}

const YEAR = 365 * 86_400_000;
const NOT_RUNS = ['batches', 'backtests', 'batch', 'notes', 'empty', 'dump', 'recent-foreign'];
let protectedFiles: Record<string, string[]> = {};

before(() => {
  writeCompletedRun(out, { symbol: '600000', runName: 'a-run' });
  // The current layout: a batch's bookkeeping only.
  write(join(out, 'batches', 'batch_20260101_000000', 'batch_progress.json'), '{"version":1,"stocks":{}}');
  write(join(out, 'batches', 'batch_20260101_000000', 'batch_summary.json'));
  write(join(out, 'batches', 'batch_20260101_000000', 'batch.log'), '[2026-01-01 00:00:00] batch started\n');
  mkdirSync(join(out, 'batches', 'empty-batch'), { recursive: true });
  // Backtests (built elsewhere): folders that look a lot like runs inside.
  write(join(out, 'backtests', 'bt-1', 'config.json'));
  write(join(out, 'backtests', 'bt-1', 'results', 'forecasts.json'), '[]');
  write(join(out, 'backtests', 'bt-1', 'metadata.json'), '{"broken"');
  // The old batch layout: out/batch/{batch_progress.json, results/, runs/{run}/}, one run healthy, one damaged.
  write(join(out, 'batch', 'batch_progress.json'), '{"version":1,"stocks":{}}');
  write(join(out, 'batch', 'results', 'batch_summary.json'));
  writeCompletedRun(join(out, 'batch', 'runs'), { symbol: '000001', runName: 'old-run' });
  write(join(out, 'batch', 'runs', 'old-broken', 'metadata.json'), 'not json');
  // Foreign folders: notes, an empty folder, a data dump with a config.json but nothing of a run.
  write(join(out, 'notes', 'README.md'), '# mine');
  mkdirSync(join(out, 'empty'));
  write(join(out, 'dump', 'config.json'));
  write(join(out, 'dump', 'rows.csv'), 'a,b\n');
  write(join(out, 'recent-foreign', 'x.txt'), 'x');
  // A corrupt run of out/ itself, old enough to be pruned: the one folder prune --status corrupt may delete.
  write(join(out, 'z-corrupt', 'metadata.json'), '{"run_name": "z-');
  for (const name of [...NOT_RUNS.filter((n) => n !== 'recent-foreign'), 'z-corrupt']) age(join(out, name), YEAR);
  protectedFiles = Object.fromEntries(NOT_RUNS.map((n) => [n, filesUnder(join(out, n))]));
});

test('list: runs only; batches/, backtests/, the old batch folder and foreign folders are never corrupt runs', () => {
  const scan = scanOutputDir(out);
  assert.deepEqual(scan.runs.map((r) => r.name).sort(), ['a-run', 'old-broken', 'old-run', 'z-corrupt']);
  // klinecast's own batches/ and backtests/ are not even mentioned; other folders that are not runs are named.
  assert.deepEqual(scan.ignored, NOT_RUNS.filter((n) => n !== 'batches' && n !== 'backtests').sort());
  const old = scan.runs.find((r) => r.name === 'old-run')!;
  assert.equal(old.legacyBatch, 'batch');
  assert.equal(old.status, 'completed');
  // A run of the old layout is found by name, as runs show / predict --run / the API look runs up.
  assert.equal(existingRunDirFor(out, 'old-run'), join(out, 'batch', 'runs', 'old-run'));

  const table = cli('list');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /old-run \(old batch\/\)/);
  assert.match(table.stdout, /^\(not runs, left alone: batch\/, dump\/, empty\/, notes\/, recent-foreign\/\)$/m);
  assert.match(table.stdout, /old batch layout: listed and usable, never pruned; to move them: mv \S+batch\/runs\/\* \S+\/\)/);
  assert.doesNotMatch(table.stdout, /^(batches|backtests|batch|notes|empty|dump) /m);
  // Pointed at the old batch folder itself, its runs are listed and the folder's own runs/ is no corrupt run.
  const inside = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'runs', 'list', '--json', '--output-dir', join(out, 'batch')], {
    encoding: 'utf8',
  });
  assert.deepEqual((JSON.parse(inside.stdout) as Array<{ name: string }>).map((r) => r.name).sort(), ['old-broken', 'old-run']);
});

test('prune --status corrupt --yes deletes the corrupt run and nothing else, whatever the age of the other folders', () => {
  const r = cli('prune', '--status', 'corrupt', '--yes', '--json');
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { removed: Array<{ name: string }>; kept: Array<{ name: string; why: string }> };
  assert.deepEqual(
    result.removed.map((x) => x.name),
    ['z-corrupt'],
  );
  assert.match(result.kept.find((k) => k.name === 'old-broken')!.why, /old batch layout/);
  assert.ok(!existsSync(join(out, 'z-corrupt')));
  for (const name of NOT_RUNS) assert.deepEqual(filesUnder(join(out, name)), protectedFiles[name], `${name}/ is untouched`);

  // Every status, any age: still only runs of out/ itself, and the best run of each symbol stays.
  const all = cli('prune', '--status', 'completed,failed,interrupted,crashed,corrupt', '--older-than', '1m', '--yes', '--json');
  assert.equal(all.code, 0, all.stderr);
  for (const name of NOT_RUNS) assert.deepEqual(filesUnder(join(out, name)), protectedFiles[name], `${name}/ is untouched`);
  assert.ok(existsSync(join(out, 'a-run')), 'the best run of 600000 is kept');
  assert.ok(statSync(join(out, 'batch', 'runs', 'old-run')).isDirectory());
});

test('deleteRunDir refuses a folder that is not a run', () => {
  assert.equal(isRunFolder(join(out, 'batches')), false);
  assert.equal(isRunFolder(join(out, 'dump')), false);
  assert.equal(isRunFolder(join(out, 'a-run')), true);
  for (const name of ['batches', 'dump', 'notes', 'empty']) {
    assert.throws(
      () => deleteRunDir(join(out, name)),
      (err: Error) => err instanceof UserError && /not a run folder/.test(err.message),
    );
    assert.ok(existsSync(join(out, name)));
  }
  assert.ok(listRuns(out).some((r) => r.name === 'a-run'));
});

test('no run may be named batches or backtests', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'runs', 'show', 'batches', '--output-dir', out], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /invalid run name "batches"/);
});
