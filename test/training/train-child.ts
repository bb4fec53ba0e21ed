/**
 * A training run in its own process, for the resume, signal and crash tests: they need a real SIGKILL / SIGINT of a
 * process, not a simulated one. argv[2] is a JSON ChildSpec; the report is printed as one JSON line on stdout.
 */
import { sliceSeries } from '../../src/data/index.js';
import type { KlineSeries } from '../../src/data/types.js';
import { abortOnSignals } from '../../src/cli/training.js';
import { resolveTrainConfig, runTraining, type TrainerCallbacks } from '../../src/training/index.js';
import { readAshare } from '../helpers/ashare.js';

export interface ChildSpec {
  /** Train on the last `rows` bars of this stock's real CSV… */
  symbol?: string;
  rows?: number;
  /** …or load from this database, as `klinecast train` does (a universal run's stocks, say). */
  databaseUrl?: string;
  overrides: Record<string, unknown>;
  resume?: string;
  /** SIGKILL this process right after checkpoint-{N} (a whole epoch) is written. */
  killAfterEpoch?: number;
  /** Send SIGINT to this process after this global step. */
  interruptAtStep?: number;
}

/** The last `rows` bars of a series. */
export function tailSeries(series: KlineSeries, rows: number): KlineSeries {
  return sliceSeries(series, Math.max(0, series.dates.length - rows));
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as ChildSpec;
  const series = spec.databaseUrl ? undefined : tailSeries(readAshare(spec.symbol as string), spec.rows as number);
  const databaseUrl = spec.databaseUrl;
  const callbacks: TrainerCallbacks = {
    onCheckpoint: ({ epoch, complete }) => {
      if (complete && epoch === spec.killAfterEpoch) process.kill(process.pid, 'SIGKILL');
    },
    onStepEnd: ({ globalStep }) => {
      if (globalStep === spec.interruptAtStep) process.kill(process.pid, 'SIGINT');
    },
  };
  const { signal } = abortOnSignals();
  const report = spec.resume
    ? await runTraining({ resume: spec.resume, series, databaseUrl, callbacks: [callbacks], signal })
    : await runTraining({ config: resolveTrainConfig({ overrides: spec.overrides }), series, databaseUrl, callbacks: [callbacks], signal });
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = report.status === 'interrupted' ? 130 : 0;
}

if (process.argv[1]?.endsWith('train-child.ts')) await main();
