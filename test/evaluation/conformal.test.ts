/** Split-conformal intervals: the quantile rule by hand, and coverage on synthetic data with a known noise law. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededDraws } from '../features/synthetic.js';
import { calibrateConformal, conformalHalfWidth, conformalHalfWidths, evaluateForecasts, parseConformalCalibration } from '../../src/evaluation/index.js';

test('the half-width is the ⌈(n + 1)·level⌉-th smallest residual; too few residuals give an unbounded interval', () => {
  const cal = calibrateConformal([0.1, -0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9, -1.0], new Array(10).fill(0), 1);
  assert.deepEqual(
    cal.absResiduals[0].map((v) => Number(v.toFixed(12))),
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
  );
  assert.equal(conformalHalfWidth(cal, 0, 0.5), cal.absResiduals[0][5]); // ⌈11·0.5⌉ = 6th
  assert.equal(conformalHalfWidth(cal, 0, 0.9), cal.absResiduals[0][9]); // ⌈11·0.9⌉ = 10th
  assert.equal(conformalHalfWidth(cal, 0, 0.95), Infinity); // ⌈11·0.95⌉ = 11 > 10
  assert.deepEqual(parseConformalCalibration(JSON.parse(JSON.stringify(cal))), cal);
  assert.throws(() => parseConformalCalibration({ ...cal, absResiduals: [[0.3, 0.1]] }), /sorted/);
});

for (const law of ['normal', 't3'] as const) {
  test(`on exchangeable ${law} noise the 90% interval covers 88–92% of 5,000 new points`, () => {
    const draw = seededDraws(law === 'normal' ? 11 : 12)[law];
    const horizon = 2;
    const calibrationN = 1000;
    // The "model" predicts a drift of 0.001 and misses by scale·noise; calibration and test share the law.
    const scale = [0.02, 0.03];
    const actual = (n: number) => Array.from({ length: n * horizon }, (_, k) => 0.001 + scale[k % horizon] * draw());
    const cal = calibrateConformal(actual(calibrationN), new Array(calibrationN * horizon).fill(0.001), horizon);
    const testN = 5000;
    const { results } = evaluateForecasts({
      dates: Array.from({ length: testN }, (_, i) => `2024-01-${String((i % 28) + 1).padStart(2, '0')}`),
      lastClose: new Array(testN).fill(10),
      actualReturns: actual(testN),
      predictedReturns: new Array(testN * horizon).fill(0.001),
      intervals: { method: cal.method, level: 0.9, halfWidths: conformalHalfWidths(cal, 0.9) },
    });
    const coverage = results.interval!.coverage;
    assert.ok(coverage >= 0.88 && coverage <= 0.92, `coverage ${coverage} over ${results.interval!.samples} points`);
    assert.equal(results.interval!.samples, testN * horizon);
  });
}
