/**
 * Workload W1, the engine's benchmark (DESIGN.md §3): 1000 synthetic windows × 60 steps × 52 features,
 * hidden/d_model 128, 2 layers, dropout 0.2, batch 32, Adam lr 1e-3, MSE, clip 1.0, head 128→64→1, one core.
 * One epoch = gather, forward, loss, backward, clip, Adam for 31 full batches and a last one of 8. PyTorch runs the
 * same epoch on the same shapes through bench/engine_torch.py (1 thread). `npm run bench` and `klinecast bench` print
 * what this returns.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Adam, clipGradNorm } from '../engine/optim/index.js';
import { Rng } from '../engine/rng.js';
import { Engine } from '../engine/runtime.js';
import { ModelConfigSchema, type ModelType } from './config.js';
import { trainingFlopsPerSample } from './flops.js';
import { DataParallel } from './parallel.js';
import { createNetwork } from './registry.js';
import { trainStep } from './step.js';

export const W1 = { windows: 1000, seq: 60, features: 52, hidden: 128, layers: 2, batch: 32, heads: 4, ff: 512 } as const;
export const REFERENCE_PYTHON = '/usr/bin/python3';
/** Same depth below the package root from src/models and dist/models. */
const TORCH_SCRIPT = fileURLToPath(new URL('../../bench/engine_torch.py', import.meta.url));

export interface EngineBenchResult {
  model: ModelType;
  /** wall-clock seconds of the best epoch */
  epochSeconds: number;
  /** CPU seconds (user + system) of that epoch: robust when other processes share the cores */
  cpuSeconds: number;
  samplesPerSecond: number;
  /** effective: trainingFlopsPerSample × windows / epoch time */
  gflops: number;
  /** the process's peak resident set so far, MB */
  peakRssMb: number;
  /** threads per step (data-parallel, src/models/parallel.ts) */
  threads: number;
  /** windows per step (W1's 32 unless asked otherwise) */
  batch: number;
  /** with threads > 1: main-thread milliseconds per step copying weights and slices in and summing gradients */
  overheadMsPerStep: number | null;
  /** with threads > 1: main-thread milliseconds per step waiting for the workers after its own slice */
  waitMsPerStep: number | null;
}

/** Best of `epochs` timed W1 epochs of our engine (after two warm-up steps), on `threads` threads, `batch` windows a step. */
export async function benchEngineW1(model: ModelType, epochs = 1, threads = 1, batch: number = W1.batch): Promise<EngineBenchResult> {
  const engine = Engine.create();
  const rng = new Rng(0);
  const config = ModelConfigSchema.parse({
    modelType: model,
    inputSize: W1.features,
    hiddenSize: W1.hidden,
    numLayers: W1.layers,
    numHeads: W1.heads,
    dimFeedforward: W1.ff,
  });
  const net = createNetwork(config, engine, rng);
  const opt = new Adam(net.parameters(), { lr: 1e-3 });
  const sampleSize = W1.seq * W1.features;
  const X = Float32Array.from({ length: W1.windows * sampleSize }, () => rng.uniform(-1, 1));
  const Y = Float32Array.from({ length: W1.windows }, () => rng.uniform(-1, 1));
  const xb = new Float32Array(batch * sampleSize);
  const yb = new Float32Array(batch);
  const dp = threads > 1 ? await DataParallel.start({ threads, network: net, loss: 'mse', maxBatch: batch, seqLength: W1.seq }) : null;
  const step = async (indices: readonly number[]) => {
    const count = indices.length;
    const x = xb.subarray(0, count * sampleSize);
    const y = yb.subarray(0, count);
    indices.forEach((s, i) => {
      x.set(X.subarray(s * sampleSize, (s + 1) * sampleSize), i * sampleSize);
      y[i] = Y[s];
    });
    if (dp) await dp.step(rng, x, y, count);
    else trainStep(net, 'mse', x, y, count);
    clipGradNorm(net.parameters(), 1.0);
    opt.step();
  };
  const order = Array.from({ length: W1.windows }, (_, i) => i);
  // warm-up: V8 tiers the wasm up and memory grows to its peak
  for (let i = 0; i < 2; i++) await step(order.slice(0, batch));
  let best = Infinity;
  let cpu = Infinity;
  let overhead: number | null = null;
  let wait: number | null = null;
  for (let e = 0; e < epochs; e++) {
    dp?.resetStats();
    rng.shuffle(order);
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < W1.windows; i += batch) await step(order.slice(i, i + batch));
    const used = process.cpuUsage(cpuStart);
    const wall = (performance.now() - start) / 1000;
    if (wall < best) {
      best = wall;
      cpu = (used.user + used.system) / 1e6;
      overhead = dp ? dp.stats.overheadMs / dp.stats.steps : null;
      wait = dp ? dp.stats.waitMs / dp.stats.steps : null;
    }
  }
  await dp?.close();
  return {
    model,
    epochSeconds: best,
    cpuSeconds: cpu,
    samplesPerSecond: W1.windows / best,
    gflops: (trainingFlopsPerSample(config, W1.seq) * W1.windows) / best / 1e9,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    threads,
    batch,
    overheadMsPerStep: overhead,
    waitMsPerStep: wait,
  };
}

/** Why PyTorch cannot be measured here, or undefined when it can. */
export function torchUnavailable(): string | undefined {
  if (!existsSync(TORCH_SCRIPT)) return `${TORCH_SCRIPT} is missing`;
  if (spawnSync(REFERENCE_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) return `${REFERENCE_PYTHON} has no torch`;
  return undefined;
}

/**
 * The BLAS behind PyTorch decides its speed more than anything else: Debian's torch calls whatever libblas.so.3
 * update-alternatives selects. `apt-get install python3-torch` alone brings the reference BLAS (libblas3, about 5×
 * slower on W1); with libopenblas0-pthread installed, OpenBLAS takes over. Each backend lives in its own folder, so
 * LD_LIBRARY_PATH picks one for a measurement whatever the system default is.
 */
export interface TorchBlas {
  name: 'reference' | 'openblas' | 'blis' | 'atlas';
  /** folders put first on LD_LIBRARY_PATH (libblas.so.3 and liblapack.so.3 of this backend) */
  libraryPath: string[];
}

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const LIB_DIR = `/usr/lib/${MULTIARCH[process.arch] ?? `${process.arch}-linux-gnu`}`;
const BLAS_FOLDERS: Array<{ name: TorchBlas['name']; blas: string; lapack: string }> = [
  { name: 'reference', blas: 'blas', lapack: 'lapack' },
  { name: 'openblas', blas: 'openblas-pthread', lapack: 'openblas-pthread' },
  { name: 'blis', blas: 'blis-pthread', lapack: 'lapack' },
  { name: 'atlas', blas: 'atlas', lapack: 'atlas' },
];

/** The BLAS backends installed here, in the order above. */
export function installedTorchBlas(): TorchBlas[] {
  return BLAS_FOLDERS.filter((b) => existsSync(`${LIB_DIR}/${b.blas}/libblas.so.3`)).map((b) => ({
    name: b.name,
    libraryPath: [...new Set([`${LIB_DIR}/${b.blas}`, `${LIB_DIR}/${b.lapack}`])],
  }));
}

/** The backend the system's libblas.so.3 resolves to (update-alternatives), or 'unknown'. */
export function systemTorchBlas(): string {
  try {
    const target = realpathSync(`${LIB_DIR}/libblas.so.3`);
    return BLAS_FOLDERS.find((b) => target.startsWith(`${LIB_DIR}/${b.blas}/`))?.name ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface TorchBenchResult {
  /** the BLAS PyTorch ran on */
  blas: string;
  /** torch.set_num_threads and the BLAS's thread count */
  threads: number;
  epochSeconds: number;
  cpuSeconds: number;
}

/**
 * PyTorch's W1 epoch (1 thread, best of `epochs`), measured now on this machine: wall and CPU seconds, on the
 * given BLAS backend or the system's.
 */
export function benchTorchW1(model: ModelType, epochs = 1, blas?: TorchBlas, threads = 1, batch: number = W1.batch): TorchBenchResult {
  const args = [TORCH_SCRIPT, model, ...[epochs, W1.windows, W1.seq, W1.features, W1.hidden, W1.layers, batch, W1.heads, W1.ff].map(String)];
  // torch.set_num_threads(1) does not reach the BLAS: OpenBLAS's own pool would otherwise use every core
  // (measured: 8.6 CPU-s in a 5.2 s epoch). These pin the whole reference to one thread.
  const n = String(threads);
  const oneThread = { OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n, BLIS_NUM_THREADS: n, KLINECAST_TORCH_THREADS: n };
  const libraryPath = blas ? { LD_LIBRARY_PATH: [...blas.libraryPath, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : {};
  const run = spawnSync(REFERENCE_PYTHON, args, { encoding: 'utf8', env: { ...process.env, ...oneThread, ...libraryPath } });
  if (run.status !== 0) throw new Error(`PyTorch ${model} benchmark failed (${run.status}): ${run.stderr.trim().split('\n').pop()}`);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { epoch_s: number; epoch_cpu_s: number };
  return { blas: blas?.name ?? systemTorchBlas(), threads, epochSeconds: out.epoch_s, cpuSeconds: out.epoch_cpu_s };
}
