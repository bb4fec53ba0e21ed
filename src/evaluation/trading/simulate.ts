/** One call from forecasts and prices to a finished simulation: the strategy, both cost runs, the benchmark and the summary. */
import type { IsoDate } from '../../data/types.js';
import { ZERO_COSTS } from './costs.js';
import { buildSignals, type Market, type SignalInput } from './market.js';
import { PERIODS_PER_YEAR, summariseSimulation, type SimulationSummary } from './metrics.js';
import { benchmarkReturns, runSimulation, type SimulationRecord, type SimulationSettings, type Strategy } from './simulator.js';
import { longFlat, topkDropout } from './strategy.js';
import { UserError } from '../../util/errors.js';

export type StrategySpec =
  | { kind: 'topk'; topk: number; nDrop: number; riskDegree: number }
  | { kind: 'long-flat'; symbol: string; threshold: number; position: number };

export const STRATEGY_KINDS = ['topk', 'long-flat'] as const;

export interface BenchmarkSpec {
  /** An index code such as 000300, or "equal" for the equal-weighted universe. */
  name: string;
  /** The index's closes on the market's days (NaN where it has none); null for "equal". */
  closes: Float64Array | null;
}

export interface SimulationOutcome {
  summary: SimulationSummary;
  record: SimulationRecord;
  /** Forecasts that name a stock or day the market does not hold. */
  unmatchedForecasts: number;
}

/** Throws a UserError naming the first bad parameter of a strategy; callers check before loading any prices. */
export function checkStrategy(spec: StrategySpec): void {
  if (spec.kind === 'topk') {
    if (!Number.isInteger(spec.topk) || spec.topk < 1) throw new UserError(`topk must be a whole number ≥ 1, not ${spec.topk}`);
    if (!Number.isInteger(spec.nDrop) || spec.nDrop < 0 || spec.nDrop > spec.topk)
      throw new UserError(`n_drop must be a whole number in 0…topk (${spec.topk}), not ${spec.nDrop}`);
    if (!(spec.riskDegree > 0 && spec.riskDegree <= 1)) throw new UserError(`risk degree must be in (0, 1], not ${spec.riskDegree}`);
    return;
  }
  if (!(spec.position > 0 && spec.position <= 1)) throw new UserError(`position must be in (0, 1], not ${spec.position}`);
  if (!Number.isFinite(spec.threshold)) throw new UserError(`threshold must be a number, not ${spec.threshold}`);
}

export function strategyFor(market: Market, spec: StrategySpec): Strategy {
  checkStrategy(spec);
  if (spec.kind === 'topk') return topkDropout(spec);
  const stock = market.stocks.findIndex((s) => s.symbol === spec.symbol);
  if (stock < 0) throw new UserError(`long-flat: no prices for ${spec.symbol} in the database over the forecasts' dates`);
  return longFlat({ stock, threshold: spec.threshold, position: spec.position });
}

export function simulate(
  market: Market,
  forecasts: SignalInput[],
  spec: StrategySpec,
  settings: SimulationSettings,
  benchmark: BenchmarkSpec,
  periodsPerYear = PERIODS_PER_YEAR,
): SimulationOutcome {
  if (!(settings.cash > 0)) throw new UserError(`starting cash must be above 0, not ${settings.cash}`);
  const signals = buildSignals(market, forecasts);
  const returns = benchmarkReturns(market, benchmark.closes);
  const record = runSimulation(market, signals, strategyFor(market, spec), settings, returns);
  if (record.days.length === 0) throw new UserError(noDaysMessage(market, settings));
  const gross = runSimulation(market, signals, strategyFor(market, spec), { ...settings, costs: ZERO_COSTS }, returns);
  const summary = summariseSimulation(record, gross, { startingCash: settings.cash, benchmarkName: benchmark.name, periodsPerYear });
  return { summary, record, unmatchedForecasts: signals.unmatched };
}

function noDaysMessage(market: Market, settings: { start?: IsoDate; end?: IsoDate }): string {
  const span = market.dates.length ? `${market.dates[0]}…${market.dates[market.dates.length - 1]}` : 'none';
  const window = settings.start || settings.end ? ` within ${settings.start ?? '…'}…${settings.end ?? '…'}` : '';
  return `no trade day to simulate${window}: the forecasts need a later trading day in the database (its days: ${span})`;
}
