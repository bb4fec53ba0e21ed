/**
 * `klinecast predict --engine onnx` (issue 18): the network run by onnxruntime-web on the run's ONNX export gives the
 * klinecast engine's forecast (same run, base day and trading days; returns within 1e-5).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PredictionEngine } from '../../src/prediction/index.js';
import { predictWithOnnx } from '../../src/prediction/onnx.js';
import { runCli } from '../data/run-cli.js';
import { createMarket, trainTinyRun, trainTinyUniversalRun, type Fixture } from './fixture.js';

let fx: Fixture;
let engine: PredictionEngine;

before(async () => {
  fx = await createMarket();
  await trainTinyRun(fx, fx.symbols[0], 'onnx_engine_lstm');
  await trainTinyRun(fx, fx.symbols[1], 'onnx_engine_transformer', {
    model: { modelType: 'transformer', hiddenSize: 8, numHeads: 2, dimFeedforward: 16, numLayers: 2 },
  });
  engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
});
after(async () => fx?.close());

test('predictWithOnnx equals the klinecast engine: LSTM and Transformer, latest bar and an end date', async () => {
  for (const [symbol, run] of [
    [fx.symbols[0], 'onnx_engine_lstm'],
    [fx.symbols[1], 'onnx_engine_transformer'],
  ] as const) {
    for (const endDate of [undefined, '2024-06-28']) {
      const expected = await engine.predict(symbol, { run, endDate, interval: 'none' });
      const got = await predictWithOnnx(engine, symbol, { run, endDate });
      assert.equal(got.engine, 'onnxruntime-web');
      assert.equal(got.baseDate, expected.baseDate);
      assert.deepEqual(
        got.predictions.map((d) => d.date),
        expected.predictions.map((d) => d.date),
      );
      got.predictions.forEach((d, i) => {
        assert.ok(Math.abs(d.return - expected.predictions[i].return) <= 1e-5, `${run} ${endDate ?? 'latest'} day ${i + 1}`);
        assert.ok(Math.abs(d.price / expected.predictions[i].price - 1) <= 1e-5);
        assert.equal(d.lower, null);
      });
      assert.ok(got.maxReturnDifference <= 1e-5, String(got.maxReturnDifference));
      assert.equal(got.trend, expected.trend);
    }
  }
});

test('predictWithOnnx feeds a stock-embedding run its stock row: a trained stock and an unseen one (the unknown row)', async () => {
  await trainTinyUniversalRun(fx, 'onnx_engine_embedded', { data: { symbols: fx.symbols.slice(0, 2) }, model: { stockEmbeddingDim: 3 } });
  for (const symbol of [fx.symbols[0], fx.symbols[2]]) {
    // maxReturnDifference is against the klinecast engine's own forecast of the same run and day.
    const got = await predictWithOnnx(engine, symbol, { run: 'onnx_engine_embedded' });
    assert.ok(got.maxReturnDifference <= 1e-5, `${symbol}: ${got.maxReturnDifference}`);
  }
  const unseen = await engine.predict(fx.symbols[2], { run: 'onnx_engine_embedded', interval: 'none' });
  assert.ok(unseen.warnings.some((w) => /unknown-stock row/.test(w)));
});

test('klinecast predict --engine onnx prints the forecast; --symbols and unknown engines are refused', () => {
  const base = ['predict', '--output-dir', fx.outputDir, '--database', fx.url];
  const ok = runCli([...base, '--symbol', fx.symbols[0], '--run', 'onnx_engine_lstm', '--engine', 'onnx', '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  const forecast = JSON.parse(ok.stdout) as { engine: string; predictions: unknown[]; maxReturnDifference: number };
  assert.equal(forecast.engine, 'onnxruntime-web');
  assert.equal(forecast.predictions.length, 3);
  assert.ok(forecast.maxReturnDifference <= 1e-5);
  const bad = runCli([...base, '--symbol', fx.symbols[0], '--run', 'onnx_engine_lstm', '--engine', 'tensorrt']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--engine must be klinecast or onnx/);
  const ranking = runCli([...base, '--symbols', 'all', '--run', 'onnx_engine_lstm', '--engine', 'onnx']);
  assert.notEqual(ranking.status, 0);
  assert.match(ranking.stderr, /--engine onnx forecasts one --symbol/);
});
