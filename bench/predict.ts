/**
 * Inference latency of the PredictionEngine with the seed's default model (LSTM, hidden 128, 2 layers, dropout 0.2,
 * seq 60, the 50 default features), horizon 5, trained for one epoch on a demo stock (weights' values do not change
 * the cost).
 *
 *  - one symbol, end to end through the engine (SQLite read of the history, features, saved scaler, forward,
 *    calendar): the first call (loading the run) and warm calls, with and without MC dropout;
 *  - 1,000 symbols: a seeded demo market of 1,000 stocks generated in memory (not written to a database: the demo
 *    writer would take minutes), forecast as one batch with forecastSeries: features + one batched forward for the
 *    point forecasts, then the MC-dropout passes per symbol;
 *  - 1,000 symbols through `predict --symbols` without --run (PredictionEngine.rank): a second demo market of
 *    RANK_STOCKS stocks × 18 months written to SQLite, served by one universal run trained on all of them (a small
 *    LSTM, hidden 16, 1 layer, seq 60, 1 epoch: training the seed-default model on 1,000 stocks would take minutes; its
 *    batched forward is the "point forecasts" figure above). Timed warm (the run loaded): listing the runs, the
 *    best-run rule per stock (the universal run by each stock's own test days), one streamed read of the bars,
 *    features, one batched forward, no ledger.
 *
 * Run: npm run bench:predict [-- --symbols 1000 --samples 100 --mc-symbols 1000 --repeats 10 --rank-stocks 1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TradingCalendar, barsToSeries, generateDemoMarket, migrate, openDatabase, writeDemoMarket } from '../src/data/index.js';
import { PredictionEngine, forecastSeries, prepareInput } from '../src/prediction/index.js';
import { parseTrainConfig, runTraining } from '../src/training/index.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const SYMBOLS = flag('symbols', 1000);
const SAMPLES = flag('samples', 100);
const REPEATS = flag('repeats', 10);
/** Symbols in the MC-dropout batch (default: all): MC costs samples × a forward per symbol, linear in symbols. */
const MC_SYMBOLS = flag('mc-symbols', SYMBOLS);
/** Stocks of the market `predict --symbols all` ranks (0: skip that part). */
const RANK_STOCKS = flag('rank-stocks', 1000);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timeIt(fn: () => Promise<unknown> | unknown, repeats: number): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const root = mkdtempSync(join(tmpdir(), 'klinecast-bench-predict-'));
try {
  const url = `sqlite:${join(root, 'market.db')}`;
  const handle = await openDatabase(url);
  await migrate(handle);
  const demoOptions = { start: '2021-01-01', end: '2024-12-31', seed: 42 };
  const small = generateDemoMarket({ stocks: 2, ...demoOptions });
  await writeDemoMarket(handle, small);
  const symbol = small.stocks[0].symbol;
  const outputDir = join(root, 'out');
  const tTrain = performance.now();
  await runTraining({
    config: parseTrainConfig({
      data: { symbol },
      dataset: { horizon: 5 },
      model: { modelType: 'lstm' },
      training: { epochs: 1 },
      output: { outputDir, runName: 'bench' },
    }),
    databaseUrl: url,
  });
  const trainSeconds = (performance.now() - tTrain) / 1000;

  console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), node ${process.version}`);
  console.log(`model: lstm hidden 128 x 2 layers, seq 60, 50 features, horizon 5 (trained 1 epoch in ${trainSeconds.toFixed(1)} s)`);

  // --- one symbol, end to end -------------------------------------------------------------------------------------
  const engine = new PredictionEngine({ database: handle, outputDir });
  const t0 = performance.now();
  await engine.predict(symbol, { run: 'bench', samples: 0 });
  const cold = performance.now() - t0;
  const point = await timeIt(() => engine.predict(symbol, { run: 'bench', samples: 0 }), REPEATS);
  const mc = await timeIt(() => engine.predict(symbol, { run: 'bench', samples: SAMPLES }), REPEATS);
  const noRun = await timeIt(() => engine.predict(symbol, { samples: 0 }), REPEATS);
  console.log('\none symbol through PredictionEngine.predict (SQLite), median of', REPEATS);
  console.log(`  first call (loads the run, no MC):   ${cold.toFixed(1)} ms`);
  console.log(`  warm, point forecast only:           ${point.toFixed(1)} ms`);
  console.log(`  warm, ${SAMPLES} MC-dropout samples:       ${mc.toFixed(1)} ms`);
  console.log(`  warm, best run looked up, no MC:     ${noRun.toFixed(1)} ms`);

  // --- many symbols, in memory --------------------------------------------------------------------------------------
  const tGen = performance.now();
  const market = generateDemoMarket({ stocks: SYMBOLS, ...demoOptions });
  const model = engine.loadRun('bench');
  // Demo stocks listed late in the range have too little history for one window; they are left out (and counted).
  const generated = market.stocks.map((_, i) => barsToSeries(market.bars(i)));
  const series = generated.filter((s) => {
    try {
      prepareInput(model, s);
      return true;
    } catch {
      return false;
    }
  });
  const genSeconds = (performance.now() - tGen) / 1000;
  const rows = series.reduce((n, s) => n + s.dates.length, 0);
  const N = series.length;
  const calendar = await TradingCalendar.load(handle.db);
  console.log(
    `\n${N} symbols (of ${SYMBOLS} generated; ${SYMBOLS - N} too short): demo market in memory (${rows} bars, ${genSeconds.toFixed(1)} s, not timed), one forecastSeries call`,
  );
  const tFeat = performance.now();
  forecastSeries(model, series, calendar, { samples: 0 });
  const batchPoint = performance.now() - tFeat;
  console.log(`  point forecasts:                     ${batchPoint.toFixed(0)} ms  (${(batchPoint / N).toFixed(2)} ms/symbol)`);
  const mcSeries = series.slice(0, MC_SYMBOLS);
  const M = mcSeries.length;
  const tMc = performance.now();
  forecastSeries(model, mcSeries, calendar, { samples: SAMPLES });
  const batchMc = performance.now() - tMc;
  console.log(
    `  ${M} symbols with ${SAMPLES} MC-dropout samples: ${batchMc.toFixed(0)} ms  (${(batchMc / M).toFixed(2)} ms/symbol, ${((M * (SAMPLES + 1)) / (batchMc / 1000)).toFixed(0)} windows/s)`,
  );
  const few = series.slice(0, 100);
  const tOne = performance.now();
  for (const s of few) forecastSeries(model, [s], calendar, { samples: 0 });
  const oneByOne = (performance.now() - tOne) / few.length;
  console.log(`  (point forecasts one call per symbol: ${oneByOne.toFixed(2)} ms/symbol, first ${few.length})`);
  await handle.close();

  // --- many symbols through predict --symbols all, each by its best run -------------------------------------------
  if (RANK_STOCKS > 0) {
    const rankUrl = `sqlite:${join(root, 'ranked.db')}`;
    const rankHandle = await openDatabase(rankUrl);
    await migrate(rankHandle);
    const tWrite = performance.now();
    await writeDemoMarket(rankHandle, generateDemoMarket({ stocks: RANK_STOCKS, start: '2023-07-01', end: '2024-12-31', seed: 42 }));
    const writeSeconds = (performance.now() - tWrite) / 1000;
    const rankDir = join(root, 'out-ranked');
    const tUniversal = performance.now();
    await runTraining({
      config: parseTrainConfig({
        data: { symbols: 'all' },
        dataset: { horizon: 1 },
        model: { modelType: 'lstm', hiddenSize: 16, numLayers: 1, headHiddenSize: 16 },
        training: { epochs: 1, batchSize: 256 },
        output: { outputDir: rankDir, runName: 'universal' },
      }),
      databaseUrl: rankUrl,
    });
    const universalSeconds = (performance.now() - tUniversal) / 1000;
    const ranker = new PredictionEngine({ database: rankHandle, outputDir: rankDir });
    const first = await ranker.rank(undefined, 'all', { samples: 0, interval: 'none' });
    const warm = await timeIt(() => ranker.rank(undefined, 'all', { samples: 0, interval: 'none' }), REPEATS);
    const runsUsed = new Set(first.entries.map((e) => e.run));
    console.log(
      `
${first.requested} stocks through predict --symbols all without --run (PredictionEngine.rank, SQLite; market written in ${writeSeconds.toFixed(0)} s, universal run trained in ${universalSeconds.toFixed(0)} s, not timed)`,
    );
    console.log(
      `  ${first.ranked} ranked by ${runsUsed.size} run(s), ${first.failures.length} skipped (${[...new Set(first.failures.map((f) => f.code))].join(', ') || 'none'})`,
    );
    console.log(`  warm, point forecasts, median of ${REPEATS}: ${warm.toFixed(0)} ms  (${(warm / first.requested).toFixed(2)} ms/stock; target < 2,000 ms)`);
    await rankHandle.close();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
