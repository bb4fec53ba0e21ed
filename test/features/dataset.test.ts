import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KlineSeries } from '../../src/data/types.js';
import {
  buildDataset,
  buildInferenceInput,
  computeFeatureColumns,
  DatasetCache,
  DatasetConfigSchema,
  datasetCacheKey,
  DEFAULT_FEATURES,
  deserializeDataset,
  loadScalerBundle,
  parseDatasetConfig,
  reconstructPrices,
  saveScalerBundle,
  Scaler,
  serializeDataset,
  type Dataset,
} from '../../src/features/index.js';
import { UserError } from '../../src/util/errors.js';
import { readAshare } from '../helpers/ashare.js';
import { ashare } from '../helpers/env.js';
import { syntheticSeries } from './synthetic.js';

function cloneSeries(s: KlineSeries): KlineSeries {
  return {
    ...s,
    dates: [...s.dates],
    open: s.open.slice(),
    high: s.high.slice(),
    low: s.low.slice(),
    close: s.close.slice(),
    preClose: s.preClose.slice(),
    change: s.change.slice(),
    pctChg: s.pctChg.slice(),
    vol: s.vol.slice(),
    amount: s.amount.slice(),
    turnoverRate: s.turnoverRate.slice(),
  };
}

const series = syntheticSeries({ rows: 600, seed: 3 });

test('the default config: 50 features, seq 60, horizon 1, 70/15/15, standard scaler', () => {
  const config = DatasetConfigSchema.parse({});
  assert.equal(config.features.length, 50);
  assert.equal(DEFAULT_FEATURES.length, 50);
  assert.deepEqual([config.seqLength, config.horizon], [60, 1]);
  assert.deepEqual(config.split, { type: 'ratio', train: 0.7, val: 0.15, test: 0.15 });
  assert.equal(config.scaler.kind, 'standard');
  assert.throws(() => parseDatasetConfig({ features: ['ma5', 'no_such_feature'] }), /unknown features: no_such_feature/);
  assert.throws(() => parseDatasetConfig({ split: { type: 'ratio', train: 0.7, val: 0.2, test: 0.2 } }), /must be 1/);
});

test('windows, targets, last closes and dates line up with the series', () => {
  const ds = buildDataset(series, { horizon: 3 });
  const F = ds.featureNames.length;
  assert.equal(ds.warmupDropped, 59);
  assert.equal(ds.dates.length, 600 - 59);
  assert.equal(ds.dates[0], series.dates[59]);
  const { train, val, test: testSet } = ds;
  assert.equal(train.X.length, train.size * 60 * F);
  assert.equal(train.y.length, train.size * 3);
  for (const set of [train, val, testSet]) {
    assert.ok(set.size > 0);
    for (const i of [0, set.size - 1]) {
      const e = set.windowEnds[i];
      const row = 59 + e; // series row of the window's last day
      assert.equal(set.lastClose[i], series.close[row]);
      assert.equal(set.endDates[i], series.dates[row]);
      for (let k = 1; k <= 3; k++) {
        assert.equal(set.targetDates[i * 3 + k - 1], series.dates[row + k]);
        const r = Math.log(series.close[row + k] / series.close[row]);
        assert.equal(set.returns[i * 3 + k - 1], r);
        // scaled target inverts to the log return, and the price reconstructs from the last close
        const { prices } = reconstructPrices(set.y.subarray(i * 3, i * 3 + 3), set.lastClose[i], ds.targetScaler);
        assert.ok(Math.abs(prices[k - 1] / series.close[row + k] - 1) < 1e-6);
      }
      // the window is the scaled rows e−59 … e; the materialised X holds the same numbers
      assert.deepEqual(set.window(i), ds.features.subarray((e - 59) * F, (e + 1) * F));
      assert.deepEqual(set.X.subarray(i * 60 * F, (i + 1) * 60 * F), set.window(i));
    }
    const batch = set.gatherX([set.size - 1, 0]);
    assert.deepEqual(batch.subarray(0, 60 * F), set.window(set.size - 1));
    assert.deepEqual(set.gatherY([1]), set.y.subarray(3, 6));
  }
});

test('ratio split: time order, every target inside its own segment, history may reach back', () => {
  const ds = buildDataset(series, { horizon: 2 });
  const rows = ds.dates.length;
  assert.deepEqual(ds.segments.train, { start: 0, end: Math.round(rows * 0.7) });
  assert.deepEqual(ds.segments.val, { start: Math.round(rows * 0.7), end: Math.round(rows * 0.85) });
  assert.deepEqual(ds.segments.test, { start: Math.round(rows * 0.85), end: rows });
  for (const name of ['train', 'val', 'test'] as const) {
    const set = ds[name];
    const { start, end } = ds.segments[name];
    for (let i = 0; i < set.size; i++) {
      const e = set.windowEnds[i];
      assert.ok(e + 1 >= start && e + 2 < end, `${name} window ${i} has a target outside its segment`);
      assert.ok(e - 59 >= 0);
    }
    // windows cover every possible target start in the segment
    assert.equal(set.windowEnds[0], Math.max(start - 1, 59));
    assert.equal(set.windowEnds[set.size - 1], end - 3);
  }
  // the first validation window's input lies entirely in the training segment (history), its target in val
  assert.equal(ds.val.windowEnds[0], ds.segments.val.start - 1);
});

test('Qlib-style date segments', () => {
  const d = series.dates;
  const ds = buildDataset(series, {
    split: { type: 'segments', train: [d[0], d[399]], valid: [d[400], d[499]], test: [d[500], d[599]] },
  });
  assert.equal(ds.dates[ds.segments.val.start], d[400]);
  assert.equal(ds.dates[ds.segments.test.start], d[500]);
  assert.equal(ds.test.targetDates[0], d[500]);
  assert.equal(ds.test.targetDates.at(-1), d[599]);
  assert.equal(ds.val.targetDates.at(-1), d[499]);
  assert.throws(
    () => buildDataset(series, { split: { type: 'segments', train: [d[0], d[399]], valid: [d[400], d[499]], test: ['2030-01-01', '2030-12-31'] } }),
    (err: unknown) => err instanceof UserError && /test segment has no windows/.test(err.message),
  );
});

test('the feature scaler is fit on training rows only; robust uses median/IQR and clips', () => {
  const ds = buildDataset(series, { features: ['log_return', 'rsi6', 'vol_ratio_5'] });
  const cols = computeFeatureColumns(series, ['log_return']);
  assert.equal(ds.warmupDropped, 6); // rsi6 has the longest warm-up here
  const lr = cols.get('log_return')!.subarray(6 + ds.segments.train.start, 6 + ds.segments.train.end);
  const mean = lr.reduce((a, b) => a + b, 0) / lr.length;
  const std = Math.sqrt(lr.reduce((a, b) => a + (b - mean) ** 2, 0) / lr.length);
  const state = ds.featureScaler.toJSON();
  assert.ok(Math.abs(state.center[0] - mean) < 1e-15);
  assert.ok(Math.abs(state.scale[0] / std - 1) < 1e-12);

  // numpy: np.median([1..9, 100]) = 5.5; percentile 25/75 (linear) = 3.25 / 7.75 → IQR 4.5
  const data = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
  const robust = Scaler.fit({ kind: 'robust' }, ['x'], data, 0, 10);
  assert.deepEqual(robust.toJSON(), { kind: 'robust', names: ['x'], center: [5.5], scale: [4.5], clip: 5 });
  const out = robust.transformRows(data, 0, 10, new Float32Array(10));
  assert.equal(out[9], 5); // (100 − 5.5)/4.5 = 21 → clipped
  assert.equal(out[0], Math.fround((1 - 5.5) / 4.5));
  // a constant column gets scale 1, never a division by zero
  const constant = Scaler.fit({ kind: 'standard' }, ['c'], Float64Array.from([3, 3, 3]), 0, 3);
  assert.deepEqual(constant.toJSON().scale, [1]);
});

test('scaler.json round trip: load + apply gives identical numbers, and inference equals the dataset window', () => {
  const ds = buildDataset(series, { scaler: { kind: 'robust' }, horizon: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-scaler-'));
  try {
    const path = join(dir, 'model', 'scaler.json');
    saveScalerBundle(path, ds.scalerBundle);
    const bundle = loadScalerBundle(path);
    assert.deepEqual(bundle, ds.scalerBundle);
    const reloaded = Scaler.fromJSON(bundle.featureScaler);
    const width = ds.featureNames.length;
    const raw = computeFeatureColumns(series, ds.featureNames);
    const rows = new Float64Array(10 * width);
    for (let r = 0; r < 10; r++) ds.featureNames.forEach((n, f) => (rows[r * width + f] = raw.get(n)![59 + 300 + r]));
    assert.deepEqual(reloaded.transformRows(rows, 0, 10, new Float32Array(10 * width)), ds.features.subarray(300 * width, 310 * width));

    const last = ds.test.size - 1;
    const input = buildInferenceInput(series, bundle, ds.test.endDates[last]);
    assert.equal(input.lastDate, ds.test.endDates[last]);
    assert.equal(input.lastClose, ds.test.lastClose[last]);
    assert.deepEqual(input.x, ds.test.window(last));
    const latest = buildInferenceInput(series, bundle);
    assert.equal(latest.lastDate, series.dates.at(-1));
    const { prices, returns } = reconstructPrices(Float32Array.from([0, 0]), 10, Scaler.fromJSON(bundle.targetScaler));
    assert.deepEqual(returns, bundle.targetScaler.center);
    assert.equal(prices[0], 10 * Math.exp(bundle.targetScaler.center[0]));
    assert.throws(() => buildInferenceInput(series, bundle, series.dates[100]), /900001 has 101 rows up to .* needs at least 119/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Leakage: perturbing the bar on day p must leave every feature on days < p and every window ending before p as is. */
test('no look-ahead: a perturbed bar changes nothing on earlier days, nor the scalers when it lies outside training', { skip: ashare.skip }, () => {
  const base = readAshare('600519');
  const rows = 900;
  const cut = (s: KlineSeries): KlineSeries => {
    const c = cloneSeries(s);
    for (const k of ['open', 'high', 'low', 'close', 'preClose', 'change', 'pctChg', 'vol', 'amount', 'turnoverRate'] as const) c[k] = c[k].slice(0, rows);
    c.dates = c.dates.slice(0, rows);
    return c;
  };
  const original = cut(base);
  const before = buildDataset(original);
  const names = [...DEFAULT_FEATURES, 'ma60', 'boll_upper', 'ema26', 'macd_dea', 'avg_price'];
  const featuresBefore = computeFeatureColumns(original, names);
  const trainEndRow = before.warmupDropped + before.segments.train.end; // first series row outside training
  for (const p of [100, 400, trainEndRow - 1, trainEndRow, trainEndRow + 50, rows - 1]) {
    const perturbed = cloneSeries(original);
    perturbed.close[p] *= 1.07;
    perturbed.high[p] = Math.max(perturbed.high[p] * 1.08, perturbed.close[p]);
    perturbed.low[p] *= 0.97;
    perturbed.open[p] *= 1.01;
    perturbed.vol[p] *= 3;
    perturbed.amount[p] *= 2.5;
    const featuresAfter = computeFeatureColumns(perturbed, names);
    let changedOnP = 0;
    for (const name of names) {
      const a = featuresBefore.get(name)!;
      const b = featuresAfter.get(name)!;
      for (let t = 0; t < p; t++) assert.ok(Object.is(a[t], b[t]), `${name} on row ${t} changed when row ${p} was perturbed`);
      if (!Object.is(a[p], b[p])) changedOnP++;
    }
    if (p >= 59) assert.ok(changedOnP >= 40, `sanity: the perturbation shows on row ${p} (${changedOnP} features changed)`);
    const after = buildDataset(perturbed);
    const outsideTraining = p >= trainEndRow;
    if (outsideTraining) {
      assert.deepEqual(after.featureScaler.toJSON(), before.featureScaler.toJSON(), `feature scaler moved when row ${p} changed`);
      assert.deepEqual(after.targetScaler.toJSON(), before.targetScaler.toJSON(), `target scaler moved when row ${p} changed`);
      for (const set of ['train', 'val', 'test'] as const) {
        for (let i = 0; i < before[set].size; i++) {
          const endRow = before.warmupDropped + before[set].windowEnds[i];
          if (endRow >= p) break;
          assert.deepEqual(after[set].window(i), before[set].window(i), `${set} window ending at row ${endRow} changed (perturbed ${p})`);
          if (endRow + 1 < p) assert.equal(after[set].y[i], before[set].y[i]);
        }
        const atP = [...before[set].windowEnds].indexOf(p - before.warmupDropped);
        if (atP >= 0) assert.notDeepEqual(after[set].window(atP), before[set].window(atP), 'sanity: the window ending on the perturbed day changes');
      }
    } else {
      assert.notDeepEqual(after.featureScaler.toJSON(), before.featureScaler.toJSON(), 'sanity: a training bar moves the scaler');
    }
  }
});

test('suspension gaps are gaps in dates only: the rows stay contiguous and the values do not depend on the dates', () => {
  const gapped = syntheticSeries({ rows: 400, gapAfter: 200 });
  const noGap = syntheticSeries({ rows: 400, gapAfter: 10_000 });
  assert.ok(gapped.dates[201] > noGap.dates[201]);
  const a = buildDataset(gapped, { seqLength: 20 });
  const b = buildDataset(noGap, { seqLength: 20 });
  assert.deepEqual(a.features, b.features);
  const firstAfterGap = 201 - a.warmupDropped; // frame row of the first day after the suspension
  const i = a.train.windowEnds.indexOf(firstAfterGap + 5);
  assert.ok(i >= 6);
  const days = (x: string, y: string) => (Date.parse(y) - Date.parse(x)) / 86_400_000;
  assert.ok(days(a.train.endDates[i - 6], a.train.endDates[i - 5]) >= 40, 'consecutive rows straddle the suspension');
  // window i holds the 20 consecutive trading rows up to its end, gap or not
  const F = a.featureNames.length;
  assert.deepEqual(a.train.window(i), a.features.subarray((firstAfterGap + 5 - 19) * F, (firstAfterGap + 6) * F));
});

test('zero volume and one-price limit-up days (high = low) give finite features', () => {
  const s = syntheticSeries({
    rows: 300,
    limitUpAt: 100,
    zeroVolumeAt: [120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140],
  });
  assert.equal(s.high[101], s.low[101]);
  assert.equal(s.vol[130], 0);
  const all = [...DEFAULT_FEATURES, 'avg_price', 'turnover_ma5'];
  const cols = computeFeatureColumns(s, all);
  for (const name of all) {
    const col = cols.get(name)!;
    for (let t = 59; t < 300; t++) assert.ok(Number.isFinite(col[t]), `${name} on row ${t} is ${col[t]}`);
  }
  assert.equal(cols.get('close_position')![101], 0.5);
  assert.equal(cols.get('upper_shadow')![101], 0);
  assert.equal(cols.get('vol_ratio_5')![140], 1); // zero volume against a zero 5-day mean
  assert.equal(cols.get('vol_change_1')![130], 0);
  assert.equal(cols.get('avg_price')![130], s.close[130]);
  const ds = buildDataset(s, { seqLength: 30 });
  assert.ok(ds.train.X.every(Number.isFinite));
});

test('a stock shorter than warm-up + seqLength fails with its symbol and the rows needed', () => {
  const short = syntheticSeries({ rows: 120, symbol: '688001' });
  assert.throws(
    () => buildDataset(short),
    (err: unknown) =>
      err instanceof UserError &&
      err.code === 'too_short' &&
      /^688001 has 120 rows, but this dataset needs at least \d+/.test(err.message) &&
      (err.details as { required: number }).required > 59 + 60,
  );
  const needed = (() => {
    try {
      buildDataset(short);
    } catch (err) {
      return (err as UserError & { details: { required: number } }).details.required;
    }
    return 0;
  })();
  assert.doesNotThrow(() => buildDataset(syntheticSeries({ rows: needed, symbol: '688001' })));
  assert.throws(() => buildDataset(syntheticSeries({ rows: needed - 1, symbol: '688001' })), /688001/);
});

test('a bad bar fails naming the symbol, the date and the feature', { skip: ashare.skip }, () => {
  const s = cloneSeries(series);
  s.close[300] = 0;
  assert.throws(
    () => buildDataset(s),
    (err: unknown) =>
      err instanceof UserError && err.message.includes('900001') && err.message.includes(s.dates[300]) && /feature "[a-z0-9_]+"/.test(err.message),
  );
  const t = cloneSeries(series);
  t.vol[250] = NaN;
  assert.throws(() => buildDataset(t), new RegExp(`900001: feature "vol_change_1" is NaN on ${t.dates[250]}`));
  // turnover requested where the source has none
  assert.throws(() => buildDataset(readAshare('600519'), { features: ['log_return', 'turnover_ma5'] }), /600519: feature "turnover_ma5" is NaN on 2001-08-31/);
});

function assertSameDataset(a: Dataset, b: Dataset): void {
  assert.deepEqual(a.features, b.features);
  assert.deepEqual(a.featureScaler.toJSON(), b.featureScaler.toJSON());
  assert.deepEqual(a.scalerBundle, b.scalerBundle);
  for (const set of ['train', 'val', 'test'] as const) {
    assert.deepEqual(a[set].y, b[set].y);
    assert.deepEqual(a[set].windowEnds, b[set].windowEnds);
    assert.deepEqual(a[set].targetDates, b[set].targetDates);
  }
}

test('dataset cache: LRU in memory, atomic files on disk, and a new key when data or config change', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-dscache-'));
  try {
    const fresh = buildDataset(series);
    assertSameDataset(deserializeDataset(serializeDataset(fresh)), fresh);

    const cache = new DatasetCache({ maxEntries: 1, dir });
    const first = cache.get(series);
    assert.equal(cache.get(series), first);
    assert.deepEqual(cache.stats, { memoryHits: 1, diskHits: 0, builds: 1 });
    cache.get(series, { seqLength: 30 }); // evicts the first from memory
    const fromDisk = cache.get(series);
    assert.deepEqual(cache.stats, { memoryHits: 1, diskHits: 1, builds: 2 });
    assertSameDataset(fromDisk, fresh);
    assert.equal(readdirSync(dir).length, 2);

    const config = parseDatasetConfig({});
    const changed = cloneSeries(series);
    changed.vol[500] += 1;
    assert.notEqual(datasetCacheKey(changed, config), datasetCacheKey(series, config));
    assert.notEqual(datasetCacheKey(series, parseDatasetConfig({ horizon: 2 })), datasetCacheKey(series, config));
    assert.equal(datasetCacheKey(series, parseDatasetConfig({ features: [...DEFAULT_FEATURES] })), datasetCacheKey(series, config));

    // a damaged file is rebuilt, not trusted
    for (const f of readdirSync(dir)) writeFileSync(join(dir, f), 'garbage');
    const rebuilt = new DatasetCache({ dir }).get(series);
    assertSameDataset(rebuilt, fresh);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
