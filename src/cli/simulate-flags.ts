/**
 * The one table of a trading simulation's options (docs/TRADING.md): the strategy's parameters, the A-share rules, the
 * costs, the deal price, the cash and the benchmark. `klinecast simulate` and `klinecast backtest --simulate` both add
 * them from here and turn them into the same SimulationRequest, and both print the result with printSimulationSummary.
 */
import type { Command } from 'commander';
import { basename, relative } from 'node:path';
import { requireIsoDate, requireSymbol } from '../data/index.js';
import {
  DEFAULT_COSTS,
  DEFAULT_RULES,
  DEFAULT_SIMULATION,
  LONG_FLAT_DEFAULTS,
  STRATEGY_KINDS,
  TOPK_DEFAULTS,
  ZERO_COSTS,
  type CostModel,
  type DealPrice,
  type StrategySpec,
} from '../evaluation/trading/index.js';
import type { SimulationFile, SimulationRequest } from '../runs/simulations.js';
import { UserError } from '../util/errors.js';
import { fmt, numberFlag, pct, printTable, wholeNumberFlag, type Cell } from './output.js';

/** What commander hands over for the table's options. */
export interface SimulationFlags {
  topk: string;
  nDrop: string;
  riskDegree: string;
  threshold: string;
  position: string;
  dealPrice: string;
  cash: string;
  benchmark: string;
  tPlus1: boolean;
  limits: boolean;
  lots: boolean;
  suspensions: boolean;
  costs: boolean;
  commission: string;
  minCommission: string;
  stampDuty: string;
  stampDutyAfter: string;
  transferFee: string;
}

/** Adds the simulation's options to a command (simulate, or backtest for its --simulate step). */
export function addSimulationFlags(command: Command): Command {
  return command
    .option('--topk <n>', 'topk: stocks held', String(TOPK_DEFAULTS.topk))
    .option('--n-drop <n>', 'topk: at most this many replaced a day', String(TOPK_DEFAULTS.nDrop))
    .option('--risk-degree <p>', "topk: share of the cash spent on a day's buys", String(TOPK_DEFAULTS.riskDegree))
    .option('--threshold <r>', 'long-flat: hold while the predicted log return is above this', String(LONG_FLAT_DEFAULTS.threshold))
    .option('--position <p>', 'long-flat: share of the equity put in on entry', String(LONG_FLAT_DEFAULTS.position))
    .option('--deal-price <p>', "open | close: the trade day's open (default) or close; the trade day is the one after the forecast's base day", 'open')
    .option('--cash <cny>', 'starting cash', String(DEFAULT_SIMULATION.cash))
    .option('--benchmark <code>', 'an index in the database (000300) or equal (the equal-weighted forecast stocks)', '000300')
    .option('--no-t-plus-1', 'allow selling shares the day they are bought')
    .option('--no-limits', 'ignore price limits')
    .option('--no-lots', 'trade any whole number of shares')
    .option('--no-suspensions', 'let a stock without a bar trade at its last close')
    .option('--no-costs', 'no commission, stamp duty or transfer fee')
    .option('--commission <rate>', 'commission rate, both sides', String(DEFAULT_COSTS.commissionRate))
    .option('--min-commission <cny>', 'minimum commission per fill', String(DEFAULT_COSTS.minCommission))
    .option('--stamp-duty <rate>', `stamp duty on sells before ${DEFAULT_COSTS.stampDutyCutDate}`, String(DEFAULT_COSTS.stampDutyRate))
    .option('--stamp-duty-after <rate>', `stamp duty on sells from ${DEFAULT_COSTS.stampDutyCutDate}`, String(DEFAULT_COSTS.stampDutyRateAfterCut))
    .option('--transfer-fee <rate>', 'transfer fee rate, both sides', String(DEFAULT_COSTS.transferFeeRate));
}

/** The strategy flag's text as a kind, or an error naming the flag it came from (--strategy, --simulate). */
export function strategyKindOf(flag: string, raw: string): StrategySpec['kind'] {
  if ((STRATEGY_KINDS as readonly string[]).includes(raw)) return raw as StrategySpec['kind'];
  throw new UserError(`--${flag} must be one of ${STRATEGY_KINDS.join(', ')}, not "${raw}"`);
}

function strategyOf(kind: StrategySpec['kind'], opts: SimulationFlags, symbol: string | undefined): StrategySpec {
  if (kind === 'topk') {
    return {
      kind: 'topk',
      topk: wholeNumberFlag('topk', opts.topk, 1),
      nDrop: wholeNumberFlag('n-drop', opts.nDrop),
      riskDegree: numberFlag('risk-degree', opts.riskDegree),
    };
  }
  return {
    kind: 'long-flat',
    symbol: symbol === undefined ? '' : requireSymbol(symbol),
    threshold: numberFlag('threshold', opts.threshold),
    position: numberFlag('position', opts.position),
  };
}

function rateFlag(flag: string, raw: string): number {
  const value = numberFlag(flag, raw);
  if (value < 0 || value >= 1) throw new UserError(`--${flag} is a fraction of the traded value in [0, 1), e.g. 0.00025 for 0.025%, not "${raw}"`);
  return value;
}

function costsOf(opts: SimulationFlags): CostModel {
  if (!opts.costs) return ZERO_COSTS;
  const minCommission = numberFlag('min-commission', opts.minCommission);
  if (minCommission < 0) throw new UserError(`--min-commission must be ≥ 0, not "${opts.minCommission}"`);
  return {
    ...DEFAULT_COSTS,
    commissionRate: rateFlag('commission', opts.commission),
    minCommission,
    stampDutyRate: rateFlag('stamp-duty', opts.stampDuty),
    stampDutyRateAfterCut: rateFlag('stamp-duty-after', opts.stampDutyAfter),
    transferFeeRate: rateFlag('transfer-fee', opts.transferFee),
  };
}

/**
 * The table's flags as a SimulationRequest, every value checked (errors name the flag). `extra` is what only
 * `simulate` takes: long-flat's stock, the trade period and the folder name.
 */
export function simulationRequestOf(
  kind: StrategySpec['kind'],
  opts: SimulationFlags,
  extra: { symbol?: string; start?: string; end?: string; name?: string } = {},
): SimulationRequest {
  if (opts.dealPrice !== 'open' && opts.dealPrice !== 'close') throw new UserError(`--deal-price must be open or close, not "${opts.dealPrice}"`);
  const cash = numberFlag('cash', opts.cash);
  if (cash <= 0) throw new UserError(`--cash must be above 0, not "${opts.cash}"`);
  return {
    strategy: strategyOf(kind, opts, extra.symbol),
    dealPrice: opts.dealPrice as DealPrice,
    cash,
    benchmark: opts.benchmark === 'equal' ? 'equal' : requireSymbol(opts.benchmark),
    start: extra.start === undefined ? undefined : requireIsoDate(extra.start, '--start'),
    end: extra.end === undefined ? undefined : requireIsoDate(extra.end, '--end'),
    rules: { ...DEFAULT_RULES, tPlusOne: opts.tPlus1, priceLimits: opts.limits, lots: opts.lots, suspensions: opts.suspensions },
    costs: costsOf(opts),
    name: extra.name,
  };
}

/** The simulation's figures as a table beside the benchmark, its costs and its rejected orders, and where it was saved. */
export function printSimulationSummary(file: SimulationFile, dir: string): void {
  const s = file.summary;
  const row = (label: string, a: Cell, b: Cell = null, c: Cell = null): Cell[] => [label, a, b, c];
  console.log(
    `${basename(dir)}: ${file.settings.strategy.kind} on ${file.source.kind} ${file.source.name}, ${s.start} … ${s.end} (${s.trading_days} trade days)`,
  );
  printTable(
    ['', 'with costs', 'without costs', `benchmark ${s.benchmark.name}`],
    [
      row('total return', pct(s.portfolio.total_return), pct(s.portfolio_without_costs.total_return), pct(s.benchmark.total_return)),
      row('annualised return', pct(s.portfolio.annualised_return), pct(s.portfolio_without_costs.annualised_return), pct(s.benchmark.annualised_return)),
      row('max drawdown', pct(s.portfolio.max_drawdown), pct(s.portfolio_without_costs.max_drawdown), pct(s.benchmark.max_drawdown)),
      row('volatility', pct(s.portfolio.volatility), pct(s.portfolio_without_costs.volatility), pct(s.benchmark.volatility)),
      row('excess return (ann., Qlib sum)', pct(s.excess.annualised), pct(s.excess_without_costs.annualised)),
      row('information ratio', fmt(s.excess.information_ratio, 3), fmt(s.excess_without_costs.information_ratio, 3)),
      row('excess max drawdown', pct(s.excess.max_drawdown), pct(s.excess_without_costs.max_drawdown)),
    ],
  );
  const r = s.rejected;
  console.log(
    `final equity ${s.final_equity.toFixed(2)} from ${s.starting_cash}; costs ${s.costs.total.toFixed(2)} CNY (commission ${s.costs.commission.toFixed(2)}, stamp duty ${s.costs.stamp_duty.toFixed(2)}, transfer ${s.costs.transfer_fee.toFixed(2)}); ` +
      `turnover ${fmt(s.turnover_daily, 3)}/day; ${s.trades.buys} buys, ${s.trades.sells} sells`,
  );
  console.log(
    `rejected orders: ${r.total} (limit-up ${r.limit_up}, limit-down ${r.limit_down}, suspended ${r.suspended}, T+1 ${r.t_plus_1}, lot ${r.lot}, cash ${r.cash})`,
  );
  if (file.forecasts.stocks_without_prices.length) console.log(`no prices in the database for ${file.forecasts.stocks_without_prices.join(', ')} (left out)`);
  const shown = relative(process.cwd(), dir);
  console.log(`saved ${shown.startsWith('..') || shown === '' ? dir : shown}`);
}
