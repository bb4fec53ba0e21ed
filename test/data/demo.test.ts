import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEMO_DEFAULTS,
  StockDataLoader,
  TradingCalendar,
  boardOf,
  barsToSeries,
  checkSeries,
  generateDemoMarket,
  importCsvFiles,
  isRuleTradingDay,
  writeDemoMarket,
  type KlineBar,
} from '../../src/data/index.js';
import { UserError } from '../../src/util/errors.js';
import { ashare, ASHARE_DIR } from '../helpers/env.js';
import { forEachDialect } from '../helpers/db.js';
import { runCli } from './run-cli.js';

const SMALL = { stocks: 12, start: '2022-01-01', end: '2023-12-31', seed: 7 };

function allBars(options: typeof SMALL): KlineBar[][] {
  const m = generateDemoMarket(options);
  return m.stocks.map((_, i) => m.bars(i));
}

function corr(x: number[], y: number[]): number {
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

test('same seed, same market; another seed, another market; stock i does not depend on the number of stocks', () => {
  const a = generateDemoMarket(SMALL);
  const b = generateDemoMarket(SMALL);
  assert.deepEqual(a.stocks, b.stocks);
  assert.deepEqual(allBars(SMALL), allBars(SMALL));
  const other = generateDemoMarket({ ...SMALL, seed: 8 });
  assert.notDeepEqual(other.bars(0).map((x) => x.close), a.bars(0).map((x) => x.close));
  const bigger = generateDemoMarket({ ...SMALL, stocks: 15 });
  assert.deepEqual(bigger.stocks.slice(0, 12), a.stocks);
  assert.deepEqual(bigger.bars(3), a.bars(3));
});

test('the demo market behaves like an A-share market', () => {
  const market = generateDemoMarket({ ...SMALL, stocks: 30 });
  const bars = market.stocks.map((_, i) => market.bars(i));
  const symbols = new Set(market.stocks.map((s) => s.symbol));
  assert.equal(symbols.size, 30);
  assert.equal(new Set(market.stocks.map((s) => s.name)).size, 30, 'distinct names');
  assert.ok(market.stocks.some((s) => s.symbol.startsWith('688')) && market.stocks.some((s) => /^30[01]/.test(s.symbol)));
  for (const s of market.stocks) assert.equal(s.stockType, boardOf(s.symbol)!.stockType);
  assert.ok(market.tradingDays.every(isRuleTradingDay));
  assert.ok(!market.tradingDays.includes('2023-01-23'), 'Spring Festival 2023 closed');

  let suspendedStocks = 0;
  let beyondTen = 0;
  let limitDays = 0;
  const absReturns: number[] = [];
  const turnovers: number[] = [];
  const sq: number[] = [];
  const sqPrev: number[] = [];
  const calendar = new TradingCalendar(market.tradingDays);
  let exRightsDays = 0;
  let bonusDays = 0;
  for (let i = 0; i < bars.length; i++) {
    const series = bars[i];
    const limit = boardOf(market.stocks[i].symbol)!.limit;
    const actions = new Map(market.corporateActions(i).map((a) => [a.date, a]));
    exRightsDays += actions.size;
    bonusDays += [...actions.values()].filter((a) => a.bonus > 0).length;
    if (series.length < market.tradingDays.length) suspendedStocks++;
    for (let t = 0; t < series.length; t++) {
      const b = series[t];
      assert.ok(b.low > 0 && b.low <= Math.min(b.open, b.close) && b.high >= Math.max(b.open, b.close), `${b.symbol} ${b.tradeDate} OHLC`);
      const up = Math.round(b.preClose * (1 + limit) * 100) / 100;
      const down = Math.round(b.preClose * (1 - limit) * 100) / 100;
      assert.ok(b.close <= up + 1e-9 && b.close >= down - 1e-9 && b.high <= up + 1e-9 && b.low >= down - 1e-9, `${b.symbol} ${b.tradeDate} within the ±${limit * 100}% limit`);
      assert.equal(b.limitStatus, b.close === up ? 1 : b.close === down ? -1 : 0);
      if (b.limitStatus !== 0) limitDays++;
      if (Math.abs(b.close / b.preClose - 1) > 0.1005) beyondTen++;
      const action = actions.get(b.tradeDate);
      if (action) {
        // The exchange's ex-rights reference price, from the unadjusted previous close.
        assert.equal(action.previousClose, series[t - 1].close);
        assert.equal(b.preClose, Math.round(((action.previousClose - action.cash) / (1 + action.bonus)) * 100) / 100, `${b.symbol} ${b.tradeDate} reference price`);
        assert.ok(action.cash === 0 || (action.cash >= 0.009 * action.previousClose && action.cash <= 0.031 * action.previousClose), `${b.symbol} ${b.tradeDate} dividend 1-3%`);
      } else if (t > 0) assert.equal(b.preClose, series[t - 1].close, 'pre_close is the previous close, across suspensions too');
      const r = Math.log(b.close / b.preClose);
      absReturns.push(Math.abs(r));
      turnovers.push(Math.log(b.turnoverRate!));
      if (t > 0) {
        sq.push(r * r);
        sqPrev.push(Math.log(series[t - 1].close / series[t - 1].preClose) ** 2);
      }
    }
    const check = checkSeries(barsToSeries(series), calendar);
    assert.equal(check.ohlcViolations, 0);
    assert.equal(check.jumps, 0, `${market.stocks[i].symbol}: ${JSON.stringify(check.findings.slice(0, 3))}`);
    // data check finds exactly the generated ex-rights days, each with the step close_{t-1} / pre_close_t.
    assert.deepEqual(
      check.exRights.map((e) => [e.date, e.step]),
      [...actions.values()].map((a) => [a.date, a.previousClose / a.preClose]),
    );
  }
  assert.ok(exRightsDays > 15 && bonusDays >= 3, `ex-dividend days (${exRightsDays}) and bonus-share days (${bonusDays}) happen`);
  assert.ok(suspendedStocks >= 5, `multi-day suspensions happen (${suspendedStocks} of 30 stocks)`);
  assert.ok(limitDays > 20, `limit days occur (${limitDays})`);
  assert.ok(beyondTen > 0, 'ChiNext/STAR stocks move beyond 10% (their limit is 20%)');
  const volumeLink = corr(absReturns, turnovers);
  assert.ok(volumeLink > 0.2, `turnover rises with |return| (corr ${volumeLink.toFixed(3)})`);
  const clustering = corr(sq, sqPrev);
  assert.ok(clustering > 0.05, `volatility clusters (corr of r² with the previous r²: ${clustering.toFixed(3)})`);
});

forEachDialect('the demo writes once, a second identical run changes nothing, and real data is never overwritten', async ({ handle }) => {
  const market = generateDemoMarket({ ...SMALL, stocks: 4 });
  const first = await writeDemoMarket(handle, market);
  const rows = market.stocks.reduce((s, _, i) => s + market.bars(i).length, 0);
  assert.equal(first.inserted, rows);
  const second = await writeDemoMarket(handle, market);
  assert.deepEqual([second.inserted, second.updated, second.unchanged], [0, 0, rows]);
  const loader = new StockDataLoader(handle);
  assert.deepEqual(await loader.loadKline(market.stocks[2].symbol), market.bars(2));
  assert.equal((await loader.loadStockInfo(market.stocks[0].symbol))?.name, market.stocks[0].name);

  // Another seed whose symbol collides with real, imported bars is refused and leaves them alone.
  await importCsvFiles(handle, [`${ASHARE_DIR}300750.csv`]);
  const colliding = { ...market, stocks: [{ ...market.stocks[0], symbol: '300750' }], bars: () => market.bars(0).map((b) => ({ ...b, symbol: '300750' })) };
  await assert.rejects(writeDemoMarket(handle, colliding), (e: unknown) => e instanceof UserError && /300750 \(1158 bars\)/.test(e.message));
  assert.equal((await loader.getDateRange('300750'))?.count, 1158);
  const replaced = await writeDemoMarket(handle, colliding, { replace: true });
  assert.equal(replaced.inserted, market.bars(0).length);
  assert.equal((await loader.getDateRange('300750'))?.count, market.bars(0).length);
}, { skip: ashare.skip });

test('the default demo is quick to generate and big enough to train on', () => {
  const t0 = performance.now();
  const market = generateDemoMarket(DEMO_DEFAULTS);
  let rows = 0;
  for (let i = 0; i < market.stocks.length; i++) rows += market.bars(i).length;
  const ms = performance.now() - t0;
  assert.equal(market.stocks.length, 20);
  assert.ok(market.tradingDays.length > 950, `${market.tradingDays.length} trading days`);
  assert.ok(rows > 18_000, `${rows} bars`);
  console.log(`default demo: ${rows} bars in ${ms.toFixed(0)} ms`);
});

forEachDialect('`klinecast data demo` with a seed: same command twice changes nothing, --json reports it, bad options are user errors', async ({ url }) => {
  const args = ['data', 'demo', '--stocks', '3', '--start', '2024-01-01', '--end', '2024-03-31', '--seed', '11', '--database', url, '--json'];
  const first = runCli(args);
  assert.equal(first.status, 0, first.stderr);
  const r1 = JSON.parse(first.stdout);
  assert.equal(r1.stocks, 3);
  assert.ok(r1.inserted > 150);
  const second = JSON.parse(runCli(args).stdout);
  assert.deepEqual([second.inserted, second.updated, second.unchanged], [0, 0, r1.inserted]);
  assert.deepEqual(second.symbols, r1.symbols);
  const bad = runCli(['data', 'demo', '--stocks', 'many', '--database', url]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: --stocks must be an integer/);
  const badDate = runCli(['data', 'demo', '--start', '2024-02-30', '--database', url]);
  assert.equal(badDate.status, 2);
  assert.match(badDate.stderr, /--start "2024-02-30" is not a date/);
});
