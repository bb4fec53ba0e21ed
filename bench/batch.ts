/**
 * npm run bench:batch — stocks per minute of `klinecast batch` with 1 and 2 worker threads on the same short
 * config, over the 33 real stocks (imported into a temp SQLite database). The target on a 2-core machine is
 * 2 workers ≥ 1.7 × 1 worker. Each measurement is a fresh batch folder, so both train every stock.
 *
 * It measures the compiled dist/ (what `klinecast batch` runs; `npm run bench:batch` rebuilds it first), not the
 * TypeScript sources under tsx, whose loader hooks in every pool thread cost CPU that users never pay.
 * Each worker count runs `--rounds` times, alternating, and the ratio is taken between the medians, because on a
 * two-core machine one stray process in a ~10 s measurement moves a single ratio by 0.1 or more.
 *
 *   npm run bench:batch [-- --epochs 4 --hidden 64 --seq 30 --workers 1,2 --rounds 3]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
// The control's job module is TypeScript, so it runs in the source pool (whose threads load tsx).
import { WorkerPool } from '../src/batch/index.js';
import { fixtureKind, syntheticSeries } from '../test/batch/fixture-jobs.js';
import { ASHARE_DIR } from '../test/helpers/env.js';

/** The compiled module with the types of its source (a computed URL, so typechecking does not need dist/). */
async function compiled<T>(module: string): Promise<T> {
  return (await import(new URL(`../dist/${module}/index.js`, import.meta.url).href)) as T;
}
const { runLocalBatch, trainKind } = await compiled<typeof import('../src/batch/index.js')>('batch');
const { importCsvFiles, migrate, openDatabase } = await compiled<typeof import('../src/data/index.js')>('data');
const { batchConfig, resolveTrainConfig } = await compiled<typeof import('../src/training/index.js')>('training');

/** Linux PSI: the share of the last 10 s in which some runnable task waited for a CPU (other load on the machine). */
function cpuPressure(): string {
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? `cpu pressure ${m[1]}%` : 'cpu pressure n/a';
  } catch {
    return 'cpu pressure n/a';
  }
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

// Short, but with training (not the ~30 fsynced files of each run folder) as most of a stock's time: with a much
// smaller model the stocks are I/O-bound on the one disk and no thread count helps.
const epochs = Number(arg('epochs', '4'));
const hidden = Number(arg('hidden', '64'));
const seqLength = Number(arg('seq', '30'));
const workerCounts = arg('workers', '1,2').split(',').map(Number);
const rounds = Number(arg('rounds', '3'));
const config = batchConfig(
  resolveTrainConfig({
    overrides: {
      data: { startDate: '2021-01-01', endDate: '2023-12-31' },
      dataset: { seqLength },
      model: { modelType: 'lstm', hiddenSize: hidden, numLayers: 1, headHiddenSize: 16 },
      // One thread per stock: this measures the pool's scaling (threads 'auto' would give 1 worker both cores).
      training: { epochs, batchSize: 32, patience: 0, saveTotalLimit: 1, threads: 1 },
    },
  }),
);

/**
 * Control: 12 jobs of fixed pure-CPU work (no I/O, no engine) on 1 and then 2 threads. On two free cores this is
 * ~2×; when it is not, other processes are holding the CPU and the batch ratio below cannot reach its target either.
 */
async function controlRatio(dir: string): Promise<number> {
  const config = { spinIterations: 3e7 };
  const seconds: number[] = [];
  for (const size of [1, 2]) {
    const pool = new WorkerPool({ size, job: fixtureKind(config).ref });
    try {
      const warm = Array.from({ length: size }, (_, i) =>
        pool.run({ series: syntheticSeries('000001', 20), config: { spinIterations: 4, outputDir: join(dir, 'control'), runName: `warm_${size}_${i}` } }),
      );
      await Promise.all(warm);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          pool.run({ series: syntheticSeries('000001', 20), config: { ...config, outputDir: join(dir, 'control'), runName: `spin_${size}_${i}` } }),
        ),
      );
      seconds.push((performance.now() - t0) / 1000);
    } finally {
      await pool.close();
    }
  }
  console.log(
    `control (fixed CPU work, 12 jobs): 1 thread ${seconds[0].toFixed(2)} s, 2 threads ${seconds[1].toFixed(2)} s = ${(seconds[0] / seconds[1]).toFixed(2)}x [${cpuPressure()}]`,
  );
  return seconds[0] / seconds[1];
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const dir = mkdtempSync(join(tmpdir(), 'klinecast-bench-batch-'));
const handle = await openDatabase(`sqlite:${join(dir, 'bench.db')}`);
try {
  await migrate(handle);
  const t0 = performance.now();
  const imported = await importCsvFiles(handle, [ASHARE_DIR]);
  console.log(`imported ${imported.totals.inserted} bars of ${imported.files.length} stocks in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Other processes on the machine share the cores: the load average says how far to trust the ratio.
  console.log(`machine: ${cpus()[0].model}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0].toFixed(2)}, ${cpuPressure()} before`);
  console.log(`config: lstm hidden ${hidden}, 1 layer, seq ${seqLength}, ${epochs} epochs, batch 32, bars 2021-01-01..2023-12-31\n`);
  const rates = new Map<number, number[]>(workerCounts.map((w) => [w, []]));
  const steadyRates = new Map<number, number[]>(workerCounts.map((w) => [w, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const workers of workerCounts) {
      const cpu0 = process.cpuUsage();
      const summary = await runLocalBatch({
        handle,
        kind: trainKind(config),
        config,
        symbols: 'all',
        workers,
        outputDir: join(dir, `out-${round}-${workers}`),
        batchDir: join(dir, `out-${round}-${workers}`, 'batches', 'bench'),
        start: config.data.startDate ?? undefined,
        end: config.data.endDate ?? undefined,
        register: false,
      });
      const cpu = process.cpuUsage(cpu0);
      const perMinute = (summary.counts.completed / summary.seconds) * 60;
      rates.get(workers)!.push(perMinute);
      // A whole market is thousands of stocks, so each thread's start-up (module loading, JIT and wasm tier-up,
      // ~0.5 s) is amortised there but not over 33 stocks: the steady rate counts from the moment the w-th stock
      // finished (every thread has trained one) to the last.
      const finished = summary.stocks
        .map((s) => Date.parse(s.finishedAt ?? ''))
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      const steady = finished.length > workers ? ((finished.length - workers) / (finished[finished.length - 1] - finished[workers - 1])) * 60_000 : NaN;
      steadyRates.get(workers)!.push(steady);
      // Seconds a stock spends in its thread (load, features, training, evaluation, writing the run): if this grows
      // with more workers, the threads are not getting a core each. Process CPU above the wall time of one worker
      // is the main thread and V8's helper threads (GC, compilers), which a second worker has to share a core with.
      const inThread = summary.stocks.map((s) => s.seconds ?? 0);
      const mean = inThread.reduce((a, b) => a + b, 0) / Math.max(1, inThread.length);
      console.log(
        `round ${round}, ${workers} worker(s) [load ${loadavg()[0].toFixed(2)}, ${cpuPressure()}]: ${summary.counts.completed} completed, ${summary.counts.failed} failed, ${summary.counts.skipped} skipped ` +
          `in ${summary.seconds.toFixed(1)} s = ${perMinute.toFixed(1)} stocks/min, ${steady.toFixed(1)} after warm-up (mean ${mean.toFixed(2)} s per stock in its thread; process CPU ${(cpu.user / 1e6).toFixed(1)} s user + ${(cpu.system / 1e6).toFixed(1)} s system)`,
      );
    }
  }
  await controlRatio(dir);
  const one = median(rates.get(1) ?? []);
  const two = median(rates.get(2) ?? []);
  if (one && two) {
    console.log(`\nmedian of ${rounds} round(s): 1 worker ${one.toFixed(1)} stocks/min, 2 workers ${two.toFixed(1)} stocks/min`);
    console.log(`scaling 2 vs 1 worker: ${(two / one).toFixed(2)}x (target >= 1.7x)`);
    const steadyOne = median(steadyRates.get(1) ?? []);
    const steadyTwo = median(steadyRates.get(2) ?? []);
    if (steadyOne && steadyTwo) {
      console.log(
        `after each thread's first stock: 1 worker ${steadyOne.toFixed(1)}, 2 workers ${steadyTwo.toFixed(1)} stocks/min = ${(steadyTwo / steadyOne).toFixed(2)}x`,
      );
    }
  }
} finally {
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
}
