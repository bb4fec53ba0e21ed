/**
 * The day loop: a strategy decides after the close of the signal day t, and its orders fill on the next trading day
 * t+1 at that day's open (or close), under the rules (T+1, lots, price limits by board and date, suspensions) and the
 * costs. Every order that cannot fill is kept with its reason. Pure: no I/O, deterministic.
 */
import type { IsoDate, Symbol6 } from '../../data/types.js';
import { DEFAULT_COSTS, fillCosts, type CostModel } from './costs.js';
import { LIMIT_UNKNOWN, type Market, type Signals } from './market.js';
import { atLimitDown, atLimitUp, limitPrices, lotRule, priceLimit, roundBuyShares, roundSellShares, unlimitedListingDays } from './rules.js';

export type DealPrice = 'open' | 'close';

export interface RuleToggles {
  /** Shares bought on a day can be sold from the next trading day. */
  tPlusOne: boolean;
  /** Limit-up refuses buys, limit-down refuses sells. */
  priceLimits: boolean;
  /** Lots of 100 (STAR: 200, then steps of 1); off: any whole number of shares. */
  lots: boolean;
  /** No bar (or vol 0) refuses every order; off: a suspended stock trades at its last close. */
  suspensions: boolean;
}

export const DEFAULT_RULES: RuleToggles = { tPlusOne: true, priceLimits: true, lots: true, suspensions: true };

export interface SimulationSettings {
  cash: number;
  dealPrice: DealPrice;
  costs: CostModel;
  rules: RuleToggles;
  /** First and last trade day (inclusive); default: the day after the first forecast, to the day after the last. */
  start?: IsoDate;
  end?: IsoDate;
}

export const DEFAULT_SIMULATION: SimulationSettings = { cash: 1_000_000, dealPrice: 'open', costs: DEFAULT_COSTS, rules: DEFAULT_RULES };

export type RejectReason = 'limit_up' | 'limit_down' | 'suspended' | 't_plus_1' | 'lot' | 'cash';

export interface Trade {
  date: IsoDate;
  /** The day whose forecasts the order came from. */
  signal_date: IsoDate;
  symbol: Symbol6;
  side: 'buy' | 'sell';
  shares: number;
  price: number;
  /** shares · price. */
  value: number;
  commission: number;
  stamp_duty: number;
  transfer_fee: number;
  /** commission + stamp_duty + transfer_fee. */
  cost: number;
}

export interface RejectedOrder {
  date: IsoDate;
  signal_date: IsoDate;
  symbol: Symbol6;
  side: 'buy' | 'sell';
  reason: RejectReason;
  /** Shares asked for (sells) or the CNY value to invest (buys). */
  requested: number;
  /** The deal price that day, or null when the stock had no bar. */
  price: number | null;
}

export interface PositionRow {
  date: IsoDate;
  symbol: Symbol6;
  shares: number;
  /** The close the position is valued at (the last known close on a suspended day). */
  close: number;
  value: number;
  /** value / equity. */
  weight: number;
}

export interface DailyRow {
  date: IsoDate;
  cash: number;
  market_value: number;
  equity: number;
  /** equity / previous equity − 1 (the first day against the starting cash). */
  return: number;
  /** The benchmark's close-to-close return that day. */
  benchmark_return: number;
  /** Buys + sells, CNY. */
  traded_value: number;
  costs: number;
  positions: number;
}

export interface SimulationRecord {
  days: DailyRow[];
  trades: Trade[];
  rejected: RejectedOrder[];
  positions: PositionRow[];
}

/** What a strategy sees and does on a trade day: it reads the signal day's scores and its holdings, then orders. */
export interface DayContext {
  readonly date: IsoDate;
  readonly signalDate: IsoDate;
  /** Scores by stock index (market.stocks order) from the signal day; NaN = no forecast. */
  readonly scores: Float64Array;
  readonly market: Market;
  /** Cash now (after the fills so far today). */
  cash(): number;
  /** Equity at the previous close. */
  previousEquity(): number;
  /** Stock indices held, ascending. */
  holdings(): number[];
  shares(stock: number): number;
  /** Buys for about `value` CNY (rounded down to the lot, fees included); false when refused (kept in `rejected`). */
  buy(stock: number, value: number): boolean;
  /** Sells `shares` (default: the whole position); false when refused. */
  sell(stock: number, shares?: number): boolean;
}

export interface Strategy {
  name: string;
  decide(ctx: DayContext): void;
}

interface Holding {
  shares: number;
  /** Shares bought today (not sellable today under T+1). */
  boughtToday: number;
  lastClose: number;
}

/** The benchmark's daily returns on the market's days (index = market day). */
export type BenchmarkReturns = Float64Array;

/** Which trade days the simulation covers: [first, last] market day indices. */
export function simulationDays(market: Market, signals: Signals, settings: Pick<SimulationSettings, 'start' | 'end'>): { first: number; last: number } | null {
  let firstSignal = -1;
  let lastSignal = -1;
  for (let d = 0; d < market.dates.length; d++) {
    if (signals.hasSignal[d]) {
      if (firstSignal < 0) firstSignal = d;
      lastSignal = d;
    }
  }
  if (firstSignal < 0) return null;
  let first = firstSignal + 1;
  let last = Math.min(lastSignal + 1, market.dates.length - 1);
  if (settings.start) while (first < market.dates.length && market.dates[first] < settings.start) first++;
  if (settings.end) while (last >= 0 && market.dates[last] > settings.end) last--;
  return first <= last ? { first, last } : null;
}

export function runSimulation(
  market: Market,
  signals: Signals,
  strategy: Strategy,
  settings: SimulationSettings,
  benchmark: BenchmarkReturns,
): SimulationRecord {
  const record: SimulationRecord = { days: [], trades: [], rejected: [], positions: [] };
  const range = simulationDays(market, signals, settings);
  if (range === null) return record;
  const nd = market.dates.length;
  const ns = market.stocks.length;
  const { rules, costs, dealPrice } = settings;
  const held = new Map<number, Holding>();
  let cash = settings.cash;
  let equity = settings.cash;
  let date = '';
  let signalDate = '';
  let day = 0;
  let tradedToday = 0;
  let costsToday = 0;
  let scores: Float64Array = new Float64Array(0);

  const barAt = (stock: number) => stock * nd + day;
  const suspended = (at: number) => {
    const v = market.vol[at];
    return Number.isNaN(market.close[at]) || !(v > 0);
  };
  const dealPriceAt = (stock: number): number => {
    const at = barAt(stock);
    const p = dealPrice === 'open' ? market.open[at] : market.close[at];
    if (!Number.isNaN(p)) return p;
    return held.get(stock)?.lastClose ?? NaN;
  };
  /** 1 when the deal price is at limit-up, -1 at limit-down, 0 otherwise (or when the day has no limit). */
  const limitAt = (stock: number, price: number): number => {
    if (!rules.priceLimits) return 0;
    const at = barAt(stock);
    const info = market.stocks[stock];
    if (dealPrice === 'close' && market.limitStatus[at] !== LIMIT_UNKNOWN) return market.limitStatus[at];
    const pre = market.preClose[at];
    if (info.board === null || !(pre > 0) || Number.isNaN(price)) return 0;
    const listing = market.listingDay[at];
    if (info.listDate !== null && listing > 0 && listing <= unlimitedListingDays(info.board, info.listDate)) return 0;
    const { up, down } = limitPrices(pre, priceLimit(info.board, info.st, date));
    return atLimitUp(price, up) ? 1 : atLimitDown(price, down) ? -1 : 0;
  };
  const reject = (stock: number, side: 'buy' | 'sell', reason: RejectReason, requested: number, price: number) => {
    record.rejected.push({
      date,
      signal_date: signalDate,
      symbol: market.stocks[stock].symbol,
      side,
      reason,
      requested,
      price: Number.isNaN(price) ? null : price,
    });
    return false;
  };
  const fill = (stock: number, side: 'buy' | 'sell', shares: number, price: number) => {
    const value = shares * price;
    const fees = fillCosts(costs, side, value, date);
    record.trades.push({
      date,
      signal_date: signalDate,
      symbol: market.stocks[stock].symbol,
      side,
      shares,
      price,
      value,
      commission: fees.commission,
      stamp_duty: fees.stampDuty,
      transfer_fee: fees.transferFee,
      cost: fees.total,
    });
    tradedToday += value;
    costsToday += fees.total;
    return fees.total;
  };

  const ctx: DayContext = {
    get date() {
      return date;
    },
    get signalDate() {
      return signalDate;
    },
    get scores() {
      return scores;
    },
    market,
    cash: () => cash,
    previousEquity: () => equity,
    holdings: () => [...held.keys()].sort((a, b) => a - b),
    shares: (stock) => held.get(stock)?.shares ?? 0,
    buy(stock, value) {
      const at = barAt(stock);
      const price = dealPriceAt(stock);
      if (rules.suspensions && suspended(at)) return reject(stock, 'buy', 'suspended', value, price);
      if (!(price > 0)) return reject(stock, 'buy', 'suspended', value, price);
      if (limitAt(stock, price) === 1) return reject(stock, 'buy', 'limit_up', value, price);
      const board = market.stocks[stock].board;
      const round = (n: number) => (rules.lots ? roundBuyShares(n, board) : Math.floor(n + 1e-9));
      let shares = round(value / price);
      if (shares <= 0) return reject(stock, 'buy', 'lot', value, price);
      const affordable = (n: number) => n * price + fillCosts(costs, 'buy', n * price, date).total <= cash + 1e-9;
      if (!affordable(shares)) {
        // The largest quantity the cash pays for, fees included (the minimum commission makes this a search, not a division).
        shares = Math.min(shares, round(cash / (price * (1 + costs.commissionRate + costs.transferFeeRate))));
        const step = rules.lots ? lotRule(board).step : 1;
        while (shares > 0 && !affordable(shares)) shares = round(shares - step);
        if (shares <= 0) return reject(stock, 'buy', 'cash', value, price);
      }
      const fees = fill(stock, 'buy', shares, price);
      cash -= shares * price + fees;
      const h = held.get(stock);
      if (h) {
        h.shares += shares;
        h.boughtToday += shares;
      } else held.set(stock, { shares, boughtToday: shares, lastClose: price });
      return true;
    },
    sell(stock, shares) {
      const h = held.get(stock);
      if (!h) return false;
      const at = barAt(stock);
      const price = dealPriceAt(stock);
      const wanted = shares ?? h.shares;
      if (rules.suspensions && suspended(at)) return reject(stock, 'sell', 'suspended', wanted, price);
      if (limitAt(stock, price) === -1) return reject(stock, 'sell', 'limit_down', wanted, price);
      const sellable = rules.tPlusOne ? h.shares - h.boughtToday : h.shares;
      if (sellable <= 0) return reject(stock, 'sell', 't_plus_1', wanted, price);
      const board = market.stocks[stock].board;
      const n = rules.lots ? roundSellShares(Math.min(wanted, sellable), h.shares, board) : Math.min(wanted, sellable);
      if (n > sellable) return reject(stock, 'sell', 't_plus_1', wanted, price);
      if (n <= 0) return reject(stock, 'sell', 'lot', wanted, price);
      const fees = fill(stock, 'sell', n, price);
      cash += n * price - fees;
      h.shares -= n;
      if (h.shares === 0) held.delete(stock);
      return true;
    },
  };

  for (day = range.first; day <= range.last; day++) {
    date = market.dates[day];
    signalDate = market.dates[day - 1];
    tradedToday = 0;
    costsToday = 0;
    for (const h of held.values()) h.boughtToday = 0;
    if (signals.hasSignal[day - 1]) {
      scores = signals.scores.subarray((day - 1) * ns, day * ns);
      strategy.decide(ctx);
    }
    let marketValue = 0;
    const rows: Array<{ stock: number; value: number; close: number; shares: number }> = [];
    for (const [stock, h] of held) {
      const c = market.close[stock * nd + day];
      if (!Number.isNaN(c)) h.lastClose = c;
      const value = h.shares * h.lastClose;
      marketValue += value;
      rows.push({ stock, value, close: h.lastClose, shares: h.shares });
    }
    const previous = equity;
    equity = cash + marketValue;
    rows.sort((a, b) => a.stock - b.stock);
    for (const r of rows) {
      record.positions.push({
        date,
        symbol: market.stocks[r.stock].symbol,
        shares: r.shares,
        close: r.close,
        value: r.value,
        weight: equity > 0 ? r.value / equity : 0,
      });
    }
    record.days.push({
      date,
      cash,
      market_value: marketValue,
      equity,
      return: previous > 0 ? equity / previous - 1 : 0,
      benchmark_return: benchmark[day],
      traded_value: tradedToday,
      costs: costsToday,
      positions: held.size,
    });
  }
  return record;
}

/**
 * Daily close-to-close returns of a benchmark on the market's days: an index's closes (NaN where it has no bar: that
 * day's return is 0 and the next is measured from the last close), or with `null` the equal-weighted universe (the mean
 * of close / pre_close − 1 over the stocks that traded that day).
 */
export function benchmarkReturns(market: Market, indexCloses: Float64Array | null): BenchmarkReturns {
  const nd = market.dates.length;
  const out = new Float64Array(nd);
  if (indexCloses) {
    let last = NaN;
    for (let d = 0; d < nd; d++) {
      const c = indexCloses[d];
      out[d] = Number.isNaN(c) || Number.isNaN(last) ? 0 : c / last - 1;
      if (!Number.isNaN(c)) last = c;
    }
    return out;
  }
  const ns = market.stocks.length;
  for (let d = 0; d < nd; d++) {
    let sum = 0;
    let n = 0;
    for (let k = 0; k < ns; k++) {
      const at = k * nd + d;
      const c = market.close[at];
      const p = market.preClose[at];
      if (c > 0 && p > 0 && market.vol[at] > 0) {
        sum += c / p - 1;
        n++;
      }
    }
    out[d] = n > 0 ? sum / n : 0;
  }
  return out;
}
