/** The ledger's score against a hand-computed case, and the test-segment figures it sets beside it. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LedgerEntry } from '../../src/data/index.js';
import { scoreEntries, testFigures } from '../../src/prediction/index.js';

function entry(baseClose: number, predictedPrice: number, actualClose: number | null, band: [number, number] | null): LedgerEntry {
  const inInterval = band === null || actualClose === null ? null : band[0] <= actualClose && actualClose <= band[1];
  return {
    run: 'r',
    symbol: '600519',
    baseDate: '2024-03-01',
    targetDate: '2024-03-04',
    step: 1,
    baseClose,
    predictedPrice,
    predictedReturn: Math.log(predictedPrice / baseClose),
    lower: band?.[0] ?? null,
    upper: band?.[1] ?? null,
    intervalMethod: band ? 'conformal' : null,
    intervalLevel: band ? 0.9 : null,
    source: 'cli',
    createdAt: '2024-03-01 16:00:00',
    updatedAt: '2024-03-01 16:00:00',
    live: true,
    actualClose,
    error: actualClose === null ? null : predictedPrice - actualClose,
    absError: actualClose === null ? null : Math.abs(predictedPrice - actualClose),
    actualReturn: actualClose === null ? null : Math.log(actualClose / baseClose),
    inInterval,
    reconciledAt: actualClose === null ? null : '2024-03-04 16:00:00',
  };
}

test('live figures of reconciled rows, computed by hand', () => {
  const live = scoreEntries([
    // |error| 0.5, persistence 1.0; up and up; inside [10, 11.2]
    entry(10, 10.5, 11, [10, 11.2]),
    // |error| 0.9, persistence 0.4; down against up; outside [19, 20]
    entry(20, 19.5, 20.4, [19, 20]),
    // |error| 0.1, persistence 0; a flat day has no direction; no interval
    entry(5, 5.1, 5, null),
    // not reconciled yet: left out of every figure
    entry(30, 31, null, [29, 33]),
  ]);
  assert.equal(live.n, 3);
  assert.ok(Math.abs(live.mae! - 0.5) < 1e-12);
  assert.ok(Math.abs(live.persistenceMae! - 1.4 / 3) < 1e-12);
  // 1 − 0.5 / (1.4 / 3) = 1 − 15/14 = −1/14: worse than persistence
  assert.ok(Math.abs(live.skill! - -1 / 14) < 1e-12);
  assert.equal(live.directionAccuracy, 0.5);
  assert.equal(live.directionSamples, 2);
  assert.equal(live.coverage, 0.5);
  assert.equal(live.coverageSamples, 2);
  assert.equal(live.level, 0.9);
});

test('nothing reconciled: no figures, never NaN', () => {
  const live = scoreEntries([entry(30, 31, null, [29, 33])]);
  assert.deepEqual([live.n, live.mae, live.skill, live.directionAccuracy, live.coverage], [0, null, null, null, null]);
});

test("a run's test figures come from results/eval_results.json, pooled over every test pair or per step ahead", () => {
  const root = mkdtempSync(join(tmpdir(), 'klinecast-ledger-'));
  try {
    mkdirSync(join(root, 'run', 'results'), { recursive: true });
    writeFileSync(
      join(root, 'run', 'results', 'eval_results.json'),
      JSON.stringify({
        n_samples: 40,
        horizon: 3,
        test_metrics: { mae: 0.61, skill: -0.02, direction_accuracy: 0.48 },
        per_horizon: [1, 2, 3].map((step) => ({
          step,
          test_metrics: { mae: [0.5, 0.6, 0.7][step - 1], skill: [0, -0.01, -0.02][step - 1], direction_accuracy: 0.5 },
        })),
        interval: { method: 'split_conformal', level: 0.9, coverage: 0.875, mean_width: 1, mean_relative_width: 0.05, samples: 120 },
      }),
    );
    assert.deepEqual(testFigures('run', root), { n: 120, mae: 0.61, skill: -0.02, directionAccuracy: 0.48, coverage: 0.875, level: 0.9 });
    // One step ahead: per_horizon's figures, over the test days; coverage is measured pooled only.
    assert.deepEqual(testFigures('run', root, 2), { n: 40, mae: 0.6, skill: -0.01, directionAccuracy: 0.5, coverage: null, level: null });
    assert.equal(testFigures('run', root, 4), null);
    assert.equal(testFigures('gone', root), null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
