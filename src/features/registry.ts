/**
 * The named features. Each one is a column computed from a KlineSeries with data up to its own row only, plus its
 * warm-up: how many leading rows it needs before its value is defined (and settled, for recursive smoothers).
 *
 * Raw price levels (ma5, boll_upper, ema12, …) stay available and reference-tested, but the default set feeds the
 * network their ratio to the day's close (`*_rel`), because a level drifts from 4 to 1800 over a stock's life and
 * no train-fit scaler can make that stationary.
 */
import { boardOf, type Board } from '../data/symbols.js';
import type { KlineSeries } from '../data/types.js';
import { UserError } from '../util/errors.js';
import { boll, ema, kdj, kdjWarmup, ma, macd, macdWarmup, rsi, type Boll, type Kdj, type Macd } from './indicators.js';
import { rollingMax, rollingMin, rollingMoments, rollingMean, rollingNanMean } from './rolling.js';

export type FeatureGroup = 'raw' | 'price' | 'volume' | 'indicator' | 'covariate';

export interface FeatureDefinition {
  name: string;
  group: FeatureGroup;
  /** The formula, as docs/FEATURES.md shows it. */
  formula: string;
  /** Leading rows without a (settled) value. */
  warmup: number;
  compute(ctx: FeatureContext): Float64Array;
}

/** Holds one series and memoises intermediate columns that several features share (MAs, MACD, rolling extremes). */
export class FeatureContext {
  private readonly memo = new Map<string, unknown>();
  constructor(readonly series: KlineSeries) {}

  get length(): number {
    return this.series.close.length;
  }

  cached<T>(key: string, make: () => T): T {
    let value = this.memo.get(key) as T | undefined;
    if (value === undefined) {
      value = make();
      this.memo.set(key, value);
    }
    return value;
  }

  ma(period: number): Float64Array {
    return this.cached(`ma${period}`, () => ma(this.series.close, period));
  }
  ema(period: number): Float64Array {
    return this.cached(`ema${period}`, () => ema(this.series.close, period));
  }
  macd(): Macd {
    return this.cached('macd', () => macd(this.series.close));
  }
  boll(): Boll {
    return this.cached('boll', () => boll(this.series.close));
  }
  kdj(): Kdj {
    return this.cached('kdj', () => kdj(this.series.high, this.series.low, this.series.close));
  }
  volMa(period: number): Float64Array {
    return this.cached(`volMa${period}`, () => rollingMean(this.series.vol, period));
  }
  amountMa(period: number): Float64Array {
    return this.cached(`amountMa${period}`, () => rollingMean(this.series.amount, period));
  }
  highest(period: number): Float64Array {
    return this.cached(`hhv${period}`, () => rollingMax(this.series.high, period));
  }
  lowest(period: number): Float64Array {
    return this.cached(`llv${period}`, () => rollingMin(this.series.low, period));
  }
  logReturn(): Float64Array {
    return this.cached('logReturn', () => map1(this, (c, i) => Math.log(c[i] / c[i - 1]), 1));
  }
  avgPrice(): Float64Array {
    // amount is thousand CNY and vol is lots of 100 shares, so CNY per share = amount·1000 / (vol·100).
    return this.cached('avgPrice', () => {
      const { amount, vol, close } = this.series;
      return fill(this.length, 0, (i) => (vol[i] > 0 ? (amount[i] * 10) / vol[i] : close[i]));
    });
  }
}

function fill(n: number, warmup: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(n).fill(NaN);
  for (let i = warmup; i < n; i++) out[i] = f(i);
  return out;
}

function map1(ctx: FeatureContext, f: (close: Float64Array, i: number) => number, warmup: number): Float64Array {
  const close = ctx.series.close;
  return fill(ctx.length, warmup, (i) => f(close, i));
}

/** a/b, which is 1 when both are 0 (a zero volume against a zero average) instead of NaN. */
function ratio(a: number, b: number): number {
  return a === b ? 1 : a / b;
}

/** A price level x as x/C − 1, its distance from the day's close. */
function relToClose(ctx: FeatureContext, x: Float64Array, warmup: number): Float64Array {
  const c = ctx.series.close;
  return fill(ctx.length, warmup, (i) => x[i] / c[i] - 1);
}

/** ln((a+1)/(b+1)): a change that stays finite when a count (volume, amount) is zero. */
function logChange(a: number, b: number): number {
  return Math.log((a + 1) / (b + 1));
}

const definitions: FeatureDefinition[] = [];

function define(def: FeatureDefinition): void {
  definitions.push(def);
}

// --- raw columns ---------------------------------------------------------------------------------------------------
for (const col of ['open', 'high', 'low', 'close', 'vol', 'amount'] as const) {
  define({ name: col, group: 'raw', formula: `${col} as stored`, warmup: 0, compute: (ctx) => ctx.series[col] });
}
define({
  name: 'turnover_rate',
  group: 'raw',
  formula: 'turnover_rate as stored (NaN where NULL)',
  warmup: 0,
  compute: (ctx) => ctx.series.turnoverRate,
});

// --- indicators: raw levels and their scale-free forms ----------------------------------------------------------------
for (const period of [5, 10, 20, 60]) {
  define({ name: `ma${period}`, group: 'indicator', formula: `MA(C,${period})`, warmup: period - 1, compute: (ctx) => ctx.ma(period) });
  define({
    name: `ma${period}_rel`,
    group: 'indicator',
    formula: `MA(C,${period}) / C − 1`,
    warmup: period - 1,
    compute: (ctx) => relToClose(ctx, ctx.ma(period), period - 1),
  });
}
define({
  name: 'ma5_ma20',
  group: 'indicator',
  formula: 'MA(C,5) / MA(C,20) − 1',
  warmup: 19,
  compute: (ctx) => {
    const [a, b] = [ctx.ma(5), ctx.ma(20)];
    return fill(ctx.length, 19, (i) => a[i] / b[i] - 1);
  },
});
define({
  name: 'ma20_ma60',
  group: 'indicator',
  formula: 'MA(C,20) / MA(C,60) − 1',
  warmup: 59,
  compute: (ctx) => {
    const [a, b] = [ctx.ma(20), ctx.ma(60)];
    return fill(ctx.length, 59, (i) => a[i] / b[i] - 1);
  },
});
for (const period of [12, 26]) {
  define({
    name: `ema${period}`,
    group: 'indicator',
    formula: `EMA(C,${period}), alpha 2/(${period}+1), seeded with C[0]`,
    warmup: period - 1,
    compute: (ctx) => ctx.ema(period),
  });
  define({
    name: `ema${period}_rel`,
    group: 'indicator',
    formula: `EMA(C,${period}) / C − 1`,
    warmup: period - 1,
    compute: (ctx) => relToClose(ctx, ctx.ema(period), period - 1),
  });
}
const macdParts: Array<['dif' | 'dea' | 'bar', string, number]> = [
  ['dif', 'EMA(C,12) − EMA(C,26)', 25],
  ['dea', 'EMA(DIF,9)', macdWarmup()],
  ['bar', '2·(DIF − DEA)', macdWarmup()],
];
for (const [part, formula, warmup] of macdParts) {
  define({ name: `macd_${part}`, group: 'indicator', formula, warmup, compute: (ctx) => ctx.macd()[part] });
  define({
    name: `macd_${part}_rel`,
    group: 'indicator',
    formula: `${part.toUpperCase()} / C`,
    warmup,
    compute: (ctx) => {
      const [x, c] = [ctx.macd()[part], ctx.series.close];
      return fill(ctx.length, warmup, (i) => x[i] / c[i]);
    },
  });
}
for (const period of [6, 12, 24]) {
  define({
    name: `rsi${period}`,
    group: 'indicator',
    formula: `100·SMA(U,${period},1) / (SMA(U,${period},1) + SMA(D,${period},1)); 50 when both are 0`,
    warmup: period,
    compute: (ctx) => ctx.cached(`rsi${period}`, () => rsi(ctx.series.close, period)),
  });
}
for (const part of ['mid', 'upper', 'lower'] as const) {
  define({
    name: `boll_${part}`,
    group: 'indicator',
    formula: part === 'mid' ? 'MA(C,20)' : `MA(C,20) ${part === 'upper' ? '+' : '−'} 2·σ20 (population)`,
    warmup: 19,
    compute: (ctx) => ctx.boll()[part],
  });
}
for (const part of ['upper', 'lower'] as const) {
  define({
    name: `boll_${part}_rel`,
    group: 'indicator',
    formula: `BOLL_${part.toUpperCase()} / C − 1`,
    warmup: 19,
    compute: (ctx) => relToClose(ctx, ctx.boll()[part], 19),
  });
}
define({
  name: 'boll_width',
  group: 'indicator',
  formula: '(UPPER − LOWER) / MID',
  warmup: 19,
  compute: (ctx) => {
    const b = ctx.boll();
    return fill(ctx.length, 19, (i) => (b.upper[i] - b.lower[i]) / b.mid[i]);
  },
});
define({
  name: 'boll_position',
  group: 'indicator',
  formula: '(C − LOWER) / (UPPER − LOWER); 0.5 when the band has zero width',
  warmup: 19,
  compute: (ctx) => {
    const b = ctx.boll();
    const c = ctx.series.close;
    return fill(ctx.length, 19, (i) => {
      const width = b.upper[i] - b.lower[i];
      return width > 0 ? (c[i] - b.lower[i]) / width : 0.5;
    });
  },
});
const kdjParts: Array<['k' | 'd' | 'j', string, number]> = [
  ['k', 'SMA(RSV9,3,1) from 50', 10],
  ['d', 'SMA(K,3,1) from 50', kdjWarmup()],
  ['j', '3K − 2D', kdjWarmup()],
];
for (const [part, formula, warmup] of kdjParts) {
  define({ name: `kdj_${part}`, group: 'indicator', formula, warmup, compute: (ctx) => ctx.kdj()[part] });
}

// --- price features ------------------------------------------------------------------------------------------------
define({
  name: 'amplitude',
  group: 'price',
  formula: '(H − L) / C[t−1]',
  warmup: 1,
  compute: (ctx) => {
    const { high, low, close } = ctx.series;
    return fill(ctx.length, 1, (i) => (high[i] - low[i]) / close[i - 1]);
  },
});
for (const days of [1, 3, 5, 10]) {
  define({
    name: `price_change_${days}`,
    group: 'price',
    formula: `C / C[t−${days}] − 1`,
    warmup: days,
    compute: (ctx) => map1(ctx, (c, i) => c[i] / c[i - days] - 1, days),
  });
}
define({ name: 'log_return', group: 'price', formula: 'ln(C / C[t−1])', warmup: 1, compute: (ctx) => ctx.logReturn() });
define({
  name: 'open_gap',
  group: 'price',
  formula: 'O / C[t−1] − 1',
  warmup: 1,
  compute: (ctx) => {
    const { open, close } = ctx.series;
    return fill(ctx.length, 1, (i) => open[i] / close[i - 1] - 1);
  },
});
define({
  name: 'body',
  group: 'price',
  formula: '(C − O) / C[t−1]',
  warmup: 1,
  compute: (ctx) => {
    const { open, close } = ctx.series;
    return fill(ctx.length, 1, (i) => (close[i] - open[i]) / close[i - 1]);
  },
});
define({
  name: 'close_position',
  group: 'price',
  formula: '(C − L) / (H − L); 0.5 when H = L',
  warmup: 0,
  compute: (ctx) => {
    const { high, low, close } = ctx.series;
    return fill(ctx.length, 0, (i) => (high[i] > low[i] ? (close[i] - low[i]) / (high[i] - low[i]) : 0.5));
  },
});
define({
  name: 'upper_shadow',
  group: 'price',
  formula: '(H − max(O,C)) / (H − L); 0 when H = L',
  warmup: 0,
  compute: (ctx) => {
    const { open, high, low, close } = ctx.series;
    return fill(ctx.length, 0, (i) => (high[i] > low[i] ? (high[i] - Math.max(open[i], close[i])) / (high[i] - low[i]) : 0));
  },
});
define({
  name: 'lower_shadow',
  group: 'price',
  formula: '(min(O,C) − L) / (H − L); 0 when H = L',
  warmup: 0,
  compute: (ctx) => {
    const { open, high, low, close } = ctx.series;
    return fill(ctx.length, 0, (i) => (high[i] > low[i] ? (Math.min(open[i], close[i]) - low[i]) / (high[i] - low[i]) : 0));
  },
});
for (const period of [5, 20]) {
  define({
    name: `volatility_${period}`,
    group: 'price',
    formula: `population σ of ln(C/C[t−1]) over ${period} days`,
    warmup: period,
    compute: (ctx) => {
      const lr = ctx.logReturn();
      const out = rollingMoments(lr.subarray(1), period, true).std!;
      const full = new Float64Array(ctx.length).fill(NaN);
      full.set(out, 1);
      return full;
    },
  });
}
for (const period of [20, 60]) {
  define({
    name: `close_to_high_${period}`,
    group: 'price',
    formula: `C / HHV(H,${period}) − 1`,
    warmup: period - 1,
    compute: (ctx) => {
      const [c, h] = [ctx.series.close, ctx.highest(period)];
      return fill(ctx.length, period - 1, (i) => c[i] / h[i] - 1);
    },
  });
  define({
    name: `close_to_low_${period}`,
    group: 'price',
    formula: `C / LLV(L,${period}) − 1`,
    warmup: period - 1,
    compute: (ctx) => {
      const [c, l] = [ctx.series.close, ctx.lowest(period)];
      return fill(ctx.length, period - 1, (i) => c[i] / l[i] - 1);
    },
  });
}

// --- volume features -----------------------------------------------------------------------------------------------
for (const days of [1, 3, 5, 10]) {
  define({
    name: `vol_change_${days}`,
    group: 'volume',
    formula: `ln((V + 1) / (V[t−${days}] + 1))`,
    warmup: days,
    compute: (ctx) => {
      const v = ctx.series.vol;
      return fill(ctx.length, days, (i) => logChange(v[i], v[i - days]));
    },
  });
}
for (const period of [5, 10, 20]) {
  define({
    name: `vol_ratio_${period}`,
    group: 'volume',
    formula: `V / MA(V,${period}); 1 when MA(V,${period}) = 0`,
    warmup: period - 1,
    compute: (ctx) => {
      const [v, m] = [ctx.series.vol, ctx.volMa(period)];
      return fill(ctx.length, period - 1, (i) => ratio(v[i], m[i]));
    },
  });
}
define({
  name: 'vol_ma5_ma20',
  group: 'volume',
  formula: 'MA(V,5) / MA(V,20); 1 when both are 0',
  warmup: 19,
  compute: (ctx) => {
    const [a, b] = [ctx.volMa(5), ctx.volMa(20)];
    return fill(ctx.length, 19, (i) => ratio(a[i], b[i]));
  },
});
for (const days of [1, 5]) {
  define({
    name: `amount_change_${days}`,
    group: 'volume',
    formula: `ln((A + 1) / (A[t−${days}] + 1)), A in thousand CNY`,
    warmup: days,
    compute: (ctx) => {
      const a = ctx.series.amount;
      return fill(ctx.length, days, (i) => logChange(a[i], a[i - days]));
    },
  });
}
define({
  name: 'amount_ratio_5',
  group: 'volume',
  formula: 'A / MA(A,5); 1 when MA(A,5) = 0',
  warmup: 4,
  compute: (ctx) => {
    const [a, m] = [ctx.series.amount, ctx.amountMa(5)];
    return fill(ctx.length, 4, (i) => ratio(a[i], m[i]));
  },
});
define({
  name: 'avg_price',
  group: 'volume',
  formula: 'A·1000 / (V·100) in CNY per share; C when V = 0',
  warmup: 0,
  compute: (ctx) => ctx.avgPrice(),
});
define({
  name: 'avg_price_rel',
  group: 'volume',
  formula: 'AVG_PRICE / C − 1',
  warmup: 0,
  compute: (ctx) => relToClose(ctx, ctx.avgPrice(), 0),
});
for (const period of [5, 20]) {
  define({
    name: `turnover_ma${period}`,
    group: 'volume',
    formula: `mean of the non-NULL turnover_rate over ${period} days`,
    warmup: period - 1,
    compute: (ctx) => ctx.cached(`turnoverMa${period}`, () => rollingNanMean(ctx.series.turnoverRate, period)),
  });
}

// --- covariates: what the stock is, for a universal model (one network over many stocks) ------------------------------
// The board as a one-hot from the code's prefix (src/data/symbols.ts boardOf): constant along a stock's rows, so it
// tells a universal model which market a window comes from (their price limits differ: ±10% main, ±20% ChiNext and
// STAR, ±30% BSE). A code of no board (an index) has all four at 0.
const BOARD_FEATURES: Array<[string, Board]> = [
  ['board_main', '主板'],
  ['board_chinext', '创业板'],
  ['board_star', '科创板'],
  ['board_bse', '北交所'],
];
for (const [name, board] of BOARD_FEATURES) {
  define({
    name,
    group: 'covariate',
    formula: `1 when the code's board is ${board}, else 0`,
    warmup: 0,
    compute: (ctx) => new Float64Array(ctx.length).fill(boardOf(ctx.series.symbol)?.stockType === board ? 1 : 0),
  });
}

export const FEATURES: ReadonlyMap<string, FeatureDefinition> = new Map(definitions.map((d) => [d.name, d]));

/**
 * The default input of a model: 50 scale-free features (ratios, changes, oscillators), ordered price, indicator,
 * volume. Turnover features are left out because most sources (and the bundled CSVs) have no turnover_rate; add
 * `turnover_ma5`/`turnover_ma20` by name when yours does.
 */
export const DEFAULT_FEATURES: readonly string[] = Object.freeze([
  'amplitude',
  'price_change_1',
  'price_change_3',
  'price_change_5',
  'price_change_10',
  'log_return',
  'open_gap',
  'body',
  'close_position',
  'upper_shadow',
  'lower_shadow',
  'volatility_5',
  'volatility_20',
  'close_to_high_20',
  'close_to_low_20',
  'close_to_high_60',
  'close_to_low_60',
  'ma5_rel',
  'ma10_rel',
  'ma20_rel',
  'ma60_rel',
  'ma5_ma20',
  'ma20_ma60',
  'ema12_rel',
  'ema26_rel',
  'macd_dif_rel',
  'macd_dea_rel',
  'macd_bar_rel',
  'rsi6',
  'rsi12',
  'rsi24',
  'boll_upper_rel',
  'boll_lower_rel',
  'boll_width',
  'boll_position',
  'kdj_k',
  'kdj_d',
  'kdj_j',
  'vol_change_1',
  'vol_change_3',
  'vol_change_5',
  'vol_change_10',
  'vol_ratio_5',
  'vol_ratio_10',
  'vol_ratio_20',
  'vol_ma5_ma20',
  'amount_change_1',
  'amount_change_5',
  'amount_ratio_5',
  'avg_price_rel',
]);

export function featureDefinition(name: string): FeatureDefinition {
  const def = FEATURES.get(name);
  if (!def) throw new UserError(`unknown feature "${name}"; known features: ${[...FEATURES.keys()].join(', ')}`, 'unknown_feature');
  return def;
}

/** Rows a feature list needs before every feature is defined: the largest warm-up among them. */
export function warmupOf(names: readonly string[]): number {
  return names.reduce((w, name) => Math.max(w, featureDefinition(name).warmup), 0);
}
