/**
 * `klinecast bench` (also `npm run bench`): workload W1 (src/models/benchmark.ts) for every registered model type,
 * one epoch each on one core, beside PyTorch's epoch on the same shapes measured in the same run.
 * --epochs N runs N rounds of one epoch on each side, alternating, and keeps the fastest of each (for a machine
 * shared with other work, or whose speed drifts).
 * Effective GFLOP/s = trainingFlopsPerSample(config, 60) × 1000 / epoch seconds (formula in src/models/flops.ts).
 */
import type { Command } from 'commander';
import { W1, benchEngineW1, benchTorchW1, installedTorchBlas, systemTorchBlas, torchUnavailable, type TorchBlas } from '../../models/benchmark.js';
import { type ModelType, registeredModelTypes } from '../../models/index.js';
import { UserError } from '../../util/errors.js';
import { printJson } from '../output.js';

interface BenchOptions {
  models?: string;
  epochs: string;
  torch: boolean;
  torchBlas: string;
  json?: boolean;
}

/** undefined = the system's libblas.so.3; otherwise the named installed backends. */
function torchBlasChoice(choice: string): Array<TorchBlas | undefined> {
  if (choice === 'system') return [undefined];
  const installed = installedTorchBlas();
  if (choice === 'all') return installed.length ? installed : [undefined];
  const wanted = choice.split(',').map((c) => c.trim());
  const missing = wanted.filter((w) => !installed.some((b) => b.name === w));
  if (missing.length) {
    throw new UserError(
      `--torch-blas: ${missing.join(', ')} not installed (installed: ${installed.map((b) => b.name).join(', ') || 'none'}; or use system, all)`,
    );
  }
  return installed.filter((b) => wanted.includes(b.name));
}

const REFERENCE_PYTHON_NOTE = '/usr/bin/python3, 1 thread';

function benchCommand(opts: BenchOptions): void {
  const known = registeredModelTypes();
  const models = (opts.models?.split(',').map((m) => m.trim()) ?? known) as ModelType[];
  const unknown = models.filter((m) => !known.includes(m));
  if (unknown.length) throw new UserError(`--models: unknown model type ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const epochs = Number(opts.epochs);
  if (!Number.isInteger(epochs) || epochs < 1) throw new UserError(`--epochs must be a positive integer, got ${opts.epochs}`);
  const noTorch = opts.torch ? torchUnavailable() : '--no-torch given';
  const blasChoices = noTorch ? [] : torchBlasChoice(opts.torchBlas);
  const say = opts.json ? () => {} : (line: string) => console.log(line);
  if (noTorch) console.warn(`PyTorch columns skipped: ${noTorch}`);
  else
    say(
      `PyTorch: ${REFERENCE_PYTHON_NOTE}; the system's libblas.so.3 is ${systemTorchBlas()}, installed: ${
        installedTorchBlas()
          .map((b) => b.name)
          .join(', ') || 'none found'
      }`,
    );
  say(`W1: ${W1.windows} windows, seq ${W1.seq}, ${W1.features} features, hidden ${W1.hidden}, ${W1.layers} layers, batch ${W1.batch}, Adam, MSE; 1 thread`);
  say('(wall seconds; CPU seconds in brackets: on a shared machine compare those)');
  const results = [];
  for (const model of models) {
    // Rounds alternate our epoch with PyTorch's, best of each kept: this machine's speed drifts by 10-30 % over
    // minutes, and timing all of one side before the other would put the drift into the ratio.
    let r = benchEngineW1(model, 1);
    let torch = blasChoices.map((blas) => benchTorchW1(model, 1, blas));
    for (let round = 1; round < epochs; round++) {
      const again = benchEngineW1(model, 1);
      if (again.epochSeconds < r.epochSeconds) r = { ...again, peakRssMb: Math.max(r.peakRssMb, again.peakRssMb) };
      torch = torch.map((best, i) => {
        const t = benchTorchW1(model, 1, blasChoices[i]);
        return t.epochSeconds < best.epochSeconds ? t : best;
      });
    }
    results.push({ ...r, torch });
    const vsTorch = torch
      .map(
        (t) =>
          `  PyTorch (${t.blas} BLAS) ${t.epochSeconds.toFixed(2)} s [${t.cpuSeconds.toFixed(2)}]  ratio ${(r.epochSeconds / t.epochSeconds).toFixed(2)} [${(r.cpuSeconds / t.cpuSeconds).toFixed(2)}]`,
      )
      .join('');
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
    .option('--epochs <n>', 'rounds of one epoch on each side, alternating; the fastest of each is kept', '1')
    .option('--no-torch', 'skip the PyTorch measurement')
    .option(
      '--torch-blas <which>',
      "PyTorch's BLAS: system (libblas.so.3 as update-alternatives sets it), all installed, or names (reference, openblas, blis, atlas)",
      'system',
    )
    .option('--json', 'print the results as JSON')
    .action((opts: BenchOptions) => benchCommand(opts));
}
