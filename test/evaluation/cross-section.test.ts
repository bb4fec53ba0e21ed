import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { evaluateCrossSection, type CrossSectionInput, type CrossSectionResults } from '../../src/evaluation/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';

const REF = fileURLToPath(new URL('./ref_cross_section.py', import.meta.url));

function close(actual: number | null | undefined, expected: number | null, tol = 1e-12, what = ''): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return;
  }
  assert.ok(typeof actual === 'number', `${what}: expected ${expected}, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}

interface Entry {
  date: string;
  symbol: string;
  lastClose: number;
  actual: number;
  predicted: number;
}

function toInput(entries: Entry[], options: Partial<CrossSectionInput> = {}): CrossSectionInput {
  return {
    dates: entries.map((e) => e.date),
    symbols: entries.map((e) => e.symbol),
    lastClose: entries.map((e) => e.lastClose),
    actualReturns: entries.map((e) => e.actual),
    predictedReturns: entries.map((e) => e.predicted),
    ...options,
  };
}

/** 3 dates × 5 stocks A..E in percent, plus a date with only 3 stocks (below the default minimum of 5). */
function handPanel(): Entry[] {
  const symbols = ['A', 'B', 'C', 'D', 'E'];
  const days: Array<[string, number[], number[]]> = [
    ['2024-01-02', [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], // IC 1
    ['2024-01-03', [1, 2, 3, 4, 5], [5, 4, 3, 2, 1]], // IC −1
    ['2024-01-04', [1, 2, 2, 3, 3], [2, 1, 3, 5, 4]], // ties in the predictions
  ];
  const entries: Entry[] = [];
  for (const [date, predicted, actual] of days) {
    symbols.forEach((symbol, j) => entries.push({ date, symbol, lastClose: 10, predicted: predicted[j] / 100, actual: actual[j] / 100 }));
  }
  for (const symbol of ['A', 'B', 'C']) entries.push({ date: '2024-01-05', symbol, lastClose: 10, predicted: 0.01, actual: 0.02 });
  return entries;
}

test('cross-sectional IC, Rank IC with ties and quintiles by hand', () => {
  const r = evaluateCrossSection(toInput(handPanel()));
  assert.equal(r.n_samples, 18);
  assert.equal(r.n_dates, 4);
  assert.equal(r.n_stocks, 5);
  assert.equal(r.min_stocks_per_date, 5);
  assert.equal(r.periods_per_year, 242);
  assert.deepEqual(
    r.daily.map((d) => [d.date, d.stocks]),
    [
      ['2024-01-02', 5],
      ['2024-01-03', 5],
      ['2024-01-04', 5],
      ['2024-01-05', 3],
    ],
  );
  // Date 3: x = [1,2,2,3,3] (mean 2.2), y = [2,1,3,5,4] (mean 3): sxy 4, sxx 2.8, syy 10.
  const ic3 = 4 / Math.sqrt(28);
  // Ranks x = [1,2.5,2.5,4.5,4.5], y = [2,1,3,5,4] (both mean 3): sxy 7.5, sxx 9, syy 10.
  const rank3 = 7.5 / Math.sqrt(90);
  close(r.daily[0].ic, 1);
  close(r.daily[1].ic, -1);
  close(r.daily[2].ic, ic3);
  close(r.daily[0].rank_ic, 1);
  close(r.daily[1].rank_ic, -1);
  close(r.daily[2].rank_ic, rank3);
  // 5 stocks → 1 in each group. Date 3: bottom A (pred 1, actual 2); top: D and E tie at 3, E wins on symbol (actual 4).
  close(r.daily[0].top_quintile_return, 0.05);
  close(r.daily[0].bottom_quintile_return, 0.01);
  close(r.daily[0].spread, 0.04);
  close(r.daily[1].spread, -0.04);
  close(r.daily[2].top_quintile_return, 0.04);
  close(r.daily[2].bottom_quintile_return, 0.02);
  close(r.daily[2].spread, 0.02);
  assert.deepEqual(r.daily[3], {
    date: '2024-01-05',
    stocks: 3,
    ic: null,
    rank_ic: null,
    top_quintile_return: null,
    bottom_quintile_return: null,
    spread: null,
  });

  const summary = (xs: number[]) => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
    return { mean: m, std: sd, icir: m / sd, t_stat: (m / sd) * Math.sqrt(xs.length) };
  };
  for (const [got, values] of [
    [r.ic, [1, -1, ic3]],
    [r.rank_ic, [1, -1, rank3]],
  ] as const) {
    const want = summary([...values]);
    close(got.mean, want.mean);
    close(got.std, want.std);
    close(got.icir, want.icir);
    close(got.t_stat, want.t_stat);
    assert.equal(got.days, 3);
    close(got.positive_share, 2 / 3);
  }
  close(r.quintile_spread.mean_daily, 0.02 / 3);
  close(r.quintile_spread.annualised, (0.02 / 3) * 242);
  close(r.quintile_spread.mean_top, (0.05 + 0.01 + 0.04) / 3);
  close(r.quintile_spread.mean_bottom, (0.01 + 0.05 + 0.02) / 3);
  assert.equal(r.quintile_spread.days, 3);

  // Qlib's rule (every date with ≥ 2 stocks) counts date 4, whose actuals are constant: no correlation, still 3 days.
  const qlib = evaluateCrossSection(toInput(handPanel(), { minStocksPerDate: 2, periodsPerYear: 252 }));
  assert.equal(qlib.ic.days, 3);
  assert.equal(qlib.daily[3].ic, null);
  assert.equal(qlib.quintile_spread.days, 3, 'constant predictions on date 4: no quintiles');
  close(qlib.quintile_spread.annualised, (0.02 / 3) * 252);

  // The result is a function of the set of entries, not their order.
  const shuffled = handPanel().reverse();
  [shuffled[0], shuffled[7]] = [shuffled[7], shuffled[0]];
  assert.deepEqual(evaluateCrossSection(toInput(shuffled)), r);
  JSON.parse(JSON.stringify(r));
});

test('quintile groups hold floor(n/5) stocks, ties broken by symbol', () => {
  // 12 stocks → 2 per group. Predictions 0,0,1,…,9 (two ties at the bottom), actual = 10 · symbol index.
  const entries: Entry[] = Array.from({ length: 12 }, (_, j) => ({
    date: 'd',
    symbol: `S${String(j).padStart(2, '0')}`,
    lastClose: 5,
    predicted: Math.max(0, j - 2) / 100,
    actual: (j * 10) / 1000,
  }));
  // Ties among S00, S01, S02 (prediction 0): the bottom 2 are S00 and S01; the top 2 are S10 and S11.
  const r = evaluateCrossSection(toInput(entries));
  close(r.daily[0].bottom_quintile_return, (0 + 0.01) / 2);
  close(r.daily[0].top_quintile_return, (0.1 + 0.11) / 2);
  assert.equal(r.ic.days, 1);
  assert.equal(r.ic.std, null, 'one date has no standard deviation');
  assert.equal(r.ic.icir, null);
  assert.equal(r.ic.t_stat, null);
  close(r.ic.positive_share, 1);
  // 9 stocks → still 1 per group; 10 → 2.
  assert.equal(evaluateCrossSection(toInput(entries.slice(0, 9))).daily[0].top_quintile_return, 0.08);
  close(evaluateCrossSection(toInput(entries.slice(0, 10))).daily[0].top_quintile_return, (0.08 + 0.09) / 2);
});

test('per-stock skill against persistence and pooled price metrics by hand', () => {
  const e = (date: string, symbol: string, lastClose: number, actualRatio: number, predictedRatio: number): Entry => ({
    date,
    symbol,
    lastClose,
    actual: Math.log(actualRatio),
    predicted: Math.log(predictedRatio),
  });
  const entries = [
    // X: prices 11, 9, 10 against 10.5, 9.5, 10: MAE 1/3, persistence 2/3 → skill 0.5
    e('d1', 'X', 10, 1.1, 1.05),
    e('d2', 'X', 10, 0.9, 0.95),
    e('d3', 'X', 10, 1, 1),
    // Y: 22 against 18: MAE 4, persistence 2 → skill −1
    e('d1', 'Y', 20, 1.1, 0.9),
    // Z never moves: persistence MAE 0, skill undefined; its error is 1
    e('d1', 'Z', 5, 1, 1.2),
    // W: 6 against 5.5: MAE 0.5, persistence 2 → skill 0.75
    e('d1', 'W', 4, 1.5, 1.375),
  ];
  const r = evaluateCrossSection(toInput(entries));
  assert.equal(r.per_stock.stocks, 4);
  assert.equal(r.per_stock.stocks_scored, 3);
  close(r.per_stock.median_skill, 0.5, 1e-9);
  close(r.per_stock.worst_skill, -1, 1e-9);
  assert.equal(r.per_stock.worst_symbol, 'Y');
  close(r.per_stock.share_above_zero, 2 / 3);
  // Pooled: errors 0.5, 0.5, 0, 4, 1, 0.5; persistence 1, 1, 0, 2, 0, 2.
  close(r.pooled.mae, 6.5 / 6, 1e-9);
  close(r.pooled.persistence_mae, 1, 1e-9);
  close(r.pooled.skill, -1 / 12, 1e-9);
  close(r.pooled.rmse, Math.sqrt((0.25 + 0.25 + 0 + 16 + 1 + 0.25) / 6), 1e-9);
  close(r.pooled.mape, ((0.5 / 11 + 0.5 / 9 + 0 + 4 / 22 + 1 / 5 + 0.5 / 6) / 6) * 100, 1e-9);
  const prices = [11, 9, 10, 22, 5, 6];
  const predictions = [10.5, 9.5, 10, 18, 6, 5.5];
  const m = prices.reduce((a, b) => a + b) / 6;
  const sst = prices.reduce((a, p) => a + (p - m) ** 2, 0);
  const sse = prices.reduce((a, p, i) => a + (p - predictions[i]) ** 2, 0);
  close(r.pooled.r2, 1 - sse / sst, 1e-9);
  // Fewer than 5 stocks on every date: nothing cross-sectional counts.
  assert.deepEqual(r.ic, { mean: null, std: null, icir: null, t_stat: null, days: 0, positive_share: null });
  assert.deepEqual(r.quintile_spread, { mean_daily: null, annualised: null, mean_top: null, mean_bottom: null, days: 0 });
  // Two stocks tied on the worst skill: the first by symbol is named.
  const tied = evaluateCrossSection(toInput([e('d1', 'B', 10, 1.1, 1.3), e('d1', 'A', 10, 1.1, 1.3)]));
  assert.equal(tied.per_stock.worst_symbol, 'A');
  close(tied.per_stock.median_skill, -1, 1e-9);
});

test('evaluateCrossSection rejects bad input with a message naming it', () => {
  const good = toInput(handPanel());
  const withArray = (key: keyof CrossSectionInput, index: number, value: unknown) => {
    const copy = [...(good[key] as ArrayLike<unknown> as unknown[])];
    copy[index] = value;
    return { ...good, [key]: copy } as CrossSectionInput;
  };
  assert.throws(() => evaluateCrossSection({ ...good, dates: [], symbols: [], lastClose: [], actualReturns: [], predictedReturns: [] }), /no entries/);
  assert.throws(() => evaluateCrossSection({ ...good, symbols: good.symbols.slice(1) }), /17 symbols for 18 dates/);
  assert.throws(() => evaluateCrossSection({ ...good, predictedReturns: [0.1] }), /1 predictedReturns for 18 dates/);
  assert.throws(() => evaluateCrossSection(withArray('actualReturns', 3, NaN)), /actualReturns\[3\] \(D on 2024-01-02\) is not finite/);
  assert.throws(() => evaluateCrossSection(withArray('predictedReturns', 4, Infinity)), /predictedReturns\[4\] .* not finite/);
  assert.throws(() => evaluateCrossSection(withArray('lastClose', 2, 0)), /lastClose\[2\] .* positive/);
  assert.throws(() => evaluateCrossSection(withArray('lastClose', 2, -3)), /positive/);
  assert.throws(() => evaluateCrossSection(withArray('dates', 0, '')), /dates\[0\] must be a non-empty string/);
  assert.throws(() => evaluateCrossSection(withArray('symbols', 1, 'A')), /duplicate entry for A on 2024-01-02 \(entries 0 and 1\)/);
  assert.throws(() => evaluateCrossSection({ ...good, minStocksPerDate: 1 }), /minStocksPerDate must be an integer ≥ 2/);
  assert.throws(() => evaluateCrossSection({ ...good, minStocksPerDate: 2.5 }), /minStocksPerDate/);
  assert.throws(() => evaluateCrossSection({ ...good, periodsPerYear: 0 }), /periodsPerYear/);
});

/**
 * A seeded panel of 40 stocks × 60 dates with ~10% of entries missing, two dates with only 3 stocks, one date with
 * constant predictions, one stock that never moves, and returns rounded to a few levels so ranks and quintile
 * boundaries tie. Entries come in a shuffled order.
 */
function randomPanel(seed: number): Entry[] {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const symbols = Array.from({ length: 40 }, (_, j) => (j < 20 ? `${String(j + 1).padStart(6, '0')}` : `${600000 + j}`));
  const entries: Entry[] = [];
  for (let d = 0; d < 60; d++) {
    const date = new Date(Date.UTC(2024, 0, 2 + d)).toISOString().slice(0, 10);
    symbols.forEach((symbol, j) => {
      const keep = d === 10 || d === 20 ? j < 3 : rand() > 0.1;
      if (!keep) return;
      const actual = j === 39 ? 0 : Math.round((rand() - 0.5) * 20) / 200;
      const noise = Math.round((rand() - 0.5) * 10) / 300;
      const predicted = d === 30 ? 0.001 : Math.round((0.3 * actual + noise) * 600) / 600;
      entries.push({ date, symbol, lastClose: Math.round((3 + rand() * 60) * 100) / 100, actual, predicted });
    });
  }
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  return entries;
}

function pandasReference(entries: Entry[], minStocks: number, periods: number) {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-xs-'));
  try {
    const csv = join(dir, 'panel.csv');
    const rows = entries.map((e) => `${e.date},${e.symbol},${e.lastClose},${e.actual},${e.predicted}`);
    writeFileSync(csv, ['date,symbol,last_close,actual,predicted', ...rows].join('\n') + '\n');
    const run = spawnSync(REFERENCE_PYTHON, [REF, csv, String(minStocks), String(periods)], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout) as Omit<CrossSectionResults, 'return_type' | 'n_samples' | 'min_stocks_per_date' | 'periods_per_year'> & { scipy: boolean };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const minStocks of [5, 2]) {
  test(`evaluateCrossSection matches pandas groupby(date).corr on a 40 × 60 panel (min ${minStocks} stocks)`, { skip: referenceSkip('pandas') }, () => {
    const entries = randomPanel(7);
    const ours = evaluateCrossSection(toInput(entries, { minStocksPerDate: minStocks }));
    const ref = pandasReference(entries, minStocks, 242);
    if (!ref.scipy) console.warn('ref_cross_section.py: no scipy, Spearman from pandas rank(method="average")');
    assert.equal(ours.n_dates, 60);
    assert.equal(ours.n_stocks, 40);
    assert.equal(ours.n_dates, ref.n_dates);
    assert.equal(ours.daily.length, ref.daily.length);
    const tol = 1e-9;
    ours.daily.forEach((day, i) => {
      const want = ref.daily[i];
      assert.equal(day.date, want.date);
      assert.equal(day.stocks, want.stocks, day.date);
      for (const key of ['ic', 'rank_ic', 'top_quintile_return', 'bottom_quintile_return', 'spread'] as const)
        close(day[key], want[key], tol, `${day.date} ${key}`);
    });
    // The panel exercises what it should: skipped small dates, a date without correlation, and ties.
    assert.equal(ours.daily.filter((d) => d.stocks === 3).length, 2);
    assert.equal(ours.daily[30].ic, null);
    assert.equal(ours.ic.days, minStocks === 5 ? 57 : 59);
    for (const key of ['ic', 'rank_ic'] as const) {
      for (const field of ['mean', 'std', 'icir', 't_stat', 'positive_share'] as const) close(ours[key][field], ref[key][field], tol, `${key}.${field}`);
      assert.equal(ours[key].days, ref[key].days);
    }
    for (const field of ['mean_daily', 'annualised', 'mean_top', 'mean_bottom'] as const)
      close(ours.quintile_spread[field], ref.quintile_spread[field], tol, field);
    assert.equal(ours.quintile_spread.days, ref.quintile_spread.days);
    for (const field of ['median_skill', 'worst_skill', 'share_above_zero'] as const) close(ours.per_stock[field], ref.per_stock[field], tol, field);
    assert.equal(ours.per_stock.stocks, ref.per_stock.stocks);
    assert.equal(ours.per_stock.stocks_scored, 39);
    assert.equal(ours.per_stock.stocks_scored, ref.per_stock.stocks_scored);
    assert.equal(ours.per_stock.worst_symbol, ref.per_stock.worst_symbol);
    for (const field of ['mae', 'rmse', 'mape', 'r2', 'persistence_mae', 'skill'] as const)
      close(ours.pooled[field], ref.pooled[field], tol, `pooled.${field}`);
  });
}
