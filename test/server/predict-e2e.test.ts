/**
 * POST /api/v1/predict with the real PredictionEngine behind the Predictor port: a tiny LSTM trained by runTraining
 * on a seeded demo market in MariaDB, forecast through the HTTP API, compared with the engine called directly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PredictionEngine } from '../../src/prediction/index.js';
import { createPredictor, toApiForecast } from '../../src/server/index.js';
import { mysql } from '../helpers/env.js';
import { HORIZON, createMarket, trainTinyRun, type Fixture } from '../prediction/fixture.js';
import { call, startServer, type RunningServer } from './helpers.js';

const skip = mysql.skip;

describe('predict through the API with the PredictionEngine', { skip }, () => {
  let fx: Fixture;
  let server: RunningServer;
  let engine: PredictionEngine;
  let symbol: string;

  before(async () => {
    if (skip) return;
    fx = await createMarket('mysql');
    symbol = fx.symbols[0];
    await trainTinyRun(fx, symbol, 'api_demo_lstm');
    engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
    server = await startServer({ database: fx.handle, outputDir: fx.outputDir, predictor: createPredictor(engine), rateLimit: false });
  });

  after(async () => {
    if (skip) return;
    await server?.close();
    await fx?.close();
  });

  const post = (body: unknown) =>
    call(`${server.url}/api/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('forecasts the next trading days from the last bar, the same as the engine called directly', async () => {
    const res = await post({ symbol, days: HORIZON });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('x-cache'), 'miss');
    const forecast = res.body;
    assert.equal(forecast.run, 'api_demo_lstm');
    const last = await call(`${server.url}/api/v1/stocks/${symbol}/kline?limit=1`);
    assert.equal(forecast.base_date, last.body.bars[0].date);
    assert.equal(forecast.base_close, last.body.bars[0].close);
    assert.equal(forecast.predictions.length, HORIZON);
    let previous = forecast.base_date;
    for (const day of forecast.predictions) {
      assert.ok(day.date > previous, `${day.date} after ${previous}`);
      const weekday = new Date(`${day.date}T00:00:00Z`).getUTCDay();
      assert.ok(weekday !== 0 && weekday !== 6, `${day.date} is a weekend`);
      assert.ok(day.lower <= day.price && day.price <= day.upper, JSON.stringify(day));
      assert.ok(Math.abs(day.price - forecast.base_close * Math.exp(day.return)) < 1e-6 * day.price);
      previous = day.date;
    }
    const direct = toApiForecast(await engine.predict(symbol, { days: HORIZON, run: 'api_demo_lstm', endDate: forecast.base_date }));
    assert.deepEqual(forecast, JSON.parse(JSON.stringify(direct)));
    const again = await post({ symbol, days: HORIZON });
    assert.equal(again.headers.get('x-cache'), 'hit');
    assert.deepEqual(again.body, forecast);
  });

  test("without days the forecast covers the run's whole horizon", async () => {
    const res = await post({ symbol });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.predictions.length, HORIZON);
    const explicit = await post({ symbol, days: HORIZON });
    assert.deepEqual(res.body.predictions, explicit.body.predictions);
  });

  test('days beyond the trained horizon is a 400 naming the horizon', async () => {
    const res = await post({ symbol, days: HORIZON + 1, run: 'api_demo_lstm' });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'days_beyond_horizon');
    assert.match(res.body.error.message, new RegExp(`predicts ${HORIZON} trading days`));
  });
});
