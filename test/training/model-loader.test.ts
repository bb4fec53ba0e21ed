/**
 * Issue 12 #7 and #2, at the one model loader (src/runs/model.ts): a truncated model, a garbage scaler.json, NaN
 * weights and weights linked out of the run are refused as run_corrupt, with a message that names the run and the
 * file relative to it, never a server path nor a piece of the file.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeSafetensors, encodeSafetensors } from '../../src/engine/io/index.js';
import { loadRunModel, RUN_FILES } from '../../src/runs/index.js';
import { UserError } from '../../src/util/errors.js';
import { createMarket, trainTinyRun, type Fixture } from '../prediction/fixture.js';

let fx: Fixture;

before(async () => {
  fx = await createMarket();
  await trainTinyRun(fx, fx.symbols[0], 'good');
});

after(async () => {
  await fx?.close();
});

/** A copy of the good run, damaged by `damage(runDir)`. */
function damaged(name: string, damage: (dir: string) => void): string {
  const dir = join(fx.outputDir, name);
  cpSync(join(fx.outputDir, 'good'), dir, { recursive: true });
  damage(dir);
  return name;
}

function assertCorrupt(name: string, pattern: RegExp): void {
  assert.throws(
    () => loadRunModel(name, { outputDir: fx.outputDir }),
    (err: unknown) => {
      assert.ok(err instanceof UserError, `${name}: a UserError, not ${String(err)}`);
      assert.equal(err.code, 'run_corrupt', `${name}: ${err.message}`);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(fx.root), `${name}: no server path in ${err.message}`);
      assert.ok(!err.message.includes('CANARY'), `${name}: no file contents in ${err.message}`);
      return true;
    },
  );
}

test('the good run loads', () => {
  const model = loadRunModel('good', { outputDir: fx.outputDir });
  assert.equal(model.run, 'good');
});

test('a truncated model.safetensors is run_corrupt, named relative to the run', () => {
  const name = damaged('truncated', (dir) => truncateSync(join(dir, RUN_FILES.modelSafetensors), 100));
  assertCorrupt(name, /^run truncated: model: weights: invalid safetensors file model\/model\.safetensors/);
});

test('a garbage scaler.json (not JSON, or JSON of the wrong shape) is run_corrupt, not a crash', () => {
  assertCorrupt(
    damaged('scaler_text', (dir) => writeFileSync(join(dir, RUN_FILES.scaler), 'CANARY garbage')),
    /scaler\.json: .*scaler\.json is not valid JSON/,
  );
  for (const [i, value] of [5, null, [], { featureNames: 'CANARY' }, { featureNames: [], targetScaler: 'x' }].entries()) {
    assertCorrupt(
      damaged(`scaler_shape_${i}`, (dir) => writeFileSync(join(dir, RUN_FILES.scaler), JSON.stringify(value))),
      /^run scaler_shape_\d: model: scaler\.json/,
    );
  }
});

test('NaN or infinite weights are refused as corrupt, not forecast as price null', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
    const name = damaged(`nan_${bad}`, (dir) => {
      const path = join(dir, RUN_FILES.modelSafetensors);
      const { tensors, metadata } = decodeSafetensors(readFileSync(path));
      const first = Object.keys(tensors)[0];
      (tensors[first].data as Float32Array)[0] = bad;
      writeFileSync(path, encodeSafetensors(tensors, metadata));
    });
    assertCorrupt(name, new RegExp(`model/model\\.safetensors holds ${Number.isNaN(bad) ? 'NaN' : 'an infinite value'} in `));
  }
});

test('weights or a scaler linked out of the run are refused, without the link target', () => {
  const name = damaged('linked', (dir) => {
    const outside = join(fx.root, 'CANARY.safetensors');
    cpSync(join(dir, RUN_FILES.modelSafetensors), outside);
    rmSync(join(dir, RUN_FILES.modelSafetensors));
    symlinkSync(outside, join(dir, RUN_FILES.modelSafetensors));
  });
  assertCorrupt(name, /model\.safetensors is a link to a file outside its folder/);
});
