/**
 * The figures of a simulation, from its daily rows. Excess return, information ratio and the excess drawdown are
 * Qlib's risk_analysis in its default "sum" mode (arithmetic: mean · N, mean / std · √N, the drawdown of the cumulative
 * sum), so they compare with Qlib's published tables; the portfolio's own return and drawdown are compounded.
 * Standard deviations are the sample ones (n − 1), as pandas and Qlib.
 */
import { CROSS_SECTION_DEFAULTS } from '../cross-section.js';
import type { DailyRow, RejectReason, SimulationRecord } from './simulator.js';

/** Trading days per year: the one figure the evaluation layer uses (Qlib uses 238; A-share years have 242 on average). */
export const PERIODS_PER_YEAR: number = CROSS_SECTION_DEFAULTS.periodsPerYear;

export function meanOf(values: ArrayLike<number>): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Sample standard deviation (n − 1); null under two values. */
export function sampleStd(values: ArrayLike<number>): number | null {
  const n = values.length;
  if (n < 2) return null;
  const m = meanOf(values) as number;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - m) ** 2;
  return Math.sqrt(ss / (n - 1));
}

/** The deepest fall of a value curve from its running peak, as a fraction (≤ 0). The starting value counts as a peak. */
export function maxDrawdown(curve: ArrayLike<number>, start?: number): number {
  let peak = start ?? (curve.length ? curve[0] : 0);
  let worst = 0;
  for (let i = 0; i < curve.length; i++) {
    if (curve[i] > peak) peak = curve[i];
    if (peak > 0) worst = Math.min(worst, curve[i] / peak - 1);
  }
  return worst;
}

/** Qlib's max_drawdown in "sum" mode: min(cumsum(r) − cummax(cumsum(r))), the running maximum starting at the first sum. */
export function maxDrawdownOfSum(returns: ArrayLike<number>): number {
  let sum = 0;
  let peak = -Infinity;
  let worst = 0;
  for (let i = 0; i < returns.length; i++) {
    sum += returns[i];
    if (sum > peak) peak = sum;
    worst = Math.min(worst, sum - peak);
  }
  return worst;
}

/** (1 + total)^(N / days) − 1. */
export function compoundAnnualised(totalReturn: number, days: number, periodsPerYear = PERIODS_PER_YEAR): number | null {
  if (days <= 0 || totalReturn <= -1) return totalReturn <= -1 ? -1 : null;
  return (1 + totalReturn) ** (periodsPerYear / days) - 1;
}

export interface ReturnSummary {
  total_return: number | null;
  /** Compounded: (1 + total)^(N / days) − 1. */
  annualised_return: number | null;
  /** std of the daily returns · √N. */
  volatility: number | null;
  /** mean / std of the daily returns · √N (no risk-free rate). */
  sharpe: number | null;
  /** Of the compounded curve. */
  max_drawdown: number | null;
}

export function summariseReturns(returns: ArrayLike<number>, periodsPerYear = PERIODS_PER_YEAR): ReturnSummary {
  if (returns.length === 0) return { total_return: null, annualised_return: null, volatility: null, sharpe: null, max_drawdown: null };
  const curve = new Float64Array(returns.length);
  let v = 1;
  for (let i = 0; i < returns.length; i++) curve[i] = v *= 1 + returns[i];
  const total = v - 1;
  const m = meanOf(returns) as number;
  const sd = sampleStd(returns);
  return {
    total_return: total,
    annualised_return: compoundAnnualised(total, returns.length, periodsPerYear),
    volatility: sd === null ? null : sd * Math.sqrt(periodsPerYear),
    sharpe: sd === null || sd === 0 ? null : (m / sd) * Math.sqrt(periodsPerYear),
    max_drawdown: maxDrawdown(curve, 1),
  };
}

/** Qlib's risk_analysis (mode "sum") of the daily excess returns. */
export interface ExcessSummary {
  /** mean(r − b) · N. */
  annualised: number | null;
  /** mean(r − b) / std(r − b) · √N. */
  information_ratio: number | null;
  /** min(cumsum(r − b) − its running maximum). */
  max_drawdown: number | null;
  /** std(r − b) · √N (tracking error). */
  tracking_error: number | null;
}

export function summariseExcess(returns: ArrayLike<number>, benchmark: ArrayLike<number>, periodsPerYear = PERIODS_PER_YEAR): ExcessSummary {
  const n = Math.min(returns.length, benchmark.length);
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) e[i] = returns[i] - benchmark[i];
  const m = meanOf(e);
  const sd = sampleStd(e);
  return {
    annualised: m === null ? null : m * periodsPerYear,
    information_ratio: m === null || sd === null || sd === 0 ? null : (m / sd) * Math.sqrt(periodsPerYear),
    max_drawdown: n ? maxDrawdownOfSum(e) : null,
    tracking_error: sd === null ? null : sd * Math.sqrt(periodsPerYear),
  };
}

export interface SimulationSummary {
  start: string | null;
  end: string | null;
  trading_days: number;
  starting_cash: number;
  final_equity: number;
  periods_per_year: number;
  /** With costs. */
  portfolio: ReturnSummary;
  /** The same strategy and rules with every cost at 0 (a second simulation, since costs change what cash can buy). */
  portfolio_without_costs: ReturnSummary;
  benchmark: ReturnSummary & { name: string };
  /** Against the benchmark, with costs and without. */
  excess: ExcessSummary;
  excess_without_costs: ExcessSummary;
  /** Mean over days of traded value (buys + sells) / the previous close's equity; a whole portfolio replaced in a day is 2. */
  turnover_daily: number | null;
  /** turnover_daily · N. */
  turnover_annualised: number | null;
  costs: { commission: number; stamp_duty: number; transfer_fee: number; total: number; share_of_starting_cash: number };
  trades: { buys: number; sells: number; traded_value: number };
  rejected: Record<RejectReason, number> & { total: number };
  /** Mean number of stocks held at the close. */
  mean_positions: number | null;
}

const returnsOf = (days: DailyRow[]) => Float64Array.from(days, (d) => d.return);

export function summariseSimulation(
  record: SimulationRecord,
  withoutCosts: SimulationRecord,
  options: { startingCash: number; benchmarkName: string; periodsPerYear?: number },
): SimulationSummary {
  const N = options.periodsPerYear ?? PERIODS_PER_YEAR;
  const { days, trades } = record;
  const r = returnsOf(days);
  const b = Float64Array.from(days, (d) => d.benchmark_return);
  const r0 = returnsOf(withoutCosts.days);
  const b0 = Float64Array.from(withoutCosts.days, (d) => d.benchmark_return);
  const costs = { commission: 0, stamp_duty: 0, transfer_fee: 0, total: 0, share_of_starting_cash: 0 };
  let buys = 0;
  let traded = 0;
  for (const t of trades) {
    costs.commission += t.commission;
    costs.stamp_duty += t.stamp_duty;
    costs.transfer_fee += t.transfer_fee;
    costs.total += t.cost;
    traded += t.value;
    if (t.side === 'buy') buys++;
  }
  for (const key of ['commission', 'stamp_duty', 'transfer_fee', 'total'] as const) costs[key] = Math.round(costs[key] * 100) / 100;
  costs.share_of_starting_cash = options.startingCash > 0 ? costs.total / options.startingCash : 0;
  const rejected = { limit_up: 0, limit_down: 0, suspended: 0, t_plus_1: 0, lot: 0, cash: 0, total: record.rejected.length };
  for (const x of record.rejected) rejected[x.reason]++;
  const turnover = days.map((d, i) => {
    const before = i === 0 ? options.startingCash : days[i - 1].equity;
    return before > 0 ? d.traded_value / before : 0;
  });
  const turnoverDaily = meanOf(turnover);
  return {
    start: days.length ? days[0].date : null,
    end: days.length ? days[days.length - 1].date : null,
    trading_days: days.length,
    starting_cash: options.startingCash,
    final_equity: days.length ? days[days.length - 1].equity : options.startingCash,
    periods_per_year: N,
    portfolio: summariseReturns(r, N),
    portfolio_without_costs: summariseReturns(r0, N),
    benchmark: { name: options.benchmarkName, ...summariseReturns(b, N) },
    excess: summariseExcess(r, b, N),
    excess_without_costs: summariseExcess(r0, b0, N),
    turnover_daily: turnoverDaily,
    turnover_annualised: turnoverDaily === null ? null : turnoverDaily * N,
    costs,
    trades: { buys, sells: trades.length - buys, traded_value: traded },
    rejected,
    mean_positions: meanOf(days.map((d) => d.positions)),
  };
}
