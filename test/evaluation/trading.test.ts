/**
 * The trading simulation on tiny markets whose every fill and fee is worked out by hand in the comments.
 * Prices are chosen so the arithmetic is short: mostly 10.00 CNY, cash 100,000 CNY.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { LimitStatus } from '../../src/data/index.js';
import {
  DEFAULT_COSTS,
  DEFAULT_SIMULATION,
  buildMarket,
  buildSignals,
  fillCosts,
  isSpecialTreatment,
  limitPrices,
  longFlat,
  maxDrawdown,
  maxDrawdownOfSum,
  parseForecasts,
  priceLimit,
  roundBuyShares,
  roundSellShares,
  runSimulation,
  simulate,
  summariseExcess,
  summariseReturns,
  topkDropout,
  tradingBoardOf,
  unlimitedListingDays,
  type DayContext,
  type MarketStockInput,
  type SimulationSettings,
  type Strategy,
} from '../../src/evaluation/trading/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';

type Row = [date: string, open: number, close: number, limitStatus?: LimitStatus];

/** One stock's bars; pre_close is the previous row's close (the first row's is `previousClose`). A date left out is a suspension. */
function stock(symbol: string, previousClose: number, rows: Row[], info: Partial<MarketStockInput> = {}): MarketStockInput {
  let pre = previousClose;
  const bars = rows.map(([date, open, close, limitStatus]) => {
    const bar = { date, open, close, preClose: pre, vol: 1000, limitStatus: limitStatus ?? null };
    pre = close;
    return bar;
  });
  return { symbol, bars, ...info };
}

const flat = (dates: string[], price = 10): Row[] => dates.map((d) => [d, price, price]);

/** A strategy that does what each trade day's entry says. */
function scripted(actions: Record<string, (ctx: DayContext) => void>): Strategy {
  return { name: 'scripted', decide: (ctx) => actions[ctx.date]?.(ctx) };
}

/** A forecast of 0 for every stock on every day, so every day is a decision day. */
function everyDay(stocks: MarketStockInput[]) {
  return stocks.flatMap((s) => s.bars.map((b) => ({ symbol: s.symbol, date: b.date, score: 0 })));
}

function run(stocks: MarketStockInput[], strategy: Strategy, settings: Partial<SimulationSettings> = {}, forecasts = everyDay(stocks)) {
  const market = buildMarket(stocks);
  const signals = buildSignals(market, forecasts);
  return runSimulation(market, signals, strategy, { ...DEFAULT_SIMULATION, cash: 100_000, ...settings }, new Float64Array(market.dates.length));
}

// Trading days of late August 2023 (the stamp-duty cut took effect on Monday 2023-08-28).
const AUG = ['2023-08-21', '2023-08-22', '2023-08-23', '2023-08-24', '2023-08-25', '2023-08-28', '2023-08-29'];

test('boards by code prefix, ST by name, limits by board and date, listing days without a limit', () => {
  assert.equal(tradingBoardOf('600519'), 'main');
  assert.equal(tradingBoardOf('605499'), 'main');
  assert.equal(tradingBoardOf('000001'), 'main');
  assert.equal(tradingBoardOf('003816'), 'main');
  assert.equal(tradingBoardOf('300750'), 'chinext');
  assert.equal(tradingBoardOf('301001'), 'chinext');
  assert.equal(tradingBoardOf('688981'), 'star');
  assert.equal(tradingBoardOf('689009'), 'star');
  assert.equal(tradingBoardOf('830799'), 'bse');
  assert.equal(tradingBoardOf('430047'), 'bse');
  assert.equal(tradingBoardOf('920001'), 'bse');
  assert.equal(tradingBoardOf('510300'), null); // an ETF
  assert.equal(isSpecialTreatment('*ST康美'), true);
  assert.equal(isSpecialTreatment('ST长康'), true);
  assert.equal(isSpecialTreatment('S*ST前锋'), true);
  assert.equal(isSpecialTreatment('贵州茅台'), false);
  assert.equal(isSpecialTreatment(null, 'ST'), true);
  assert.equal(priceLimit('main', false, '2023-01-03'), 0.1);
  assert.equal(priceLimit('main', true, '2023-01-03'), 0.05);
  // ChiNext: ±10% (ST ±5%) up to Friday 2020-08-21, ±20% from Monday 2020-08-24, ST included.
  assert.equal(priceLimit('chinext', false, '2020-08-21'), 0.1);
  assert.equal(priceLimit('chinext', true, '2020-08-21'), 0.05);
  assert.equal(priceLimit('chinext', false, '2020-08-24'), 0.2);
  assert.equal(priceLimit('chinext', true, '2020-08-24'), 0.2);
  assert.equal(priceLimit('star', true, '2019-07-22'), 0.2);
  assert.equal(priceLimit('bse', false, '2022-01-04'), 0.3);
  assert.equal(unlimitedListingDays('star', '2019-07-22'), 5);
  assert.equal(unlimitedListingDays('chinext', '2020-08-21'), 1);
  assert.equal(unlimitedListingDays('chinext', '2020-08-24'), 5);
  assert.equal(unlimitedListingDays('main', '2023-04-07'), 1);
  assert.equal(unlimitedListingDays('main', '2023-04-10'), 5);
  // Limit prices round half up to the fen: 10.05 · 1.1 = 11.055 → 11.06; 10.05 · 0.9 = 9.045 → 9.05.
  assert.deepEqual(limitPrices(10.05, 0.1), { up: 11.06, down: 9.05 });
  assert.deepEqual(limitPrices(10, 0.2), { up: 12, down: 8 });
});

test('lots: 100 shares, STAR buys from 200 then steps of 1; whole positions sell in odd lots', () => {
  assert.equal(roundBuyShares(2555, 'main'), 2500);
  assert.equal(roundBuyShares(99, 'chinext'), 0);
  assert.equal(roundBuyShares(199.9, 'star'), 0);
  assert.equal(roundBuyShares(200, 'star'), 200);
  assert.equal(roundBuyShares(257.9, 'star'), 257);
  assert.equal(roundSellShares(250, 1000, 'main'), 200);
  assert.equal(roundSellShares(1000, 1000, 'main'), 1000);
  assert.equal(roundSellShares(150, 257, 'star'), 0); // a part must be ≥ 200
  assert.equal(roundSellShares(210, 257, 'star'), 210);
  assert.equal(roundSellShares(50, 150, 'star'), 150); // under 200 held: only the whole
});

test('costs: commission 0.025% (5 CNY minimum), transfer fee 0.001%, stamp duty on sells 0.1% then 0.05% from 2023-08-28', () => {
  // buy 1,000 CNY: commission max(5, 0.25) = 5.00, transfer 0.01 → 5.01
  assert.deepEqual(fillCosts(DEFAULT_COSTS, 'buy', 1000, '2023-08-25'), { commission: 5, stampDuty: 0, transferFee: 0.01, total: 5.01 });
  // sell 100,000 CNY on Friday 2023-08-25: 25.00 + 100.00 + 1.00 = 126.00; on Monday 2023-08-28: 25.00 + 50.00 + 1.00 = 76.00
  assert.deepEqual(fillCosts(DEFAULT_COSTS, 'sell', 100_000, '2023-08-25'), { commission: 25, stampDuty: 100, transferFee: 1, total: 126 });
  assert.deepEqual(fillCosts(DEFAULT_COSTS, 'sell', 100_000, '2023-08-28'), { commission: 25, stampDuty: 50, transferFee: 1, total: 76 });
  // Half a fen rounds up: 51,500 · 0.00025 = 12.875 → 12.88; 51,500 · 0.00001 = 0.515 → 0.52.
  assert.deepEqual(fillCosts(DEFAULT_COSTS, 'sell', 51_500, '2023-08-25'), { commission: 12.88, stampDuty: 51.5, transferFee: 0.52, total: 64.9 });
});

test('the stamp-duty cut on 2023-08-28 in the day loop: the same sell costs 0.1% on Friday and 0.05% on Monday', () => {
  const A = stock('600000', 10, flat(AUG));
  const rec = run(
    [A],
    scripted({
      // 5,000 × 10.00 = 50,000: commission 12.50, transfer 0.50 → 13.00; cash 100,000 − 50,013 = 49,987.00
      '2023-08-22': (ctx) => assert.equal(ctx.buy(0, 50_000), true),
      // 2,000 × 10.00 = 20,000: commission 5.00, stamp 20.00, transfer 0.20 → 25.20; cash 49,987 + 19,974.80 = 69,961.80
      '2023-08-25': (ctx) => assert.equal(ctx.sell(0, 2000), true),
      // 3,000 × 10.00 = 30,000: commission 7.50, stamp 15.00 (0.05%), transfer 0.30 → 22.80; cash 69,961.80 + 29,977.20 = 99,939.00
      '2023-08-28': (ctx) => assert.equal(ctx.sell(0), true),
    }),
  );
  assert.deepEqual(
    rec.trades.map((t) => [t.date, t.side, t.shares, t.commission, t.stamp_duty, t.transfer_fee, t.cost]),
    [
      ['2023-08-22', 'buy', 5000, 12.5, 0, 0.5, 13],
      ['2023-08-25', 'sell', 2000, 5, 20, 0.2, 25.2],
      ['2023-08-28', 'sell', 3000, 7.5, 15, 0.3, 22.8],
    ],
  );
  const byDate = new Map(rec.days.map((d) => [d.date, d]));
  assert.equal(byDate.get('2023-08-22')!.cash, 49_987);
  assert.ok(Math.abs(byDate.get('2023-08-25')!.cash - 69_961.8) < 1e-6);
  assert.ok(Math.abs(byDate.get('2023-08-29')!.equity - 99_939) < 1e-6);
  assert.equal(rec.trades[0].signal_date, '2023-08-21'); // decided after the close of the day before
});

test('T+1: shares bought today cannot be sold today; the next day they can; with the rule off the round trip fills', () => {
  const A = stock('600000', 10, flat(AUG));
  const roundTrip = (ctx: DayContext) => {
    ctx.buy(0, 10_000); // 1,000 × 10.00: commission 5.00 (minimum), transfer 0.10 → 5.10
    ctx.sell(0);
  };
  const rec = run([A], scripted({ '2023-08-22': roundTrip, '2023-08-23': (ctx) => ctx.sell(0) }));
  assert.deepEqual(
    rec.rejected.map((r) => [r.date, r.side, r.reason, r.requested]),
    [['2023-08-22', 'sell', 't_plus_1', 1000]],
  );
  // The next day: 10,000 CNY sold: commission 5.00, stamp 10.00, transfer 0.10 → 15.10; equity 100,000 − 5.10 − 15.10 = 99,979.80
  assert.deepEqual(
    rec.trades.map((t) => [t.date, t.side, t.shares, t.cost]),
    [
      ['2023-08-22', 'buy', 1000, 5.1],
      ['2023-08-23', 'sell', 1000, 15.1],
    ],
  );
  assert.ok(Math.abs(rec.days[rec.days.length - 1].equity - 99_979.8) < 1e-6);
  const t0 = run([A], scripted({ '2023-08-22': roundTrip }), { rules: { ...DEFAULT_SIMULATION.rules, tPlusOne: false } });
  assert.deepEqual(
    t0.trades.map((t) => [t.date, t.side]),
    [
      ['2023-08-22', 'buy'],
      ['2023-08-22', 'sell'],
    ],
  );
  assert.equal(t0.rejected.length, 0);
});

test('a limit-up open refuses the buy, the next day fills; limit-down refuses the sell; limit_status decides at the close', () => {
  // 08-22 opens at 11.00 = round(10.00 · 1.1): limit-up. 08-23 opens 11.50 (limit 12.10): fills. 08-24 opens 10.35 = round(11.50 · 0.9): limit-down.
  const rows: Row[] = [
    ['2023-08-21', 10, 10],
    ['2023-08-22', 11, 11.5],
    ['2023-08-23', 11.5, 11.5],
    ['2023-08-24', 10.35, 10.5],
    ['2023-08-25', 10.5, 10.5],
  ];
  const A = stock('600000', 10, rows);
  const rec = run(
    [A],
    scripted({
      '2023-08-22': (ctx) => ctx.buy(0, 10_000),
      // ⌊10,000 / 11.50⌋ = 869 → 800 shares = 9,200.00: commission 5.00, transfer 0.092 → 0.09; 5.09
      '2023-08-23': (ctx) => ctx.buy(0, 10_000),
      '2023-08-24': (ctx) => ctx.sell(0),
      // 800 × 10.50 = 8,400: commission 5.00, stamp 8.40, transfer 0.084 → 0.08; 13.48
      '2023-08-25': (ctx) => ctx.sell(0),
    }),
  );
  assert.deepEqual(
    rec.rejected.map((r) => [r.date, r.side, r.reason, r.price]),
    [
      ['2023-08-22', 'buy', 'limit_up', 11],
      ['2023-08-24', 'sell', 'limit_down', 10.35],
    ],
  );
  assert.deepEqual(
    rec.trades.map((t) => [t.date, t.side, t.shares, t.price, t.cost]),
    [
      ['2023-08-23', 'buy', 800, 11.5, 5.09],
      ['2023-08-25', 'sell', 800, 10.5, 13.48],
    ],
  );
  // At the close, the bar's limit_status is the word: a close at the computed limit marked 0 fills, one marked 1 does not.
  const B = stock('600000', 10, [
    ['2023-08-21', 10, 10],
    ['2023-08-22', 10.5, 11, 0],
    ['2023-08-23', 11, 11.2, 1],
  ]);
  const atClose = run([B], scripted({ '2023-08-22': (ctx) => ctx.buy(0, 11_000), '2023-08-23': (ctx) => ctx.buy(0, 11_200) }), { dealPrice: 'close' });
  assert.deepEqual(
    atClose.trades.map((t) => [t.date, t.shares, t.price]),
    [['2023-08-22', 1000, 11]],
  );
  assert.deepEqual(
    atClose.rejected.map((r) => [r.date, r.reason]),
    [['2023-08-23', 'limit_up']],
  );
  // With the limits off, the limit-up open fills: 900 shares × 11.00.
  const off = run([A], scripted({ '2023-08-22': (ctx) => ctx.buy(0, 10_000) }), { rules: { ...DEFAULT_SIMULATION.rules, priceLimits: false } });
  assert.deepEqual(
    off.trades.map((t) => [t.date, t.shares]),
    [['2023-08-22', 900]],
  );
});

test('ChiNext: +10% refuses a buy on 2020-08-21 (±10%) but not on 2020-08-24 (±20%); a new listing trades unlimited', () => {
  // 08-21 opens 11.00 from 10.00 (+10%, the old limit); 08-24 opens 11.55 from 10.50 (+10%, under the new 12.60).
  const C = stock('300001', 10, [
    ['2020-08-20', 10, 10],
    ['2020-08-21', 11, 10.5],
    ['2020-08-24', 11.55, 11.55],
    ['2020-08-25', 11.55, 11.55],
  ]);
  const rec = run([C], scripted({ '2020-08-21': (ctx) => ctx.buy(0, 11_550), '2020-08-24': (ctx) => ctx.buy(0, 11_550) }));
  assert.deepEqual(
    rec.rejected.map((r) => [r.date, r.reason]),
    [['2020-08-21', 'limit_up']],
  );
  assert.deepEqual(
    rec.trades.map((t) => [t.date, t.shares, t.price]),
    [['2020-08-24', 1000, 11.55]],
  );
  // Listed on 2020-08-24 (the first five days unlimited): +44% on its 2nd day fills, +20% on its 6th does not.
  const days = ['2020-08-24', '2020-08-25', '2020-08-26', '2020-08-27', '2020-08-28', '2020-08-31', '2020-09-01'];
  const listing = stock(
    '300999',
    10,
    [[days[0], 10, 10], [days[1], 14.4, 14.4], ...days.slice(2, 5).map((d): Row => [d, 14.4, 14.4]), [days[5], 17.28, 17.28], [days[6], 17.28, 17.28]],
    {
      listDate: '2020-08-24',
    },
  );
  const listed = run([listing], scripted({ [days[1]]: (ctx) => ctx.buy(0, 1440), [days[5]]: (ctx) => ctx.buy(0, 1728) }));
  assert.deepEqual(
    listed.trades.map((t) => t.date),
    [days[1]],
  );
  assert.deepEqual(
    listed.rejected.map((r) => [r.date, r.reason]),
    [[days[5], 'limit_up']],
  );
});

test('a suspension: no bar refuses orders, and the holding is valued at its last close meanwhile', () => {
  const A = stock('600000', 10, flat(AUG));
  // B trades 08-21, 08-22, then is suspended 08-23 and 08-24, and comes back at 12.00 on 08-25.
  const B = stock('000002', 10, [
    ['2023-08-21', 10, 10],
    ['2023-08-22', 10, 11],
    ['2023-08-25', 12, 12],
    ['2023-08-28', 12, 12],
  ]);
  const rec = run(
    [A, B],
    scripted({
      // B: 1,000 × 10.00 at the open, fees 5.10 → cash 89,994.90
      '2023-08-22': (ctx) => ctx.buy(1, 10_000),
      '2023-08-23': (ctx) => ctx.sell(1),
      '2023-08-24': (ctx) => ctx.buy(1, 10_000),
      // 1,000 × 12.00 = 12,000: commission 5.00, stamp 12.00, transfer 0.12 → 17.12; cash 89,994.90 + 11,982.88 = 101,977.78
      '2023-08-25': (ctx) => ctx.sell(1),
    }),
  );
  assert.deepEqual(
    rec.rejected.map((r) => [r.date, r.side, r.reason, r.price]),
    [
      ['2023-08-23', 'sell', 'suspended', 11],
      ['2023-08-24', 'buy', 'suspended', 11],
    ],
  );
  const eq = new Map(rec.days.map((d) => [d.date, d.equity]));
  assert.ok(Math.abs(eq.get('2023-08-23')! - (89_994.9 + 11_000)) < 1e-6); // valued at 11.00, the last close
  assert.ok(Math.abs(eq.get('2023-08-28')! - 101_977.78) < 1e-6);
});

test('lots in the day loop: STAR needs 200 shares then any number; too little cash is refused as cash; 5 CNY minimum on a small buy', () => {
  const S = stock('688001', 100, flat(AUG.slice(0, 4), 100));
  const A = stock('600000', 10, flat(AUG.slice(0, 4)));
  const rec = run(
    [S, A],
    scripted({
      '2023-08-22': (ctx) => {
        // 19,990 / 100 = 199.9 shares: under the STAR minimum of 200
        ctx.buy(0, 19_990);
        // 25,790 / 100 = 257.9 → 257 shares = 25,700: commission 6.425 → 6.43, transfer 0.257 → 0.26; 6.69
        ctx.buy(0, 25_790);
        // 25,550 / 10 = 2,555 → 2,500 shares = 25,000: commission 6.25, transfer 0.25 → 6.50
        ctx.buy(1, 25_550);
        // 100 × 10.00 = 1,000: commission 5.00 (minimum, 0.25 by rate), transfer 0.01 → 5.01
        ctx.buy(1, 1000);
      },
      // Cash now 100,000 − 25,706.69 − 25,006.50 − 1,005.01 = 48,281.80: asking 60,000 buys what fits, 4,800 shares (48,012.00 with fees)
      '2023-08-23': (ctx) => ctx.buy(1, 60_000),
      // cash 269.32 cannot pay for 100 shares (1,005.01 with fees)
      '2023-08-24': (ctx) => ctx.buy(1, 1000),
    }),
  );
  assert.deepEqual(
    rec.trades.map((t) => [t.date, t.symbol, t.shares, t.value, t.cost]),
    [
      ['2023-08-22', '688001', 257, 25_700, 6.69],
      ['2023-08-22', '600000', 2500, 25_000, 6.5],
      ['2023-08-22', '600000', 100, 1000, 5.01],
      ['2023-08-23', '600000', 4800, 48_000, 12.48],
    ],
  );
  assert.deepEqual(
    rec.rejected.map((r) => [r.date, r.symbol, r.reason]),
    [
      ['2023-08-22', '688001', 'lot'],
      ['2023-08-24', '600000', 'cash'],
    ],
  );
  // 48,281.80 − 48,000 − 12.00 (commission) − 0.48 (transfer) = 269.32
  assert.ok(Math.abs(rec.days[rec.days.length - 1].cash - 269.32) < 1e-6);
});

test('topk 2 with n_drop 1 (Qlib TopkDropout): buys the two best, then swaps the worst held for the best new one', () => {
  const symbols = ['600000', '600004', '600006', '600007', '600008']; // A B C D E, all at 10.00
  const stocks = symbols.map((s) => stock(s, 10, flat(AUG.slice(0, 4))));
  const scores: Record<string, number[]> = {
    '2023-08-21': [0.05, 0.04, 0.03, 0.02, 0.01],
    '2023-08-22': [0.01, 0.04, 0.05, 0.03, 0.02],
    '2023-08-23': [0.01, 0.04, 0.05, 0.03, 0.02],
  };
  const forecasts = Object.entries(scores).flatMap(([date, s]) => s.map((score, k) => ({ symbol: symbols[k], date, score })));
  const rec = run(stocks, topkDropout({ topk: 2, nDrop: 1, riskDegree: 0.95 }), {}, forecasts);
  // 08-22 (signal 08-21): none held; candidates A B C, the bottom one is C; buy the first 2: A and B, each with
  //   100,000 · 0.95 / 2 = 47,500 → 4,700 shares = 47,000, fees 11.75 + 0.47 = 12.22; cash 100,000 − 2 · 47,012.22 = 5,975.56
  // 08-23 (signal 08-22): held A (0.01), B (0.04); one candidate, C (0.05); C B A → A is the bottom one: sell A
  //   47,000 − 11.75 − 47.00 − 0.47 = 46,940.78 → cash 52,916.34; buy C with 52,916.34 · 0.95 = 50,270.52 → 5,000 shares
  //   = 50,000, fees 12.50 + 0.50 = 13.00 → cash 2,903.34
  // 08-24 (signal 08-23): held B, C; candidate D (0.03) is the bottom one and is not held: no trade.
  assert.deepEqual(
    rec.trades.map((t) => [t.date, t.symbol, t.side, t.shares, t.cost]),
    [
      ['2023-08-22', '600000', 'buy', 4700, 12.22],
      ['2023-08-22', '600004', 'buy', 4700, 12.22],
      ['2023-08-23', '600000', 'sell', 4700, 59.22],
      ['2023-08-23', '600006', 'buy', 5000, 13],
    ],
  );
  const last = rec.days[rec.days.length - 1];
  assert.equal(last.date, '2023-08-24');
  assert.ok(Math.abs(last.cash - 2903.34) < 1e-6);
  assert.ok(Math.abs(last.equity - 99_903.34) < 1e-6); // 100,000 − 12.22 · 2 − 59.22 − 13.00
  assert.deepEqual(
    rec.positions.filter((p) => p.date === '2023-08-24').map((p) => [p.symbol, p.shares]),
    [
      ['600004', 4700],
      ['600006', 5000],
    ],
  );
});

test('long-flat: in above the threshold with half the equity, out at or below it; a day without a forecast holds', () => {
  const A = stock('600000', 10, [
    ['2023-08-21', 10, 10],
    ['2023-08-22', 10, 10.2],
    ['2023-08-23', 10.2, 10.4],
    ['2023-08-24', 10.4, 10.4],
    ['2023-08-25', 10.3, 10.1],
    ['2023-08-28', 10.1, 10.1],
  ]);
  const forecasts = [
    { symbol: '600000', date: '2023-08-21', score: 0.002 },
    { symbol: '600000', date: '2023-08-22', score: 0.003 },
    { symbol: '600000', date: '2023-08-24', score: -0.01 },
    { symbol: '600000', date: '2023-08-25', score: 0.001 },
  ];
  const rec = run([A], longFlat({ stock: 0, threshold: 0.001, position: 0.5 }), {}, forecasts);
  // 08-22: buy 100,000 · 0.5 = 50,000 at the open 10.00 → 5,000 shares, fees 13.00; cash 49,987; close 10.20 → equity 100,987
  // 08-23: 0.003 > 0.001, held: nothing; close 10.40 → equity 101,987. 08-24: no forecast on 08-23: nothing.
  // 08-25: −0.01 → sell 5,000 at the open 10.30 = 51,500: 12.88 + 51.50 + 0.52 = 64.90 → cash 101,422.10
  // 08-28: 0.001 is not above 0.001: stay flat.
  assert.deepEqual(
    rec.trades.map((t) => [t.date, t.side, t.shares, t.price, t.cost]),
    [
      ['2023-08-22', 'buy', 5000, 10, 13],
      ['2023-08-25', 'sell', 5000, 10.3, 64.9],
    ],
  );
  const eq = rec.days.map((d) => [d.date, Number(d.equity.toFixed(2))]);
  assert.deepEqual(eq, [
    ['2023-08-22', 100_987],
    ['2023-08-23', 101_987],
    ['2023-08-24', 101_987],
    ['2023-08-25', 101_422.1],
    ['2023-08-28', 101_422.1],
  ]);
});

test('metrics by hand: compounded drawdown and return, Qlib-style excess (sum mode)', () => {
  assert.equal(maxDrawdown([100, 120, 90, 110, 80, 130]), 80 / 120 - 1);
  assert.equal(maxDrawdown([100, 110, 120]), 0);
  // cumsum 0.01, −0.02, 0.01, 0.0: the running max 0.01, the deepest gap −0.03
  assert.ok(Math.abs(maxDrawdownOfSum([0.01, -0.03, 0.03, -0.01]) - -0.03) < 1e-12);
  // Two days of +10%: total 21%, over 2 of 242 days per year: 1.21^121 − 1
  const s = summariseReturns([0.1, 0.1], 242);
  assert.ok(Math.abs(s.total_return! - 0.21) < 1e-12);
  assert.ok(Math.abs(s.annualised_return! - (1.21 ** 121 - 1)) / (1.21 ** 121 - 1) < 1e-9);
  // excess 0.01, 0.03: mean 0.02, std √0.0002; annualised 0.02 · 242; IR 0.02 / 0.014142 · √242
  const e = summariseExcess([0.02, 0.04], [0.01, 0.01], 242);
  assert.ok(Math.abs(e.annualised! - 4.84) < 1e-12);
  assert.ok(Math.abs(e.information_ratio! - (0.02 / Math.sqrt(0.0002)) * Math.sqrt(242)) < 1e-9);
});

test('metrics against pandas (Qlib risk_analysis formulas) on 300 seeded days', { skip: referenceSkip('pandas') }, () => {
  let seed = 7;
  const draw = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.04;
  const r = Array.from({ length: 300 }, draw);
  const b = Array.from({ length: 300 }, draw);
  const script = `
import json, sys
import pandas as pd
d = json.load(sys.stdin)
r, b = pd.Series(d['r']), pd.Series(d['b'])
e = r - b
curve = (1 + r).cumprod()
peak = pd.concat([pd.Series([1.0]), curve]).cummax().iloc[1:].values
print(json.dumps({
  'ann_excess': e.mean() * 242, 'ir': e.mean() / e.std(ddof=1) * 242 ** 0.5,
  'excess_mdd': (e.cumsum() - e.cumsum().cummax()).min(),
  'mdd': float((curve.values / peak - 1).min()), 'total': float(curve.iloc[-1] - 1),
  'cagr': float(curve.iloc[-1] ** (242 / len(r)) - 1), 'vol': r.std(ddof=1) * 242 ** 0.5,
}))`;
  const out = spawnSync(REFERENCE_PYTHON, ['-c', script], { input: JSON.stringify({ r, b }), encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const ref = JSON.parse(out.stdout);
  const e = summariseExcess(r, b, 242);
  const p = summariseReturns(r, 242);
  const close = (a: number | null, x: number) => assert.ok(a !== null && Math.abs(a - x) <= 1e-10 * Math.max(1, Math.abs(x)), `${a} vs ${x}`);
  close(e.annualised, ref.ann_excess);
  close(e.information_ratio, ref.ir);
  close(e.max_drawdown, ref.excess_mdd);
  close(p.max_drawdown, ref.mdd);
  close(p.total_return, ref.total);
  close(p.annualised_return, ref.cagr);
  close(p.volatility, ref.vol);
});

test('simulate(): the summary counts costs, rejections and turnover; without costs is a second run; the benchmark is the index', () => {
  const A = stock('600000', 10, flat(AUG));
  const B = stock('600004', 10, [
    ['2023-08-21', 10, 10],
    ['2023-08-22', 11, 11], // limit-up open: the buy is refused
    ['2023-08-23', 11, 11],
    ['2023-08-24', 11, 11],
    ['2023-08-25', 11, 11],
    ['2023-08-28', 11, 11],
    ['2023-08-29', 11, 11],
  ]);
  const market = buildMarket([A, B]);
  const forecasts = AUG.slice(0, 2).flatMap((date) => [
    { symbol: '600000', date, score: 0.02 },
    { symbol: '600004', date, score: 0.01 },
  ]);
  const index = Float64Array.from([1000, 1010, 1010, 1010, 1010, 1010, 1010]);
  const out = simulate(
    market,
    forecasts,
    { kind: 'topk', topk: 2, nDrop: 0, riskDegree: 0.95 },
    { ...DEFAULT_SIMULATION, cash: 100_000 },
    { name: '000300', closes: index },
  );
  // 08-22: buy A and B with 47,500 each; A: 4,700 shares (fees 12.22); B refused (limit-up).
  // 08-23: the last trade day (the day after the last forecast); still topk 2 with A held: buy B with 52,987.78 · 0.95 → 4,500 × 11.
  assert.equal(out.summary.rejected.limit_up, 1);
  assert.equal(out.summary.trades.buys, 2);
  assert.equal(out.summary.trading_days, 2);
  assert.equal(out.summary.benchmark.total_return, 1010 / 1000 - 1);
  // B's buy on 08-23: 49,500 → commission 12.375 → 12.38, transfer 0.495 → 0.50 → 12.88; with A's 12.22: 25.10
  assert.equal(out.summary.costs.total, 25.1);
  assert.ok(out.summary.portfolio_without_costs.total_return! > out.summary.portfolio.total_return!);
  assert.ok(Math.abs(out.summary.turnover_daily! - (47_000 / 100_000 + 49_500 / (100_000 - 12.22)) / 2) < 1e-12);
});

test('parseForecasts: step-1 records of a run or a backtest, clear errors for a bad file', () => {
  const file = {
    generated_at: 'x',
    split: 'test',
    horizon: 2,
    n_samples: 1,
    return_type: 'log',
    symbol: '600519',
    records: [
      { date: '2023-01-03', step: 1, predicted_return: 0.01, last_close: 1, actual_price: 1, predicted_price: 1, actual_return: 0, target_date: null },
      { date: '2023-01-03', step: 2, predicted_return: 0.02 },
    ],
  };
  const parsed = parseForecasts(file, 'predictions.json');
  assert.deepEqual(parsed.forecasts, [{ symbol: '600519', date: '2023-01-03', score: 0.01 }]);
  const backtest = {
    records: [
      { symbol: '000001.SZ', date: '2023-01-03', step: 1, predicted_return: 0.5, fold: 1 },
      { symbol: '000001', date: '2023-01-03', step: 1, predicted_return: 0.7, fold: 2 },
    ],
  };
  assert.deepEqual(parseForecasts(backtest, 'forecasts.json').forecasts, [{ symbol: '000001', date: '2023-01-03', score: 0.7 }]);
  // The later fold wins whatever the record order.
  const reversed = { records: [...backtest.records].reverse() };
  assert.deepEqual(parseForecasts(reversed, 'forecasts.json').forecasts, [{ symbol: '000001', date: '2023-01-03', score: 0.7 }]);
  assert.throws(
    () => parseForecasts({ records: [{ date: '2023-1-3', step: 1, predicted_return: 0 }] }, 'f.json'),
    /f\.json is not a forecasts file: records\.0\.date/,
  );
  assert.throws(() => parseForecasts({ records: [{ date: '2023-01-03', step: 1, predicted_return: 0 }] }, 'f.json'), /names no symbol/);
  assert.throws(() => parseForecasts({ records: [] }, 'f.json'), /no step-1 forecast/);
});
