/**
 * What a command that trains wires around the library: Ctrl-C / SIGTERM as an abort (finish the step, checkpoint,
 * stop), and the Trainer's callbacks drawn as one progress line.
 */
import type { TrainerCallbacks } from '../training/index.js';
import { ProgressLine } from './output.js';

/**
 * An AbortSignal that SIGINT and SIGTERM abort, with the signal's name as the reason. A second signal gets Node's
 * default behaviour (the process ends at once). Call `dispose` when training is over.
 */
export function abortOnSignals(what = 'finishing the current step and writing a checkpoint'): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals) => {
    process.stderr.write(`\n${name}: ${what} (send again to abort now)\n`);
    dispose();
    controller.abort(name);
  };
  const dispose = () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { signal: controller.signal, dispose };
}

/** Trainer callbacks that draw "train [####....] step/total epoch e/E step s/S loss … eta" on stderr. */
export function progressCallbacks(label = 'train'): TrainerCallbacks {
  let line: ProgressLine | null = null;
  let done = 0;
  let losses = 0;
  let steps = 0;
  let samples = 0;
  let started = 0;
  return {
    onTrainBegin: ({ startEpoch, epochs, stepsPerEpoch }) => {
      line = new ProgressLine(label, (epochs - startEpoch + 1) * stepsPerEpoch);
      done = 0;
      samples = 0;
      started = performance.now();
    },
    onStepEnd: (s) => {
      if (s.step === 1) losses = steps = 0;
      losses += s.loss;
      steps++;
      samples += s.samples;
      const rate = samples / Math.max(1e-3, (performance.now() - started) / 1000);
      line?.update(++done, `epoch ${s.epoch} step ${s.step}/${s.stepsPerEpoch} loss ${(losses / steps).toFixed(5)} ${Math.round(rate)} samples/s`);
    },
    onTrainEnd: () => line?.finish(),
  };
}

/** Runs `train` with Ctrl-C wired to its abort signal, and the progress line unless `progress` is false. */
export async function withTrainingControls<T>(
  progress: boolean,
  train: (controls: { signal: AbortSignal; callbacks: TrainerCallbacks[] }) => Promise<T>,
): Promise<T> {
  const signals = abortOnSignals();
  try {
    return await train({ signal: signals.signal, callbacks: progress ? [progressCallbacks()] : [] });
  } finally {
    signals.dispose();
  }
}
