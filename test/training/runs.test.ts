/** `klinecast runs …` on fixture runs, through the real CLI entry point (as a user runs it). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TrainingManager, listRuns, planPrune, sortRuns } from '../../src/runs/index.js';
import { REFERENCE_PYTHON } from '../helpers/env.js';
import { writeCompletedRun } from './manager-fixtures.js';
import type { Json } from '../helpers/json.js';

const root = mkdtempSync(join(tmpdir(), 'klinecast-runs-'));
const out = join(root, 'out');
after(() => rmSync(root, { recursive: true, force: true }));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'runs', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(...args: string[]): Json {
  const r = cli(...args, '--json', '--output-dir', out);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const names: Record<string, string> = {};
const DAY = 86_400_000;

function forge(name: string, patch: Record<string, unknown>): void {
  const path = join(out, name, 'metadata.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...patch }));
}

before(() => {
  names.lstm = writeCompletedRun(out, { symbol: '600000', runName: 'a-lstm' }).runName;
  names.gru = writeCompletedRun(out, { symbol: '600000', modelType: 'gru', maeScale: 2, runName: 'b-gru' }).runName;
  names.other = writeCompletedRun(out, { symbol: '000001', runName: 'c-other' }).runName;
  const failed = TrainingManager.create({ outputDir: out, symbol: '600000', modelType: 'lstm', runName: 'd-failed' });
  failed.updateStatus('failed', { error: new Error('boom') });
  forge('d-failed', { created_at: new Date(Date.now() - 40 * DAY).toISOString() });
  const crashed = TrainingManager.create({ outputDir: out, symbol: '600000', modelType: 'gru', runName: 'e-crashed' });
  crashed.updateStatus('training');
  forge('e-crashed', { pid: 2 ** 22 + 999 });
  // half-created and garbage folders, old enough that they are not a run being created right now
  mkdirSync(join(out, 'f-empty'));
  mkdirSync(join(out, 'g-garbage'));
  writeFileSync(join(out, 'g-garbage', 'metadata.json'), '{"run_name": "g-garb');
  mkdirSync(join(out, 'h-nofields'));
  writeFileSync(join(out, 'h-nofields', 'metadata.json'), '{"run_name": "h"}');
  // config.json and logs/ but no metadata.json: a run whose creation died halfway
  mkdirSync(join(out, 'i-halfmade', 'logs'), { recursive: true });
  writeFileSync(join(out, 'i-halfmade', 'config.json'), '{}');
  const old = new Date(Date.now() - 2 * DAY);
  for (const d of ['f-empty', 'g-garbage', 'h-nofields', 'i-halfmade']) utimesSync(join(out, d), old, old);
});

test('list --json: every run folder, crashed and corrupt ones with a reason; an empty folder is no run', () => {
  const runs = json('list') as Array<{ name: string; status: string; reason: string | null; eval_metrics: { mae: number } | null }>;
  const byName = Object.fromEntries(runs.map((r) => [r.name, r]));
  assert.deepEqual(Object.keys(byName).sort(), ['a-lstm', 'b-gru', 'c-other', 'd-failed', 'e-crashed', 'g-garbage', 'h-nofields', 'i-halfmade']);
  assert.equal(byName['a-lstm'].status, 'completed');
  assert.equal(byName['d-failed'].status, 'failed');
  assert.equal(byName['e-crashed'].status, 'crashed');
  assert.match(byName['e-crashed'].reason!, /is gone \(was training\)/);
  assert.equal(byName['i-halfmade'].status, 'corrupt');
  assert.match(byName['i-halfmade'].reason!, /no metadata\.json/);
  assert.match(byName['g-garbage'].reason!, /not valid JSON/);
  assert.match(byName['h-nofields'].reason!, /has no model_type/);
  assert.equal(typeof byName['a-lstm'].eval_metrics?.mae, 'number');
});

test('list filters and sorts', () => {
  const completed600000 = json('list', '--symbol', '600000', '--status', 'completed', '--sort', 'mae') as Array<{
    name: string;
    eval_metrics: { mae: number };
  }>;
  assert.deepEqual(
    completed600000.map((r) => r.name),
    ['b-gru', 'a-lstm'],
  );
  assert.ok(completed600000[0].eval_metrics.mae < completed600000[1].eval_metrics.mae);
  assert.deepEqual((json('list', '--model', 'gru') as Array<{ name: string }>).map((r) => r.name).sort(), ['b-gru', 'e-crashed']);
  assert.deepEqual(
    (json('list', '--status', 'crashed,corrupt', '--sort', 'name') as Array<{ name: string }>).map((r) => r.name),
    ['e-crashed', 'g-garbage', 'h-nofields', 'i-halfmade'],
  );
  const bad = cli('list', '--sort', 'bogus', '--output-dir', out);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown metric "bogus"/);
});

test('list prints a table and never crashes on damaged folders', () => {
  const r = cli('list', '--output-dir', out);
  assert.equal(r.code, 0, r.stderr);
  const header = r.stdout.split('\n')[0];
  for (const col of ['name', 'symbol', 'model', 'status', 'best val loss', 'MAE', 'skill', 'created', 'size']) assert.ok(header.includes(col), col);
  assert.match(r.stdout, /g-garbage: metadata\.json is not valid JSON/);
  assert.match(r.stdout, /e-crashed\s+600000\s+gru\s+crashed/);
});

test('show: metadata, config, a metrics chart, evaluation against the baselines, files', () => {
  const r = cli('show', 'a-lstm', '--output-dir', out);
  assert.equal(r.code, 0, r.stderr);
  for (const part of [
    'status   completed',
    'config',
    'metrics over 5 epochs',
    'val_loss',
    'persistence',
    'skill vs persistence',
    'model/pytorch_model.bin',
    'checkpoints/best/ (4 files)',
  ]) {
    assert.ok(r.stdout.includes(part), part);
  }
  assert.match(r.stdout, /val_loss\s+[▁▂▃▄▅▆▇█]{5}/);
  const details = json('show', 'a-lstm');
  assert.equal(details.metrics.length, 5);
  assert.equal(details.eval_results.baselines.persistence.mae > 0, true);
  const corrupt = cli('show', 'g-garbage', '--output-dir', out);
  assert.equal(corrupt.code, 0);
  assert.match(corrupt.stdout, /status {3}corrupt \(metadata\.json is not valid JSON/);
});

test('run names that could escape the output folder are refused', () => {
  for (const bad of ['..', '.tmp-x']) {
    const r = cli('show', bad, '--output-dir', out);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /invalid run name/);
  }
  const missing = cli('show', 'nope', '--output-dir', out);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no run folder/);
});

test('compare and best', () => {
  const cmp = json('compare', 'a-lstm', 'b-gru') as Array<{ name: string; config_differences: Record<string, unknown> }>;
  assert.deepEqual(
    cmp.map((c) => c.name),
    ['a-lstm', 'b-gru'],
  );
  assert.deepEqual(
    cmp.map((c) => c.config_differences.model),
    ['lstm', 'gru'],
  );
  const table = cli('compare', 'a-lstm', 'b-gru', '--output-dir', out);
  // MAE is in CNY: the best-run rule's row marks the best, on the test days both runs were tested on.
  assert.match(table.stdout, /best rule \(mae, 3 shared days\)\s+[\d.]+\s+[\d.]+ \*/);
  assert.doesNotMatch(table.stdout, /^MAE .*\*/m);
  assert.equal(json('best', '--symbol', '600000', '--metric', 'mae').name, 'b-gru');
  assert.equal(json('best', '--symbol', '000001', '--metric', 'skill').name, 'c-other');
  const none = cli('best', '--symbol', '999999', '--output-dir', out);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no completed run for symbol 999999/);
});

test('prune is a dry run by default, keeps the best run of each symbol, and deletes with --yes', () => {
  const dry = json('prune', '--status', 'completed,failed,corrupt');
  assert.equal(dry.dry_run, true);
  assert.deepEqual(dry.removed.map((r: { name: string }) => r.name).sort(), ['a-lstm', 'd-failed', 'g-garbage', 'h-nofields', 'i-halfmade']);
  assert.ok(!dry.kept.some((k: { name: string }) => k.name === 'f-empty'), 'an empty folder is not a run: prune does not even consider it');
  const kept = Object.fromEntries(dry.kept.map((k: { name: string; why: string }) => [k.name, k.why]));
  assert.equal(kept['b-gru'], 'best run of 600000');
  assert.equal(kept['c-other'], 'best run of 000001');
  assert.equal(kept['e-crashed'], 'status crashed');
  assert.ok(existsSync(join(out, 'a-lstm')), 'dry run deletes nothing');
  const needs = cli('prune', '--output-dir', out);
  assert.equal(needs.code, 2);

  const real = json('prune', '--status', 'failed,corrupt', '--older-than', '30d', '--yes');
  assert.deepEqual(
    real.removed.map((r: { name: string }) => r.name),
    ['d-failed'],
  );
  assert.ok(!existsSync(join(out, 'd-failed')));
  assert.deepEqual(
    readdirSync(out).filter((n) => n.startsWith('.')),
    [],
    'no trash left behind',
  );
});

test('export: a .tar that Python reads, or a model-only folder copy', () => {
  const tar = join(root, 'export', 'a.tar');
  const r = json('export', 'a-lstm', '--to', tar);
  assert.equal(r.to, tar);
  const py = spawnSync(
    REFERENCE_PYTHON,
    [
      '-c',
      'import sys, tarfile, json; t = tarfile.open(sys.argv[1]); print(json.dumps(sorted(m.name for m in t.getmembers() if m.isfile()))); json.load(t.extractfile("a-lstm/metadata.json"))',
      tar,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(py.status, 0, py.stderr);
  const members = JSON.parse(py.stdout) as string[];
  assert.equal(members.length, r.files);
  assert.ok(members.includes('a-lstm/model/pytorch_model.bin') && members.includes('a-lstm/checkpoints/best/trainer_state.json'));
  const dir = join(root, 'export', 'copy');
  json('export', 'a-lstm', '--to', dir, '--model-only');
  assert.ok(existsSync(join(dir, 'model', 'model.safetensors')));
  assert.ok(!existsSync(join(dir, 'checkpoints')));
  const again = cli('export', 'a-lstm', '--to', tar, '--output-dir', out);
  assert.equal(again.code, 2, 'never overwrites');
});

test('planPrune and sortRuns in-process: running runs and recent half-created folders are never selected', () => {
  const runs = listRuns(out);
  const plan = planPrune(runs, { statuses: ['corrupt', 'crashed', 'completed'], keepBestBy: 'mae', now: Date.now() + 1000 });
  assert.ok(!plan.remove.some((r) => r.run.name === 'b-gru'));
  const live = TrainingManager.create({ outputDir: out, modelType: 'lstm', runName: 'z-live' });
  live.updateStatus('training');
  const again = planPrune(listRuns(out), { olderThanMs: 0, now: Date.now() + 1000 });
  assert.equal(again.keep.find((k) => k.run.name === 'z-live')?.why, 'still running');
  // A run being created: config.json and logs/ written, metadata.json not yet.
  mkdirSync(join(out, 'y-fresh', 'logs'), { recursive: true });
  writeFileSync(join(out, 'y-fresh', 'config.json'), '{}');
  assert.equal(planPrune(listRuns(out), { statuses: ['corrupt'] }).keep.find((k) => k.run.name === 'y-fresh')?.why, 'may be a run being created');
  const sorted = sortRuns(
    listRuns(out).filter((r) => r.evalMetrics),
    'skill',
  );
  assert.ok(sorted[0].evalMetrics!.skill! >= sorted.at(-1)!.evalMetrics!.skill!);
});

test('list shows the backtests of out/backtests/ in their own table under the runs, never as runs; --json stays the runs', async () => {
  const { writeTinyBacktest } = await import('../helpers/backtest.js');
  const dir = join(root, 'with-backtest');
  writeCompletedRun(dir, { symbol: '600000', runName: 'only-run' });
  const report = await writeTinyBacktest(dir, { name: 'bt_listed' });
  assert.equal(report.status, 'completed');
  const table = cli('list', '--output-dir', dir);
  assert.equal(table.code, 0, table.stderr);
  const [runsPart, backtestsPart] = table.stdout.split(/^Backtests in .*backtests\/ \(not runs.*$/m);
  assert.ok(backtestsPart !== undefined, `no backtests section in:\n${table.stdout}`);
  assert.match(runsPart, /^only-run\s+600000\s+lstm\s+completed/m);
  assert.doesNotMatch(runsPart, /bt_listed|corrupt|backtests/);
  assert.match(backtestsPart, /^bt_listed\s+completed\s+3 stocks\s+lstm\s/m);
  assert.match(backtestsPart, /\s3\/3\s/, 'folds done/total');
  // The filters apply: a model the backtest did not use leaves it out (and the section with it).
  assert.doesNotMatch(cli('list', '--output-dir', dir, '--model', 'gru').stdout, /Backtests in|bt_listed/);
  const r = cli('list', '--output-dir', dir, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    (JSON.parse(r.stdout) as Array<{ name: string }>).map((x) => x.name),
    ['only-run'],
  );
});
