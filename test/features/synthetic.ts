/**
 * A seeded synthetic daily series with the awkward parts of real A-share data: a weekday calendar with a long
 * suspension gap, volatility clustering, a run of one-price limit-up days (high = low), zero-volume days and
 * turnover with NULL days.
 */
import type { KlineSeries } from '../../src/data/types.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export interface SyntheticOptions {
  rows?: number;
  seed?: number;
  symbol?: string;
  /** Rows at which a 5-day run of one-price limit-up days starts. */
  limitUpAt?: number;
  /** Rows with zero volume and amount. */
  zeroVolumeAt?: number[];
  /** Row after which 40 calendar days are skipped (a suspension). */
  gapAfter?: number;
}

/** Seeded standard normals (Box–Muller over mulberry32) and Student-t(3) draws (heavy tails, as returns have). */
export function seededDraws(seed: number): { normal: () => number; t3: () => number } {
  const u = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
  const t3 = () => normal() / Math.sqrt((normal() ** 2 + normal() ** 2 + normal() ** 2) / 3);
  return { normal, t3 };
}

export function syntheticSeries(options: SyntheticOptions = {}): KlineSeries {
  const { rows = 400, seed = 7, symbol = '900001', limitUpAt = 150, zeroVolumeAt = [90, 91, 260], gapAfter = 200 } = options;
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const cols = ['open', 'high', 'low', 'close', 'preClose', 'change', 'pctChg', 'vol', 'amount', 'turnoverRate'] as const;
  const a = Object.fromEntries(cols.map((c) => [c, new Float64Array(rows)])) as Record<(typeof cols)[number], Float64Array>;
  const dates: string[] = [];
  let date = '2020-01-02';
  let prev = 20;
  let sigma = 0.02;
  for (let i = 0; i < rows; i++) {
    if (i > 0) {
      date = addDays(date, i === gapAfter + 1 ? 40 : 1);
      while ([0, 6].includes(new Date(`${date}T00:00:00Z`).getUTCDay())) date = addDays(date, 1);
    }
    dates.push(date);
    const shock = gauss();
    sigma = Math.sqrt(0.00002 + 0.1 * (sigma * shock) ** 2 + 0.85 * sigma * sigma);
    let close: number;
    let open: number;
    let high: number;
    let low: number;
    let vol: number;
    if (i >= limitUpAt && i < limitUpAt + 5) {
      close = Math.round(prev * 1.1 * 100) / 100;
      open = high = low = close;
      vol = 2000 + 500 * rand();
    } else if (zeroVolumeAt.includes(i)) {
      close = open = high = low = prev;
      vol = 0;
    } else {
      const r = Math.max(-0.1, Math.min(0.1, sigma * shock));
      close = Math.round(prev * Math.exp(r) * 100) / 100;
      open = Math.round(prev * (1 + 0.3 * sigma * gauss()) * 100) / 100;
      high = Math.max(open, close) * (1 + Math.abs(sigma * gauss()) * 0.5);
      low = Math.min(open, close) * (1 - Math.abs(sigma * gauss()) * 0.5);
      vol = 50000 * (1 + 30 * Math.abs(r)) * (0.7 + 0.6 * rand());
    }
    a.open[i] = open;
    a.high[i] = high;
    a.low[i] = low;
    a.close[i] = close;
    a.preClose[i] = prev;
    a.change[i] = close - prev;
    a.pctChg[i] = (close / prev - 1) * 100;
    a.vol[i] = vol;
    a.amount[i] = vol === 0 ? 0 : (vol * 100 * (open + high + low + close)) / 4 / 1000;
    a.turnoverRate[i] = i % 17 === 3 ? NaN : vol / 20000;
    prev = close;
  }
  return { symbol, dates, ...a };
}
