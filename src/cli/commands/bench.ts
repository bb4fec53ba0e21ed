/**
 * `klinecast bench` (also `npm run bench`): workload W1 (src/models/benchmark.ts) for every registered model type,
 * one epoch each on one core (or each of --threads N,M), beside PyTorch's epoch on the same shapes measured in the same run.
 * --epochs N runs N rounds of one epoch on each side, alternating, and keeps the fastest of each (for a machine
 * shared with other work, or whose speed drifts).
 * Effective GFLOP/s = trainingFlopsPerSample(config, 60) × 1000 / epoch seconds (formula in src/models/flops.ts).
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import {
  W1,
  benchEngineW1,
  benchTorchW1,
  installedTorchBlas,
  systemTorchBlas,
  torchUnavailable,
  type EngineBenchResult,
  type TorchBenchResult,
  type TorchBlas,
  type ModelType,
  registeredModelTypes,
} from '../../models/index.js';
import { UserError } from '../../util/errors.js';
import { printJson } from '../output.js';

interface BenchOptions {
  models?: string;
  epochs: string;
  torch: boolean;
  torchBlas: string;
  threads: string;
  batchSize: string;
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

const REFERENCE_PYTHON_NOTE = '/usr/bin/python3, threads as --threads (OMP/OpenBLAS/MKL/BLIS pinned to the same)';

function parseThreads(raw: string): number[] {
  const list = raw.split(',').map((t) => Number(t.trim()));
  if (list.length === 0 || list.some((t) => !Number.isInteger(t) || t < 1 || t > 64)) {
    throw new UserError(`--threads must be a comma-separated list of thread counts (1..64), got ${raw}`);
  }
  return [...new Set(list)];
}

const s2 = (v: number) => v.toFixed(2);

async function benchCommand(opts: BenchOptions): Promise<void> {
  const known = registeredModelTypes();
  const models = (opts.models?.split(',').map((m) => m.trim()) ?? known) as ModelType[];
  const unknown = models.filter((m) => !known.includes(m));
  if (unknown.length) throw new UserError(`--models: unknown model type ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const epochs = Number(opts.epochs);
  if (!Number.isInteger(epochs) || epochs < 1) throw new UserError(`--epochs must be a positive integer, got ${opts.epochs}`);
  const threads = parseThreads(opts.threads);
  const batch = Number(opts.batchSize);
  if (!Number.isInteger(batch) || batch < 1 || batch > W1.windows)
    throw new UserError(`--batch-size must be a whole number of windows from 1 to ${W1.windows}, got ${opts.batchSize}`);
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
  say(
    `W1: ${W1.windows} windows, seq ${W1.seq}, ${W1.features} features, hidden ${W1.hidden}, ${W1.layers} layers, batch ${batch}${batch === W1.batch ? '' : ` (W1's is ${W1.batch})`}, Adam, MSE; threads ${threads.join(', ')} (${availableParallelism()} cores)`,
  );
  say('(wall seconds; CPU seconds in brackets: on a shared machine compare those)');
  const torchRuns = blasChoices.flatMap((blas) => threads.map((n) => ({ blas, n })));
  const results = [];
  for (const model of models) {
    // Rounds alternate our epochs (each thread count) with PyTorch's, best of each kept: this machine's speed drifts
    // by 10-30 % over minutes, and timing all of one side before the other would put the drift into the ratio.
    const ours: Array<EngineBenchResult | null> = threads.map(() => null);
    let torch: Array<TorchBenchResult | null> = torchRuns.map(() => null);
    for (let round = 0; round < epochs; round++) {
      for (const [i, n] of threads.entries()) {
        const again = await benchEngineW1(model, 1, n, batch);
        const best = ours[i];
        if (!best || again.epochSeconds < best.epochSeconds) ours[i] = { ...again, peakRssMb: Math.max(best?.peakRssMb ?? 0, again.peakRssMb) };
      }
      torch = torch.map((best, i) => {
        const t = benchTorchW1(model, 1, torchRuns[i].blas, torchRuns[i].n, batch);
        return !best || t.epochSeconds < best.epochSeconds ? t : best;
      });
    }
    const one = ours[threads.indexOf(1)] ?? null;
    const fastestTorch = torch.reduce<TorchBenchResult | null>((a, t) => (t && (!a || t.epochSeconds < a.epochSeconds) ? t : a), null);
    for (const r of ours as EngineBenchResult[]) {
      const speedup = one && r.threads !== 1 ? one.epochSeconds / r.epochSeconds : null;
      results.push({ ...r, speedup, torch: torch.filter((t) => t !== null && t.threads === r.threads) });
      say(
        `${model.padEnd(12)} ${String(r.threads).padStart(2)} thread${r.threads === 1 ? ' ' : 's'} epoch ${s2(r.epochSeconds)} s [${s2(r.cpuSeconds)}]  ` +
          `${r.samplesPerSecond.toFixed(0)} samples/s  ${r.gflops.toFixed(1)} GFLOP/s  peak RSS ${r.peakRssMb.toFixed(0)} MB` +
          (speedup !== null ? `  speed-up ${s2(speedup)}×` : '') +
          (r.overheadMsPerStep !== null ? `  copy+sum ${r.overheadMsPerStep.toFixed(2)} ms/step` : '') +
          (r.waitMsPerStep !== null ? `  wait ${r.waitMsPerStep.toFixed(2)} ms/step` : '') +
          (fastestTorch ? `  ratio to fastest PyTorch ${s2(r.epochSeconds / fastestTorch.epochSeconds)}` : ''),
      );
    }
    for (const t of torch as TorchBenchResult[]) {
      say(`${''.padEnd(12)}   PyTorch (${t.blas} BLAS, ${t.threads} thread${t.threads === 1 ? '' : 's'}) ${s2(t.epochSeconds)} s [${s2(t.cpuSeconds)}]`);
    }
  }
  if (opts.json) printJson(results);
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('time one W1 training epoch per model type on 1 (or --threads) threads, beside PyTorch measured in the same run')
    .option('--models <list>', 'comma-separated model types (default: all)')
    .option('--epochs <n>', 'rounds of one epoch on each side, alternating; the fastest of each is kept', '1')
    .option('--no-torch', 'skip the PyTorch measurement')
    .option(
      '--torch-blas <which>',
      "PyTorch's BLAS: system (libblas.so.3 as update-alternatives sets it), all installed, or names (reference, openblas, blis, atlas)",
      'system',
    )
    .option('--threads <list>', 'thread counts to time, e.g. 1,2 (data-parallel for ours; torch.set_num_threads and the BLAS for PyTorch)', '1')
    .option('--batch-size <n>', "windows per step (W1's 32; 256 is a universal model's batch)", String(W1.batch))
    .option('--json', 'print the results as JSON (each result carries threads and batch)')
    .action((opts: BenchOptions) => benchCommand(opts));
}
