/**
 * A trained run carries its conformal calibration: model/intervals.json from the validation residuals, every test
 * record of predictions.json with its 90% interval, eval_results.json with the measured coverage and the significance
 * against persistence; and predict's default interval is exactly that calibration's quantile around the point forecast.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { conformalHalfWidth, parseConformalCalibration, type EvalResultsFile, type PredictionsFile } from '../../src/evaluation/index.js';
import { PredictionEngine } from '../../src/prediction/index.js';
import { createMarket, trainTinyRun, type Fixture } from './fixture.js';

let fx: Fixture;
let runDir: string;

before(async () => {
  fx = await createMarket();
  runDir = (await trainTinyRun(fx, fx.symbols[0], 'calibrated')).runDir;
});
after(() => fx?.close());

test('training writes model/intervals.json, test intervals with their measured coverage, and the DM test', () => {
  const calibration = parseConformalCalibration(JSON.parse(readFileSync(join(runDir, 'model/intervals.json'), 'utf8')));
  const results = JSON.parse(readFileSync(join(runDir, 'results/eval_results.json'), 'utf8')) as EvalResultsFile;
  const predictions = JSON.parse(readFileSync(join(runDir, 'results/predictions.json'), 'utf8')) as PredictionsFile;
  const args = JSON.parse(readFileSync(join(runDir, 'model/training_args.json'), 'utf8'));
  assert.equal(calibration.samples, args.val_samples, 'calibrated on every validation window');
  assert.equal(calibration.absResiduals.length, results.horizon);
  const interval = results.interval!;
  assert.equal(interval.method, 'split_conformal');
  assert.equal(interval.level, 0.9);
  let covered = 0;
  for (const r of predictions.records) {
    const q = conformalHalfWidth(calibration, r.step - 1, 0.9);
    assert.ok(Math.abs(r.lower! - r.last_close * Math.exp(r.predicted_return - q)) < 1e-9);
    assert.ok(Math.abs(r.upper! - r.last_close * Math.exp(r.predicted_return + q)) < 1e-9);
    if (r.actual_price >= r.lower! && r.actual_price <= r.upper!) covered++;
  }
  assert.ok(Math.abs(interval.coverage - covered / predictions.records.length) < 1e-12, 'coverage counts the records inside their interval');
  const sig = results.significance!;
  assert.equal(sig.vs_persistence.samples, results.n_samples);
  assert.match(sig.summary, /persistence \(DM p = [\d.e-]+\)|no test against persistence/);
});

test('predict defaults to the conformal interval; mc-dropout and none remain, and every forecast names its method', async () => {
  const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
  const calibration = parseConformalCalibration(JSON.parse(readFileSync(join(runDir, 'model/intervals.json'), 'utf8')));
  const f = await engine.predict(fx.symbols[0], { run: 'calibrated' });
  assert.equal(f.interval, 'conformal');
  assert.equal(f.level, 0.9);
  for (const [k, d] of f.predictions.entries()) {
    const q = conformalHalfWidth(calibration, k, 0.9);
    assert.ok(Math.abs(d.lower! - f.baseClose * Math.exp(d.return - q)) < 1e-9);
    assert.ok(Math.abs(d.upper! - f.baseClose * Math.exp(d.return + q)) < 1e-9);
  }
  const wider = await engine.predict(fx.symbols[0], { run: 'calibrated', level: 0.95 });
  assert.ok(wider.predictions[0].upper! >= f.predictions[0].upper!);
  const mc = await engine.predict(fx.symbols[0], { run: 'calibrated', interval: 'mc-dropout', samples: 20 });
  assert.equal(mc.interval, 'mc-dropout');
  const none = await engine.predict(fx.symbols[0], { run: 'calibrated', interval: 'none' });
  assert.equal(none.interval, null);
  assert.equal(none.level, null);
  assert.deepEqual(
    none.predictions.map((d) => d.price),
    f.predictions.map((d) => d.price),
  );
});
