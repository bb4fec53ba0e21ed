import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { averageRanks, directionAccuracy, evaluateForecasts, mae, mape, pearson, r2, rmse, spearman } from '../../src/evaluation/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';

const close = (a: number | null, b: number, tol = 1e-12) => {
  assert.ok(a !== null, `expected ${b}, got null`);
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `expected ${b}, got ${a}`);
};

test('price metrics match hand-computed values', () => {
  const actual = [1, 2, 3, 4];
  const predicted = [1.5, 2, 2.5, 5];
  close(mae(actual, predicted), 0.5);
  close(rmse(actual, predicted), Math.sqrt(0.375));
  close(mape(actual, predicted), ((0.5 / 1 + 0 + 0.5 / 3 + 1 / 4) / 4) * 100);
  close(r2(actual, predicted), 1 - 1.5 / 5);
  assert.equal(r2([2, 2], [1, 3]), null, 'R² of a constant series is undefined');
  assert.equal(mae([], []), null);
});

test('Spearman uses average ranks for ties', () => {
  assert.deepEqual(Array.from(averageRanks([3, 1, 2, 2])), [4, 1, 2.5, 2.5]);
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: sxy 4.5, sxx 4.5, syy 5
  close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4.5 / Math.sqrt(4.5 * 5));
  close(pearson([1, 2, 3], [2, 4, 6]), 1);
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), null);
});

test('direction accuracy leaves flat days out and counts a zero prediction as wrong', () => {
  const d = directionAccuracy([0.1, -0.2, 0, 0.3], [0.05, 0.1, 0.2, 0]);
  assert.equal(d.samples, 3);
  close(d.accuracy, 1 / 3);
});

test('evaluateForecasts: baselines, skill and per-horizon figures by hand', () => {
  const lastClose = [10, 20];
  const actual = [
    [Math.log(1.1), Math.log(1.2)],
    [Math.log(0.9), 0],
  ];
  const predicted = [
    [Math.log(1.05), Math.log(1.3)],
    [Math.log(0.95), Math.log(1.01)],
  ];
  const { results, predictions } = evaluateForecasts({ dates: ['2024-01-02', '2024-01-03'], lastClose, actualReturns: actual, predictedReturns: predicted });
  // prices: actual [11, 12, 18, 20], predicted [10.5, 13, 19, 20.2], persistence [10, 10, 20, 20]
  close(results.test_metrics.mae, (0.5 + 1 + 1 + 0.2) / 4, 1e-9);
  close(results.baselines.persistence.mae, (1 + 2 + 2 + 0) / 4, 1e-9);
  close(results.test_metrics.skill, 1 - 2.7 / 5, 1e-9);
  // direction: 3 non-flat pairs (sample 2 step 2 is flat), predicted signs +,+,- vs actual +,+,- → 1
  assert.equal(results.test_metrics.direction_samples, 3);
  close(results.test_metrics.direction_accuracy, 1);
  assert.equal(results.horizon, 2);
  assert.equal(results.per_horizon?.length, 2);
  close(results.per_horizon![0].test_metrics.mae, (0.5 + 1) / 2, 1e-9);
  close(results.per_horizon![1].baselines.persistence.mae, (2 + 0) / 2, 1e-9);
  assert.equal(predictions.records.length, 4);
  assert.deepEqual(
    {
      ...predictions.records[2],
      actual_price: Number(predictions.records[2].actual_price.toFixed(9)),
      predicted_price: Number(predictions.records[2].predicted_price.toFixed(9)),
    },
    {
      date: '2024-01-03',
      step: 1,
      target_date: null,
      last_close: 20,
      actual_price: 18,
      predicted_price: 19,
      actual_return: Math.log(0.9),
      predicted_return: Math.log(0.95),
    },
  );
  JSON.parse(JSON.stringify(results));
  const flat = evaluateForecasts({ dates: ['a', 'b'], lastClose, actualReturns: actual.flat(), predictedReturns: predicted.flat() });
  assert.deepEqual({ ...flat.results, evaluated_at: 0 }, { ...results, evaluated_at: 0 });
});

test('evaluateForecasts rejects mismatched shapes and non-finite values', () => {
  assert.throws(() => evaluateForecasts({ dates: ['a'], lastClose: [1], actualReturns: [0.1, 0.2], predictedReturns: [0.1] }), /horizon/);
  assert.throws(() => evaluateForecasts({ dates: ['a'], lastClose: [1], actualReturns: [NaN], predictedReturns: [0.1] }), /non-finite/);
  assert.throws(() => evaluateForecasts({ dates: ['a'], lastClose: [0], actualReturns: [0.1], predictedReturns: [0.1] }), /positive/);
});

/** A seeded series with many ties and flat days, like real A-share returns rounded to the tick. */
function fixture(n: number, h: number, seed: number) {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const lastClose = Array.from({ length: n }, () => Math.round((5 + rand() * 50) * 100) / 100);
  const actual = Array.from({ length: n * h }, () => Math.round((rand() - 0.5) * 20) / 200);
  const predicted = Array.from({ length: n * h }, (_, i) => (i % 7 === 0 ? actual[i] : Math.round((rand() - 0.5) * 10) / 300));
  return { lastClose, actual, predicted };
}

test('evaluateForecasts matches pandas/numpy (including Spearman with ties, no scipy)', { skip: referenceSkip('pandas') }, () => {
  const n = 300;
  const h = 3;
  const { lastClose, actual, predicted } = fixture(n, h, 42);
  const dates = Array.from({ length: n }, (_, i) => `d${i}`);
  const { results } = evaluateForecasts({ dates, lastClose, actualReturns: actual, predictedReturns: predicted });
  const script = `
import json, sys
import numpy as np, pandas as pd
d = json.load(sys.stdin)
n, h = d['n'], d['h']
close = np.repeat(np.array(d['close'], dtype=np.float64), h)
ar = np.array(d['actual'], dtype=np.float64); pr = np.array(d['predicted'], dtype=np.float64)
def score(c, a, p):
    ap = c * np.exp(a); pp = c * np.exp(p)
    df = pd.DataFrame({'p': p, 'a': a})
    nz = a != 0
    return {
      'mae': float(np.mean(np.abs(pp - ap))), 'rmse': float(np.sqrt(np.mean((pp - ap) ** 2))),
      'mape': float(np.mean(np.abs((pp - ap) / ap)) * 100),
      'r2': float(1 - np.sum((ap - pp) ** 2) / np.sum((ap - ap.mean()) ** 2)),
      'ic': float(df['p'].corr(df['a'])),
      'rank_ic': float(df.corr(method='spearman').loc['p', 'a']),
      'rank_ic_by_rank': float(df['p'].rank().corr(df['a'].rank())),
      'dir': float(np.mean(np.sign(p[nz]) == np.sign(a[nz]))),
      'pers_mae': float(np.mean(np.abs(c - ap))),
      'ret_mae': float(np.mean(np.abs(p - a))), 'zero_mae': float(np.mean(np.abs(a))),
    }
out = {'pooled': score(close, ar, pr), 'steps': [score(close[s::h], ar[s::h], pr[s::h]) for s in range(h)]}
print(json.dumps(out))
`;
  const run = spawnSync(REFERENCE_PYTHON, ['-c', script], { input: JSON.stringify({ n, h, close: lastClose, actual, predicted }), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const ref = JSON.parse(run.stdout);
  const check = (m: typeof results.test_metrics, b: typeof results.baselines, r: Record<string, number>) => {
    close(m.mae, r.mae, 1e-10);
    close(m.rmse, r.rmse, 1e-10);
    close(m.mape, r.mape, 1e-10);
    close(m.r2, r.r2, 1e-10);
    close(m.ic, r.ic, 1e-10);
    close(m.rank_ic, r.rank_ic, 1e-10);
    close(m.rank_ic, r.rank_ic_by_rank, 1e-10);
    close(m.direction_accuracy, r.dir, 1e-12);
    close(b.persistence.mae, r.pers_mae, 1e-10);
    close(m.return_mae, r.ret_mae, 1e-10);
    close(b.zero_return.return_mae, r.zero_mae, 1e-10);
    close(m.skill, 1 - r.mae / r.pers_mae, 1e-10);
  };
  check(results.test_metrics, results.baselines, ref.pooled);
  results.per_horizon!.forEach((step, s) => check(step.test_metrics, step.baselines, ref.steps[s]));
});
