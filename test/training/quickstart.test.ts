/** `klinecast quickstart` on a fresh embedded database: demo market → a short training run → evaluation, and says where. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'klinecast-quickstart-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('quickstart: demo market, a completed short run in ./out with skill vs persistence, re-evaluated from the database', { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, 'quickstart', '--database', `sqlite:${join(root, 'k.db')}`, '--json'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KLINECAST_DATABASE_URL: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(r.stdout);
  assert.equal(results.demo.generated, true);
  assert.equal(results.train.status, 'completed');
  // The demo's dividends reach training as ex-rights days, adjusted away (qfq from pre_close, the default).
  assert.equal(results.train.adjustment.mode, 'qfq');
  assert.equal(results.train.adjustment.source, 'pre_close');
  assert.ok(results.train.adjustment.exRights.length >= 1, JSON.stringify(results.train.adjustment));
  assert.match(r.stderr, /prices qfq \(from pre_close, --adjust\): \d+ ex-rights day/);
  assert.ok(results.train.runDir.startsWith(join(root, 'out')), results.train.runDir);
  assert.ok(existsSync(join(results.train.runDir, 'model', 'pytorch_model.bin')));
  assert.equal(results.evaluate.test_metrics.mae, results.train.test.mae);
  assert.equal(typeof results.evaluate.test_metrics.skill, 'number');
  assert.match(r.stderr, /everything is in .*out\/\d{6}_lstm_\d{8}_\d{6}\//);
  const registry = spawnSync(process.execPath, ['--import', TSX, CLI, 'runs', 'list', '--registry', '--database', `sqlite:${join(root, 'k.db')}`, '--json'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(registry.status, 0, registry.stderr);
  assert.deepEqual(
    JSON.parse(registry.stdout).map((e: { runName: string; status: string }) => [e.runName, e.status]),
    [[results.train.runName, 'completed']],
    'the quick start run is in the model registry',
  );
});
