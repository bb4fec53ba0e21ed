/**
 * Load test of the API's read routes on loopback with autocannon. The server runs in a child process so the load
 * generator does not share its event loop. Data: the 33 real A-share stocks (full history) in a temp SQLite database
 * (the embedded default), or --database mysql://… ; runs: 20 fixture runs written by TrainingManager.
 *
 * Run: npm run bench:api [-- --duration 5 --connections 10 --database mysql://root@127.0.0.1:3306/klinecast_bench]
 * The predict load test (warm and cold cache) comes with the PredictionEngine.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boardOf, migrate, openDatabase, writeBars, type KlineBar } from '../src/data/index.js';
import { upsertStockInfo } from '../src/data/writer.js';
import { createServer } from '../src/server/index.js';
import { ashareSymbols, readAshare } from '../test/helpers/ashare.js';
import { writeCompletedRun } from '../test/training/manager-fixtures.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function serveChild(): Promise<void> {
  const database = await openDatabase(process.env.BENCH_DATABASE_URL);
  const app = await createServer({ database, outputDir: process.env.BENCH_OUTPUT_DIR, rateLimit: false, webDir: null });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ url });
}

async function prepare(databaseUrl: string, outputDir: string): Promise<void> {
  const handle = await openDatabase(databaseUrl, { createDatabase: true });
  await migrate(handle);
  const symbols = ashareSymbols();
  await handle.db.transaction().execute(async (trx) => {
    for (const symbol of symbols) {
      const s = readAshare(symbol);
      const bars: KlineBar[] = s.dates.map((date, i) => ({
        symbol,
        tradeDate: date,
        open: s.open[i],
        high: s.high[i],
        low: s.low[i],
        close: s.close[i],
        preClose: s.preClose[i],
        change: s.change[i],
        pctChg: s.pctChg[i],
        vol: s.vol[i],
        amount: s.amount[i],
        turnoverRate: null,
        pe: null,
        pb: null,
        totalMv: null,
        circMv: null,
        limitStatus: null,
      }));
      await writeBars(trx, handle.dialect, bars);
    }
    await upsertStockInfo(
      trx,
      handle.dialect,
      symbols.map((symbol) => {
        const board = boardOf(symbol);
        return { symbol, name: symbol, exchange: board?.exchange ?? null, market: board?.market ?? null, stockType: board?.stockType ?? null, industry: null, listDate: null, delistDate: null, isActive: true };
      }),
    );
  });
  await handle.close();
  for (let i = 0; i < 20; i++) writeCompletedRun(outputDir, { symbol: symbols[i % symbols.length], runName: `bench_run_${String(i).padStart(2, '0')}`, maeScale: 1 + i / 10 });
}

async function main(): Promise<void> {
  const duration = Number(flag('duration', '5'));
  const connections = Number(flag('connections', '10'));
  const root = mkdtempSync(join(tmpdir(), 'klinecast-bench-api-'));
  const databaseUrl = flag('database', `sqlite:${join(root, 'bench.db')}`);
  const outputDir = join(root, 'out');
  let child: ChildProcess | undefined;
  try {
    const t0 = performance.now();
    await prepare(databaseUrl, outputDir);
    console.log(`prepared 33 stocks and 20 runs in ${((performance.now() - t0) / 1000).toFixed(1)} s (${databaseUrl.replace(/:[^:@/]*@/, ':***@')})`);
    child = fork(fileURLToPath(import.meta.url), ['--serve-child'], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_DATABASE_URL: databaseUrl, BENCH_OUTPUT_DIR: outputDir },
    });
    const url = await new Promise<string>((resolve, reject) => {
      child!.once('message', (m) => resolve((m as { url: string }).url));
      child!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
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
  } finally {
    child?.kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv.includes('--serve-child')) await serveChild();
else await main();
