/** The Diebold–Mariano test (HLN-corrected), its Student-t p-value and the binomial test, against scipy and by hand. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { binomialTwoSidedP, describeDm, dieboldMariano, incompleteBeta, logGamma, studentTwoSidedP } from '../../src/evaluation/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';
import { seededDraws } from '../features/synthetic.js';

const REF = fileURLToPath(new URL('./ref_dm.py', import.meta.url));
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** `n` seeded standard normals, so the reference sees the same numbers. */
function normals(seed: number, n: number): number[] {
  const { normal } = seededDraws(seed);
  return Array.from({ length: n }, normal);
}

test('logGamma, the incomplete beta and Student t against values by hand', () => {
  close(logGamma(1), 0, 1e-13, 'ln Γ(1)');
  close(logGamma(5), Math.log(24), 1e-13, 'ln Γ(5)');
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-13, 'ln Γ(1/2)');
  close(incompleteBeta(0.5, 2, 2), 0.5, 1e-13, 'I_0.5(2,2)');
  close(incompleteBeta(0.3, 1, 1), 0.3, 1e-13, 'I_x(1,1) = x');
  // t = 2.228 is the 97.5% quantile of t(10); t(1) is Cauchy: P(|T| ≥ 1) = 1/2.
  close(studentTwoSidedP(2.228138851986274, 10), 0.05, 1e-9, 't(10)');
  close(studentTwoSidedP(1, 1), 0.5, 1e-12, 'Cauchy');
  assert.equal(studentTwoSidedP(0, 7), 1);
});

test('the binomial test by hand: 8 heads of 10 give p = 112/1024', () => {
  close(binomialTwoSidedP(8, 10) as number, 112 / 1024, 1e-12, '8 of 10');
  close(binomialTwoSidedP(5, 10) as number, 1, 1e-12, '5 of 10');
  assert.equal(binomialTwoSidedP(0, 0), null);
});

test('Diebold–Mariano by hand: a constant loss differential has no variance; too few days give no test', () => {
  const r = dieboldMariano([1, 1, 1, 1], [0, 0, 0, 0], 'absolute');
  assert.equal(r.statistic, null);
  assert.equal(r.mean_difference, 1);
  assert.equal(dieboldMariano([1, 2], [2, 1]).p_value, null);
  assert.match(describeDm(r, 'persistence'), /no test against persistence/);
});

for (const { loss, h, seed } of [
  { loss: 'squared', h: 1, seed: 1 },
  { loss: 'absolute', h: 1, seed: 2 },
  { loss: 'squared', h: 5, seed: 3 },
] as const) {
  test(`Diebold–Mariano (${loss} loss, h = ${h}) equals the numpy/scipy reference to 1e-9`, { skip: referenceSkip('pandas') }, () => {
    const n = 300;
    const noise = normals(seed, 2 * n);
    const e1 = noise.slice(0, n).map((v) => v * 1.0);
    const e2 = noise.slice(n).map((v, i) => v * 1.1 + 0.3 * noise[i]);
    const ours = dieboldMariano(e1, e2, loss, h);
    const run = spawnSync(REFERENCE_PYTHON, [REF, JSON.stringify({ e1, e2, loss, h, k: 171, trials: 300 })], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const ref = JSON.parse(run.stdout) as { statistic: number; p_value: number; mean_difference: number; binomial: number };
    close(ours.statistic as number, ref.statistic, 1e-9, 'statistic');
    close(ours.p_value as number, ref.p_value, 1e-9, 'p');
    close(ours.mean_difference as number, ref.mean_difference, 1e-12, 'mean difference');
    close(binomialTwoSidedP(171, 300) as number, ref.binomial, 1e-9, 'binomial 171 of 300');
  });
}

test('describeDm says in words whether the model beats the baseline', () => {
  const base = { mean_difference: -1, loss: 'squared' as const, horizon: 1, samples: 100 };
  assert.equal(describeDm({ ...base, statistic: -3, p_value: 0.004 }, 'persistence'), 'beats persistence significantly (DM p = 0.004)');
  assert.equal(describeDm({ ...base, statistic: 2.5, p_value: 0.014 }, 'persistence'), 'significantly worse than persistence (DM p = 0.014)');
  assert.equal(describeDm({ ...base, statistic: -0.8, p_value: 0.41 }, 'persistence'), 'not distinguishable from persistence (DM p = 0.410)');
});
