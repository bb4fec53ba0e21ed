/**
 * Adjusted prices (复权, DESIGN.md §1 `data.adjust`). On an ex-dividend or bonus-share day the exchange lowers the
 * reference price (pre_close) below the previous close, and the raw close drops with no loss to the holder; features
 * and targets computed from close / previous close would learn a move that never happened. Adjusting multiplies every
 * price by a cumulative factor that steps up on those days, so the adjusted series moves only as a holder's wealth does.
 *
 * The factor comes from tushare's adj_factor (the `adj_factor` table, filled by `data import`) on the days it has,
 * otherwise from pre_close: factor_t / factor_{t−1} = close_{t−1} / pre_close_t where pre_close_t is below the
 * previous bar's close beyond rounding (PRE_CLOSE_TOLERANCE). The previous bar is the previous *stored* bar, so a
 * suspension is handled as the exchange does it: pre_close of the first bar after the gap is the last close before it,
 * less whatever was paid out meanwhile.
 *
 * qfq (前复权) divides by the factor of the last loaded bar: its prices are today's raw prices, and older ones are
 * scaled down. hfq (后复权) divides by the first loaded bar's factor. Volumes are divided by the same multiplier (as
 * Qlib does), so vol × price, and with it amount / vol, stays the traded value: a 10送5 day does not look like a 50%
 * volume surge, and avg_price_rel stays the day's average price against its close. amount, pct_chg and turnover_rate
 * are ratios or money and stay as stored.
 */
import type { ExRightsEvent, IsoDate, KlineSeries, SeriesAdjustment } from './types.js';

export const ADJUST_MODES = ['qfq', 'hfq', 'none'] as const;
export type AdjustMode = (typeof ADJUST_MODES)[number];

/**
 * The default of data.adjust: tushare `daily` bars, which most users' stock_db holds, are unadjusted; and on bars that
 * are already adjusted (pre_close equal to the previous close) the pre_close derivation finds no step, so qfq changes
 * nothing there.
 */
export const DEFAULT_ADJUST: AdjustMode = 'qfq';

/**
 * When pre_close_t differs from the previous close by rounding only. A step is taken where pre_close is below the
 * previous close by more than half a price tick (0.005 CNY) AND by more than 0.1%:
 * - raw exchange prices are whole ticks (0.01 CNY), so on an ordinary day pre_close equals the previous close exactly;
 * - already adjusted data (tushare qfq, stored at 4 decimals from a 3-decimal adj_factor) shows residuals up to 0.071%
 *   on its own ex-dividend days (measured over the 33 files of ../shared/data/ashare), which must not count twice.
 * A payout below 0.1% of the price is left alone: it changes one day's return by less than a tenth of a percent, far
 * inside a stock's daily noise.
 */
export const PRE_CLOSE_TOLERANCE = { absolute: 0.005, relative: 1e-3 } as const;

/**
 * A pre_close *above* the previous close. No A-share corporate action raises the reference price (dividends, bonus
 * shares, conversions and rights issues all lower it), so this is never an ex-rights day: it is data adjusted with
 * factors the exchange's pre_close does not know (tushare qfq data on the 2005–06 share-structure reform days, when the
 * exchanges set no ex-rights reference price but tushare's factor includes the compensation shares), or a splice. It is
 * left alone and `data check` lists it.
 */
export interface PreCloseAnomaly {
  date: IsoDate;
  previousClose: number;
  preClose: number;
}

export interface AdjustFactors {
  /** cumulative factor per bar, 1 on the first bar */
  factor: Float64Array;
  exRights: ExRightsEvent[];
  anomalies: PreCloseAnomaly[];
  source: SeriesAdjustment['source'];
}

/**
 * The step pre_close implies on a bar (close_{t−1} / pre_close_t), 1 within rounding, or −1 for a pre_close above the
 * previous close (an anomaly, not adjusted). A number, not an object: this runs for every bar of every stock.
 */
function preCloseStep(previousClose: number, preClose: number): number {
  if (!(previousClose > 0) || !(preClose > 0)) return 1;
  const gap = previousClose - preClose;
  const size = Math.abs(gap);
  if (size <= PRE_CLOSE_TOLERANCE.absolute || size <= PRE_CLOSE_TOLERANCE.relative * previousClose) return 1;
  return gap > 0 ? previousClose / preClose : -1;
}

/**
 * The cumulative adjustment factor of a series (raw bars, ascending): adj_factor's own steps between consecutive bars
 * that both have one, pre_close's elsewhere.
 */
export function deriveFactors(series: KlineSeries, adjFactors?: ReadonlyMap<IsoDate, number>): AdjustFactors {
  if (series.adjustment) throw new Error(`deriveFactors: the ${series.symbol} series is already adjusted (${series.adjustment.mode})`);
  const n = series.dates.length;
  const factor = new Float64Array(n);
  const exRights: ExRightsEvent[] = [];
  const anomalies: PreCloseAnomaly[] = [];
  const { close, preClose, dates } = series;
  let fromTable = 0;
  let fromPreClose = 0;
  if (n > 0) factor[0] = 1;
  const table = adjFactors !== undefined && adjFactors.size > 0 ? adjFactors : null;
  for (let t = 1; t < n; t++) {
    const now = table?.get(dates[t]);
    const before = table?.get(dates[t - 1]);
    let step: number;
    let source: ExRightsEvent['source'];
    if (now !== undefined && before !== undefined && now > 0 && before > 0) {
      step = now / before;
      source = 'adj_factor';
      fromTable++;
    } else {
      step = preCloseStep(close[t - 1], preClose[t]);
      if (step < 0) {
        anomalies.push({ date: dates[t], previousClose: close[t - 1], preClose: preClose[t] });
        step = 1;
      }
      source = 'pre_close';
      fromPreClose++;
    }
    factor[t] = factor[t - 1] * step;
    if (step !== 1) exRights.push({ date: dates[t], step, source, previousClose: close[t - 1], preClose: preClose[t] });
  }
  const source = fromTable === 0 ? 'pre_close' : fromPreClose === 0 ? 'adj_factor' : 'mixed';
  return { factor, exRights, anomalies, source };
}

/**
 * The series in `mode`: a new series with adjusted columns and `adjustment` set, or the series itself for `none` and
 * for a series already adjusted in the same mode (so adjusting twice changes nothing). `adjFactors` are the symbol's
 * adj_factor rows by date (the loader reads them); without them the factors come from pre_close alone.
 */
export function adjustSeries(series: KlineSeries, mode: AdjustMode, adjFactors?: ReadonlyMap<IsoDate, number>): KlineSeries {
  if (series.adjustment) {
    if (series.adjustment.mode === mode) return series;
    throw new Error(`adjustSeries: the ${series.symbol} series is already adjusted (${series.adjustment.mode}), ${mode} was asked`);
  }
  if (mode === 'none') return series;
  const n = series.dates.length;
  const { factor, exRights, source } = deriveFactors(series, adjFactors);
  const anchor = n === 0 ? 1 : mode === 'qfq' ? factor[n - 1] : factor[0];
  // Plain loops into preallocated columns: this runs for every stock of a whole-market forecast.
  const multiplier = new Float64Array(n);
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  const preClose = new Float64Array(n);
  const change = new Float64Array(n);
  const vol = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = factor[i] / anchor;
    multiplier[i] = m;
    open[i] = series.open[i] * m;
    high[i] = series.high[i] * m;
    low[i] = series.low[i] * m;
    close[i] = series.close[i] * m;
    preClose[i] = series.preClose[i] * m;
    change[i] = series.change[i] * m;
    vol[i] = series.vol[i] / m;
  }
  return {
    ...series,
    open,
    high,
    low,
    close,
    preClose,
    change,
    vol,
    amount: series.amount.slice(),
    pctChg: series.pctChg.slice(),
    turnoverRate: series.turnoverRate.slice(),
    adjustment: { mode, source, multiplier, exRights },
  };
}

/** Bar i's price as stored (raw), from an adjusted or raw series. */
export function rawPrice(series: KlineSeries, adjusted: number, i: number): number {
  return series.adjustment ? adjusted / series.adjustment.multiplier[i] : adjusted;
}
