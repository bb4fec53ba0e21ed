/**
 * Small job functions for the pool/batch/queue tests: they write a real run folder through TrainingManager
 * (so resume and the registry see the same layout as real runs) but "train" by sleeping, and misbehave on
 * the symbols a test names: throw, throw uncaught, process.exit, exhaust the heap, or fail on NaN closes.
 */
import { TrainingManager } from '../../src/runs/index.js';
import type { JobInput, JobKind, JobOutput } from '../../src/batch/job.js';
import type { KlineSeries } from '../../src/data/types.js';

export interface FixtureConfig {
  /** milliseconds of "training" per stock */
  sleepMs?: number;
  /** spin the CPU this long instead of sleeping */
  busyMs?: number;
  /** a fixed amount of pure CPU work instead of sleeping (the benchmark's control: it only scales with free cores) */
  spinIterations?: number;
  minBars?: number;
  throwOn?: string[];
  uncaughtOn?: string[];
  exitOn?: string[];
  oomOn?: string[];
  /** set per job by fixtureKind.configFor, as trainKind sets a TrainConfig's output */
  outputDir?: string;
  runName?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sleeps in short slices so that a cancelled job stops within ~50 ms, as the real trainer stops after a step. */
async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + ms;
  while (!signal.aborted && Date.now() < until) await sleep(Math.min(50, until - Date.now()));
}

export async function fixtureJob(input: JobInput): Promise<JobOutput> {
  const config = input.config as FixtureConfig;
  const { symbol } = input.series;
  const manager = TrainingManager.create({ outputDir: config.outputDir, runName: config.runName, symbol, modelType: 'fixture', config: { ...config } });
  manager.updateStatus('training');
  if (config.throwOn?.includes(symbol)) {
    manager.updateStatus('failed', { error: new Error('deliberate failure') });
    throw new Error(`deliberate failure in ${symbol}`);
  }
  if (config.uncaughtOn?.includes(symbol)) {
    setTimeout(() => {
      throw new Error(`deliberate uncaught throw in ${symbol}`);
    }, 5);
    await sleep(10_000);
  }
  if (config.exitOn?.includes(symbol)) process.exit(7);
  if (config.oomOn?.includes(symbol)) {
    const hog: number[][] = [];
    for (;;) hog.push(new Array(1_000_000).fill(1.5));
  }
  let nan = 0;
  for (const c of input.series.close) if (!Number.isFinite(c)) nan++;
  if (nan > 0) {
    manager.updateStatus('failed', { error: new Error('non-finite close') });
    throw new Error(`${symbol}: ${nan} non-finite close price(s)`);
  }
  const steps = 4;
  let spin = 0;
  for (let i = 1; i <= steps; i++) {
    if (config.spinIterations) {
      for (let k = 0; k < config.spinIterations / steps; k++) spin = (spin * 1.0000001 + k) % 1e9;
    } else if (config.busyMs) {
      const until = Date.now() + config.busyMs / steps;
      while (Date.now() < until);
    } else await sleepUnlessAborted((config.sleepMs ?? 20) / steps, input.signal);
    if (input.signal.aborted) {
      manager.updateStatus('interrupted', { interrupted_by: String(input.signal.reason) });
      throw new Error(`training of ${symbol} ended interrupted (${String(input.signal.reason)})`);
    }
    input.onProgress(i / steps, `step ${i}/${steps}`);
  }
  const metrics = { bars: input.series.close.length, last_close: input.series.close[input.series.close.length - 1], spin };
  manager.updateStatus('completed', { eval_metrics: metrics });
  return { status: 'completed', runName: manager.runName, path: manager.runDir, modelType: 'fixture', metrics };
}

/** A fixture job that "trains" for 30 s whatever config it gets (for jobs started with a real TrainConfig, e.g. through the API port). */
export function slowFixtureJob(input: JobInput): Promise<JobOutput> {
  const { outputDir, runName } = input.config as FixtureConfig;
  return fixtureJob({ ...input, config: { sleepMs: 30_000, outputDir, runName } satisfies FixtureConfig });
}

export function fixtureKind(config: FixtureConfig): JobKind {
  return {
    ref: { module: new URL('./fixture-jobs.ts', import.meta.url).href, export: 'fixtureJob' },
    modelType: 'fixture',
    precheck: (series: KlineSeries) =>
      series.close.length < (config.minBars ?? 10) ? `only ${series.close.length} bars; this config needs at least ${config.minBars ?? 10}` : null,
    configFor: (batch, run) => ({ ...(batch as FixtureConfig), ...run }) satisfies FixtureConfig,
  };
}

/** A synthetic series of `n` days starting 2024-01-01 (calendar days; fine for fixtures). */
export function syntheticSeries(symbol: string, n: number, closeAt: (i: number) => number = (i) => 10 + Math.sin(i / 5)): KlineSeries {
  const dates: string[] = [];
  const d = new Date(Date.UTC(2024, 0, 1));
  for (let i = 0; i < n; i++) {
    dates.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  const col = (f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
  const close = col(closeAt);
  return {
    symbol,
    dates,
    open: close.slice(),
    high: col((i) => close[i] * 1.01),
    low: col((i) => close[i] * 0.99),
    close,
    preClose: col((i) => (i > 0 ? close[i - 1] : close[0])),
    change: col((i) => (i > 0 ? close[i] - close[i - 1] : 0)),
    pctChg: col((i) => (i > 0 ? (close[i] / close[i - 1] - 1) * 100 : 0)),
    vol: col(() => 1000),
    amount: col((i) => 100 * close[i]),
    turnoverRate: col(() => NaN),
  };
}
