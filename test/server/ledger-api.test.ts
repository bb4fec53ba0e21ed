/**
 * The prediction ledger through the HTTP API, on MariaDB with the real PredictionEngine: POST /api/v1/predict and a
 * universal run's ranking record their forecasts (source api), GET /api/v1/predictions lists them, and
 * GET /api/v1/predictions/score sets the live figures beside the run's test segment; bad queries are 400s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StockDataLoader, reconcileForecasts, writeBars, type KlineBar } from '../../src/data/index.js';
import { PredictionEngine } from '../../src/prediction/index.js';
import { createPredictor } from '../../src/server/index.js';
import { mysql } from '../helpers/env.js';
import { HORIZON, createMarket, trainTinyRun, trainTinyUniversalRun, type Fixture } from '../prediction/fixture.js';
import { call, startServer, type RunningServer } from './helpers.js';

const skip = mysql.skip;

describe('the prediction ledger through the API', { skip }, () => {
  let fx: Fixture;
  let server: RunningServer;
  let symbol: string;
  /** The bar of the day after the forecast's base day, held back until the forecast is made. */
  let next: KlineBar;

  before(async () => {
    if (skip) return;
    fx = await createMarket('mysql');
    symbol = fx.symbols[0];
    const bars = await new StockDataLoader(fx.handle).loadKline(symbol);
    next = bars.at(-1)!;
    await fx.handle.db.deleteFrom('stock_kline_data').where('symbol', '=', symbol).where('trade_date', '=', next.tradeDate).execute();
    await trainTinyRun(fx, symbol, 'api_ledger_lstm');
    await trainTinyUniversalRun(fx, 'api_ledger_universal');
    const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir, record: 'api' });
    server = await startServer({ database: fx.handle, outputDir: fx.outputDir, predictor: createPredictor(engine), rateLimit: false });
  });

  after(async () => {
    if (skip) return;
    await server?.close();
    await fx?.close();
  });

  test('POST /predict records the forecast; after the bar arrives, list and score show it reconciled', async () => {
    const res = await call(`${server.url}/api/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol, run: 'api_ledger_lstm' }),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    let listed = await call(`${server.url}/api/v1/predictions?run=api_ledger_lstm&symbol=${symbol}`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.equal(listed.body.items.length, HORIZON);
    for (const row of listed.body.items) {
      assert.equal(row.source, 'api');
      assert.equal(row.base_date, res.body.base_date);
      assert.equal(row.actual_close, null);
      assert.equal(row.live, true);
    }

    await fx.handle.db.transaction().execute((trx) => writeBars(trx, fx.handle.dialect, [next]));
    const before = await call(`${server.url}/api/v1/predictions/score?run=api_ledger_lstm`);
    assert.equal(before.status, 200);
    // Not reconciled yet: the score only reads the ledger.
    assert.equal(before.body.runs[0].live.n, 0);
    assert.equal(before.body.runs[0].pending, HORIZON);

    // What `data import` and `klinecast predictions reconcile` run once the bar is in.
    assert.deepEqual(await reconcileForecasts(fx.handle, { run: 'api_ledger_lstm' }), { pending: HORIZON, reconciled: 1 });
    listed = await call(`${server.url}/api/v1/predictions?run=api_ledger_lstm&symbol=${symbol}&since=${res.body.base_date}`);
    const first = listed.body.items.find((r: { step: number }) => r.step === 1);
    assert.equal(first.actual_close, next.close);
    assert.ok(Math.abs(first.error - (res.body.predictions[0].price - next.close)) < 1e-9);

    const score = await call(`${server.url}/api/v1/predictions/score?run=api_ledger_lstm`);
    assert.equal(score.status, 200, JSON.stringify(score.body));
    const [run] = score.body.runs;
    assert.equal(run.run, 'api_ledger_lstm');
    assert.deepEqual(run.symbols, [symbol]);
    assert.equal(run.live.n, 1);
    assert.equal(run.hindsight, 0);
    assert.ok(Math.abs(run.live.mae - Math.abs(res.body.predictions[0].price - next.close)) < 1e-9);
    assert.equal(run.live.persistence_mae, Math.abs(next.close - res.body.base_close));
    assert.ok(run.test !== null && run.test.n > 0 && typeof run.test.mae === 'number', JSON.stringify(run.test));
    // Step by step: the reconciled step 1 beside the test segment's step 1, the later steps still pending.
    assert.deepEqual(
      run.steps.map((s: { step: number; live: { n: number } }) => [s.step, s.live.n]),
      Array.from({ length: HORIZON }, (_, k) => [k + 1, k === 0 ? 1 : 0]),
    );
    assert.equal(run.steps[0].live.mae, run.live.mae);
    assert.equal(run.steps[0].test.n * HORIZON, run.test.n);
    assert.equal(typeof run.steps[HORIZON - 1].test.mae, 'number');
  });

  test("a universal run's ranking records one next-day row per stock", async () => {
    const res = await call(`${server.url}/api/v1/runs/api_ledger_universal/ranking?top=1`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const listed = await call(`${server.url}/api/v1/predictions?run=api_ledger_universal`);
    assert.equal(listed.body.items.length, res.body.requested);
    assert.deepEqual([...new Set(listed.body.items.map((r: { step: number; source: string }) => `${r.step} ${r.source}`))], ['1 api']);
  });

  test('bad queries are 400s naming the field', async () => {
    for (const query of ['since=2024-13-01', 'symbol=ABC', 'limit=0', 'limit=abc', 'colour=red', 'run=../etc']) {
      const res = await call(`${server.url}/api/v1/predictions?${query}`);
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'validation_error');
      assert.match(res.body.error.message, new RegExp(query.split('=')[0]), res.body.error.message);
    }
    for (const query of ['limit=5', 'since=yesterday']) {
      const res = await call(`${server.url}/api/v1/predictions/score?${query}`);
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
    }
    const none = await call(`${server.url}/api/v1/predictions?run=no_such_run`);
    assert.deepEqual([none.status, none.body.items], [200, []]);
  });
});
