/**
 * Builds the default dataset (50 features, seq 60, horizon 1, 70/15/15, standard scaler) for all 33 real stocks in
 * ../shared/data/ashare, and reports the build time excluding I/O (CSV reading happens before the clock starts).
 * Run: npm run bench:features
 */
import { cpus } from 'node:os';
import { buildDataset, computeFeatureFrame, DEFAULT_FEATURES, type Dataset } from '../src/features/index.js';
import { ashareSymbols, readAshare } from '../test/helpers/ashare.js';

const symbols = ashareSymbols();
const series = symbols.map((s) => readAshare(s));
const totalRows = series.reduce((n, s) => n + s.close.length, 0);

function timeAll(): { ms: number; datasets: Dataset[] } {
  const t0 = performance.now();
  const datasets = series.map((s) => buildDataset(s));
  return { ms: performance.now() - t0, datasets };
}

const runs: number[] = [];
let datasets: Dataset[] = [];
for (let r = 0; r < 5; r++) {
  const result = timeAll();
  runs.push(result.ms);
  datasets = result.datasets;
}
const t1 = performance.now();
for (const s of series) computeFeatureFrame(s, DEFAULT_FEATURES);
const featuresOnly = performance.now() - t1;

const windows = datasets.reduce((n, d) => n + d.train.size + d.val.size + d.test.size, 0);
const scaledBytes = datasets.reduce((n, d) => n + d.features.byteLength, 0);
const t2 = performance.now();
const x = datasets[0].train.X;
const materialiseMs = performance.now() - t2;

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), node ${process.version}`);
console.log(`stocks: ${symbols.length}, rows: ${totalRows}, features: ${DEFAULT_FEATURES.length}, windows: ${windows}`);
console.log(`build all (first run, cold JIT): ${fmt(runs[0])}`);
console.log(`build all (best of the next 4):  ${fmt(Math.min(...runs.slice(1)))}  median ${fmt([...runs.slice(1)].sort((a, b) => a - b)[2])}`);
console.log(`  of which features only (best-run conditions): ${fmt(featuresOnly)}`);
console.log(`scaled feature matrices held: ${(scaledBytes / 2 ** 20).toFixed(1)} MiB (windows are views into them)`);
console.log(`materialising one stock's train X [${datasets[0].train.size}, 60, 50]: ${fmt(materialiseMs)}, ${(x.byteLength / 2 ** 20).toFixed(1)} MiB`);
