/**
 * The universal model at market scale: a seeded demo market of 500 stocks × 4 years in SQLite, and for 100 and for
 * 500 of its stocks, each in a fresh process so peak RSS is its own:
 *   - load (one streamed query) + features + split + pooled scalers + windows, timed;
 *   - training throughput of the seed-default LSTM (hidden 128, 2 layers, seq 60, batch 32) over STEPS steps, with the
 *     epoch time it implies for all training windows;
 *   - peak RSS, sampled every 50 ms.
 * Run: npm run bench:universal [-- --stocks 100,500 --steps 100]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { generateDemoMarket, migrate, openDatabase, resolveUniverse, StockDataLoader, writeDemoMarket } from '../src/data/index.js';
import { buildUniverseDataset } from '../src/features/index.js';
import { resolveTrainConfig, Trainer } from '../src/training/index.js';

const { values } = parseArgs({
  options: { stocks: { type: 'string', default: '100,500' }, steps: { type: 'string', default: '100' }, child: { type: 'string' }, db: { type: 'string' } },
});
const STEPS = Number(values.steps);

interface Measured {
  stocks: number;
  rows: number;
  windows: { train: number; val: number; test: number };
  loadSeconds: number;
  buildSeconds: number;
  samplesPerSecond: number;
  epochSeconds: number;
  peakRssMb: number;
}

async function measure(url: string, stocks: number): Promise<void> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const handle = await openDatabase(url);
  const t0 = performance.now();
  const symbols = (await resolveUniverse(handle, 'all')).slice(0, stocks);
  const series = [];
  for await (const s of new StockDataLoader(handle).streamSeries({ symbols })) series.push(s);
  await handle.close();
  const loaded = performance.now();
  const config = resolveTrainConfig({ overrides: { data: { symbols }, training: { epochs: 1 } } });
  const dataset = buildUniverseDataset(series, config.dataset);
  const built = performance.now();
  series.length = 0;
  const controller = new AbortController();
  let started = 0;
  let samples = 0;
  const trainer = new Trainer(dataset, config, {
    signal: controller.signal,
    callbacks: [
      {
        onStepEnd: (s) => {
          if (s.step === 1) started = performance.now();
          else samples += s.samples; // the first step (JIT, arena growth) is not timed
          if (s.step === STEPS + 1) controller.abort('bench');
        },
      },
    ],
  });
  await trainer.fit();
  const trained = performance.now();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const rate = samples / ((trained - started) / 1000);
  const result: Measured = {
    stocks: dataset.members.length,
    rows: dataset.universe.reduce((n, m) => n + m.rows, 0),
    windows: { train: dataset.train.size, val: dataset.val.size, test: dataset.test.size },
    loadSeconds: (loaded - t0) / 1000,
    buildSeconds: (built - loaded) / 1000,
    samplesPerSecond: rate,
    epochSeconds: dataset.train.size / rate,
    peakRssMb: peak / 2 ** 20,
  };
  process.send?.(result);
  trainer.dispose();
}

if (values.child) {
  await measure(values.db as string, Number(values.child));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'klinecast-bench-universal-'));
const url = `sqlite:${join(dir, 'market.db')}`;
try {
  const t0 = performance.now();
  const handle = await openDatabase(url, { createDatabase: true });
  await migrate(handle);
  await writeDemoMarket(handle, generateDemoMarket({ stocks: 500, start: '2021-01-01', end: '2024-12-31', seed: 7 }));
  await handle.close();
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), node ${process.version}`);
  console.log(`demo market: 500 stocks × 2021-2024 written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`model: seed-default LSTM (hidden 128, 2 layers, seq 60, batch 32, 50 features), ${STEPS} timed steps\n`);
  console.log('stocks  bars     train windows  load s  features+windows s  samples/s  implied epoch s  peak RSS MB');
  const rows: Measured[] = [];
  for (const n of values.stocks.split(',').map(Number)) {
    const child = fork(fileURLToPath(import.meta.url), ['--child', String(n), '--db', url, '--steps', String(STEPS)], { execArgv: process.execArgv });
    const m = await new Promise<Measured>((resolve, reject) => {
      child.on('message', (message) => resolve(message as Measured));
      child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`bench child for ${n} stocks exited ${code}`))));
    });
    rows.push(m);
    console.log(
      `${String(m.stocks).padStart(6)}  ${String(m.rows).padStart(7)}  ${String(m.windows.train).padStart(13)}  ${m.loadSeconds.toFixed(2).padStart(6)}  ${m.buildSeconds.toFixed(2).padStart(18)}  ${m.samplesPerSecond.toFixed(0).padStart(9)}  ${m.epochSeconds.toFixed(0).padStart(15)}  ${m.peakRssMb.toFixed(0).padStart(11)}`,
    );
  }
  if (rows.length >= 2) {
    const [a, b] = [rows[0], rows[rows.length - 1]];
    console.log(`\nRSS grows ${((b.peakRssMb - a.peakRssMb) / (b.stocks - a.stocks)).toFixed(2)} MB per stock from ${a.stocks} to ${b.stocks} stocks`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
