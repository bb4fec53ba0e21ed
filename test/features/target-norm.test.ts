/**
 * Cross-sectional target normalisation (Qlib's CSZScoreNorm / CSRankNorm): hand-computed cases, pandas on a random
 * panel, and the universal dataset training on the normalised targets while keeping the raw returns to score against.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { barsToSeries, generateDemoMarket } from '../../src/data/index.js';
import { buildDataset, buildUniverseDataset, crossSectionalNorm } from '../../src/features/index.js';
import { Rng } from '../../src/engine/rng.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';

const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-12) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
};

test('zscore per date: (r − mean) / sample std (ddof 1); a lone stock or a flat date gets 0', () => {
  // date A: 0.01, 0.03, 0.02 → mean 0.02, std √((1e-4 + 1e-4 + 0) / 2) = 0.01 → −1, 1, 0
  // date B: one stock → 0; date C: two equal returns → std 0 → 0, 0
  const values = Float64Array.from([0.01, 0.05, 0.03, 0.02, 0.007, 0.007]);
  const dates = ['A', 'B', 'A', 'A', 'C', 'C'];
  close(crossSectionalNorm(values, dates, 1, 'zscore'), [-1, 0, 1, 0, 0, 0]);
});

test('rank per date: percentile rank (average ties, rank / n) − 0.5, as pandas rank(pct=True)', () => {
  // 0.01, 0.01 tie at ranks 1 and 2 → 1.5 / 4 = 0.375; 0.03 → 3/4; 0.05 → 4/4; each − 0.5
  const values = Float64Array.from([0.05, 0.01, 0.03, 0.01]);
  close(crossSectionalNorm(values, ['D', 'D', 'D', 'D'], 1, 'rank'), [0.5, -0.125, 0.25, -0.125]);
  // three distinct values: 1/3, 2/3, 1 → −1/6, 1/6, 1/2
  close(crossSectionalNorm(Float64Array.from([0.2, -0.1, 0.05]), ['E', 'E', 'E'], 1, 'rank'), [0.5, -1 / 6, 1 / 6]);
});

test('each horizon step is normalised on its own column', () => {
  // two stocks, horizon 2: column 1 (0.01, 0.03), column 2 (0.04, −0.02)
  const values = Float64Array.from([0.01, 0.04, 0.03, -0.02]);
  const z = Math.SQRT1_2; // (x − mean) / std for two values is ±1/√2
  close(crossSectionalNorm(values, ['F', 'F'], 2, 'zscore'), [-z, z, z, -z]);
  close(crossSectionalNorm(values, ['F', 'F'], 2, 'rank'), [0, 0.5, 0.5, 0]);
  close(crossSectionalNorm(values, ['F', 'F'], 2, 'none'), [0.01, 0.04, 0.03, -0.02]);
});

test('zscore and rank equal pandas groupby(date) on a random panel with ties', { skip: referenceSkip('pandas') }, () => {
  const rng = new Rng(11);
  const dates: string[] = [];
  const values: number[] = [];
  for (let d = 0; d < 30; d++) {
    const stocks = 1 + (d % 9);
    for (let s = 0; s < stocks; s++) {
      dates.push(`2024-01-${String(d + 1).padStart(2, '0')}`);
      values.push(Math.round(rng.normal() * 20) / 1000); // rounded, so ties happen
    }
  }
  const script = `
import json, sys
import pandas as pd
d = json.load(sys.stdin)
df = pd.DataFrame({'date': d['dates'], 'v': d['values']})
g = df.groupby('date')['v']
z = (df['v'] - g.transform('mean')) / g.transform('std')
r = g.rank(pct=True) - 0.5
n = g.transform('size')
z = z.where((n >= 2) & (g.transform('std') > 0), 0.0)
r = r.where(n >= 2, 0.0)
print(json.dumps({'zscore': z.tolist(), 'rank': r.tolist()}))
`;
  const run = spawnSync(REFERENCE_PYTHON, ['-c', script], { input: JSON.stringify({ dates, values }), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const ref = JSON.parse(run.stdout) as { zscore: number[]; rank: number[] };
  close(crossSectionalNorm(Float64Array.from(values), dates, 1, 'zscore'), ref.zscore, 1e-9);
  close(crossSectionalNorm(Float64Array.from(values), dates, 1, 'rank'), ref.rank, 1e-12);
});

test('one stock has no cross-section: a single-stock dataset refuses targetNorm', () => {
  const market = generateDemoMarket({ stocks: 1, start: '2021-01-01', end: '2022-12-31', seed: 3 });
  assert.throws(() => buildDataset(barsToSeries(market.bars(0)), { seqLength: 10, targetNorm: 'zscore' }), /targetNorm zscore .*needs a universal dataset/);
});

test('a universal dataset with targetNorm rank trains on the per-date ranks, keeps the raw returns, and says so in scaler.json', () => {
  const market = generateDemoMarket({ stocks: 6, start: '2021-01-01', end: '2022-12-31', seed: 3 });
  const series = market.stocks.map((_, i) => barsToSeries(market.bars(i)));
  const config = { seqLength: 10, features: ['close', 'ma5_rel', 'rsi6'] };
  const plain = buildUniverseDataset(series, config);
  const ranked = buildUniverseDataset(series, { ...config, targetNorm: 'rank' });
  assert.equal(plain.scalerBundle.target.kind, 'log_return');
  assert.equal(ranked.scalerBundle.target.kind, 'cs_rank_log_return');
  assert.match(ranked.scalerBundle.target.definition, /a score, not a return/);
  for (const set of [ranked.train, ranked.val, ranked.test]) {
    // The returns to score against are the raw ones; the target is their per-date rank, scaled.
    assert.deepEqual(set.returns, plain[set.name].returns);
    const expected = crossSectionalNorm(set.returns, set.endDates, 1, 'rank');
    const unscaled = Array.from(set.y, (v) => ranked.targetScaler.inverseRow([v])[0]);
    close(unscaled, Array.from(expected), 1e-6);
    assert.ok(unscaled.every((v) => v > -0.5 && v <= 0.5 + 1e-6)); // float32 targets
  }
  // The target scaler is fit on the training ranks, not on the returns: with all 6 stocks on every training date the
  // mean of rank / n − 0.5 is (n + 1) / 2n − 0.5 = 1 / 12.
  assert.ok(Math.abs(ranked.targetScaler.state.center[0] - 1 / 12) < 1e-9, `center ${ranked.targetScaler.state.center[0]}`);
  assert.notEqual(ranked.targetScaler.state.scale[0], plain.targetScaler.state.scale[0]);
});
