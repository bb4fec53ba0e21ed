/**
 * Load test of the API on loopback with autocannon. The server runs in a child process so the load generator does
 * not share its event loop.
 *
 *  - Read routes: the 33 real A-share stocks (full history) in a temp SQLite database (the embedded default), or
 *    --database mysql://… ; runs: 20 fixture runs written by TrainingManager.
 *  - POST /api/v1/predict: a run of the seed's default model (LSTM, hidden 128, 2 layers, seq 60, 50 features),
 *    horizon 5, trained for one epoch by runTraining on a seeded demo stock (the real CSVs have no turnover column
 *    the default features need); warm = every request a cache hit, cold = a server whose cache keeps nothing, so
 *    every request runs the engine (history read, features, forward, 100 MC-dropout samples).
 *
 * Run: npm run bench:api [-- --duration 5 --connections 10 --database mysql://… --skip-predict]
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, openDatabase, seriesToBars, writeBars } from '../src/data/index.js';
import { minimalStockInfo } from '../src/data/import/importer.js';
import { upsertStockInfo } from '../src/data/writer.js';
import { PredictionEngine } from '../src/prediction/index.js';
import { createPredictor } from '../src/server/index.js';
import { MemoryPredictionCache, createServer } from '../src/server/index.js';
import { generateDemoMarket, writeDemoMarket } from '../src/data/index.js';
import { parseTrainConfig, runTraining } from '../src/training/index.js';
import { ashareSymbols, readAshare } from '../test/helpers/ashare.js';
import { writeCompletedRun } from '../test/training/manager-fixtures.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function serveChild(): Promise<void> {
  const database = await openDatabase(process.env.BENCH_DATABASE_URL);
  const outputDir = process.env.BENCH_OUTPUT_DIR;
  const app = await createServer({
    database,
    outputDir,
    rateLimit: false,
    webDir: null,
    predictor: createPredictor(new PredictionEngine({ database, outputDir })),
    // A cache that keeps nothing: every predict runs the engine.
    cache: process.env.BENCH_COLD_CACHE === '1' ? new MemoryPredictionCache(0) : undefined,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ url });
}

async function prepare(databaseUrl: string, outputDir: string): Promise<void> {
  const handle = await openDatabase(databaseUrl, { createDatabase: true });
  await migrate(handle);
  const symbols = ashareSymbols();
  await handle.db.transaction().execute(async (trx) => {
    for (const symbol of symbols) {
      const bars = seriesToBars(readAshare(symbol));
      await writeBars(trx, handle.dialect, bars);
    }
    await upsertStockInfo(trx, handle.dialect, symbols.map(minimalStockInfo));
  });
  await handle.close();
  for (let i = 0; i < 20; i++)
    writeCompletedRun(outputDir, { symbol: symbols[i % symbols.length], runName: `bench_run_${String(i).padStart(2, '0')}`, maeScale: 1 + i / 10 });
}

/** Starts the server in a child process and returns its URL and a stop function. */
async function startChild(env: Record<string, string>): Promise<{ url: string; stop: () => void }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve-child'], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

async function benchPredict(root: string, duration: number, connections: number): Promise<void> {
  const databaseUrl = `sqlite:${join(root, 'demo.db')}`;
  const outputDir = join(root, 'predict-out');
  const handle = await openDatabase(databaseUrl);
  await migrate(handle);
  const market = generateDemoMarket({ stocks: 1, start: '2020-01-01', end: '2024-12-31', seed: 42 });
  await writeDemoMarket(handle, market);
  await handle.close();
  const symbol = market.stocks[0].symbol;
  const t0 = performance.now();
  const config = parseTrainConfig({ data: { symbol }, dataset: { horizon: 5 }, training: { epochs: 1 }, output: { outputDir, runName: 'bench_predict_lstm' } });
  await runTraining({ config, databaseUrl });
  console.log(`\ntrained bench_predict_lstm (default LSTM, horizon 5, 1 epoch) on demo stock ${symbol} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const body = JSON.stringify({ symbol, days: 5 });
  console.log('\n| POST /api/v1/predict {days: 5} | req/s | p50 ms | p99 ms | non-2xx |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [label, cold] of [
    ['warm cache (hits)', false],
    ['cold cache (engine every time)', true],
  ] as const) {
    const server = await startChild({ BENCH_DATABASE_URL: databaseUrl, BENCH_OUTPUT_DIR: outputDir, BENCH_COLD_CACHE: cold ? '1' : '0' });
    try {
      // One request first: it loads the run (and, warm, fills the cache), as a server that has been up a while.
      const first = await fetch(`${server.url}/api/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (first.status !== 200) throw new Error(`predict failed: ${first.status} ${await first.text()}`);
      const result = await autocannon({
        url: `${server.url}/api/v1/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections,
        duration,
      });
      console.log(`| ${label} | ${result.requests.average.toFixed(1)} | ${result.latency.p50} | ${result.latency.p99} | ${result.non2xx} |`);
    } finally {
      server.stop();
    }
  }
}

async function main(): Promise<void> {
  const duration = Number(flag('duration', '5'));
  const connections = Number(flag('connections', '10'));
  const root = mkdtempSync(join(tmpdir(), 'klinecast-bench-api-'));
  const databaseUrl = flag('database', `sqlite:${join(root, 'bench.db')}`);
  const outputDir = join(root, 'out');
  let server: { url: string; stop: () => void } | undefined;
  try {
    const t0 = performance.now();
    await prepare(databaseUrl, outputDir);
    console.log(`prepared 33 stocks and 20 runs in ${((performance.now() - t0) / 1000).toFixed(1)} s (${databaseUrl.replace(/:[^:@/]*@/, ':***@')})`);
    server = await startChild({ BENCH_DATABASE_URL: databaseUrl, BENCH_OUTPUT_DIR: outputDir });
    const url = server.url;
    const routes = [
      '/health',
      '/api/v1/stocks',
      '/api/v1/stocks/600519/info',
      '/api/v1/stocks/600519/kline?start=2022-01-01&end=2022-12-31',
      '/api/v1/stocks/600519/kline',
      '/api/v1/runs',
      '/api/v1/runs/bench_run_00',
      '/api/v1/runs/bench_run_00/metrics',
      '/api/v1/runs/bench_run_00/predictions',
      '/api/v1/runs/..%2Fescape',
    ];
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    console.log(`\n${cpus().length} cores (${cpu}), Node ${process.version}, ${connections} connections, ${duration} s per route\n`);
    console.log('| route | req/s | p50 ms | p99 ms | non-2xx |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const route of routes) {
      const result = await autocannon({ url: `${url}${route}`, connections, duration });
      const non2xx = result.non2xx;
      console.log(`| GET ${route} | ${Math.round(result.requests.average)} | ${result.latency.p50} | ${result.latency.p99} | ${non2xx} |`);
    }
    server.stop();
    server = undefined;
    if (!process.argv.includes('--skip-predict')) await benchPredict(root, duration, connections);
  } finally {
    server?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv.includes('--serve-child')) await serveChild();
else await main();
