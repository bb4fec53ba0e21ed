/** examples/train-with-manager.ts keeps running: executed on a fresh demo database, it leaves a completed run. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const EXAMPLE = fileURLToPath(new URL('../../examples/train-with-manager.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'klinecast-example-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('examples/train-with-manager.ts runs on the demo market and writes a completed run', { timeout: 180_000 }, () => {
  const out = join(root, 'out');
  const r = spawnSync(process.execPath, ['--import', 'tsx', EXAMPLE, '--database', `sqlite:${join(root, 'demo.db')}`, '--output-dir', out, '--epochs', '2'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  for (const step of ['1. loaded', '2. dataset', '3. run', '4. trained 2 epochs', '5. test MAE', '6. model saved', '7. '])
    assert.ok(r.stdout.includes(step), `missing "${step}" in:\n${r.stdout}`);
  const [run] = readdirSync(out);
  const metadata = JSON.parse(readFileSync(join(out, run, 'metadata.json'), 'utf8'));
  assert.equal(metadata.status, 'completed');
  assert.equal(typeof metadata.eval_metrics.skill, 'number');
  assert.match(r.stdout, new RegExp(`${run}  completed`));
});
