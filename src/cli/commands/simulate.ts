/**
 * `klinecast simulate --forecasts <run or backtest> --strategy topk|long-flat`: trades the forecasts under A-share rules
 * and saves the simulation beside them (docs/TRADING.md). Thin over src/runs/simulations.ts; this file parses flags
 * and prints the summary.
 */
import type { Command } from 'commander';
import { basename, relative } from 'node:path';
import { requireIsoDate, requireSymbol, withDatabase } from '../../data/index.js';
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
} from '../../evaluation/trading/index.js';
import { DEFAULT_OUTPUT_DIR } from '../../runs/index.js';
import { resolveForecastSource, runSimulationFor, writeSimulation, type SimulationFile } from '../../runs/simulations.js';
import { UserError } from '../../util/errors.js';
import { fmt, numberFlag, pct, printJson, printTable, wholeNumberFlag, type Cell } from '../output.js';

interface SimulateFlags {
  forecasts: string;
  strategy: string;
  topk: string;
  nDrop: string;
  riskDegree: string;
  symbol?: string;
  threshold: string;
  position: string;
  dealPrice: string;
  cash: string;
  benchmark: string;
  start?: string;
  end?: string;
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
  name?: string;
  json?: boolean;
  outputDir: string;
  database?: string;
}

function strategyOf(opts: SimulateFlags): StrategySpec {
  if (opts.strategy === 'topk') {
    return {
      kind: 'topk',
      topk: wholeNumberFlag('topk', opts.topk, 1),
      nDrop: wholeNumberFlag('n-drop', opts.nDrop),
      riskDegree: numberFlag('risk-degree', opts.riskDegree),
    };
  }
  if (opts.strategy === 'long-flat') {
    return {
      kind: 'long-flat',
      symbol: opts.symbol === undefined ? '' : requireSymbol(opts.symbol),
      threshold: numberFlag('threshold', opts.threshold),
      position: numberFlag('position', opts.position),
    };
  }
  throw new UserError(`--strategy must be one of ${STRATEGY_KINDS.join(', ')}, not "${opts.strategy}"`);
}

function rateFlag(flag: string, raw: string): number {
  const value = numberFlag(flag, raw);
  if (value < 0 || value >= 1) throw new UserError(`--${flag} is a fraction of the traded value in [0, 1), e.g. 0.00025 for 0.025%, not "${raw}"`);
  return value;
}

function costsOf(opts: SimulateFlags): CostModel {
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

function printSummary(file: SimulationFile, dir: string): void {
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

export function register(program: Command): void {
  program
    .command('simulate')
    .description('trade forecasts under A-share rules (T+1, lots, price limits, suspensions, costs) and save the equity curve, trades and figures')
    .requiredOption(
      '--forecasts <ref>',
      'a run (name or folder: its results/predictions.json), a backtest (name in <output>/backtests/ or folder: forecasts.json), or a forecasts file',
    )
    .option('--strategy <name>', 'topk (many stocks, Qlib TopkDropout) | long-flat (one stock)', 'topk')
    .option('--topk <n>', 'topk: stocks held', String(TOPK_DEFAULTS.topk))
    .option('--n-drop <n>', 'topk: at most this many replaced a day', String(TOPK_DEFAULTS.nDrop))
    .option('--risk-degree <p>', "topk: share of the cash spent on a day's buys", String(TOPK_DEFAULTS.riskDegree))
    .option('--symbol <code>', "long-flat: the stock (default: the forecasts' only one)")
    .option('--threshold <r>', 'long-flat: hold while the predicted log return is above this', String(LONG_FLAT_DEFAULTS.threshold))
    .option('--position <p>', 'long-flat: share of the equity put in on entry', String(LONG_FLAT_DEFAULTS.position))
    .option('--deal-price <p>', "open | close: the trade day's open (default) or close; the trade day is the one after the forecast's base day", 'open')
    .option('--cash <cny>', 'starting cash', String(DEFAULT_SIMULATION.cash))
    .option('--benchmark <code>', 'an index in the database (000300) or equal (the equal-weighted forecast stocks)', '000300')
    .option('--start <date>', 'first trade day (default: the day after the first forecast)')
    .option('--end <date>', 'last trade day (default: the day after the last forecast)')
    .option('--no-t-plus-1', 'allow selling shares the day they are bought')
    .option('--no-limits', 'ignore price limits')
    .option('--no-lots', 'trade any whole number of shares')
    .option('--no-suspensions', 'let a stock without a bar trade at its last close')
    .option('--no-costs', 'no commission, stamp duty or transfer fee')
    .option('--commission <rate>', 'commission rate, both sides', String(DEFAULT_COSTS.commissionRate))
    .option('--min-commission <cny>', 'minimum commission per fill', String(DEFAULT_COSTS.minCommission))
    .option('--stamp-duty <rate>', `stamp duty on sells before ${DEFAULT_COSTS.stampDutyCutDate}`, String(DEFAULT_COSTS.stampDutyRate))
    .option('--stamp-duty-after <rate>', `stamp duty on sells from ${DEFAULT_COSTS.stampDutyCutDate}`, String(DEFAULT_COSTS.stampDutyRateAfterCut))
    .option('--transfer-fee <rate>', 'transfer fee rate, both sides', String(DEFAULT_COSTS.transferFeeRate))
    .option('--name <name>', 'the simulation folder (default {strategy}_{YYYYMMDD_HHMMSS})')
    .option('--json', "print simulation.json's settings and summary as JSON")
    .option('--output-dir <dir>', 'folder holding the runs (and backtests/)', DEFAULT_OUTPUT_DIR)
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .action(async (opts: SimulateFlags) => {
      if (opts.dealPrice !== 'open' && opts.dealPrice !== 'close') throw new UserError(`--deal-price must be open or close, not "${opts.dealPrice}"`);
      const benchmark = opts.benchmark === 'equal' ? 'equal' : requireSymbol(opts.benchmark);
      const cash = numberFlag('cash', opts.cash);
      if (cash <= 0) throw new UserError(`--cash must be above 0, not "${opts.cash}"`);
      const request = {
        strategy: strategyOf(opts),
        dealPrice: opts.dealPrice as DealPrice,
        cash,
        benchmark,
        start: opts.start === undefined ? undefined : requireIsoDate(opts.start, '--start'),
        end: opts.end === undefined ? undefined : requireIsoDate(opts.end, '--end'),
        rules: { ...DEFAULT_RULES, tPlusOne: opts.tPlus1, priceLimits: opts.limits, lots: opts.lots, suspensions: opts.suspensions },
        costs: costsOf(opts),
        name: opts.name,
      };
      const source = resolveForecastSource(opts.forecasts, opts.outputDir);
      const file = await withDatabase(opts.database, (database) => runSimulationFor(database, source, request));
      const dir = writeSimulation(source, file);
      if (opts.json) printJson({ dir, name: file.name, source: file.source, settings: file.settings, forecasts: file.forecasts, summary: file.summary });
      else printSummary(file, dir);
    });
}
