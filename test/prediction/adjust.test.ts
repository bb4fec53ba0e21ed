/**
 * Forecasts of runs trained on adjusted bars are reported in the raw price of the base day: price_raw = adjusted forecast
 * × raw close of the base day / adjusted close of the base day. The demo market's bars are unadjusted, with dividends
 * and bonus shares, so qfq and hfq both have work to do.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateDemoMarket, StockDataLoader } from '../../src/data/index.js';
import { PredictionEngine } from '../../src/prediction/index.js';
import { readRunConfig, trainConfigHash } from '../../src/training/index.js';
import { createMarket, DEMO, HORIZON, trainTinyRun, type Fixture } from './fixture.js';

let fx: Fixture;
let symbol: string;
/** a day after the stock's last ex-rights day, and one before its first: the hfq multiplier differs from 1 on the former */
let afterEvent: string;
const runs: Record<'qfq' | 'hfq' | 'none', string> = { qfq: 'adj_qfq', hfq: 'adj_hfq', none: 'adj_none' };

before(async () => {
  fx = await createMarket();
  const market = generateDemoMarket({ ...DEMO });
  const i = market.stocks.findIndex((_, k) => market.corporateActions(k).length >= 2);
  assert.ok(i >= 0, 'a demo stock with ex-rights days');
  symbol = market.stocks[i].symbol;
  const actions = market.corporateActions(i);
  const bars = market.bars(i);
  afterEvent = bars[bars.findIndex((b) => b.tradeDate === actions[actions.length - 1].date) + 3].tradeDate;
  for (const [adjust, name] of Object.entries(runs)) await trainTinyRun(fx, symbol, name, { data: { adjust: adjust as 'qfq' } });
});
after(() => fx?.close());

test('data.adjust is recorded in config.json, and its hash differs by mode', () => {
  for (const [adjust, name] of Object.entries(runs)) assert.equal(readRunConfig(`${fx.outputDir}/${name}`).data.adjust, adjust);
  const hashes = Object.values(runs).map((name) => trainConfigHash(readRunConfig(`${fx.outputDir}/${name}`)));
  assert.equal(new Set(hashes).size, 3);
});

test('forecasts are in the raw price of the base day whatever the adjustment', async () => {
  const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
  const loader = new StockDataLoader(fx.handle);
  const rawBar = (await loader.loadKline(symbol, afterEvent, afterEvent))[0];
  for (const [adjust, run] of Object.entries(runs)) {
    const f = await engine.predict(symbol, { run, endDate: afterEvent, interval: 'conformal' });
    assert.equal(f.baseDate, afterEvent);
    assert.equal(f.adjust, adjust);
    assert.ok(Math.abs(f.baseClose - rawBar.close) < 1e-9, `${adjust}: base close ${f.baseClose} is the stored close ${rawBar.close}`);
    assert.equal(f.predictions.length, HORIZON);
    for (const d of f.predictions) {
      assert.ok(Math.abs(d.price - rawBar.close * Math.exp(d.return)) < 1e-9, `${adjust}: price = raw base close × exp(return)`);
      assert.ok(d.lower! < d.price && d.price < d.upper!, `${adjust}: interval around the price`);
    }
    // The adjusted history the model read: under hfq its base close is not the raw one, so the conversion matters.
    const history = await loader.loadSeries(symbol, readRunConfig(`${fx.outputDir}/${run}`).data.firstDate!, afterEvent, { adjust: adjust as 'qfq' });
    const adjustedBase = history.close[history.close.length - 1];
    if (adjust === 'hfq') assert.ok(Math.abs(adjustedBase / rawBar.close - 1) > 0.01, `hfq base ${adjustedBase} vs raw ${rawBar.close}`);
    else assert.equal(adjustedBase, rawBar.close);
    for (const d of f.predictions) assert.ok(Math.abs(d.price - adjustedBase * Math.exp(d.return) * (rawBar.close / adjustedBase)) < 1e-9);
  }
});
