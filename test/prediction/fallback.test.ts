/**
 * Issue 12 #7: one corrupt run never takes down the default forecast of its symbol. Without a named run,
 * `predict --symbol X`, PredictionEngine.predict and POST /api/v1/predict skip a better run whose model cannot be
 * loaded (truncated weights, garbage scaler.json, NaN weights) for the next healthy one, with a warning naming it.
 * A named corrupt run is still refused (409 run_corrupt), and so is a symbol whose every run is corrupt.
 * On MariaDB (the demo market in a scratch database).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors } from '../../src/engine/io/index.js';
import { PredictionEngine } from '../../src/prediction/index.js';
import { RUN_FILES } from '../../src/runs/index.js';
import { createPredictor } from '../../src/server/index.js';
import { UserError } from '../../src/util/errors.js';
import { mysql } from '../helpers/env.js';
import { call, startServer, type RunningServer } from '../server/helpers.js';
import { createMarket, trainTinyRun, type Fixture } from './fixture.js';

const skip = mysql.skip;
const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));

/** The ways a run's model is damaged; each gives one symbol a corrupt "best" run beside its healthy one. */
const DAMAGES: Record<string, (dir: string) => void> = {
  truncated: (dir) => truncateSync(join(dir, RUN_FILES.modelSafetensors), 100),
  scaler: (dir) => writeFileSync(join(dir, RUN_FILES.scaler), '{"featureNames": 5}'),
  nan: (dir) => {
    const path = join(dir, RUN_FILES.modelSafetensors);
    const { tensors, metadata } = decodeSafetensors(readFileSync(path));
    (tensors[Object.keys(tensors)[0]].data as Float32Array)[0] = Number.NaN;
    writeFileSync(path, encodeSafetensors(tensors, metadata));
  },
};

describe('a corrupt best run falls back to the next healthy run', { skip }, () => {
  let fx: Fixture;
  let symbol: string;
  let lonely: string;
  let server: RunningServer;

  /** A copy of `from` whose recorded test MAE is lower (so it ranks first), damaged by `damage`. */
  function corruptCopy(from: string, name: string, damage: (dir: string) => void): void {
    const dir = join(fx.outputDir, name);
    cpSync(join(fx.outputDir, from), dir, { recursive: true });
    const metaPath = join(dir, RUN_FILES.metadata);
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    meta.run_name = name;
    meta.eval_metrics.mae = meta.eval_metrics.mae / 10;
    writeFileSync(metaPath, JSON.stringify(meta));
    damage(dir);
  }

  before(async () => {
    if (skip) return;
    fx = await createMarket('mysql');
    [symbol, , lonely] = fx.symbols;
    await trainTinyRun(fx, symbol, 'healthy');
    await trainTinyRun(fx, lonely, 'lonely_good');
    for (const [kind, damage] of Object.entries(DAMAGES)) corruptCopy('healthy', `broken_${kind}`, damage);
    // The lonely symbol's only run is corrupt too once this copy replaces it as its one candidate.
    corruptCopy('lonely_good', 'lonely_broken', DAMAGES.truncated);
    DAMAGES.truncated(join(fx.outputDir, 'lonely_good'));
    const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
    server = await startServer({ database: fx.handle, outputDir: fx.outputDir, predictor: createPredictor(engine, { samples: 0 }), rateLimit: false });
  });

  after(async () => {
    if (skip) return;
    await server?.close();
    await fx?.close();
  });

  test('PredictionEngine.predict without a run uses the healthy run and warns about each corrupt one', async () => {
    const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
    const f = await engine.predict(symbol, { samples: 0 });
    assert.equal(f.run, 'healthy');
    const fallbacks = f.warnings.filter((w) => w.includes('forecast with the next best run healthy instead'));
    assert.equal(fallbacks.length, Object.keys(DAMAGES).length, f.warnings.join('\n'));
    for (const kind of Object.keys(DAMAGES))
      assert.ok(
        fallbacks.some((w) => w.startsWith(`run broken_${kind}: `)),
        `warning for broken_${kind}`,
      );
    assert.ok(!f.warnings.some((w) => w.includes(fx.root)), 'no server path in the warnings');
    assert.equal(engine.bestRunFor(symbol).name, 'healthy');
    // The same forecast as naming the healthy run, apart from the warnings.
    const named = await engine.predict(symbol, { samples: 0, run: 'healthy' });
    assert.deepEqual({ ...f, warnings: [] }, { ...named, warnings: [] });
  });

  test('a named corrupt run, and a symbol whose every run is corrupt, are still run_corrupt', async () => {
    const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
    const isCorrupt = (pattern: RegExp) => (err: unknown) => {
      assert.ok(err instanceof UserError, String(err));
      assert.equal(err.code, 'run_corrupt', err.message);
      assert.match(err.message, pattern);
      return true;
    };
    await assert.rejects(engine.predict(symbol, { samples: 0, run: 'broken_truncated' }), isCorrupt(/^run broken_truncated: /));
    await assert.rejects(
      engine.predict(lonely, { samples: 0 }),
      isCorrupt(/^run lonely_broken: .*; and none of the other 1 completed run\(s\) of \S+ loads either$/),
    );
  });

  test('klinecast predict --symbol without --run prints the healthy forecast and the warning, exit 0', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', CLI, 'predict', '--symbol', symbol, '--samples', '0', '--output-dir', fx.outputDir, '--database', fx.url],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /run healthy/);
    assert.match(r.stderr, /^warning: run broken_truncated: model: weights: .*; forecast with the next best run healthy instead$/m);
    assert.ok(!r.stderr.includes('    at '), 'no stack');
  });

  const post = (body: unknown) =>
    call(`${server.url}/api/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('POST /api/v1/predict without a run answers 200 from the healthy run with the warnings, also from the cache', async () => {
    for (const expectCache of ['miss', 'hit']) {
      const res = await post({ symbol, days: 2 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.headers.get('x-cache'), expectCache);
      assert.equal(res.body.run, 'healthy');
      assert.equal(res.body.predictions.length, 2);
      const warnings: string[] = res.body.warnings;
      for (const kind of Object.keys(DAMAGES)) {
        assert.ok(
          warnings.some((w) => w.startsWith(`run broken_${kind}: `) && w.endsWith('forecast with the next best run healthy instead')),
          `${expectCache}: a warning for broken_${kind} in ${JSON.stringify(warnings)}`,
        );
      }
      assert.ok(!JSON.stringify(res.body).includes(fx.root), 'no server path');
    }
  });

  test('POST /api/v1/predict with a named corrupt run, or for a symbol with only corrupt runs, is 409 run_corrupt', async () => {
    const named = await post({ symbol, run: 'broken_nan' });
    assert.equal(named.status, 409, JSON.stringify(named.body));
    assert.equal(named.body.error.code, 'run_corrupt');
    const all = await post({ symbol: lonely });
    assert.equal(all.status, 409, JSON.stringify(all.body));
    assert.equal(all.body.error.code, 'run_corrupt');
    assert.match(all.body.error.message, /^run lonely_broken: .*loads either$/);
    assert.ok(!JSON.stringify(all.body).includes(fx.root), 'no server path');
  });
});
