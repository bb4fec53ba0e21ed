/**
 * `npm run bench`: workload W1 (1000 windows × 60 steps × 52 features, hidden/d_model 128, 2 layers, batch 32,
 * Adam, MSE, clip 1.0, head 128→64→1) for every registered model type, one epoch each on one core, beside
 * PyTorch's epoch on the same shapes measured in the same run (/usr/bin/python3 with torch, 1 thread).
 *
 *   npm run bench -- [--models lstm,gru] [--no-torch] [--epochs N]
 *
 * Effective GFLOP/s = trainingFlopsPerSample(config, 60) × 1000 / epoch seconds (formula in src/models/flops.ts).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Adam, clipGradNorm } from '../src/engine/optim/index.js';
import { Rng } from '../src/engine/rng.js';
import { Engine } from '../src/engine/runtime.js';
import { ModelConfigSchema, type ModelType, createNetwork, registeredModelTypes, trainStep, trainingFlopsPerSample } from '../src/models/index.js';

const W1 = { windows: 1000, seq: 60, features: 52, hidden: 128, layers: 2, batch: 32, heads: 4, ff: 512 };
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('./engine_torch.py', import.meta.url));

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Result {
  model: ModelType;
  epochSeconds: number;
  samplesPerSecond: number;
  gflops: number;
  torchSeconds?: number;
  peakRssMb: number;
}

function runEngine(model: ModelType, epochs: number): Omit<Result, 'torchSeconds'> {
  const engine = Engine.create();
  const rng = new Rng(0);
  const config = ModelConfigSchema.parse({
    modelType: model, inputSize: W1.features, hiddenSize: W1.hidden, numLayers: W1.layers, numHeads: W1.heads, dimFeedforward: W1.ff,
  });
  const net = createNetwork(config, engine, rng);
  const opt = new Adam(net.parameters(), { lr: 1e-3 });
  const sampleSize = W1.seq * W1.features;
  const X = Float32Array.from({ length: W1.windows * sampleSize }, () => rng.uniform(-1, 1));
  const Y = Float32Array.from({ length: W1.windows }, () => rng.uniform(-1, 1));
  const xb = new Float32Array(W1.batch * sampleSize);
  const yb = new Float32Array(W1.batch);
  const step = (indices: ArrayLike<number>, count: number) => {
    const x = count === W1.batch ? xb : xb.subarray(0, count * sampleSize);
    const y = count === W1.batch ? yb : yb.subarray(0, count);
    for (let i = 0; i < count; i++) {
      x.set(X.subarray(indices[i] * sampleSize, (indices[i] + 1) * sampleSize), i * sampleSize);
      y[i] = Y[indices[i]];
    }
    trainStep(net, 'mse', x, y, count);
    clipGradNorm(net.parameters(), 1.0);
    opt.step();
  };
  const order = Array.from({ length: W1.windows }, (_, i) => i);
  for (let i = 0; i < 2; i++) step(order, W1.batch); // warm-up: V8 tiers the wasm up, memory grows to its peak
  let best = Infinity;
  for (let e = 0; e < epochs; e++) {
    rng.shuffle(order);
    const start = performance.now();
    for (let i = 0; i < W1.windows; i += W1.batch) {
      const count = Math.min(W1.batch, W1.windows - i);
      step(order.slice(i, i + count), count);
    }
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  const flops = trainingFlopsPerSample(config, W1.seq) * W1.windows;
  return {
    model,
    epochSeconds: best,
    samplesPerSecond: W1.windows / best,
    gflops: flops / best / 1e9,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

function runTorch(model: ModelType): number | undefined {
  const args = [TORCH_SCRIPT, model, ...[W1.windows, W1.seq, W1.features, W1.hidden, W1.layers, W1.batch, W1.heads, W1.ff].map(String)];
  const run = spawnSync(PYTHON, args, { encoding: 'utf8' });
  if (run.status !== 0) {
    console.warn(`PyTorch ${model}: failed (${run.status}) ${run.stderr.trim().split('\n').pop()}`);
    return undefined;
  }
  return JSON.parse(run.stdout.trim().split('\n').pop()!).epoch_s as number;
}

function main(): void {
  const models = (argValue('--models')?.split(',') as ModelType[] | undefined) ?? registeredModelTypes();
  const epochs = Number(argValue('--epochs') ?? 1);
  const torch = !process.argv.includes('--no-torch') && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  if (!torch && !process.argv.includes('--no-torch')) console.warn(`${PYTHON} has no torch: PyTorch columns are skipped`);
  console.log(`W1: ${W1.windows} windows, seq ${W1.seq}, ${W1.features} features, hidden ${W1.hidden}, ${W1.layers} layers, batch ${W1.batch}, Adam, MSE; 1 thread`);
  const results: Result[] = [];
  for (const model of models) {
    const r: Result = runEngine(model, epochs);
    if (torch) r.torchSeconds = runTorch(model);
    results.push(r);
    const ratio = r.torchSeconds ? `  ratio ${(r.epochSeconds / r.torchSeconds).toFixed(2)} (PyTorch ${r.torchSeconds.toFixed(2)} s)` : '';
    console.log(
      `${model.padEnd(12)} epoch ${r.epochSeconds.toFixed(2)} s  ${r.samplesPerSecond.toFixed(0)} samples/s  ${r.gflops.toFixed(1)} GFLOP/s  peak RSS ${r.peakRssMb.toFixed(0)} MB${ratio}`,
    );
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify(results));
}

main();
