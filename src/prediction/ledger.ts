/**
 * The prediction ledger seen from the prediction layer: forecasts become ledger rows (one per step), and the reconciled
 * rows are scored per run, live, beside the same figures from the run's test segment (results/eval_results.json), so
 * a model whose live error drifts away from its test error shows it. The table itself is the data layer's (src/data/ledger.ts).
 */
import { join } from 'node:path';
import { listForecasts, type DatabaseHandle, type LedgerEntry, type LedgerFilter, type LedgerForecast, type LedgerSource } from '../data/index.js';
import { directionAccuracy, mae, type EvalResultsFile } from '../evaluation/index.js';
import { DEFAULT_OUTPUT_DIR, RUN_FILES, resolveRunRef } from '../runs/index.js';
import { readJson } from '../util/json.js';
import type { Forecast } from './forecast.js';

/** A forecast's rows: one per forecast day, keyed by (run, symbol, base date, target date, step). */
export function ledgerRows(forecast: Forecast, source: LedgerSource): LedgerForecast[] {
  return forecast.predictions.map((d, k) => ({
    run: forecast.run,
    symbol: forecast.symbol,
    baseDate: forecast.baseDate,
    targetDate: d.date,
    step: k + 1,
    baseClose: forecast.baseClose,
    predictedPrice: d.price,
    predictedReturn: d.return,
    lower: d.lower,
    upper: d.upper,
    intervalMethod: forecast.interval,
    intervalLevel: forecast.level,
    source,
  }));
}

/** The figures scored on one set of (forecast, step) pairs, live or on the test segment. */
export interface LedgerFigures {
  /** (forecast, step) pairs scored */
  n: number;
  mae: number | null;
  /** 1 − MAE / MAE of persistence (the base day's close for the target day) */
  skill: number | null;
  /** share of non-flat days whose predicted move from the base close had the actual move's sign */
  directionAccuracy: number | null;
  /** share of pairs with an interval whose actual close lay within it */
  coverage: number | null;
  /** the interval's nominal level (e.g. 0.9), null without one */
  level: number | null;
}

type LiveFigures = LedgerFigures & { persistenceMae: number | null; directionSamples: number; coverageSamples: number };

/** One step ahead: live and test figures of that step alone (a later step's errors are larger on both). */
export interface StepScore {
  step: number;
  live: LiveFigures;
  /** from eval_results.json per_horizon (coverage is measured pooled only, so null here for horizon > 1) */
  test: LedgerFigures | null;
}

export interface RunScore {
  run: string;
  symbols: string[];
  /** recorded rows, and those not yet reconciled (their target day's bar is not in the database yet) */
  recorded: number;
  pending: number;
  /**
   * Rows recorded when their target day's bar was already in the database (a forecast from a past --end-date): not a
   * test of the model on days it had not seen come, so they are left out of the live figures and only counted here.
   */
  hindsight: number;
  firstBaseDate: string | null;
  lastTargetDate: string | null;
  /** pooled over every recorded step, as the test segment's headline figures are */
  live: LiveFigures;
  /** the same figures from results/eval_results.json, null when the run's folder or file is gone */
  test: LedgerFigures | null;
  /**
   * Per step ahead, when more than one step was recorded: the pooled figures weigh the steps as the ledger holds them
   * (a ranking records step 1 only, and the later steps of a forecast arrive later), the test segment weighs them equally.
   */
  steps: StepScore[];
}

export interface LedgerScore {
  runs: RunScore[];
}

/** Live figures of reconciled rows, with the math of src/evaluation/metrics. */
export function scoreEntries(entries: readonly LedgerEntry[]): LiveFigures {
  const done = entries.filter((e) => e.actualClose !== null);
  const actual = done.map((e) => e.actualClose as number);
  const predicted = done.map((e) => e.predictedPrice);
  const base = done.map((e) => e.baseClose);
  const modelMae = mae(actual, predicted);
  const persistenceMae = mae(actual, base);
  const direction = directionAccuracy(
    done.map((e, i) => actual[i] - e.baseClose),
    done.map((e) => e.predictedPrice - e.baseClose),
  );
  const banded = done.filter((e) => e.inInterval !== null);
  const levels = [...new Set(banded.map((e) => e.intervalLevel))];
  return {
    n: done.length,
    mae: modelMae,
    persistenceMae,
    skill: modelMae === null || persistenceMae === null || persistenceMae === 0 ? null : 1 - modelMae / persistenceMae,
    directionAccuracy: direction.accuracy,
    directionSamples: direction.samples,
    coverage: banded.length ? banded.filter((e) => e.inInterval).length / banded.length : null,
    coverageSamples: banded.length,
    // Rows recorded at different levels have no single nominal level to compare with.
    level: levels.length === 1 ? levels[0] : null,
  };
}

/**
 * A run's test-segment figures from results/eval_results.json: pooled over every test pair, or of one `step` ahead
 * (per_horizon; a horizon-1 run's pooled figures are its step 1).
 */
export function testFigures(runRef: string, outputDir: string = DEFAULT_OUTPUT_DIR, step?: number): LedgerFigures | null {
  let dir: string;
  try {
    dir = resolveRunRef(runRef, outputDir);
  } catch {
    return null;
  }
  const read = readJson(join(dir, RUN_FILES.evalResults), { within: dir });
  if (!read.ok || read.value === null || typeof read.value !== 'object') return null;
  const results = read.value as Partial<EvalResultsFile>;
  const horizon = Number(results.horizon ?? 1);
  const samples = Number(results.n_samples ?? 0);
  const pooled = step === undefined || horizon === 1;
  if (!pooled && step > horizon) return null;
  const m = pooled ? (step === undefined || step === 1 ? results.test_metrics : undefined) : results.per_horizon?.find((h) => h.step === step)?.test_metrics;
  if (!m) return null;
  const n = pooled && step === undefined ? samples * horizon : samples;
  return {
    n: Number.isFinite(n) ? n : 0,
    mae: m.mae ?? null,
    skill: m.skill ?? null,
    directionAccuracy: m.direction_accuracy ?? null,
    coverage: pooled ? (results.interval?.coverage ?? null) : null,
    level: pooled ? (results.interval?.level ?? null) : null,
  };
}

/**
 * Per run (in the filter): the live figures of its reconciled forecasts beside its test segment's. Forecasts recorded
 * after their day's bar was in (hindsight) are counted, not scored.
 */
export async function scoreLedger(database: DatabaseHandle, filter: LedgerFilter = {}, outputDir: string = DEFAULT_OUTPUT_DIR): Promise<LedgerScore> {
  const entries = await listForecasts(database, filter);
  const byRun = new Map<string, LedgerEntry[]>();
  for (const e of entries) byRun.set(e.run, [...(byRun.get(e.run) ?? []), e]);
  const runs: RunScore[] = [...byRun.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([run, all]) => {
      const rows = all.filter((r) => r.live !== false);
      const bases = all.map((r) => r.baseDate).sort();
      const stepNumbers = [...new Set(rows.map((r) => r.step))].sort((a, b) => a - b);
      const targets = all.map((r) => r.targetDate).sort();
      return {
        run,
        symbols: [...new Set(all.map((r) => r.symbol))].sort(),
        recorded: all.length,
        pending: all.filter((r) => r.actualClose === null).length,
        hindsight: all.length - rows.length,
        firstBaseDate: bases[0] ?? null,
        lastTargetDate: targets.at(-1) ?? null,
        live: scoreEntries(rows),
        test: testFigures(run, outputDir),
        steps:
          stepNumbers.length > 1
            ? stepNumbers.map((step) => ({ step, live: scoreEntries(rows.filter((r) => r.step === step)), test: testFigures(run, outputDir, step) }))
            : [],
      };
    });
  return { runs };
}
