/**
 * Adjusted prices (data.adjust, src/data/adjust.ts): the qfq files of ../shared/data/ashare are a no-op; an unadjusted
 * copy of them with known dividend and bonus-share events gives, under qfq, the very features and targets of the qfq
 * file; adj_factor and pre_close agree; hfq by hand; the adj_factor table on both dialects; the demo market's
 * ex-dividend days never show up as returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  adjustSeries,
  barsToSeries,
  deriveFactors,
  generateDemoMarket,
  importCsvFiles,
  migrate,
  sliceSeries,
  StockDataLoader,
  writeBars,
  writeDemoMarket,
  type KlineSeries,
} from '../../src/data/index.js';
import { buildDataset, computeFeatureFrame, DEFAULT_FEATURES } from '../../src/features/index.js';
import { ashareSymbols, readAshare } from '../helpers/ashare.js';
import { forEachDialect } from '../helpers/db.js';
import { testBar } from '../helpers/bars.js';
import { ashare } from '../helpers/env.js';

/**
 * The share-structure reform days of the qfq set (SOURCES.md): pre_close above the previous close, because the
 * exchanges set no ex-rights reference price on them while tushare's factor includes the compensation shares.
 */
const REFORM_DAYS: Record<string, string[]> = {
  '000001': ['2003-09-29', '2007-06-20'],
  '000063': ['2005-12-29'],
  '000568': ['2005-11-03'],
  '000651': ['2006-03-08'],
  '000725': ['2005-11-30'],
  '000858': ['2006-03-31'],
  '600000': ['2006-05-12'],
  '600028': ['2006-10-10'],
  '600030': ['2005-08-15'],
  '600036': ['2006-02-27'],
  '600104': ['2005-10-24'],
  '600276': ['2006-06-20'],
  '600309': ['2006-04-24'],
  '600519': ['2006-05-25'],
  '600585': ['2006-03-02'],
  '600887': ['2006-04-24'],
  '600900': ['2005-08-15'],
};

test('qfq on the qfq files of ../shared/data/ashare is a no-op: no ex-rights day, every price bit-identical; the reform days are anomalies', { skip: ashare.skip }, () => {
  for (const symbol of ashareSymbols()) {
    const qfq = readAshare(symbol);
    const { exRights, anomalies } = deriveFactors(qfq);
    assert.deepEqual(exRights, [], `${symbol}: tushare's own rounding residuals (≤ 0.071%) stay inside the tolerance`);
    assert.deepEqual(anomalies.map((a) => a.date), REFORM_DAYS[symbol] ?? [], symbol);
    const adjusted = adjustSeries(qfq, 'qfq');
    for (const column of ['open', 'high', 'low', 'close', 'preClose', 'change', 'vol', 'amount'] as const) {
      assert.deepEqual(adjusted[column], qfq[column], `${symbol} ${column}`);
    }
  }
});

interface Event {
  date: string;
  /** cash as a fraction of the previous close */
  cash: number;
  /** bonus shares per share (0.5 = 10送5) */
  bonus: number;
}

/**
 * An unadjusted copy of a qfq series with known events. The qfq file is the truth of what a holder saw; the copy is what
 * an exchange would have printed had those events happened: raw = qfq × F_last / F_t, the factor F stepping up by
 * prev / ((prev − cash) / (1 + bonus)) on each event day, whose pre_close is the exchange's reference price. Volumes in
 * the copy are the share counts of their day (qfq vol × F_t / F_last), so that the adjusted volume is the file's.
 * Prices are left unrounded: the comparison is to 1e-9, which a 0.01 tick would swamp.
 */
function unadjustedCopy(qfq: KlineSeries, events: Event[]): KlineSeries {
  const n = qfq.dates.length;
  const step = new Float64Array(n).fill(1);
  const byDate = new Map(events.map((e) => [e.date, e]));
  for (let t = 1; t < n; t++) {
    const e = byDate.get(qfq.dates[t]);
    if (e) step[t] = 1 / ((1 - e.cash) / (1 + e.bonus));
  }
  const factor = new Float64Array(n);
  factor[0] = 1;
  for (let t = 1; t < n; t++) factor[t] = factor[t - 1] * step[t];
  const last = factor[n - 1];
  const toRaw = (a: Float64Array) => a.map((x, t) => (x * last) / factor[t]);
  const raw: KlineSeries = {
    ...qfq,
    open: toRaw(qfq.open),
    high: toRaw(qfq.high),
    low: toRaw(qfq.low),
    close: toRaw(qfq.close),
    preClose: toRaw(qfq.preClose),
    change: toRaw(qfq.change),
    vol: qfq.vol.map((v, t) => (v * factor[t]) / last),
    amount: qfq.amount.slice(),
  };
  for (let t = 1; t < n; t++) if (step[t] !== 1) raw.preClose[t] = raw.close[t - 1] / step[t];
  return raw;
}

/** A cash dividend of 1.5% on the first trading day of July every year, and bonus shares twice (10送5 and 10转10 with 10派3). */
function knownEvents(series: KlineSeries): Event[] {
  const events: Event[] = [];
  const firstOn = (prefix: string) => series.dates.slice(1).find((d) => d.startsWith(prefix));
  for (let year = 2001; year <= 2022; year++) {
    const d = firstOn(`${year}-07`);
    if (d) events.push({ date: d, cash: 0.015, bonus: 0 });
  }
  const bonus1 = firstOn('2012-05');
  const bonus2 = firstOn('2018-07');
  if (bonus1) events.push({ date: bonus1, cash: 0, bonus: 0.5 });
  if (bonus2) events.find((e) => e.date === bonus2)!.bonus = 1;
  return events.sort((a, b) => (a.date < b.date ? -1 : 1));
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    if (Number.isNaN(expected[i])) assert.ok(Number.isNaN(actual[i]), `${what}[${i}] NaN`);
    else worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  }
  assert.ok(worst <= tolerance, `${what}: worst difference ${worst}`);
}

test('features and targets of an unadjusted copy with known events, under qfq, equal those of the qfq file to 1e-9', { skip: ashare.skip }, () => {
  for (const symbol of ['600519', '601318', '000001', '300750']) {
    const qfq = readAshare(symbol);
    const events = knownEvents(qfq);
    assert.ok(events.length >= 4, `${symbol}: ${events.length} events`);
    const raw = unadjustedCopy(qfq, events);
    // The copy does show the drops a model must not learn: close / previous close on each event day.
    const dropAt = raw.dates.indexOf(events[events.length - 1].date);
    assert.ok(raw.close[dropAt] / raw.close[dropAt - 1] < qfq.close[dropAt] / qfq.close[dropAt - 1] - 0.01, `${symbol}: the raw copy drops`);

    const adjusted = adjustSeries(raw, 'qfq');
    assert.deepEqual(
      adjusted.adjustment!.exRights.map((e) => e.date),
      events.map((e) => e.date),
      `${symbol}: every event found, nothing else`,
    );
    assertClose(adjusted.close, qfq.close, 1e-12, `${symbol} close`);
    const ours = computeFeatureFrame(adjusted, DEFAULT_FEATURES);
    const theirs = computeFeatureFrame(qfq, DEFAULT_FEATURES);
    assert.deepEqual(ours.dates, theirs.dates);
    assertClose(ours.values, theirs.values, 1e-9, `${symbol} features`);
    // Unadjusted, the features do differ: the test can fail.
    assert.throws(() => assertClose(computeFeatureFrame(raw, DEFAULT_FEATURES).values, theirs.values, 1e-6, 'raw features'));

    const config = { seqLength: 20, horizon: 2 };
    const a = buildDataset(sliceSeries(adjusted, adjusted.dates.length - 1500), config);
    const b = buildDataset(sliceSeries(qfq, qfq.dates.length - 1500), config);
    for (const segment of ['train', 'val', 'test'] as const) {
      assertClose(a[segment].returns, b[segment].returns, 1e-9, `${symbol} ${segment} targets`);
      assertClose(a[segment].y, b[segment].y, 1e-6, `${symbol} ${segment} scaled targets (float32)`);
    }
    assertClose(a.featureScaler.toJSON().center as number[], b.featureScaler.toJSON().center as number[], 1e-9, `${symbol} scaler`);
  }
});

test('hfq and qfq by hand: a cash dividend and a 10送5 bonus', () => {
  // d2: 派0.20 on a previous close of 10.20 → pre_close 10.00; d3: 10送5 on 10.10 → reference 10.10 / 1.5 = 6.7333, printed 6.73.
  const series = barsToSeries(
    [
      ['2024-06-03', 9.8, 10.0, 1000],
      ['2024-06-04', 10.0, 10.2, 1200],
      ['2024-06-05', 10.0, 10.1, 1100],
      ['2024-06-06', 6.73, 6.8, 1800],
    ].map(([date, pre, close, vol]) =>
      testBar('600000', date as string, close as number, pre as number, {
        pctChg: ((close as number) / (pre as number) - 1) * 100,
        vol: vol as number,
        amount: 1,
      }),
    ),
  );
  // factor: 1, 1, 10.20/10.00 = 1.02, 1.02 × 10.10/6.73 = 10.302/6.73 = 1.530757800891530…
  const f3 = (1.02 * 10.1) / 6.73;
  assert.ok(Math.abs(f3 - 1.53075780089153) < 1e-13);
  const hfq = adjustSeries(series, 'hfq');
  assertClose(hfq.adjustment!.multiplier, [1, 1, 1.02, f3], 1e-15, 'hfq multiplier');
  assertClose(hfq.close, [10.0, 10.2, 10.302, 10.409153046062407], 1e-14, 'hfq close');
  assertClose(hfq.preClose, [9.8, 10.0, 10.2, 10.302], 1e-14, 'hfq pre_close = the previous adjusted close');
  assertClose(hfq.vol, [1000, 1200, 1100 / 1.02, 1800 / f3], 1e-12, 'hfq vol ÷ multiplier');
  assert.deepEqual(hfq.amount, series.amount);
  assert.deepEqual(
    hfq.adjustment!.exRights.map((e) => [e.date, e.step]),
    [
      ['2024-06-05', 10.2 / 10.0],
      ['2024-06-06', 10.1 / 6.73],
    ],
  );
  // The holder's return on the bonus day is close / pre_close, +1.04%, not the −32.7% of close / previous close.
  assert.ok(Math.abs(hfq.close[3] / hfq.close[2] - 6.8 / 6.73) < 1e-14);
  const qfq = adjustSeries(series, 'qfq');
  assertClose(qfq.close, [10.0 / f3, 10.2 / f3, 10.302 / f3, 6.8], 1e-14, 'qfq close');
  assert.equal(qfq.close[3], 6.8, 'qfq: the last bar is exactly its raw price');
  assert.equal(adjustSeries(qfq, 'qfq'), qfq, 'adjusting again changes nothing');
  assert.equal(adjustSeries(series, 'none'), series);
});

test("the demo market's ex-dividend and bonus days never show up as returns under qfq; as stored they do", () => {
  const market = generateDemoMarket({ stocks: 20, start: '2021-01-01', end: '2024-12-31', seed: 42 });
  let checked = 0;
  for (let i = 0; i < market.stocks.length; i++) {
    const actions = market.corporateActions(i);
    if (actions.length === 0) continue;
    const raw = barsToSeries(market.bars(i));
    const adjusted = adjustSeries(raw, 'qfq');
    const config = { seqLength: 20, horizon: 1, split: { type: 'ratio' as const, train: 0.7, val: 0.15, test: 0.15 } };
    const adjustedData = buildDataset(adjusted, config);
    const rawData = buildDataset(raw, config);
    const exDays = new Map(actions.map((a) => [a.date, a]));
    const logReturn = computeFeatureFrame(adjusted, ['log_return']);
    for (const [r, date] of logReturn.dates.entries()) {
      const a = exDays.get(date);
      if (!a) continue;
      const t = raw.dates.indexOf(date);
      // the holder's return: close / the exchange's reference price, never close / previous close
      assert.ok(Math.abs(logReturn.values[r] - Math.log(raw.close[t] / raw.preClose[t])) < 1e-12, `${date} log_return`);
    }
    for (const segment of ['train', 'val', 'test'] as const) {
      const w = adjustedData[segment];
      const unadjusted = rawData[segment];
      for (let k = 0; k < w.size; k++) {
        const target = w.targetDates[k];
        if (!exDays.has(target)) continue;
        const t = raw.dates.indexOf(target);
        assert.ok(Math.abs(w.returns[k] - Math.log(raw.close[t] / raw.preClose[t])) < 1e-12, `${market.stocks[i].symbol} ${target} target`);
        assert.ok(Math.abs(unadjusted.returns[k] - Math.log(raw.close[t] / raw.close[t - 1])) < 1e-12, 'as stored, the drop is a target');
        checked++;
      }
    }
  }
  assert.ok(checked >= 20, `${checked} ex-rights targets checked`);
});

/** An adj_factor CSV of a series as tushare writes it: ts_code, trade_date YYYYMMDD, the cumulative factor. */
function adjFactorCsv(series: KlineSeries, factor: ArrayLike<number>, scale = 1): string {
  const code = `${series.symbol}.${series.symbol.startsWith('6') ? 'SH' : 'SZ'}`;
  const lines = series.dates.map((d, t) => `${code},${d.replace(/-/g, '')},${(factor[t] * scale).toFixed(6)}`);
  return `ts_code,trade_date,adj_factor\n${lines.reverse().join('\n')}\n`;
}

forEachDialect('the adj_factor table: created by the migrations (idempotent), filled by data import, bad rows reported, same factors as pre_close', async ({ handle }) => {
  const again = await migrate(handle);
  assert.ok(again.alreadyApplied.includes('005_adj_factor'));
  assert.equal(again.statements.filter((s) => /adj_factor/.test(s)).length, 0, 'a second migrate creates nothing');

  const market = generateDemoMarket({ stocks: 4, start: '2021-01-01', end: '2024-12-31', seed: 42 });
  await writeDemoMarket(handle, market);
  const i = market.stocks.findIndex((_, k) => market.corporateActions(k).length >= 3);
  const symbol = market.stocks[i].symbol;
  const loader = new StockDataLoader(handle);
  const fromPreClose = await loader.loadSeries(symbol, undefined, undefined, { adjust: 'qfq' });
  assert.equal(fromPreClose.adjustment!.source, 'pre_close');
  assert.equal(fromPreClose.adjustment!.exRights.length, market.corporateActions(i).length);

  // tushare's factors of the same bars (their own scale: 108.03 … ), written newest first as tushare returns them.
  const raw = await loader.loadSeries(symbol);
  const { factor } = deriveFactors(raw);
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-adj-'));
  try {
    const good = join(dir, `${symbol}_adj_factor.csv`);
    writeFileSync(good, adjFactorCsv(raw, factor, 108.031));
    const first = await importCsvFiles(handle, [good]);
    assert.deepEqual(first.issues, []);
    assert.equal(first.files[0].format, 'tushare_adj_factor');
    assert.equal(first.totals.inserted, raw.dates.length);
    const second = await importCsvFiles(handle, [good]);
    assert.deepEqual([second.totals.inserted, second.totals.updated, second.totals.unchanged], [0, 0, raw.dates.length]);

    const fromTable = await loader.loadSeries(symbol, undefined, undefined, { adjust: 'qfq' });
    assert.equal(fromTable.adjustment!.source, 'adj_factor');
    assert.deepEqual(
      fromTable.adjustment!.exRights.map((e) => e.date),
      fromPreClose.adjustment!.exRights.map((e) => e.date),
    );
    // The same factors either way, to the table's 6 decimals.
    assertClose(fromTable.adjustment!.multiplier, fromPreClose.adjustment!.multiplier, 1e-6, 'multiplier');
    // Bars past the table's last factor take their steps from pre_close: the mixed case.
    const cut = raw.dates[raw.dates.length - 200];
    await handle.db.deleteFrom('adj_factor').where('symbol', '=', symbol).where('trade_date', '>', cut).execute();
    const mixed = await loader.loadSeries(symbol, undefined, undefined, { adjust: 'qfq' });
    const lastEvent = fromPreClose.adjustment!.exRights.at(-1)!;
    assert.equal(mixed.adjustment!.source, lastEvent.date > cut ? 'mixed' : 'adj_factor');
    assertClose(mixed.adjustment!.multiplier, fromPreClose.adjustment!.multiplier, 1e-6, 'mixed multiplier');

    const bad = join(dir, 'bad_adj_factor.csv');
    writeFileSync(
      bad,
      [
        'ts_code,trade_date,adj_factor',
        '600000.SH,20240105,1.5',
        '600000.SH,20240106,1.5', // a Saturday
        '600000.SH,20240108,abc',
        '600000.SH,20240109,-1',
        '600000.SH,20240105,1.6', // duplicate
        'XYZ,20240110,1.5',
        '600000.SH,20240111,1.5',
      ].join('\n'),
    );
    const report = await importCsvFiles(handle, [bad]);
    assert.deepEqual(
      report.issues.map((x) => [x.line, x.reason.replace(/ \(.*$/, '')]),
      [
        [3, 'date 2024-01-06 is a Saturday: the exchanges do not trade on weekends'],
        [4, 'bad number in adj_factor: "abc"'],
        [5, 'non-positive adj_factor -1'],
        [6, 'duplicate date 2024-01-05 for 600000'],
        [7, 'unknown symbol format "XYZ"'],
      ],
    );
    assert.ok(report.issues.every((x) => x.file === bad));
    assert.equal(report.totals.inserted, 2, 'the good rows are kept');
    const unknown = join(dir, 'unknown_adj_factor.csv');
    writeFileSync(unknown, 'ts_code,trade_date,adj_factor,foo\n600000.SH,20240105,1.5,1\n');
    const rejected = await importCsvFiles(handle, [unknown]);
    assert.deepEqual(rejected.issues.map((x) => [x.line, x.reason]), [[1, 'adj_factor header has unknown column(s): foo']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

forEachDialect('the loader adjusts over exactly the bars it loads: hfq anchored at the first, the same as in memory', async ({ handle }) => {
  const market = generateDemoMarket({ stocks: 2, start: '2022-01-01', end: '2023-12-31', seed: 42 });
  for (let i = 0; i < 2; i++) await writeBars(handle.db, handle.dialect, market.bars(i));
  const loader = new StockDataLoader(handle);
  for (let i = 0; i < 2; i++) {
    const stored = await loader.loadSeries(market.stocks[i].symbol, '2022-03-01', '2023-10-31', { adjust: 'hfq' });
    const all = barsToSeries(market.bars(i));
    const from = all.dates.indexOf(stored.dates[0]);
    const expected = adjustSeries(sliceSeries(barsToSeries(market.bars(i)), from, from + stored.dates.length), 'hfq');
    assert.deepEqual(stored.dates, expected.dates);
    assertClose(stored.close, expected.close, 1e-12, 'hfq over the loaded range');
    assert.equal(stored.adjustment!.multiplier[0], 1, 'hfq is anchored at the first loaded bar');
  }
});
