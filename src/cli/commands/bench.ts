/**
 * `klinecast bench` (also `npm run bench`): workload W1 (src/models/benchmark.ts) for every registered model type,
 * one epoch each on one core, beside PyTorch's epoch on the same shapes measured in the same run.
 * --epochs N times N epochs on both sides and keeps the fastest of each (for a machine shared with other work).
 * Effective GFLOP/s = trainingFlopsPerSample(config, 60) × 1000 / epoch seconds (formula in src/models/flops.ts).
 */
import type { Command } from 'commander';
import { W1, benchEngineW1, benchTorchW1, torchUnavailable } from '../../models/benchmark.js';
import { type ModelType, registeredModelTypes } from '../../models/index.js';
import { UserError } from '../../util/errors.js';
import { printJson } from '../output.js';

interface BenchOptions {
  models?: string;
  epochs: string;
  torch: boolean;
  json?: boolean;
}

function benchCommand(opts: BenchOptions): void {
  const known = registeredModelTypes();
  const models = (opts.models?.split(',').map((m) => m.trim()) ?? known) as ModelType[];
  const unknown = models.filter((m) => !known.includes(m));
  if (unknown.length) throw new UserError(`--models: unknown model type ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const epochs = Number(opts.epochs);
  if (!Number.isInteger(epochs) || epochs < 1) throw new UserError(`--epochs must be a positive integer, got ${opts.epochs}`);
  const noTorch = opts.torch ? torchUnavailable() : '--no-torch given';
  const say = opts.json ? () => {} : (line: string) => console.log(line);
  if (noTorch) console.warn(`PyTorch columns skipped: ${noTorch}`);
  say(`W1: ${W1.windows} windows, seq ${W1.seq}, ${W1.features} features, hidden ${W1.hidden}, ${W1.layers} layers, batch ${W1.batch}, Adam, MSE; 1 thread`);
  say('(wall seconds; CPU seconds in brackets: on a shared machine compare those)');
  const results = [];
  for (const model of models) {
    const r = benchEngineW1(model, epochs);
    const torch = noTorch ? undefined : benchTorchW1(model, epochs);
    results.push({ ...r, torch });
    const vsTorch = torch
      ? `  PyTorch ${torch.epochSeconds.toFixed(2)} s [${torch.cpuSeconds.toFixed(2)}]  ratio ${(r.epochSeconds / torch.epochSeconds).toFixed(2)} [${(r.cpuSeconds / torch.cpuSeconds).toFixed(2)}]`
      : '';
    say(
      `${model.padEnd(12)} epoch ${r.epochSeconds.toFixed(2)} s [${r.cpuSeconds.toFixed(2)}]  ${r.samplesPerSecond.toFixed(0)} samples/s  ` +
        `${r.gflops.toFixed(1)} GFLOP/s  peak RSS ${r.peakRssMb.toFixed(0)} MB${vsTorch}`,
    );
  }
  if (opts.json) printJson(results);
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('time one W1 training epoch per model type on one core, beside PyTorch measured in the same run')
    .option('--models <list>', 'comma-separated model types (default: all)')
    .option('--epochs <n>', 'epochs timed on each side; the fastest is kept', '1')
    .option('--no-torch', 'skip the PyTorch measurement')
    .option('--json', 'print the results as JSON')
    .action((opts: BenchOptions) => benchCommand(opts));
}
