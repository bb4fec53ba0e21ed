import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DEMO_DEFAULTS, barsToSeries, generateDemoMarket } from '../../src/data/index.js';
import type { KlineSeries } from '../../src/data/types.js';
import { boll, computeFeatureColumns, ema, FEATURES, kdj, ma, macd, rollingMax, rollingMin, rollingMoments, rsi } from '../../src/features/index.js';
import { readAshare } from '../helpers/ashare.js';
import { ashare, REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';
import { syntheticSeries } from './synthetic.js';

const f64 = (xs: number[]) => Float64Array.from(xs);
const PANDAS_REF = fileURLToPath(new URL('../helpers/pandas_ref.py', import.meta.url));

function close(actual: number, expected: number, tol = 1e-12, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

test('MA, EMA and MACD on hand-computed values', () => {
  const x = f64([1, 2, 3, 4, 5, 6]);
  const m3 = ma(x, 3);
  assert.ok(Number.isNaN(m3[0]) && Number.isNaN(m3[1]));
  assert.deepEqual([...m3.slice(2)], [2, 3, 4, 5]);
  // EMA(3): alpha 0.5, seeded with the first value: 1, 1.5, 2.25, 3.125
  assert.deepEqual([...ema(f64([1, 2, 3, 4]), 3)], [1, 1.5, 2.25, 3.125]);
  const { dif, dea, bar } = macd(f64([10, 10, 10, 10]));
  assert.deepEqual([...dif], [0, 0, 0, 0]);
  assert.deepEqual([...dea], [0, 0, 0, 0]);
  assert.deepEqual([...bar], [0, 0, 0, 0]);
  const m = macd(f64([10, 12]));
  const d1 = (2 / 13) * 2 - (2 / 27) * 2;
  close(m.dif[1], d1);
  close(m.dea[1], 0.2 * d1);
  close(m.bar[1], 2 * (d1 - 0.2 * d1));
});

test('RSI with Wilder smoothing, by hand, and 50 on a flat stretch', () => {
  // diffs +1, −1, +2 with N = 2 (alpha 1/2): U 1, 0.5, 1.25; D 0, 0.5, 0.25
  const r = rsi(f64([10, 11, 10, 12]), 2);
  assert.ok(Number.isNaN(r[0]));
  close(r[1], 100);
  close(r[2], 50);
  close(r[3], (100 * 1.25) / 1.5);
  assert.deepEqual([...rsi(f64([5, 5, 5]), 6).slice(1)], [50, 50]);
});

test('BOLL uses the population standard deviation, and is exact on a constant window', () => {
  const x = f64([2, 4, 4, 4, 5, 5, 7, 9]); // population σ = 2, mean 5
  const b = boll(x, 8, 2);
  close(b.mid[7], 5);
  close(b.upper[7], 9);
  close(b.lower[7], 1);
  const flat = boll(new Float64Array(40).fill(1834.56), 20, 2);
  assert.equal(flat.upper[39], 1834.56);
  assert.equal(flat.lower[39], 1834.56);
});

test('KDJ by hand, starting from 50, and RSV 50 on a zero range', () => {
  const high = f64([10, 11, 12]);
  const low = f64([8, 9, 10]);
  const closeCol = f64([9, 10, 12]);
  const r = kdj(high, low, closeCol, 3, 3, 3);
  // RSV on row 2 = 100·(12 − 8)/(12 − 8) = 100; K = 50·2/3 + 100/3; D = 50·2/3 + K/3
  const k = (2 / 3) * 50 + 100 / 3;
  const d = (2 / 3) * 50 + k / 3;
  close(r.k[2], k);
  close(r.d[2], d);
  close(r.j[2], 3 * k - 2 * d);
  assert.ok(Number.isNaN(r.k[1]));
  const flat = kdj(f64([5, 5, 5]), f64([5, 5, 5]), f64([5, 5, 5]), 3, 3, 3);
  assert.equal(flat.k[2], 50);
  assert.equal(flat.j[2], 50);
});

test('rolling min/max deques equal the naive window scan', () => {
  const s = syntheticSeries({ rows: 300 });
  for (const w of [1, 3, 9, 60]) {
    const mx = rollingMax(s.high, w);
    const mn = rollingMin(s.low, w);
    for (let i = w - 1; i < 300; i++) {
      assert.equal(mx[i], Math.max(...s.high.subarray(i - w + 1, i + 1)));
      assert.equal(mn[i], Math.min(...s.low.subarray(i - w + 1, i + 1)));
    }
  }
});

test('rolling mean stays within 1e-9 relative of exact window sums over 5,000 real rows', { skip: ashare.skip }, () => {
  const s = readAshare('600519');
  for (const w of [5, 20, 60]) {
    const { mean, std } = rollingMoments(s.close, w, true);
    let worst = 0;
    let worstStd = 0;
    for (let i = w - 1; i < s.close.length; i++) {
      let sum = 0;
      for (let j = i - w + 1; j <= i; j++) sum += s.close[j];
      const exact = sum / w;
      let ss = 0;
      for (let j = i - w + 1; j <= i; j++) ss += (s.close[j] - exact) ** 2;
      worst = Math.max(worst, Math.abs(mean[i] - exact) / exact);
      worstStd = Math.max(worstStd, Math.abs(std![i] - Math.sqrt(ss / w)) / exact);
    }
    assert.ok(worst < 1e-12, `MA${w} worst relative error ${worst}`);
    assert.ok(worstStd < 1e-12, `σ${w} worst error relative to the price ${worstStd}`);
  }
});

function pandasReference(series: KlineSeries, names: string[]): Record<string, Array<number | null>> {
  const request = {
    columns: {
      open: [...series.open],
      high: [...series.high],
      low: [...series.low],
      close: [...series.close],
      vol: [...series.vol],
      amount: [...series.amount],
      turnover_rate: [...series.turnoverRate].map((v) => (Number.isNaN(v) ? null : v)),
    },
    features: names,
    symbol: series.symbol,
  };
  const run = spawnSync(REFERENCE_PYTHON, [PANDAS_REF], { input: JSON.stringify(request), maxBuffer: 1 << 28, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** Every registered feature against pandas, to 1e-6 (relative above 1), on every row past the feature's warm-up. */
function checkAgainstPandas(series: KlineSeries, names: string[]): void {
  const ref = pandasReference(series, names);
  const ours = computeFeatureColumns(series, names);
  for (const name of names) {
    const warmup = FEATURES.get(name)!.warmup;
    const mine = ours.get(name)!;
    let compared = 0;
    for (let i = warmup; i < mine.length; i++) {
      const expected = ref[name][i];
      if (expected === null) {
        assert.ok(!Number.isFinite(mine[i]), `${series.symbol} ${name} row ${i}: pandas has no value, we have ${mine[i]}`);
        continue;
      }
      close(mine[i], expected, 1e-6, `${series.symbol} ${name} row ${i} (${series.dates[i]})`);
      compared++;
    }
    if ((name !== 'turnover_rate' && !name.startsWith('turnover_')) || series.turnoverRate.some((v) => !Number.isNaN(v))) {
      assert.ok(compared > 0, `${series.symbol} ${name}: nothing compared`);
    }
  }
}

const ALL = [...FEATURES.keys()];

test('every feature matches pandas on 600519 and 000001', { skip: referenceSkip('pandas') || ashare.skip }, () => {
  for (const symbol of ['600519', '000001']) checkAgainstPandas(readAshare(symbol), ALL);
});

test('every feature matches pandas on the demo market (a main-board stock and a ±20% board stock)', { skip: referenceSkip('pandas') }, () => {
  const market = generateDemoMarket(DEMO_DEFAULTS);
  const mainBoard = market.stocks.findIndex((s) => !/^(300|688)/.test(s.symbol));
  const wideLimit = market.stocks.findIndex((s) => /^(300|688)/.test(s.symbol));
  assert.ok(mainBoard >= 0 && wideLimit >= 0, 'the default demo market has both boards');
  for (const i of [mainBoard, wideLimit]) checkAgainstPandas(barsToSeries(market.bars(i)), ALL);
});

test('every feature matches pandas on a synthetic series with limit-up runs, zero volume and NULL turnover', { skip: referenceSkip('pandas') }, () => {
  checkAgainstPandas(syntheticSeries({ rows: 500, seed: 11 }), ALL);
});
