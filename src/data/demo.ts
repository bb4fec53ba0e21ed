import { UserError } from '../util/errors.js';
import { recordTradingDates } from './calendar.js';
import { addDays } from './dates.js';
import type { DatabaseHandle } from './db/connection.js';
import { nextRuleTradingDays, ruleTradingDays } from './holidays.js';
import { SeededRandom } from './rng.js';
import { boardOf, type Board } from './symbols.js';
import type { IsoDate, KlineBar, LimitStatus, StockInfo } from './types.js';
import { insertMissingStockInfo, upsertStockInfo, writeBars, type WriteCounts } from './writer.js';

export interface DemoOptions {
  stocks: number;
  start: IsoDate;
  end: IsoDate;
  seed: number;
}

/** 20 stocks × 4 years (≈ 970 trading days each): enough history to train and test on, quick to generate. */
export const DEMO_DEFAULTS: DemoOptions = { stocks: 20, start: '2021-01-01', end: '2024-12-31', seed: 42 };

export interface DemoMarket {
  options: DemoOptions;
  /** the weekday-minus-holidays calendar of the range */
  tradingDays: IsoDate[];
  stocks: StockInfo[];
  /** stock i's bars, generated on demand so a 5,000-stock market never sits in memory */
  bars(i: number): KlineBar[];
  /** stock i's ex-rights days as its bars show them (on the first bar on or after the scheduled day) */
  corporateActions(i: number): CorporateAction[];
}

/**
 * An ex-dividend / ex-rights day of the demo market (除权除息日): the bars stay UNADJUSTED, as tushare's `daily`
 * stores them, and the day's pre_close is the exchange's reference price (previous close − cash) / (1 + bonus),
 * rounded to the fen; the close drops by the payout with no loss to the holder.
 */
export interface CorporateAction {
  date: IsoDate;
  /** cash dividend per share, CNY (派息) */
  cash: number;
  /** bonus / conversion shares per share (送转: 0.5 for 10送5) */
  bonus: number;
  previousClose: number;
  /** the reference price the exchange sets as pre_close */
  preClose: number;
}

const INDUSTRIES: Record<string, { suffixes: string[]; beta: [number, number]; vol: [number, number]; pe: [number, number] }> = {
  银行: { suffixes: ['银行'], beta: [0.5, 0.9], vol: [0.009, 0.014], pe: [4, 8] },
  非银金融: { suffixes: ['证券', '保险', '信托'], beta: [1.1, 1.5], vol: [0.015, 0.022], pe: [10, 25] },
  食品饮料: { suffixes: ['酒业', '食品', '乳业', '饮品'], beta: [0.7, 1.1], vol: [0.013, 0.02], pe: [20, 45] },
  医药生物: { suffixes: ['药业', '医药', '生物', '医疗'], beta: [0.7, 1.1], vol: [0.016, 0.026], pe: [25, 60] },
  电子: { suffixes: ['电子', '微电子', '光电', '半导体'], beta: [1.1, 1.5], vol: [0.02, 0.03], pe: [30, 80] },
  计算机: { suffixes: ['软件', '信息', '数据', '网络'], beta: [1.1, 1.5], vol: [0.02, 0.032], pe: [35, 90] },
  电力设备: { suffixes: ['电气', '新能源', '储能', '光伏'], beta: [1.0, 1.4], vol: [0.018, 0.028], pe: [20, 50] },
  汽车: { suffixes: ['汽车', '汽配', '动力'], beta: [0.9, 1.3], vol: [0.016, 0.025], pe: [15, 35] },
  化工: { suffixes: ['化工', '化学', '新材'], beta: [0.9, 1.2], vol: [0.015, 0.023], pe: [12, 30] },
  有色金属: { suffixes: ['矿业', '有色', '锂业'], beta: [1.0, 1.4], vol: [0.018, 0.027], pe: [12, 35] },
  机械设备: { suffixes: ['重工', '机械', '装备'], beta: [0.9, 1.3], vol: [0.015, 0.024], pe: [15, 40] },
  房地产: { suffixes: ['地产', '置业'], beta: [0.8, 1.2], vol: [0.014, 0.022], pe: [6, 15] },
  公用事业: { suffixes: ['电力', '水务', '燃气'], beta: [0.5, 0.8], vol: [0.01, 0.015], pe: [10, 20] },
};

const INDUSTRY_NAMES = Object.keys(INDUSTRIES);
const GROWTH_INDUSTRIES = ['电子', '计算机', '医药生物', '电力设备', '机械设备'];
const NAME_PREFIXES = [
  '华信', '东岳', '中鼎', '金桥', '长风', '天合', '海岳', '恒昌', '瑞丰', '宏远', '嘉泰', '鼎盛', '凯华', '新锐', '远航',
  '博雅', '永泰', '光启', '盛达', '安泰', '锦程', '明阳', '顺昌', '德胜', '北辰', '南山', '江海', '云峰', '正源', '汇通',
  '国泰', '华阳', '星河', '金龙', '泰和', '中汇', '富春', '同创', '启明', '昆仑',
];

/** Board pattern per block of ten stocks: mostly main board, with ChiNext and STAR codes for the ±20% limits. */
const BOARD_PATTERN: Board[] = ['主板', '主板', '主板', '创业板', '主板', '主板', '科创板', '主板', '主板', '创业板'];
const SH_PREFIXES = ['600', '601', '603', '605'];
const SZ_PREFIXES = ['000', '001', '002', '003'];

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function clampTo(up: number, down: number, x: number): number {
  return x > up ? up : x < down ? down : x;
}

/** GARCH(1,1) with unit-variance Student-t shocks: quiet and turbulent spells, as real markets have. */
class Garch {
  private variance: number;
  private lastShock = 0;
  constructor(private readonly longRunVol: number, private readonly alpha: number, private readonly beta: number) {
    this.variance = longRunVol * longRunVol;
  }
  next(rng: SeededRandom): number {
    const omega = this.longRunVol * this.longRunVol * (1 - this.alpha - this.beta);
    this.variance = omega + this.alpha * this.lastShock * this.lastShock + this.beta * this.variance;
    this.lastShock = Math.sqrt(this.variance) * rng.studentT6();
    return this.lastShock;
  }
}

interface StockParams {
  info: StockInfo;
  industry: number;
  limit: number;
  beta: number;
  idioVol: number;
  price0: number;
  floatShares: number;
  totalShares: number;
  baseTurnover: number;
  eps: number | null;
  bps: number;
}

/**
 * A seeded synthetic A-share market: a GARCH market factor, industry factors, per-stock GARCH noise and a
 * slowly wandering drift; ±10% / ±20% limits with limit_status; volume tied to |return|; multi-day
 * suspensions; the weekday-minus-holidays calendar. Same options, same data.
 */
export function generateDemoMarket(options: DemoOptions): DemoMarket {
  const { stocks: count, start, end, seed } = options;
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new UserError(`--stocks must be an integer from 1 to 10000, got ${count}`);
  if (start > end) throw new UserError(`start ${start} is after end ${end}`);
  const tradingDays = ruleTradingDays(start, end);
  if (tradingDays.length < 2) throw new UserError(`${start}..${end} holds fewer than two trading days`);
  const days = tradingDays.length;

  // Shared factors first, each from its own stream, so stock i's bars do not depend on how many stocks there are.
  const marketRng = new SeededRandom(seed, 1);
  const marketGarch = new Garch(0.011, 0.09, 0.89);
  const market = new Float64Array(days);
  for (let t = 0; t < days; t++) market[t] = 0.0002 + marketGarch.next(marketRng);
  const industryFactors = INDUSTRY_NAMES.map((_, k) => {
    const rng = new SeededRandom(seed, 100 + k);
    const f = new Float64Array(days);
    let level = 0;
    for (let t = 0; t < days; t++) {
      level = 0.3 * level + 0.006 * rng.normal();
      f[t] = level;
    }
    return f;
  });

  const params = describeStocks(count, seed, start);
  // Each stock's payouts come from their own stream, so the price paths' randomness is the same with or without them.
  const simulate = (i: number) =>
    simulateStock(params[i], new SeededRandom(seed, 10_000 + i), tradingDays, market, industryFactors[params[i].industry], scheduleActions(new SeededRandom(seed, 20_000 + i), tradingDays));
  return {
    options,
    tradingDays,
    stocks: params.map((p) => p.info),
    bars: (i) => simulate(i).bars,
    corporateActions: (i) => simulate(i).actions,
  };
}

interface ScheduledAction {
  date: IsoDate;
  /** cash as a fraction of the previous close (the amount is fixed on the day, rounded to the fen) */
  yieldOfPrice: number;
  bonus: number;
}

/**
 * Payout policy of one stock, as A-share companies have it: about two in three pay a cash dividend once a year, ex-date
 * in June or July after the annual meeting, of 1–3% of the price; about one in four also gives bonus or conversion
 * shares once (10送5, 10转3 or 10转10), often on a dividend day.
 */
function scheduleActions(rng: SeededRandom, days: IsoDate[]): ScheduledAction[] {
  const actions: ScheduledAction[] = [];
  const payer = rng.uniform() < 0.65;
  const bonusGiver = rng.uniform() < 0.25;
  const years = [...new Set(days.map((d) => d.slice(0, 4)))];
  for (const year of years) {
    const summer = days.filter((d, t) => t > 0 && d >= `${year}-06-01` && d <= `${year}-07-31`);
    const yieldOfPrice = rng.range(0.01, 0.03);
    const pick = summer.length ? summer[rng.int(0, summer.length - 1)] : null;
    if (payer && pick) actions.push({ date: pick, yieldOfPrice, bonus: 0 });
  }
  if (bonusGiver && days.length > 60) {
    const bonus = rng.pick([0.5, 0.3, 1.0]);
    const onDividend = actions.length > 0 && rng.uniform() < 0.5;
    if (onDividend) actions[rng.int(0, actions.length - 1)].bonus = bonus;
    else actions.push({ date: days[rng.int(60, days.length - 1)], yieldOfPrice: 0, bonus });
  }
  return actions.sort((a, b) => (a.date < b.date ? -1 : 1));
}

function describeStocks(count: number, seed: number, start: IsoDate): StockParams[] {
  const rng = new SeededRandom(seed, 2);
  const symbols = new Set<string>();
  const names = new Set<string>();
  // Prefixes are dealt without replacement (a shuffled deck), so names look like distinct companies.
  const deck = [...NAME_PREFIXES];
  for (let i = deck.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [deck[i], deck[j]] = [deck[j], deck[i]];
  }
  const out: StockParams[] = [];
  for (let i = 0; i < count; i++) {
    const board = BOARD_PATTERN[i % BOARD_PATTERN.length];
    const onSh = board === '科创板' || (board === '主板' && i % 3 !== 1);
    let symbol: string;
    do {
      const prefix = board === '科创板' ? '688' : board === '创业板' ? rng.pick(['300', '301']) : rng.pick(onSh ? SH_PREFIXES : SZ_PREFIXES);
      symbol = prefix + String(rng.int(0, 999)).padStart(3, '0');
    } while (symbols.has(symbol));
    symbols.add(symbol);
    const industryName = board === '主板' ? rng.pick(INDUSTRY_NAMES) : rng.pick(GROWTH_INDUSTRIES);
    const ind = INDUSTRIES[industryName];
    let name: string;
    let attempts = 0;
    do {
      name = (attempts === 0 ? deck[i % deck.length] : rng.pick(NAME_PREFIXES)) + rng.pick(ind.suffixes);
      if (++attempts > 50) name = `${name}${i}`;
    } while (names.has(name));
    names.add(name);
    const b = boardOf(symbol)!;
    const listDate = nextRuleTradingDays(addDays(start, -rng.int(200, 7000)), 1)[0];
    const price0 = round2(Math.min(300, Math.max(3, Math.exp(Math.log(18) + 0.7 * rng.normal()))));
    const floatShares = Math.round(Math.exp(rng.range(Math.log(2e8), Math.log(8e9))));
    const pe0 = rng.range(ind.pe[0], ind.pe[1]);
    const growthVol = board === '主板' ? 1 : 1.3;
    out.push({
      info: {
        symbol,
        name,
        exchange: b.exchange,
        market: b.market,
        stockType: b.stockType,
        industry: industryName,
        listDate,
        delistDate: null,
        isActive: true,
      },
      industry: INDUSTRY_NAMES.indexOf(industryName),
      limit: b.limit,
      beta: rng.range(ind.beta[0], ind.beta[1]),
      idioVol: rng.range(ind.vol[0], ind.vol[1]) * growthVol,
      price0,
      floatShares,
      totalShares: Math.round(floatShares * rng.range(1, 1.6)),
      baseTurnover: Math.exp(rng.range(Math.log(0.004), Math.log(0.03))),
      // one stock in ten is loss-making: tushare leaves its PE empty
      eps: rng.uniform() < 0.1 ? null : price0 / pe0,
      bps: price0 / rng.range(0.8, 6),
    });
  }
  return out;
}

function simulateStock(
  p: StockParams,
  rng: SeededRandom,
  days: IsoDate[],
  market: Float64Array,
  industry: Float64Array,
  scheduled: ScheduledAction[],
): { bars: KlineBar[]; actions: CorporateAction[] } {
  const bars: KlineBar[] = [];
  const actions: CorporateAction[] = [];
  let nextAction = 0;
  /** the cumulative adjustment factor: the price anchor holds the adjusted level, not the raw one a bonus halves */
  let adjFactor = 1;
  let floatShares = p.floatShares;
  let totalShares = p.totalShares;
  let bps = p.bps;
  const idio = new Garch(p.idioVol, 0.08, 0.9);
  let preClose = p.price0;
  let drift = 0;
  let lastReturn = 0;
  let logTurnover = Math.log(p.baseTurnover);
  let suspendedFor = 0;
  let missed = 0; // factor return accumulated while suspended, released on the first day back
  let eps = p.eps;
  for (let t = 0; t < days.length; t++) {
    // A slowly wandering drift and a little short-term reversal: weak, realistic predictability.
    drift = 0.97 * drift + 0.0003 * rng.normal();
    const factor = p.beta * market[t] + industry[t];
    const shock = idio.next(rng);
    if (suspendedFor > 0) {
      suspendedFor--;
      missed += factor;
      continue;
    }
    if (t > 0 && rng.uniform() < 1 / 800) {
      suspendedFor = Math.min(40, 1 + Math.floor(-Math.log(1 - rng.uniform()) * 6)) - 1;
      missed += factor;
      continue;
    }
    // Ex-rights on the first bar on or after the scheduled day (a suspended stock goes ex while it is away).
    const previousClose = preClose;
    let cashToday = 0;
    let bonusToday = 0;
    while (nextAction < scheduled.length && scheduled[nextAction].date <= days[t]) {
      const a = scheduled[nextAction++];
      if (bars.length === 0) continue;
      const cash = a.yieldOfPrice > 0 ? Math.max(0.01, round2(a.yieldOfPrice * preClose)) : 0;
      const reference = Math.max(0.01, round2((preClose - cash) / (1 + a.bonus)));
      adjFactor *= preClose / reference;
      cashToday += cash;
      bonusToday = (1 + bonusToday) * (1 + a.bonus) - 1;
      bps = (bps - cash) / (1 + a.bonus);
      floatShares = Math.round(floatShares * (1 + a.bonus));
      totalShares = Math.round(totalShares * (1 + a.bonus));
      if (eps !== null) eps /= 1 + a.bonus;
      preClose = reference;
    }
    if (preClose !== previousClose) {
      actions.push({ date: days[t], cash: round2(cashToday), bonus: Math.round(bonusToday * 1e6) / 1e6, previousClose, preClose });
    }
    // News days: rare large moves, the ones that reach the limits. The anchor keeps prices in a plausible range over years.
    const jump = rng.uniform() < 1 / 120 ? 0.06 * rng.normal() : 0;
    const anchor = -0.002 * Math.log((preClose * adjFactor) / p.price0);
    const logReturn = drift + anchor - 0.04 * lastReturn + factor + shock + jump + missed;
    missed = 0;
    const up = round2(preClose * (1 + p.limit));
    const down = round2(preClose * (1 - p.limit));
    const close = clampTo(up, down, round2(preClose * Math.exp(logReturn)));
    const limitStatus: LimitStatus = close >= up ? 1 : close <= down ? -1 : 0;
    const dayVol = Math.abs(logReturn) + p.idioVol;
    let open = clampTo(up, down, round2(preClose * Math.exp(0.3 * logReturn + 0.35 * p.idioVol * rng.normal())));
    // A board sealed from the open (一字板) happens on some big limit days.
    if (limitStatus !== 0 && rng.uniform() < 0.3) open = close;
    let high = clampTo(up, down, round2(Math.max(open, close) * Math.exp(Math.abs(rng.normal()) * 0.45 * dayVol)));
    let low = clampTo(up, down, round2(Math.min(open, close) * Math.exp(-Math.abs(rng.normal()) * 0.45 * dayVol)));
    if (limitStatus !== 0 && open === close) high = low = close;
    high = Math.max(high, open, close);
    low = Math.max(0.01, Math.min(low, open, close));

    logTurnover = Math.log(p.baseTurnover) + 0.6 * (logTurnover - Math.log(p.baseTurnover)) + 0.35 * (Math.abs(logReturn) / p.idioVol - 0.8) + 0.25 * rng.normal();
    let turnover = Math.min(0.5, Math.exp(logTurnover));
    if (limitStatus !== 0) turnover *= open === close ? 0.15 : 0.5; // sealed boards trade little
    const vol = Math.max(1, Math.round((turnover * floatShares) / 100)); // lots
    const vwap = (open + high + low + 2 * close) / 5;
    const amount = Math.round(vol * 100 * vwap) / 1000; // thousand CNY
    if (eps !== null && rng.uniform() < 0.004) eps *= Math.exp(0.1 * rng.normal()); // earnings revisions
    const change = Math.round((close - preClose) * 100) / 100;
    bars.push({
      symbol: p.info.symbol,
      tradeDate: days[t],
      open,
      high,
      low,
      close,
      preClose,
      change,
      pctChg: Math.round((change / preClose) * 1e6) / 1e4,
      vol,
      amount,
      turnoverRate: Math.round(((vol * 100) / floatShares) * 1e6) / 1e4,
      pe: eps === null ? null : Math.round((close / eps) * 1e4) / 1e4,
      pb: Math.round((close / bps) * 1e4) / 1e4,
      // 万元, as tushare's daily_basic
      totalMv: Math.round((close * totalShares) / 1e4 * 1e4) / 1e4,
      circMv: Math.round((close * floatShares) / 1e4 * 1e4) / 1e4,
      limitStatus,
    });
    lastReturn = Math.log(close / preClose);
    preClose = close;
  }
  return { bars, actions };
}

export interface DemoWriteResult extends WriteCounts {
  stocks: number;
  tradingDays: number;
  start: IsoDate;
  end: IsoDate;
  seed: number;
}

/**
 * Writes the demo market. A demo symbol that already has different bars (a real stock with the same code,
 * or a demo from another seed) is refused unless `replace`, so real data is never silently mixed with
 * synthetic bars; the same demo written twice changes nothing.
 */
export async function writeDemoMarket(
  handle: DatabaseHandle,
  market: DemoMarket,
  options: { replace?: boolean; onStock?: (done: number, total: number) => void } = {},
): Promise<DemoWriteResult> {
  const { db, dialect } = handle;
  const total: DemoWriteResult = {
    inserted: 0, updated: 0, unchanged: 0, stocks: market.stocks.length, tradingDays: market.tradingDays.length,
    start: market.tradingDays[0], end: market.tradingDays[market.tradingDays.length - 1], seed: market.options.seed,
  };
  const conflicts: string[] = [];
  for (let i = 0; i < market.stocks.length; i++) {
    const symbol = market.stocks[i].symbol;
    const bars = market.bars(i);
    try {
      await db.transaction().execute(async (trx) => {
        if (options.replace) await trx.deleteFrom('stock_kline_data').where('symbol', '=', symbol).execute();
        const existing = Number(
          (await trx.selectFrom('stock_kline_data').select((eb) => eb.fn.countAll().as('n')).where('symbol', '=', symbol).executeTakeFirst())?.n ?? 0,
        );
        const counts = await writeBars(trx, dialect, bars);
        if (existing > 0 && (counts.inserted > 0 || counts.updated > 0 || existing !== counts.unchanged)) {
          throw new DemoConflict(`${symbol} (${existing} bars)`);
        }
        total.inserted += counts.inserted;
        total.updated += counts.updated;
        total.unchanged += counts.unchanged;
      });
    } catch (err) {
      if (!(err instanceof DemoConflict)) throw err;
      conflicts.push(err.message);
    }
    options.onStock?.(i + 1, market.stocks.length);
  }
  await db.transaction().execute(async (trx) => {
    if (options.replace) await upsertStockInfo(trx, dialect, market.stocks);
    else await insertMissingStockInfo(trx, market.stocks.filter((s) => !conflicts.some((c) => c.startsWith(s.symbol))));
    await recordTradingDates(trx, market.tradingDays);
  });
  if (conflicts.length) {
    throw new UserError(
      `demo stocks already hold other bars, left untouched: ${conflicts.join(', ')}. Use --replace to overwrite them or another --seed`,
      'demo_conflict',
      total,
    );
  }
  return total;
}

class DemoConflict extends Error {}
