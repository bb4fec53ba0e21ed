import assert from 'node:assert/strict';
import { cpSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { weekday } from '../../src/data/dates.js';
import { TradingCalendar } from '../../src/data/index.js';
import { buildDataset, reconstructPrices } from '../../src/features/index.js';
import { PredictionEngine, forecastSeries, forwardPoint, quantileSorted, type Forecast } from '../../src/prediction/index.js';
import { createPredictor } from '../../src/server/index.js';
import { loadRunModel } from '../../src/runs/index.js';
import { TrainingManager } from '../../src/runs/index.js';
import { readRunConfig } from '../../src/training/index.js';
import { type PredictionsFile } from '../../src/evaluation/index.js';
import { UserError } from '../../src/util/errors.js';
import { HORIZON, createMarket, trainTinyRun, type Fixture } from './fixture.js';

let fx: Fixture;
let engine: PredictionEngine;
let symbol: string;
let other: string;
let predictions: PredictionsFile;

before(async () => {
  fx = await createMarket();
  [symbol, other] = fx.symbols;
  await trainTinyRun(fx, symbol, 'main');
  // A second, worse-or-better run of the same symbol, for bestRunFor.
  await trainTinyRun(fx, symbol, 'alt', { training: { epochs: 1, seed: 9, learningRate: 0.02 } });
  // Trained on history starting after the symbol's first bar: inference must start there too.
  await trainTinyRun(fx, fx.symbols[2], 'late', { data: { startDate: '2022-03-01' } });
  for (const modelType of ['gru', 'transformer'] as const) {
    await trainTinyRun(fx, fx.symbols[2], modelType, { model: { modelType, numLayers: 2, numHeads: 2, dimFeedforward: 16 } });
  }
  predictions = readPredictions('main');
  engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
});

after(async () => {
  await fx?.close();
});

function readPredictions(run: string): PredictionsFile {
  return JSON.parse(readFileSync(join(fx.outputDir, run, 'results', 'predictions.json'), 'utf8'));
}

async function rejectsWith(promise: Promise<unknown> | (() => unknown), code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(
    async () => (typeof promise === 'function' ? promise() : promise),
    (err: unknown) => {
      assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      if (pattern) assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('agreement with the saved test predictions', () => {
  test('for dates across the test segment, predict gives the price and date of results/predictions.json', async () => {
    const dates = [...new Set(predictions.records.map((r) => r.date))];
    assert.ok(dates.length > 20, `test segment has ${dates.length} dates`);
    for (const date of [dates[0], dates[Math.floor(dates.length / 2)], dates[dates.length - 1]]) {
      const f = await engine.predict(symbol, { run: 'main', endDate: date, samples: 0 });
      assert.equal(f.baseDate, date);
      const saved = predictions.records.filter((r) => r.date === date).sort((a, b) => a.step - b.step);
      assert.equal(saved.length, HORIZON);
      assert.equal(f.predictions.length, HORIZON);
      for (const [k, rec] of saved.entries()) {
        assert.equal(f.baseClose, rec.last_close);
        assert.ok(
          Math.abs(f.predictions[k].price - rec.predicted_price) <= 1e-9 * rec.predicted_price,
          `${date} step ${rec.step}: ${f.predictions[k].price} vs ${rec.predicted_price}`,
        );
        assert.ok(Math.abs(f.predictions[k].return - rec.predicted_return) <= 1e-12, `${date} step ${rec.step} return`);
        assert.equal(f.predictions[k].date, rec.target_date);
      }
    }
  });

  test('a run trained on a later history start: predict reads from that start, exactly as the training windows', async () => {
    const model = engine.loadRun('late');
    assert.equal(model.historyStart, '2022-03-01');
    const late = readPredictions('late').records.find((r) => r.step === 1)!;
    const inTest = await engine.predict(fx.symbols[2], { run: 'late', endDate: late.date, samples: 0 });
    assert.ok(Math.abs(inTest.predictions[0].price - late.predicted_price) <= 1e-9 * late.predicted_price);
    // The first training window sits close to the history start, where EMA/MACD/RSI/KDJ still remember it.
    const series = await engine.loader.loadSeries(fx.symbols[2], '2022-03-01');
    const dataset = buildDataset(series, readRunConfig(model.dir).dataset);
    const endDate = dataset.train.endDates[0];
    const expected = reconstructPrices(forwardPoint(model, dataset.train.window(0), 1), dataset.train.lastClose[0], dataset.targetScaler).prices;
    const f = await engine.predict(fx.symbols[2], { run: 'late', endDate, samples: 0 });
    assert.equal(f.baseDate, endDate);
    assert.deepEqual(
      f.predictions.map((d) => d.price),
      expected,
    );
    // From the symbol's first bar instead, the recursive indicators start elsewhere and the forecast moves.
    const all = await engine.loader.loadSeries(fx.symbols[2], undefined, endDate);
    const [fromStart] = forecastSeries(model, [all], await TradingCalendar.load(fx.handle.db), { samples: 0 });
    assert.notEqual(fromStart.predictions[0].price, f.predictions[0].price);
  });

  for (const modelType of ['gru', 'transformer']) {
    test(`a ${modelType} run agrees too, and its seeded MC-dropout interval is reproducible and holds the point`, async () => {
      const rec = readPredictions(modelType).records.find((r) => r.step === 2)!;
      const f = await engine.predict(fx.symbols[2], { run: modelType, endDate: rec.date, samples: 40 });
      assert.ok(Math.abs(f.predictions[1].price - rec.predicted_price) <= 1e-9 * rec.predicted_price, `${f.predictions[1].price} vs ${rec.predicted_price}`);
      assert.deepEqual(await engine.predict(fx.symbols[2], { run: modelType, endDate: rec.date, samples: 40 }), f);
      for (const d of f.predictions) assert.ok(d.lower! <= d.price && d.price <= d.upper! && d.upper! > d.lower!);
    });
  }

  test('an end date on a non-trading day forecasts from the last bar before it', async () => {
    const f = await engine.predict(symbol, { run: 'main', endDate: '2024-09-29', samples: 0 }); // a Sunday
    assert.equal(f.baseDate, '2024-09-27');
    const saved = predictions.records.find((r) => r.date === '2024-09-27' && r.step === 1);
    if (saved) assert.ok(Math.abs(f.predictions[0].price - saved.predicted_price) <= 1e-9 * saved.predicted_price);
  });

  test('the best checkpoint loads and, as runTraining saves the best weights as the final model, agrees with it', async () => {
    const final = await engine.predict(symbol, { run: 'main', samples: 0 });
    const best = await engine.predict(symbol, { run: 'main', samples: 0, checkpoint: 'best' });
    assert.equal(best.checkpoint, 'best');
    assert.deepEqual(best.predictions, final.predictions);
  });
});

describe('trading-day dating', () => {
  test('from a Friday before the National Day holiday: Monday, then the first day after the holiday', async () => {
    const f = await engine.predict(symbol, { run: 'main', endDate: '2024-09-27', samples: 0 });
    assert.deepEqual(
      f.predictions.map((d) => d.date),
      ['2024-09-30', '2024-10-08', '2024-10-09'],
    );
  });

  test('past the last stored day the exchange rule continues: New Year and a weekend skipped', async () => {
    const f = await engine.predict(symbol, { run: 'main', samples: 0 });
    assert.equal(f.baseDate, '2024-12-31');
    assert.deepEqual(
      f.predictions.map((d) => d.date),
      ['2025-01-02', '2025-01-03', '2025-01-06'],
    );
    for (const d of f.predictions) assert.ok(weekday(d.date) !== 0 && weekday(d.date) !== 6, `${d.date} is a weekend day`);
  });
});

describe('horizon', () => {
  test('days beyond the trained horizon is an error that names the horizon', async () => {
    await rejectsWith(
      engine.predict(symbol, { run: 'main', days: HORIZON + 1 }),
      'days_beyond_horizon',
      new RegExp(`${HORIZON} trading days ahead \\(its horizon\\)`),
    );
  });

  test('fewer days returns the first days of the same forecast', async () => {
    const full = await engine.predict(symbol, { run: 'main', samples: 20 });
    const one = await engine.predict(symbol, { run: 'main', samples: 20, days: 1 });
    assert.equal(one.predictions.length, 1);
    assert.deepEqual(one.predictions[0], full.predictions[0]);
    assert.equal(one.trend, full.predictions[0].return > 0.001 ? 'up' : full.predictions[0].return < -0.001 ? 'down' : 'flat');
  });
});

describe('Monte-Carlo dropout intervals', () => {
  test('same seed gives the same interval, another seed another one; the interval holds the point forecast', async () => {
    const a = await engine.predict(symbol, { run: 'main', interval: 'mc-dropout', samples: 50, seed: 3 });
    const b = await engine.predict(symbol, { run: 'main', interval: 'mc-dropout', samples: 50, seed: 3 });
    const c = await engine.predict(symbol, { run: 'main', interval: 'mc-dropout', samples: 50, seed: 4 });
    const point = await engine.predict(symbol, { run: 'main', interval: 'none' });
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.predictions.map((d) => [d.lower, d.upper]),
      c.predictions.map((d) => [d.lower, d.upper]),
    );
    assert.equal(a.level, 0.9);
    for (const [k, d] of a.predictions.entries()) {
      assert.equal(d.price, point.predictions[k].price, 'the point forecast does not depend on the sampling');
      assert.ok(d.lower! <= d.price && d.price <= d.upper!, `${d.lower} <= ${d.price} <= ${d.upper}`);
      assert.ok(d.upper! > d.lower!, 'dropout 0.2 spreads the samples');
    }
    assert.equal(point.level, null);
    assert.ok(point.predictions.every((d) => d.lower === null && d.upper === null));
  });

  test('a wider level gives a wider interval', async () => {
    const narrow = await engine.predict(symbol, { run: 'main', interval: 'mc-dropout', samples: 100, level: 0.5 });
    const wide = await engine.predict(symbol, { run: 'main', interval: 'mc-dropout', samples: 100, level: 0.98 });
    for (let k = 0; k < HORIZON; k++) {
      assert.ok(wide.predictions[k].lower! <= narrow.predictions[k].lower!);
      assert.ok(wide.predictions[k].upper! >= narrow.predictions[k].upper!);
    }
  });

  test('with dropout 0 every sample equals the point forecast: dropout is the only randomness in sampling', async () => {
    const copy = join(fx.root, 'nodropout');
    cpSync(join(fx.outputDir, 'main'), copy, { recursive: true });
    const configPath = join(copy, 'model', 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), dropout: 0 }));
    const f = await engine.predict(symbol, { run: copy, interval: 'mc-dropout', samples: 30 });
    for (const d of f.predictions) {
      assert.equal(d.lower, d.price);
      assert.equal(d.upper, d.price);
    }
  });

  test('quantiles are numpy-linear', () => {
    const sorted = [1, 2, 3, 4, 10];
    assert.equal(quantileSorted(sorted, 0), 1);
    assert.equal(quantileSorted(sorted, 1), 10);
    assert.equal(quantileSorted(sorted, 0.5), 3);
    assert.ok(Math.abs(quantileSorted(sorted, 0.9) - 7.6) < 1e-12); // numpy.quantile([1,2,3,4,10], 0.9) = 7.6
  });
});

describe('batch prediction', () => {
  test('predictMany equals one predict per symbol, including the intervals, and one bad symbol does not stop the rest', async () => {
    const request = { run: 'main', samples: 25, allowOtherSymbol: true } as const;
    const batch = await engine.predictMany([...fx.symbols, '000000', 'x1'], request);
    assert.deepEqual(
      batch.forecasts.map((f) => f.symbol),
      fx.symbols,
    );
    assert.deepEqual(
      batch.failures.map((f) => [f.symbol, f.code]),
      [
        ['x1', 'bad_input'],
        ['000000', 'symbol_not_found'],
      ],
    );
    await rejectsWith(engine.predictMany(['000000', symbol], { ...request, days: HORIZON + 1 }), 'days_beyond_horizon');
    for (const f of batch.forecasts) assert.deepEqual(f, await engine.predict(f.symbol, request));
  });

  test('forecastSeries on series in memory gives the engine forecast', async () => {
    const model = engine.loadRun('main');
    const series = await engine.loader.loadSeries(symbol, model.historyStart ?? undefined);
    const calendar = await TradingCalendar.load(fx.handle.db);
    const [f] = forecastSeries(model, [series], calendar, { samples: 10 });
    assert.deepEqual(f, await engine.predict(symbol, { run: 'main', samples: 10 }));
  });
});

describe('choosing and loading runs', () => {
  test('bestRunFor picks the completed run with the lowest test MAE, and predict uses it without --run', async () => {
    const runs = TrainingManager.listRuns(fx.outputDir).filter((r) => r.symbol === symbol);
    const byMae = runs.sort((a, b) => a.evalMetrics!.mae! - b.evalMetrics!.mae!);
    assert.equal(byMae.length, 2);
    assert.notEqual(byMae[0].evalMetrics!.mae, byMae[1].evalMetrics!.mae);
    assert.equal(engine.bestRunFor(symbol).name, byMae[0].name);
    const f = await engine.predict(symbol, { samples: 0 });
    assert.equal(f.run, byMae[0].name);
  });

  test('loaded models are cached, and reloaded when the weights file changes', () => {
    const a = engine.loadRun('main');
    assert.equal(engine.loadRun('main'), a);
    const later = new Date(Date.now() + 5000);
    utimesSync(a.weightsPath, later, later);
    const b = engine.loadRun('main');
    assert.notEqual(b, a);
    assert.equal(engine.loadRun('main'), b);
  });

  test('unknown or unsafe runs, and runs without a saved model, are clear errors', async () => {
    await rejectsWith(engine.predict(symbol, { run: 'no_such_run' }), 'run_not_found', /no_such_run/);
    await rejectsWith(engine.predict(symbol, { run: '..' }), 'bad_run_name');
    const unfinished = TrainingManager.create({ outputDir: fx.outputDir, runName: 'unfinished', symbol, modelType: 'lstm' });
    unfinished.updateStatus('failed', { error: 'test' });
    await rejectsWith(engine.predict(symbol, { run: 'unfinished' }), 'run_not_ready', /model\/config\.json/);
    await rejectsWith(engine.predict(other), 'run_not_found', new RegExp(`no completed run .* for ${other}`));
  });

  test('symbols: malformed, without bars, and another symbol than the run was trained on', async () => {
    await rejectsWith(engine.predict('60051', { run: 'main' }), 'bad_input', /not an A-share code/);
    await rejectsWith(engine.predict('000000', { run: 'main', allowOtherSymbol: true }), 'symbol_not_found', /no bars for 000000/);
    await rejectsWith(engine.predict(other, { run: 'main' }), 'symbol_mismatch', new RegExp(`trained on ${symbol}, not ${other}`));
    const f = await engine.predict(other, { run: 'main', allowOtherSymbol: true, samples: 0 });
    assert.equal(f.symbol, other);
    assert.match(f.warnings.join('\n'), new RegExp(`trained on ${symbol}`));
  });

  test('a symbol whose last bar is older than the market last trading day gets a warning', async () => {
    const fresh = await engine.predict(other, { run: 'main', allowOtherSymbol: true, samples: 0, endDate: '2024-06-28' });
    assert.ok(!fresh.warnings.some((w) => /last bar/.test(w)), fresh.warnings.join('; '));
    await fx.handle.db
      .deleteFrom('stock_kline_data')
      .where('symbol', '=', other)
      .where('trade_date', '>=', '2024-06-27')
      .where('trade_date', '<=', '2024-06-28')
      .execute();
    const stale = await engine.predict(other, { run: 'main', allowOtherSymbol: true, samples: 0, endDate: '2024-06-28' });
    assert.equal(stale.baseDate, '2024-06-26');
    assert.ok(
      stale.warnings.some((w) => w.includes(`the last bar of ${other} is 2024-06-26, before the market's last trading day 2024-06-28`)),
      stale.warnings.join('; '),
    );
  });

  test('too little history before the end date, and bad options, are errors', async () => {
    await rejectsWith(engine.predict(symbol, { run: 'main', endDate: '2021-02-01' }), 'too_short');
    await rejectsWith(engine.predict(symbol, { run: 'main', endDate: '2024-13-01' }), 'bad_input');
    await rejectsWith(engine.predict(symbol, { run: 'main', level: 1 }), 'bad_input', /level/);
    await rejectsWith(engine.predict(symbol, { run: 'main', samples: -1 }), 'bad_input', /samples/);
  });

  test('a run folder whose model config and scaler disagree is refused', async () => {
    const copy = join(fx.root, 'mismatch');
    cpSync(join(fx.outputDir, 'main'), copy, { recursive: true });
    const configPath = join(copy, 'model', 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), horizon: 5, output_size: 5 }));
    assert.throws(
      () => loadRunModel(copy),
      (err: unknown) => err instanceof UserError && err.code === 'run_corrupt' && /horizon 5/.test(err.message),
    );
  });
});

describe('the server adapter', () => {
  test('createPredictor answers the API shape (snake_case) with the engine forecast', async () => {
    const predictor = createPredictor(engine, { samples: 20 });
    const api = await predictor.predict(symbol, { run: 'main', days: 2, endDate: '2024-09-27' });
    const f: Forecast = await engine.predict(symbol, { run: 'main', days: 2, endDate: '2024-09-27', samples: 20 });
    assert.deepEqual(api, {
      symbol,
      run: 'main',
      base_date: '2024-09-27',
      base_close: f.baseClose,
      adjust: f.adjust,
      horizon: HORIZON,
      interval_level: 0.9,
      interval_method: f.interval,
      trend: f.trend,
      predictions: f.predictions,
    });
  });
});
