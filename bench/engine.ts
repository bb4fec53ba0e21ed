/**
 * `npm run bench`: workload W1 (src/models/benchmark.ts) for every registered model type, one epoch each on one
 * core, beside PyTorch's epoch on the same shapes measured in the same run.
 *
 *   npm run bench -- [--models lstm,gru] [--no-torch] [--epochs N] [--json]
 *
 * --epochs N times N epochs on both sides and keeps the fastest of each (for a machine shared with other work).
 *
 * Effective GFLOP/s = trainingFlopsPerSample(config, 60) × 1000 / epoch seconds (formula in src/models/flops.ts).
 */
import { W1, benchEngineW1, benchTorchW1, torchUnavailable } from '../src/models/benchmark.js';
import { type ModelType, registeredModelTypes } from '../src/models/index.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const models = (argValue('--models')?.split(',') as ModelType[] | undefined) ?? registeredModelTypes();
const epochs = Number(argValue('--epochs') ?? 1);
const noTorch = process.argv.includes('--no-torch') ? '--no-torch given' : torchUnavailable();
if (noTorch) console.warn(`PyTorch columns skipped: ${noTorch}`);
console.log(`W1: ${W1.windows} windows, seq ${W1.seq}, ${W1.features} features, hidden ${W1.hidden}, ${W1.layers} layers, batch ${W1.batch}, Adam, MSE; 1 thread`);
console.log('(wall seconds; CPU seconds in brackets: on a shared machine compare those)');
const results = [];
for (const model of models) {
  const r = benchEngineW1(model, epochs);
  const torch = noTorch ? undefined : benchTorchW1(model, epochs);
  results.push({ ...r, torch });
  const vsTorch = torch
    ? `  PyTorch ${torch.epochSeconds.toFixed(2)} s [${torch.cpuSeconds.toFixed(2)}]  ratio ${(r.epochSeconds / torch.epochSeconds).toFixed(2)} [${(r.cpuSeconds / torch.cpuSeconds).toFixed(2)}]`
    : '';
  console.log(
    `${model.padEnd(12)} epoch ${r.epochSeconds.toFixed(2)} s [${r.cpuSeconds.toFixed(2)}]  ${r.samplesPerSecond.toFixed(0)} samples/s  ` +
      `${r.gflops.toFixed(1)} GFLOP/s  peak RSS ${r.peakRssMb.toFixed(0)} MB${vsTorch}`,
  );
}
if (process.argv.includes('--json')) console.log(JSON.stringify(results));
