/**
 * Adaptive conformal inference (Gibbs & Candès 2021): α_{t+1} = α_t + γ(α − err_t), checked against sequences worked
 * out by hand (exact fractions; no (n + 1)(1 − α_t) lands on a whole number, so the rank rule is unambiguous).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aciHalfWidth, adaptiveConformal, type AciForecast } from '../../src/evaluation/index.js';

/** Calibration residuals 1…8: at miscoverage α_t the half-width is the ⌈9(1 − α_t)⌉-th, unbounded past the 8th. */
const CALIBRATION = [1, 2, 3, 4, 5, 6, 7, 8];
const day = (i: number) => `2024-01-${String(i + 1).padStart(2, '0')}`;

test('the interval at α_t: the split-conformal rank rule at level 1 − α_t, unbounded at α_t ≤ 0, zero-width at α_t ≥ 1', () => {
  assert.equal(aciHalfWidth(CALIBRATION, 0.2), 8); // ⌈9 · 0.8⌉ = ⌈7.2⌉ = 8
  assert.equal(aciHalfWidth(CALIBRATION, 0.32), 7); // ⌈6.12⌉ = 7
  assert.equal(aciHalfWidth(CALIBRATION, 0.05), Infinity); // ⌈8.55⌉ = 9 > 8
  assert.equal(aciHalfWidth(CALIBRATION, -0.1), Infinity);
  assert.equal(aciHalfWidth(CALIBRATION, 1.2), 0);
});

test('one-step forecasts: a miss widens the next interval by γ(1 − α), a hit narrows it by γα (α = 0.2, γ = 0.3)', () => {
  const residuals = [8.5, 3, 100, 1, 7.5, 6.5, 2, 5.5, 9];
  const forecasts: AciForecast[] = residuals.map((residual, i) => ({ key: 'A:1', date: day(i), targetDate: day(i + 1), residual, calibration: CALIBRATION }));
  const r = adaptiveConformal(forecasts, { level: 0.8, gamma: 0.3 });
  // By hand: α_1 = 0.2 → width 8, 8.5 misses → α_2 = 0.2 + 0.3(0.2 − 1) = −0.04 → unbounded, a hit → +0.06 each …
  const alphas = [0.2, -0.04, 0.02, 0.08, 0.14, 0.2, 0.26, 0.32, 0.38];
  r.alphas.forEach((a, i) => assert.ok(Math.abs(a - alphas[i]) < 1e-12, `α_${i + 1} = ${a}, by hand ${alphas[i]}`));
  assert.deepEqual(r.halfWidths, [8, Infinity, Infinity, Infinity, 8, 8, 7, 7, 6]);
  assert.deepEqual(r.misses, [1, 0, 0, 0, 0, 0, 0, 0, 1]);
});

test('each key has its own α_t, and an h-step miss counts only once its target day has closed', () => {
  // Two-step forecasts made on days 0…4 target days 2…6: the miss of day 0 is known on day 2, not on day 1.
  const step2 = [9, 9, 1, 1, 1].map((residual, i) => ({ key: 'A:2', date: day(i), targetDate: day(i + 2), residual, calibration: CALIBRATION }));
  // Another stock's hits interleaved on the same days must not move A's α, nor A's misses B's.
  const other = [1, 1, 1, 1, 1].map((residual, i) => ({ key: 'B:2', date: day(i), targetDate: day(i + 2), residual, calibration: CALIBRATION }));
  const r = adaptiveConformal(
    step2.flatMap((f, i) => [f, other[i]]),
    { level: 0.8, gamma: 0.3 },
  );
  const a = r.alphas.filter((_, k) => k % 2 === 0);
  // Days 0 and 1: nothing realised yet (0.2); day 2: day 0's miss (−0.04); day 3: day 1's miss (−0.28); day 4: day 2's hit (−0.22).
  [0.2, 0.2, -0.04, -0.28, -0.22].forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-12, `A on day ${i}: α ${a[i]}, by hand ${v}`));
  assert.deepEqual(
    r.halfWidths.filter((_, k) => k % 2 === 0),
    [8, 8, Infinity, Infinity, Infinity],
  );
  const b = r.alphas.filter((_, k) => k % 2 === 1);
  [0.2, 0.2, 0.26, 0.32, 0.38].forEach((v, i) => assert.ok(Math.abs(b[i] - v) < 1e-12, `B on day ${i}: α ${b[i]}, by hand ${v}`));
});

test('bad input is refused: a level outside (0, 1), a non-positive γ, a key going back in time', () => {
  const f = { key: 'A:1', date: day(3), targetDate: day(4), residual: 1, calibration: CALIBRATION };
  assert.throws(() => adaptiveConformal([f], { level: 1 }), /level/);
  assert.throws(() => adaptiveConformal([f], { level: 0.9, gamma: 0 }), /gamma/);
  assert.throws(() => adaptiveConformal([f, { ...f, date: day(1) }], { level: 0.9 }), /back in time/);
});
