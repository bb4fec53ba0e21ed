/**
 * Cross-sectional evaluation of a universal model (one model over many stocks, DESIGN.md §5, issue 13 §4): per-date
 * IC and Rank IC over the stocks of each date, the top-minus-bottom quintile spread, per-stock skill against
 * persistence and pooled price metrics. Shaped for the `cross_section` block of results/eval_results.json.
 *
 * The result depends only on the set of (date, symbol) entries, not on their order: entries are processed sorted by
 * date, then symbol (plain code-unit string order, so ISO dates sort in time order).
 */
import type { CrossSectionDay, CrossSectionResults, ICSummary, PerStockSkill, PredictionRecord, QuintileSpread } from './results.js';
import { mae, mape, mean, pearson, r2, rmse, spearman } from './metrics.js';

export type { CrossSectionDay, CrossSectionResults, ICSummary, PerStockSkill, PooledPriceMetrics, QuintileSpread } from './results.js';

export interface CrossSectionInput {
  /** One entry per (window, step 1) forecast: the date of the last known close, the stock, last close, actual and predicted log return of step 1. */
  dates: readonly string[];
  symbols: readonly string[];
  lastClose: ArrayLike<number>;
  actualReturns: ArrayLike<number>;
  predictedReturns: ArrayLike<number>;
  /** Minimum stocks on a date for its IC to count (default 5; Qlib uses all dates with ≥ 2, document what you choose). */
  minStocksPerDate?: number;
  /** Trading days per year for annualising (default 242 for A-shares). */
  periodsPerYear?: number;
}

export const CROSS_SECTION_DEFAULTS = {
  /** With 2–4 stocks a date's IC is close to ±1 and swamps the mean and std; 2 reproduces Qlib. */
  minStocksPerDate: 5,
  /** A-share trading days per year. */
  periodsPerYear: 242,
} as const;

function fail(message: string): never {
  throw new Error(`evaluateCrossSection: ${message}`);
}

/** mean, sample std, ICIR, t-statistic and share above 0 of the counted dates' correlations. */
function summarise(values: number[]): ICSummary {
  const days = values.length;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - (m ?? 0)) ** 2;
  const std = m !== null && days >= 2 ? Math.sqrt(ss / (days - 1)) : null;
  const usable = m !== null && std !== null && std > 0;
  return {
    mean: m,
    std,
    icir: usable ? m / std : null,
    t_stat: usable ? m / (std / Math.sqrt(days)) : null,
    days,
    positive_share: days === 0 ? null : values.filter((v) => v > 0).length / days,
  };
}

function median(sorted: number[]): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

const constant = (values: Float64Array) => values.every((v) => v === values[0]);

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Scores step-1 forecasts of many stocks cross-sectionally:
 * - per date with at least minStocksPerDate stocks: IC (Pearson) and Rank IC (Spearman, average ranks) of predicted
 *   against actual log return, summarised over those dates by mean, sample std, ICIR = mean/std and
 *   t = mean/(std/√days); a date whose predictions or actuals are all equal has no correlation and is not counted;
 * - on the same dates, unless every prediction is equal: the stocks sorted by predicted return (ties by symbol), the
 *   mean actual log return of the top and the bottom max(1, ⌊n/5⌋), and their spread; annualised = mean · periodsPerYear;
 * - per stock: skill = 1 − MAE/MAE(persistence) in price units (close·exp(r) against close) over its dates;
 * - pooled price metrics over every entry.
 * Throws on unequal lengths, empty or duplicate (date, symbol) entries, non-finite returns or non-positive closes.
 */
export function evaluateCrossSection(input: CrossSectionInput): CrossSectionResults {
  const n = input.dates.length;
  if (n === 0) fail('no entries');
  for (const [what, values] of [
    ['symbols', input.symbols],
    ['lastClose', input.lastClose],
    ['actualReturns', input.actualReturns],
    ['predictedReturns', input.predictedReturns],
  ] as const) {
    if (values.length !== n) fail(`${values.length} ${what} for ${n} dates`);
  }
  const minStocks = input.minStocksPerDate ?? CROSS_SECTION_DEFAULTS.minStocksPerDate;
  if (!Number.isInteger(minStocks) || minStocks < 2) fail(`minStocksPerDate must be an integer ≥ 2, got ${minStocks}`);
  const periods = input.periodsPerYear ?? CROSS_SECTION_DEFAULTS.periodsPerYear;
  if (!Number.isFinite(periods) || periods <= 0) fail(`periodsPerYear must be a positive number, got ${periods}`);

  const close = Float64Array.from(input.lastClose);
  const actual = Float64Array.from(input.actualReturns);
  const predicted = Float64Array.from(input.predictedReturns);
  for (let i = 0; i < n; i++) {
    const date: unknown = input.dates[i];
    const symbol: unknown = input.symbols[i];
    if (typeof date !== 'string' || date === '') fail(`dates[${i}] must be a non-empty string, got ${JSON.stringify(date)}`);
    if (typeof symbol !== 'string' || symbol === '') fail(`symbols[${i}] must be a non-empty string, got ${JSON.stringify(symbol)}`);
    if (!(close[i] > 0) || !Number.isFinite(close[i]))
      fail(`lastClose[${i}] (${symbol} on ${date}) is ${close[i]}; every last close must be a positive number`);
    if (!Number.isFinite(actual[i])) fail(`actualReturns[${i}] (${symbol} on ${date}) is not finite: ${actual[i]}`);
    if (!Number.isFinite(predicted[i])) fail(`predictedReturns[${i}] (${symbol} on ${date}) is not finite: ${predicted[i]}`);
  }

  // Canonical order: by date, then symbol.
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => compare(input.dates[a], input.dates[b]) || compare(input.symbols[a], input.symbols[b]) || a - b,
  );
  for (let k = 1; k < n; k++) {
    const [a, b] = [order[k - 1], order[k]];
    if (input.dates[a] === input.dates[b] && input.symbols[a] === input.symbols[b]) {
      fail(`duplicate entry for ${input.symbols[b]} on ${input.dates[b]} (entries ${Math.min(a, b)} and ${Math.max(a, b)})`);
    }
  }

  // Per date.
  const daily: CrossSectionDay[] = [];
  const ics: number[] = [];
  const rankIcs: number[] = [];
  const spreads: number[] = [];
  const tops: number[] = [];
  const bottoms: number[] = [];
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && input.dates[order[end]] === input.dates[order[start]]) end++;
    const rows = order.slice(start, end); // sorted by symbol
    const stocks = rows.length;
    const day: CrossSectionDay = {
      date: input.dates[rows[0]],
      stocks,
      ic: null,
      rank_ic: null,
      top_quintile_return: null,
      bottom_quintile_return: null,
      spread: null,
    };
    if (stocks >= minStocks) {
      const p = Float64Array.from(rows, (i) => predicted[i]);
      const a = Float64Array.from(rows, (i) => actual[i]);
      // Exactly equal values have no correlation; checked here because their float mean may miss them by an ulp.
      const varies = !constant(p) && !constant(a);
      day.ic = varies ? pearson(p, a) : null;
      day.rank_ic = varies ? spearman(p, a) : null;
      if (day.ic !== null) ics.push(day.ic);
      if (day.rank_ic !== null) rankIcs.push(day.rank_ic);
      if (!constant(p)) {
        const byPrediction = rows.slice().sort((x, y) => predicted[x] - predicted[y]); // stable: ties stay in symbol order
        const k = Math.max(1, Math.floor(stocks / 5));
        const groupMean = (group: number[]) => group.reduce((s, i) => s + actual[i], 0) / group.length;
        const bottom = groupMean(byPrediction.slice(0, k));
        const top = groupMean(byPrediction.slice(stocks - k));
        day.top_quintile_return = top;
        day.bottom_quintile_return = bottom;
        day.spread = top - bottom;
        tops.push(top);
        bottoms.push(bottom);
        spreads.push(top - bottom);
      }
    }
    daily.push(day);
    start = end;
  }
  const meanSpread = mean(spreads);
  const quintileSpread: QuintileSpread = {
    mean_daily: meanSpread,
    annualised: meanSpread === null ? null : meanSpread * periods,
    mean_top: mean(tops),
    mean_bottom: mean(bottoms),
    days: spreads.length,
  };

  // Prices, pooled and per stock.
  const actualP = new Float64Array(n);
  const predP = new Float64Array(n);
  const closeSorted = new Float64Array(n);
  const perStock = new Map<string, { model: number; persistence: number; count: number }>();
  order.forEach((i, k) => {
    actualP[k] = close[i] * Math.exp(actual[i]);
    predP[k] = close[i] * Math.exp(predicted[i]);
    closeSorted[k] = close[i];
    const s = perStock.get(input.symbols[i]) ?? { model: 0, persistence: 0, count: 0 };
    s.model += Math.abs(predP[k] - actualP[k]);
    s.persistence += Math.abs(close[i] - actualP[k]);
    s.count++;
    perStock.set(input.symbols[i], s);
  });
  const skills: Array<{ symbol: string; skill: number }> = [];
  for (const symbol of [...perStock.keys()].sort(compare)) {
    const s = perStock.get(symbol)!;
    const persistenceMae = s.persistence / s.count;
    if (persistenceMae > 0) skills.push({ symbol, skill: 1 - s.model / s.count / persistenceMae });
  }
  let worst: { symbol: string; skill: number } | null = null;
  for (const s of skills) if (worst === null || s.skill < worst.skill) worst = s;
  const perStockSkill: PerStockSkill = {
    stocks: perStock.size,
    stocks_scored: skills.length,
    median_skill: median(skills.map((s) => s.skill).sort((a, b) => a - b)),
    worst_skill: worst?.skill ?? null,
    worst_symbol: worst?.symbol ?? null,
    share_above_zero: skills.length === 0 ? null : skills.filter((s) => s.skill > 0).length / skills.length,
  };
  const pooledMae = mae(actualP, predP);
  const persistenceMae = mae(actualP, closeSorted);

  return {
    return_type: 'log',
    n_samples: n,
    n_dates: daily.length,
    n_stocks: perStock.size,
    min_stocks_per_date: minStocks,
    periods_per_year: periods,
    ic: summarise(ics),
    rank_ic: summarise(rankIcs),
    quintile_spread: quintileSpread,
    per_stock: perStockSkill,
    pooled: {
      mae: pooledMae,
      rmse: rmse(actualP, predP),
      mape: mape(actualP, predP),
      r2: r2(actualP, predP),
      persistence_mae: persistenceMae,
      skill: pooledMae === null || persistenceMae === null || persistenceMae === 0 ? null : 1 - pooledMae / persistenceMae,
    },
    daily,
  };
}

/**
 * The cross-section of a set of prediction records over many stocks: their next-day (step 1) forecasts, per date. A
 * date counts with at least 5 stocks (fewer make its correlation ±1 noise), or all of a smaller universe's, never < 2.
 */
export function crossSectionOfRecords(
  records: ReadonlyArray<Pick<PredictionRecord, 'symbol' | 'date' | 'step' | 'last_close' | 'actual_return' | 'predicted_return'>>,
): CrossSectionResults {
  const step1 = records.filter((r) => r.step === 1);
  const stocks = new Set(step1.map((r) => r.symbol)).size;
  return evaluateCrossSection({
    minStocksPerDate: Math.max(2, Math.min(CROSS_SECTION_DEFAULTS.minStocksPerDate, stocks)),
    dates: step1.map((r) => r.date),
    symbols: step1.map((r) => r.symbol as string),
    lastClose: step1.map((r) => r.last_close),
    actualReturns: step1.map((r) => r.actual_return),
    predictedReturns: step1.map((r) => r.predicted_return),
  });
}
