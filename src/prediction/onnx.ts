/**
 * `klinecast predict --engine onnx` (issue 18): the same forecast with the network run by a second, independent
 * runtime, onnxruntime-web (pure WebAssembly), on the run's exported ONNX graph (src/runs/onnx.ts, built in memory).
 * The PredictionEngine still chooses the run, the base day and the trading days; the window is rebuilt from the run's
 * history start with the run's scaler, the ONNX output is inverted with its target scaler, and the result says how far
 * the two runtimes' returns are apart. Point forecasts only: intervals need the klinecast engine.
 *
 * onnxruntime-web is an optional peer dependency (about 150 MB of WebAssembly builds, which klinecast's own tests
 * use); it is imported only here, on first use, and a missing install is a clear error.
 */
import { join } from 'node:path';
import { buildInferenceInput, reconstructPrices } from '../features/index.js';
import { onnxOfRun } from '../runs/onnx.js';
import { stockRowsFor } from './model.js';
import { readRunConfig } from '../training/index.js';
import { UserError } from '../util/errors.js';
import { trendOf, type Forecast } from './forecast.js';
import type { PredictionEngine, PredictRequest } from './engine.js';

export interface OnnxForecast extends Forecast {
  engine: 'onnxruntime-web';
  /** The onnxruntime-web version that ran the graph. */
  runtimeVersion: string;
  /** max |return(onnx) − return(klinecast engine)| over the forecast days. */
  maxReturnDifference: number;
}

type Ort = typeof import('onnxruntime-web');

async function loadOrt(): Promise<Ort> {
  try {
    const ort = (await import('onnxruntime-web')) as Ort;
    ort.env.wasm.numThreads = 1;
    return ort;
  } catch {
    throw new UserError('--engine onnx runs the model in onnxruntime-web, which is not installed: npm install onnxruntime-web@~1.31', 'onnx_runtime_missing');
  }
}

/** The forecast of `symbol` with the network evaluated by onnxruntime-web. */
export async function predictWithOnnx(engine: PredictionEngine, symbol: string, request: PredictRequest = {}): Promise<OnnxForecast> {
  const ort = await loadOrt();
  const base = await engine.predict(symbol, { ...request, interval: 'none' });
  const ref = request.run ?? join(engine.outputDir, base.run);
  const { bytes, loaded } = onnxOfRun(ref, { outputDir: engine.outputDir, checkpoint: base.checkpoint });
  const config = readRunConfig(loaded.dir);
  const start = config.data.firstDate ?? config.data.startDate ?? undefined;
  const series = await engine.loader.loadSeries(base.symbol, start, base.baseDate, { adjust: config.data.adjust });
  const input = buildInferenceInput(series, loaded.bundle, base.baseDate);
  if (input.lastDate !== base.baseDate) throw new Error(`onnx: the window ends on ${input.lastDate}, the forecast's base day is ${base.baseDate}`);
  const { seqLength, featureNames } = loaded.inputs;
  const session = await ort.InferenceSession.create(bytes);
  let scaled: Float32Array;
  try {
    const feeds: Record<string, InstanceType<Ort['Tensor']>> = { input: new ort.Tensor('float32', input.x, [1, seqLength, featureNames.length]) };
    // A stock embedding's row: the stock's own, or the unknown row for a stock the run was not trained on.
    const stocks = stockRowsFor(loaded, [base.symbol]);
    if (stocks)
      feeds.stock = new ort.Tensor(
        'int64',
        BigInt64Array.from(stocks, (r) => BigInt(r)),
        [1],
      );
    const out = await session.run(feeds);
    scaled = out.output.data as Float32Array;
  } finally {
    await session.release();
  }
  const { returns, prices } = reconstructPrices(scaled, base.baseClose, loaded.targetScaler);
  let maxReturnDifference = 0;
  const predictions = base.predictions.map((day, i) => {
    maxReturnDifference = Math.max(maxReturnDifference, Math.abs(returns[i] - day.return));
    return { date: day.date, price: prices[i], return: returns[i], lower: null, upper: null };
  });
  return {
    ...base,
    predictions,
    trend: trendOf(predictions[predictions.length - 1].return),
    engine: 'onnxruntime-web',
    runtimeVersion: ort.env.versions.web ?? 'unknown',
    maxReturnDifference,
  };
}
