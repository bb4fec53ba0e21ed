/**
 * `klinecast backtest`: a walk-forward over the trading calendar (Darts' historical_forecasts, Qlib's rolling
 * retraining). The forecast period [start, end] is cut into folds at each retrain date (monthly, quarterly or every
 * N trading days). Each fold
 *   - sees only the bars up to its cut-off (its first forecast day) for fitting: the scalers are fit on its training
 *     rows, the model trains on windows whose targets are ≤ the cut-off, with the tail of that span as validation
 *     (early stopping and the split-conformal calibration);
 *   - then forecasts every day of its segment out of sample, each from the bars up to that day.
 * Finished folds are kept in folds/fold-NNN.json, so a killed backtest resumes at the next unfinished fold; the
 * forecasts, the intervals (split-conformal per fold, or adaptive: ACI) and the metrics are assembled from those
 * files at the end. docs/BACKTESTING.md describes the method and every file.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { adjustSeries } from '../data/adjust.js';
import { addDays } from '../data/dates.js';
import { resolveDatabaseUrl } from '../data/db/url.js';
import { sliceSeries } from '../data/series.js';
import type { IsoDate, KlineSeries } from '../data/types.js';
import {
  DEFAULT_ACI_GAMMA,
  DEFAULT_INTERVAL_LEVEL,
  adaptiveConformal,
  conformalHalfWidth,
  crossSectionOfRecords,
  evaluateForecasts,
  type BaselineMetrics,
  type ConformalCalibration,
  type CrossSectionResults,
  type EvalResultsFile,
  type IntervalResults,
  type ModelMetrics,
  type SignificanceResults,
} from '../evaluation/index.js';
import { buildDataset, buildUniverseDataset, dateBound, warmupOf, type SkippedStock, type TrainingData, type Windows } from '../features/index.js';
import {
  BACKTEST_FILES,
  appendBacktestLog,
  backtestsRoot,
  claimRunDir,
  foldFileName,
  forecastsCsv,
  isPidAlive,
  resolveBacktestRef,
  runTimestamp,
  validateRunName,
  type BacktestForecastRecord,
  type BacktestForecastsFile,
  type BacktestStateFile,
} from '../runs/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { configHash } from '../util/hash.js';
import { readJson } from '../util/json.js';
import { parseTrainConfig, readRunConfig, withDataSource, withRecordedData, withRecordedUniverse, type TrainConfig, type TrainConfigInput } from './config.js';
import { loadRecordedSeries, loadTrainingSeries, loadUniverseSeries, savedDatabaseUrl } from './train-run.js';
import { Trainer, predictedReturns, type FitResult, type TrainerCallbacks } from './trainer.js';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');

/** What a backtest adds to a TrainConfig; validated once here (the CLI maps its flags onto it). */
export const BacktestSettingsSchema = z
  .object({
    /** The folder name under out/backtests/; default backtest_{symbol or model}_{YYYYMMDD_HHMMSS}. */
    name: z.string().min(1).nullable().default(null),
    /** First forecast day (the last known close of the first forecast); default: where a train run's test segment starts. */
    start: isoDate.nullable().default(null),
    /** Last forecast day; default: the last day whose `horizon` target days are in the data. */
    end: isoDate.nullable().default(null),
    /** When a fold starts: each calendar month, each quarter, or every N trading days. */
    retrain: z
      .string()
      .regex(/^(monthly|quarterly|[1-9]\d*d)$/, 'must be monthly, quarterly or Nd (every N trading days, e.g. 20d)')
      .default('monthly'),
    /** expanding: every fold trains from the first bar; rolling:N: on the N trading days up to its cut-off. */
    window: z
      .string()
      .regex(/^(expanding|rolling:[1-9]\d*)$/, 'must be expanding or rolling:N (N trading days)')
      .default('expanding'),
    /** The interval on the forecast records: split-conformal per fold, adaptive (ACI) over the walk, or none. */
    interval: z.enum(['conformal', 'aci', 'none']).default('conformal'),
    level: z.number().gt(0).lt(1).default(DEFAULT_INTERVAL_LEVEL),
    /** ACI's step γ (src/evaluation/aci.ts). */
    aciGamma: z.number().gt(0).lt(1).default(DEFAULT_ACI_GAMMA),
  })
  .strict();
export type BacktestSettings = z.infer<typeof BacktestSettingsSchema>;
export type BacktestSettingsInput = z.input<typeof BacktestSettingsSchema>;

/** Validates backtest settings; the error names every bad field (with `describePath`, the CLI's flag). */
export function parseBacktestSettings(input: unknown, describePath: (path: string) => string = (p) => p): BacktestSettings {
  const parsed = BacktestSettingsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : `${describePath(i.path.join('.')) || '(root)'}: ${i.message}`,
    );
    throw new UserError(`invalid backtest settings: ${issues.join('; ')}`, 'bad_config');
  }
  const s = parsed.data;
  if (s.start && s.end && s.start > s.end) throw new UserError(`invalid backtest settings: start ${s.start} is after end ${s.end}`, 'bad_config');
  if (s.name !== null) validateRunName(s.name);
  return s;
}

/**
 * The config of a saved run as a backtest's starting point (`klinecast backtest --run`): its stock or universe, data
 * range, features, architecture and training, without what training recorded (bars read, universe, database) or its
 * folder name, so the backtest loads its own bars and flags can still override any field.
 */
export function backtestConfigOfRun(runDir: string): TrainConfigInput {
  const { data, output, ...rest } = readRunConfig(runDir);
  return {
    ...rest,
    data: { symbol: data.symbol, symbols: data.symbols, stockType: data.stockType, startDate: data.startDate, endDate: data.endDate },
    output: { outputDir: output.outputDir },
  };
}

/** One fold of the plan: the dates that bound what it may see and what it forecasts. */
export interface FoldPlan {
  fold: number;
  /** First day of the training span (rows before it are only history for the first windows and the indicators). */
  train_start: IsoDate;
  /** First target day of the validation tail. */
  val_start: IsoDate;
  /** The cut-off: the last bar the fold's scalers and model see; also its first forecast day. */
  train_end: IsoDate;
  forecast_start: IsoDate;
  forecast_end: IsoDate;
  /** Calendar days forecast from. */
  days: number;
}

/** One stock as the backtest read it: what resume reloads and compares. */
interface StockRecord {
  symbol: string;
  rows: number;
  firstDate: IsoDate;
  lastDate: IsoDate;
  /** configHash of its dates and OHLCV: another value anywhere is another backtest. */
  checksum: string;
}

/** config.json of a backtest. */
export interface BacktestConfigFile {
  format: 'klinecast.backtest';
  version: 1;
  name: string;
  created_at: string;
  settings: BacktestSettings;
  /** The resolved period (settings.start/end filled from the data). */
  forecast_period: { start: IsoDate; end: IsoDate };
  /** The TrainConfig of every fold (data recorded as a train run records it). */
  train: TrainConfig;
  stocks: StockRecord[];
  folds: FoldPlan[];
}

/** How one fold's training went: in its raw file and in the backtest's results alike. */
export interface FoldTraining {
  windows: { train: number; val: number };
  /** A universal fold's stocks trained on, and those left out with the reason. */
  stocks: number | null;
  skipped: SkippedStock[];
  epochs_trained: number;
  best_epoch: number | null;
  best_val_loss: number | null;
  stop_reason: FitResult['stopReason'];
  seconds: number;
}

/** The raw output of one fold, saved as folds/fold-NNN.json. */
interface FoldFile extends FoldTraining {
  fold: number;
  plan: FoldPlan;
  calibration: ConformalCalibration | null;
  /** Samples in (date, symbol) order; returns and target dates [samples, horizon] row-major. */
  forecasts: { symbols: string[]; dates: IsoDate[]; last_close: number[]; actual_returns: number[]; predicted_returns: number[]; target_dates: IsoDate[] };
}

/** Interval coverage of one set of forecasts by each method measured (aci: when the backtest ran ACI). */
export interface BacktestIntervals {
  split_conformal: IntervalResults | null;
  aci: IntervalResults | null;
}

/** One fold in the backtest's results: its plan's dates (not its day count) and how its training went. */
export interface FoldResults extends Omit<FoldPlan, 'days'>, FoldTraining {
  /** Forecast samples (origins × stocks). */
  n_samples: number;
  metrics: ModelMetrics;
  baselines: BaselineMetrics;
  significance: SignificanceResults | null;
  intervals: BacktestIntervals;
  cross_section: Omit<CrossSectionResults, 'daily'> | null;
}

/** One stock of a universal backtest over all its folds: skill and the coverage of each interval measured. */
export interface StockResults {
  symbol: string;
  /** Forecasts (days × steps). */
  samples: number;
  /** 1 − MAE / MAE of persistence, in price units. */
  skill: number | null;
  split_conformal_coverage: number | null;
  aci_coverage: number | null;
}

/** results.json of a backtest. */
export interface BacktestResultsFile {
  format: 'klinecast.backtest.results';
  name: string;
  evaluated_at: string;
  symbol: string | null;
  stocks: number | null;
  model_type: string;
  horizon: number;
  return_type: 'log';
  /** The interval the forecast records carry; both methods' coverage is under each `intervals`. */
  interval: { method: 'split_conformal' | 'aci' | 'none'; level: number; aci_gamma: number | null };
  folds: FoldResults[];
  overall: {
    n_samples: number;
    metrics: ModelMetrics;
    baselines: BaselineMetrics;
    per_horizon: EvalResultsFile['per_horizon'];
    significance: SignificanceResults | null;
    intervals: BacktestIntervals;
    cross_section: CrossSectionResults | null;
    /** Universal backtests: each stock's own forecasts (all steps), in symbol order; null for one stock. */
    per_stock: StockResults[] | null;
  };
  /** In words: skill, significance against persistence, coverage. */
  summary: string;
}

export interface BacktestCallbacks {
  onFoldStart?(info: { plan: FoldPlan; total: number; done: number }): void;
  onFoldEnd?(info: { plan: FoldPlan; total: number; done: number; seconds: number; epochsTrained: number }): void;
}

export interface RunBacktestOptions {
  /** A new backtest: its train config (resolveTrainConfig) and settings. Not given with `resume`. */
  config?: TrainConfig;
  settings?: BacktestSettingsInput;
  /** A backtest name (inside outputDir/backtests) or folder to continue at its next unfinished fold. */
  resume?: string;
  /** Where out/backtests/ is: default the config's output.outputDir, or out. */
  outputDir?: string;
  /** Bars given directly (tests): one series for one stock, or the universe's; otherwise loaded from the database. */
  series?: KlineSeries[];
  databaseUrl?: string;
  /** Aborting stops after the current training step; finished folds stay, status interrupted, resume continues. */
  signal?: AbortSignal;
  callbacks?: BacktestCallbacks;
  trainerCallbacks?: TrainerCallbacks[];
}

export interface BacktestReport {
  name: string;
  dir: string;
  status: 'completed' | 'interrupted';
  interruptedBy: string | null;
  foldsTotal: number;
  foldsDone: number;
  /** Folds computed by this call (the rest were finished before a resume). */
  foldsComputed: number;
  results: BacktestResultsFile | null;
  seconds: number;
}

// --- the plan ------------------------------------------------------------------------------------------------------

function periodKey(retrain: string, date: IsoDate, index: number): string {
  if (retrain === 'monthly') return date.slice(0, 7);
  if (retrain === 'quarterly') return `${date.slice(0, 4)}-Q${Math.floor((Number(date.slice(5, 7)) - 1) / 3)}`;
  return String(Math.floor(index / Number(retrain.slice(0, -1))));
}

/**
 * The folds over a sorted trading calendar. A day can be forecast from when its `horizon` following days are in the
 * calendar (so it can be scored). Each fold's training span must hold a training window and a validation window;
 * a plan whose first fold cannot is refused with what to change.
 */
export function planFolds(
  calendar: readonly IsoDate[],
  settings: Pick<BacktestSettings, 'start' | 'end' | 'retrain' | 'window'>,
  dataset: Pick<TrainConfig['dataset'], 'seqLength' | 'horizon' | 'features' | 'split'>,
): { folds: FoldPlan[]; start: IsoDate; end: IsoDate } {
  const split = dataset.split;
  if (split.type !== 'ratio') {
    throw new UserError('a backtest defines its own segments per fold: give dataset.split as ratios (--split train,val,test), not date segments', 'bad_config');
  }
  if (!(split.val > 0))
    throw new UserError('a backtest needs a validation tail in every fold (early stopping, conformal calibration): --split with val > 0', 'bad_config');
  const { seqLength, horizon } = dataset;
  const warmup = warmupOf(dataset.features);
  const lastOrigin = calendar.length - 1 - horizon;
  const startIdx = settings.start
    ? calendar.findIndex((d) => d >= (settings.start as string))
    : Math.min(lastOrigin, Math.floor(warmup + (calendar.length - warmup) * (split.train + split.val)));
  let endIdx = lastOrigin;
  if (settings.end) while (endIdx >= 0 && calendar[endIdx] > settings.end) endIdx--;
  if (startIdx < 0 || endIdx < 0 || startIdx > endIdx) {
    const span = calendar.length ? `${calendar[0]}..${calendar[calendar.length - 1]}` : 'none';
    throw new UserError(
      `no day to forecast from between ${settings.start ?? 'the default start'} and ${settings.end ?? 'the end'}: the bars span ${span}, and a forecast day needs ${horizon} later day(s) to be scored`,
      'too_short',
    );
  }
  const rolling = settings.window.startsWith('rolling:') ? Number(settings.window.slice(8)) : null;
  const trainShare = split.train / (split.train + split.val);
  const folds: FoldPlan[] = [];
  for (let i = startIdx; i <= endIdx; ) {
    const key = periodKey(settings.retrain, calendar[i], i - startIdx);
    let j = i;
    while (j + 1 <= endIdx && periodKey(settings.retrain, calendar[j + 1], j + 1 - startIdx) === key) j++;
    const trainStart = rolling === null ? 0 : Math.max(0, i - rolling + 1);
    // The indicators' warm-up rows at the very start of the data are no training rows.
    const first = Math.max(trainStart, warmup);
    const spanDays = i - first + 1;
    const valStart = first + Math.round(spanDays * trainShare);
    const trainDays = valStart - first;
    const valDays = i - valStart + 1;
    if (trainDays < seqLength + horizon || valDays < horizon) {
      throw new UserError(
        `fold ${folds.length + 1} (cut-off ${calendar[i]}) trains on ${Math.max(0, spanDays)} days after the ${warmup}-day indicator warm-up: ` +
          `${Math.max(0, trainDays)} training and ${Math.max(0, valDays)} validation days, but a window needs seqLength ${seqLength} + horizon ${horizon} ` +
          'training days and horizon validation days; start later (--start), widen the window (rolling:N) or shorten --seq-length',
        'too_short',
      );
    }
    folds.push({
      fold: folds.length + 1,
      train_start: calendar[trainStart],
      val_start: calendar[valStart],
      train_end: calendar[i],
      forecast_start: calendar[i],
      forecast_end: calendar[j],
      days: j - i + 1,
    });
    i = j + 1;
  }
  return { folds, start: calendar[startIdx], end: calendar[endIdx] };
}

// --- data ----------------------------------------------------------------------------------------------------------

function stockRecord(s: KlineSeries): StockRecord {
  return {
    symbol: s.symbol,
    rows: s.dates.length,
    firstDate: s.dates[0],
    lastDate: s.dates[s.dates.length - 1],
    checksum: configHash([s.dates, Array.from(s.open), Array.from(s.high), Array.from(s.low), Array.from(s.close), Array.from(s.vol)]),
  };
}

/** The trading calendar of the backtest: one stock's own days, or every day any stock of the universe traded. */
function calendarOf(series: readonly KlineSeries[]): IsoDate[] {
  if (series.length === 1) return [...series[0].dates];
  return [...new Set(series.flatMap((s) => s.dates))].sort();
}

/**
 * A stock's bars for one fold: from the history its first training window needs (seqLength rows and the indicators'
 * warm-up before train_start) to `horizon` bars after its last forecast day; nothing later exists for the fold.
 */
function foldSlice(s: KlineSeries, plan: FoldPlan, config: TrainConfig, expanding: boolean): KlineSeries {
  const from = expanding ? 0 : Math.max(0, dateBound(s.dates, plan.train_start) - warmupOf(config.dataset.features) - config.dataset.seqLength);
  const to = Math.min(s.dates.length, dateBound(s.dates, plan.forecast_end, true) + config.dataset.horizon);
  return sliceSeries(s, from, Math.max(from, to));
}

/** The fold's dataset: its bars, split train [train_start, val_start) / validation [val_start, cut-off] / forecasts after it. */
function foldDataset(
  series: readonly KlineSeries[],
  plan: FoldPlan,
  config: TrainConfig,
  settings: BacktestSettings,
  universal: boolean,
): { data: TrainingData; stocks: number | null; skipped: SkippedStock[] } {
  const expanding = settings.window === 'expanding';
  const dataset = {
    ...config.dataset,
    split: {
      type: 'segments' as const,
      train: [plan.train_start, addDays(plan.val_start, -1)] as [string, string],
      valid: [plan.val_start, plan.train_end] as [string, string],
      // Calendar days: the segments are inclusive date ranges, and no target of a forecast is on its cut-off.
      test: [addDays(plan.train_end, 1), '9999-12-31'] as [string, string],
    },
  };
  const slices = series.map((s) => foldSlice(s, plan, config, expanding)).filter((s) => s.dates.length > 0);
  if (!universal) return { data: buildDataset(slices[0], dataset), stocks: null, skipped: [] };
  const data = buildUniverseDataset(slices, dataset);
  return { data, stocks: data.members.length, skipped: data.skipped };
}

/** Trains one fold and forecasts its days; null when the signal stopped it (nothing of it is kept). */
async function runFold(
  series: readonly KlineSeries[],
  plan: FoldPlan,
  config: TrainConfig,
  settings: BacktestSettings,
  options: Pick<RunBacktestOptions, 'signal' | 'trainerCallbacks'>,
): Promise<{ file: FoldFile; fit: FitResult } | { file: null; fit: FitResult }> {
  const started = performance.now();
  const universal = config.data.symbols !== null;
  const { data, stocks, skipped } = foldDataset(series, plan, config, settings, universal);
  const trainer = new Trainer(data, config, { callbacks: options.trainerCallbacks, signal: options.signal });
  try {
    const fit = await trainer.fit();
    if (fit.stopReason === 'interrupted') return { file: null, fit };
    trainer.loadWeights(trainer.bestStateDict(), 'best weights');
    const calibration = trainer.calibrate(data.val);
    const test = data.test;
    const predicted = predictedReturns(test, data.targetScaler, trainer.predictScaled(test));
    return { file: foldFile(plan, data, test, predicted, { stocks, skipped, fit, calibration, seconds: (performance.now() - started) / 1000 }), fit };
  } finally {
    trainer.dispose();
  }
}

/** The fold's forecasts: the windows made on its own forecast days (a stock suspended on the cut-off has one from earlier, which the fold before made). */
function foldFile(
  plan: FoldPlan,
  data: TrainingData,
  test: Windows,
  predicted: Float64Array,
  fit: { stocks: number | null; skipped: SkippedStock[]; fit: FitResult; calibration: ConformalCalibration | null; seconds: number },
): FoldFile {
  const h = test.horizon;
  const symbol = data.symbol;
  const chosen: number[] = [];
  for (let i = 0; i < test.size; i++) if (test.endDates[i] >= plan.forecast_start && test.endDates[i] <= plan.forecast_end) chosen.push(i);
  const symbolOf = (i: number) => test.symbols?.[i] ?? (symbol as string);
  chosen.sort((a, b) => (test.endDates[a] < test.endDates[b] ? -1 : test.endDates[a] > test.endDates[b] ? 1 : symbolOf(a) < symbolOf(b) ? -1 : 1));
  const rows = (values: ArrayLike<number>) => chosen.flatMap((i) => Array.from({ length: h }, (_, k) => values[i * h + k]));
  return {
    fold: plan.fold,
    plan,
    windows: { train: data.train.size, val: data.val.size },
    stocks: fit.stocks,
    skipped: fit.skipped,
    epochs_trained: fit.fit.epochsTrained,
    best_epoch: fit.fit.bestEpoch,
    best_val_loss: fit.fit.bestValLoss,
    stop_reason: fit.fit.stopReason,
    seconds: fit.seconds,
    calibration: fit.calibration,
    forecasts: {
      symbols: chosen.map(symbolOf),
      dates: chosen.map((i) => test.endDates[i]),
      last_close: chosen.map((i) => test.lastClose[i]),
      actual_returns: rows(test.returns),
      predicted_returns: rows(predicted),
      target_dates: chosen.flatMap((i) => test.targetDates.slice(i * h, (i + 1) * h)),
    },
  };
}

// --- assembling the results ----------------------------------------------------------------------------------------

type Method = BacktestForecastsFile['interval']['method'];

const METHOD_OF: Record<BacktestSettings['interval'], Method> = { conformal: 'split_conformal', aci: 'aci', none: 'none' };

interface Pooled {
  folds: number[];
  symbols: string[];
  dates: IsoDate[];
  lastClose: number[];
  actual: number[];
  predicted: number[];
  targetDates: IsoDate[];
  /** Per forecast [samples × horizon]: the split-conformal half-width of its fold, and ACI's when run. */
  splitConformal: number[];
  aci: number[] | null;
}

/** push(...source) without the argument-count limit a market-wide fold would hit. */
function append<T>(target: T[], source: readonly T[]): void {
  for (const v of source) target.push(v);
}

function pool(files: readonly FoldFile[], settings: BacktestSettings, horizon: number): Pooled {
  const p: Pooled = { folds: [], symbols: [], dates: [], lastClose: [], actual: [], predicted: [], targetDates: [], splitConformal: [], aci: null };
  const calibrations: Array<ConformalCalibration | null> = [];
  for (const f of files) {
    const n = f.forecasts.dates.length;
    for (let i = 0; i < n; i++) {
      p.folds.push(f.fold);
      calibrations.push(f.calibration);
      for (let k = 0; k < horizon; k++) p.splitConformal.push(f.calibration ? conformalHalfWidth(f.calibration, k, settings.level) : Infinity);
    }
    append(p.symbols, f.forecasts.symbols);
    append(p.dates, f.forecasts.dates);
    append(p.lastClose, f.forecasts.last_close);
    append(p.actual, f.forecasts.actual_returns);
    append(p.predicted, f.forecasts.predicted_returns);
    append(p.targetDates, f.forecasts.target_dates);
  }
  if (settings.interval === 'aci') {
    // One α_t per stock and step, carried from fold to fold; each forecast's interval uses its own fold's residuals.
    const forecasts = p.folds.flatMap((_, i) =>
      Array.from({ length: horizon }, (__, k) => ({
        key: `${p.symbols[i]}:${k + 1}`,
        date: p.dates[i],
        targetDate: p.targetDates[i * horizon + k],
        residual: Math.abs(p.actual[i * horizon + k] - p.predicted[i * horizon + k]),
        calibration: calibrations[i]?.absResiduals[k] ?? [],
      })),
    );
    p.aci = adaptiveConformal(forecasts, { level: settings.level, gamma: settings.aciGamma }).halfWidths;
  }
  return p;
}

/** Metrics, significance and both intervals of the pooled forecasts in [from, to). */
function evaluateSlice(p: Pooled, from: number, to: number, horizon: number, settings: BacktestSettings) {
  const part = <T>(values: readonly T[], width = 1) => values.slice(from * width, to * width);
  const base = {
    dates: part(p.dates),
    lastClose: part(p.lastClose),
    actualReturns: part(p.actual, horizon),
    predictedReturns: part(p.predicted, horizon),
    targetDates: part(p.targetDates, horizon),
    symbols: part(p.symbols),
    split: 'walk_forward',
  };
  const level = settings.level;
  const chosen = settings.interval === 'aci' ? p.aci : settings.interval === 'conformal' ? p.splitConformal : null;
  const main = evaluateForecasts({
    ...base,
    intervals: chosen ? { method: METHOD_OF[settings.interval], level, halfWidths: part(chosen, horizon) } : undefined,
  });
  const coverage = (widths: number[] | null, method: Method) =>
    widths === null ? null : (evaluateForecasts({ ...base, intervals: { method, level, halfWidths: part(widths, horizon) } }).results.interval ?? null);
  const intervals: BacktestIntervals = {
    split_conformal: settings.interval === 'conformal' ? (main.results.interval ?? null) : coverage(p.splitConformal, 'split_conformal'),
    aci: settings.interval === 'aci' ? (main.results.interval ?? null) : null,
  };
  return { evaluation: main, intervals };
}

/** Each stock's skill and coverage over the pooled forecasts (a universal backtest's per-stock report). */
function perStock(p: Pooled, horizon: number): StockResults[] {
  const by = new Map<string, { n: number; model: number; persistence: number; sc: number; aci: number }>();
  for (let i = 0; i < p.dates.length; i++) {
    let s = by.get(p.symbols[i]);
    if (!s) by.set(p.symbols[i], (s = { n: 0, model: 0, persistence: 0, sc: 0, aci: 0 }));
    for (let k = i * horizon; k < (i + 1) * horizon; k++) {
      const c = p.lastClose[i];
      const actual = c * Math.exp(p.actual[k]);
      const error = Math.abs(p.actual[k] - p.predicted[k]);
      s.n++;
      s.model += Math.abs(actual - c * Math.exp(p.predicted[k]));
      s.persistence += Math.abs(actual - c);
      if (error <= p.splitConformal[k]) s.sc++;
      if (p.aci && error <= p.aci[k]) s.aci++;
    }
  }
  return [...by.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([symbol, s]) => ({
      symbol,
      samples: s.n,
      skill: s.persistence > 0 ? 1 - s.model / s.persistence : null,
      split_conformal_coverage: s.sc / s.n,
      aci_coverage: p.aci ? s.aci / s.n : null,
    }));
}

function withoutDaily(c: CrossSectionResults): Omit<CrossSectionResults, 'daily'> {
  const { daily: _daily, ...rest } = c;
  return rest;
}

const percent = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);

function summaryOf(overall: BacktestResultsFile['overall'], level: number, folds: number): string {
  const skill = overall.metrics.skill;
  const parts = [
    `${folds} folds, ${overall.n_samples} forecasts: skill vs persistence ${skill === null ? '-' : `${(skill * 100).toFixed(2)}%`}`,
    overall.significance ? overall.significance.summary : 'no significance test',
  ];
  const lvl = `${Math.round(level * 100)}%`;
  if (overall.intervals.split_conformal) parts.push(`${lvl} split-conformal interval covered ${percent(overall.intervals.split_conformal.coverage)}`);
  if (overall.intervals.aci) parts.push(`ACI covered ${percent(overall.intervals.aci.coverage)}`);
  return parts.join('; ');
}

/** forecasts.json, forecasts.csv and results.json from the finished folds' files. */
function assemble(
  name: string,
  config: TrainConfig,
  settings: BacktestSettings,
  files: readonly FoldFile[],
): { forecasts: BacktestForecastsFile; results: BacktestResultsFile } {
  const h = config.dataset.horizon;
  const p = pool(files, settings, h);
  const universal = config.data.symbols !== null;
  const folds: FoldResults[] = [];
  let offset = 0;
  for (const f of files) {
    const n = f.forecasts.dates.length;
    const { evaluation, intervals } = evaluateSlice(p, offset, offset + n, h, settings);
    const r = evaluation.results;
    folds.push({
      fold: f.fold,
      train_start: f.plan.train_start,
      val_start: f.plan.val_start,
      train_end: f.plan.train_end,
      forecast_start: f.plan.forecast_start,
      forecast_end: f.plan.forecast_end,
      windows: f.windows,
      stocks: f.stocks,
      skipped: f.skipped,
      epochs_trained: f.epochs_trained,
      best_epoch: f.best_epoch,
      best_val_loss: f.best_val_loss,
      stop_reason: f.stop_reason,
      seconds: f.seconds,
      n_samples: n,
      metrics: r.test_metrics,
      baselines: r.baselines,
      significance: r.significance ?? null,
      intervals,
      cross_section: universal ? withoutDaily(crossSectionOfRecords(evaluation.predictions.records)) : null,
    });
    offset += n;
  }
  const { evaluation, intervals } = evaluateSlice(p, 0, p.dates.length, h, settings);
  const r = evaluation.results;
  const records: BacktestForecastRecord[] = evaluation.predictions.records.map((rec, k) => ({
    ...rec,
    symbol: rec.symbol as string,
    fold: p.folds[Math.floor(k / h)],
  }));
  const overall: BacktestResultsFile['overall'] = {
    n_samples: r.n_samples,
    metrics: r.test_metrics,
    baselines: r.baselines,
    per_horizon: r.per_horizon,
    significance: r.significance ?? null,
    intervals,
    cross_section: universal ? crossSectionOfRecords(records) : null,
    per_stock: universal ? perStock(p, h) : null,
  };
  const method = METHOD_OF[settings.interval];
  const now = new Date().toISOString();
  return {
    forecasts: {
      generated_at: now,
      split: 'walk_forward',
      horizon: h,
      n_samples: r.n_samples,
      return_type: 'log',
      name,
      interval: { method, level: settings.level },
      records,
    },
    results: {
      format: 'klinecast.backtest.results',
      name,
      evaluated_at: now,
      symbol: config.data.symbol,
      stocks: universal ? new Set(p.symbols).size : null,
      model_type: config.model.modelType,
      horizon: h,
      return_type: 'log',
      interval: { method, level: settings.level, aci_gamma: settings.interval === 'aci' ? settings.aciGamma : null },
      folds,
      overall,
      summary: summaryOf(overall, settings.level, files.length),
    },
  };
}

/** What an in-memory walk-forward returns (Forecaster.backtest): the records and results a backtest folder would hold. */
export interface WalkForwardResult {
  folds: FoldPlan[];
  forecasts: BacktestForecastRecord[];
  results: BacktestResultsFile;
}

/**
 * The same walk-forward as `klinecast backtest`, in memory and without a folder: plan, train every fold, assemble.
 * One stock (`config.data.symbol`, or the series' own) or a universe (`config.data.symbols`, one series each).
 */
export async function walkForward(
  series: readonly KlineSeries[],
  config: TrainConfig,
  settingsInput: BacktestSettingsInput = {},
  options: { trainerCallbacks?: TrainerCallbacks[] } = {},
): Promise<WalkForwardResult> {
  const settings = parseBacktestSettings(settingsInput);
  const universal = config.data.symbols !== null;
  if (!universal && series.length !== 1) throw new Error('walkForward: a single-stock walk-forward takes exactly one series');
  const cfg = universal ? config : { ...config, data: { ...config.data, symbol: series[0].symbol } };
  const plan = planFolds(calendarOf(series), settings, cfg.dataset);
  const files: FoldFile[] = [];
  for (const fold of plan.folds) files.push((await runFold(series, fold, cfg, settings, options)).file as FoldFile);
  const { forecasts, results } = assemble(settings.name ?? 'walk_forward', cfg, settings, files);
  return { folds: plan.folds, forecasts: forecasts.records, results };
}

// --- the backtest folder -------------------------------------------------------------------------------------------

function readFoldFile(dir: string, fold: number): FoldFile | null {
  const read = readJson(join(dir, foldFileName(fold)), { within: dir });
  if (!read.ok) return null;
  const f = read.value as FoldFile;
  return f && f.fold === fold && f.forecasts && Array.isArray(f.forecasts.dates) ? f : null;
}

function writeState(dir: string, state: BacktestStateFile): void {
  writeJsonAtomic(join(dir, BACKTEST_FILES.state), { ...state, updated_at: new Date().toISOString() });
}

/** Loads the bars of a new backtest: one stock, or the universe (each stock with bars; those without are logged). */
async function loadNew(
  config: TrainConfig,
  options: RunBacktestOptions,
): Promise<{ config: TrainConfig; series: KlineSeries[]; missing: string[]; databaseUrl: string | null }> {
  const universal = config.data.symbols !== null;
  if (options.series) {
    if (!universal && options.series.length !== 1) throw new Error('runBacktest: a single-stock backtest takes exactly one series');
    // Bars handed in raw are adjusted here, as runTraining does (data.adjust); loaded ones already are.
    const series = options.series.map((s) => adjustSeries(s, config.data.adjust));
    return {
      config: universal
        ? withRecordedUniverse(config, series.map(stockRange), series)
        : withRecordedData({ ...config, data: { ...config.data, symbol: series[0].symbol } }, series[0]),
      series,
      missing: [],
      databaseUrl: null,
    };
  }
  const databaseUrl = resolveDatabaseUrl(options.databaseUrl);
  const sourced = withDataSource(config, databaseUrl);
  if (universal) {
    const { series, missing } = await loadUniverseSeries(sourced, databaseUrl, false);
    if (series.length === 0) throw new UserError(`none of the backtest's stocks has bars in ${sourced.data.database}`, 'no_data');
    return { config: withRecordedUniverse(sourced, series.map(stockRange), series), series, missing, databaseUrl };
  }
  const series = await loadTrainingSeries(sourced, databaseUrl);
  return { config: withRecordedData(sourced, series), series: [series], missing: [], databaseUrl };
}

function stockRange(s: KlineSeries) {
  return { symbol: s.symbol, rows: s.dates.length, firstDate: s.dates[0], lastDate: s.dates[s.dates.length - 1] };
}

/** Reloads a backtest's bars exactly as recorded; any changed bar is refused, naming the stock. */
async function loadRecorded(saved: BacktestConfigFile, options: RunBacktestOptions): Promise<KlineSeries[]> {
  let series: KlineSeries[];
  const config = saved.train;
  if (options.series) series = options.series.map((s) => adjustSeries(s, config.data.adjust));
  else {
    const databaseUrl = options.databaseUrl ?? savedDatabaseUrl(config) ?? resolveDatabaseUrl();
    series = config.data.symbols !== null ? (await loadUniverseSeries(config, databaseUrl, true)).series : [await loadRecordedSeries(config, databaseUrl)];
  }
  const bySymbol = new Map(series.map((s) => [s.symbol, s]));
  const changed = saved.stocks.filter((r) => {
    const s = bySymbol.get(r.symbol);
    return !s || stockRecord(s).checksum !== r.checksum;
  });
  if (changed.length) {
    throw new UserError(
      `backtest ${saved.name}: the bars of ${changed.map((r) => r.symbol).join(', ')} are not those it started with (${changed[0].rows} bars ${changed[0].firstDate}..${changed[0].lastDate}); start a new backtest`,
      'data_changed',
    );
  }
  return saved.stocks.map((r) => bySymbol.get(r.symbol) as KlineSeries);
}

function parseSavedConfig(dir: string): BacktestConfigFile {
  const read = readJson(join(dir, BACKTEST_FILES.config), { within: dir });
  if (!read.ok) throw new UserError(`backtest ${dir}: ${read.reason}`, read.missing ? 'run_not_found' : 'run_corrupt');
  const value = read.value as BacktestConfigFile;
  if (value?.format !== 'klinecast.backtest') throw new UserError(`backtest ${dir}: config.json is not a klinecast backtest config`, 'run_corrupt');
  return { ...value, settings: parseBacktestSettings(value.settings), train: parseTrainConfig(value.train, `backtest ${value.name}: config.json train`) };
}

/**
 * Runs a walk-forward backtest into out/backtests/{name}/, or continues one (`resume`) at its next unfinished fold.
 * Returns when every fold is done (status completed, with the results) or when the signal stops it (interrupted).
 */
export async function runBacktest(options: RunBacktestOptions): Promise<BacktestReport> {
  const started = performance.now();
  let dir: string;
  let name: string;
  let saved: BacktestConfigFile;
  let series: KlineSeries[];
  let state: BacktestStateFile;
  if (options.resume) {
    dir = resolveBacktestRef(options.resume, options.outputDir);
    saved = parseSavedConfig(dir);
    name = saved.name;
    const read = readJson(join(dir, BACKTEST_FILES.state), { within: dir });
    if (!read.ok) throw new UserError(`backtest ${name}: ${read.reason}`, 'run_corrupt');
    state = read.value as BacktestStateFile;
    if (state.status === 'completed') throw new UserError(`backtest ${name} is already completed; nothing to resume`, 'run_completed');
    if (state.status === 'running' && state.host === hostname() && state.pid !== process.pid && isPidAlive(state.pid)) {
      throw new UserError(`backtest ${name} is running in process ${state.pid}; stop it first`, 'run_busy');
    }
    series = await loadRecorded(saved, options);
    const replanned = planFolds(calendarOf(series), saved.settings, saved.train.dataset).folds;
    if (JSON.stringify(replanned) !== JSON.stringify(saved.folds))
      throw new UserError(`backtest ${name}: its fold plan no longer follows from its data and settings`, 'data_changed');
    state = { ...state, status: 'running', host: hostname(), pid: process.pid, error: null };
    writeState(dir, state);
    appendBacktestLog(dir, `resumed by process ${process.pid} on ${state.host}: ${state.folds_done.length} of ${state.folds_total} folds done`);
  } else {
    if (!options.config) throw new Error('runBacktest: a config is required for a new backtest');
    const settings = parseBacktestSettings(options.settings ?? {});
    const loaded = await loadNew(options.config, options);
    const config = loaded.config;
    series = loaded.series;
    // Plan before any folder exists: a period with no room to train leaves nothing behind.
    const plan = planFolds(calendarOf(series), settings, config.dataset);
    const base = settings.name ?? `backtest_${config.data.symbol ?? config.model.modelType}_${runTimestamp()}`;
    const claimed = claimRunDir(backtestsRoot(options.outputDir ?? config.output.outputDir), base);
    dir = claimed.dir;
    name = claimed.name;
    const now = new Date().toISOString();
    saved = {
      format: 'klinecast.backtest',
      version: 1,
      name,
      created_at: now,
      settings: { ...settings, name },
      forecast_period: { start: plan.start, end: plan.end },
      train: config,
      stocks: series.map(stockRecord),
      folds: plan.folds,
    };
    writeJsonAtomic(join(dir, BACKTEST_FILES.config), saved);
    state = {
      status: 'running',
      folds_total: plan.folds.length,
      folds_done: [],
      created_at: now,
      updated_at: now,
      finished_at: null,
      host: hostname(),
      pid: process.pid,
      error: null,
    };
    writeState(dir, state);
    const who = config.data.symbol ?? `${series.length} stocks`;
    appendBacktestLog(
      dir,
      `backtest ${name} of ${who}: ${plan.folds.length} folds (${settings.retrain}, ${settings.window}) forecasting ${plan.start}..${plan.end}`,
    );
    for (const symbol of loaded.missing) appendBacktestLog(dir, `skipped ${symbol}: no bars in the database`);
  }

  const { settings, train: config, folds } = saved;
  const done = new Set(state.folds_done.filter((f) => readFoldFile(dir, f) !== null));
  let computed = 0;
  try {
    for (const plan of folds) {
      if (done.has(plan.fold)) continue;
      options.callbacks?.onFoldStart?.({ plan, total: folds.length, done: done.size });
      const { file, fit } = await runFold(series, plan, config, settings, options);
      if (file === null) {
        state = { ...state, status: 'interrupted', folds_done: [...done].sort((a, b) => a - b), error: fit.interruptedBy };
        writeState(dir, state);
        appendBacktestLog(
          dir,
          `interrupted (${fit.interruptedBy}) in fold ${plan.fold}; ${done.size} of ${folds.length} folds done; resume with klinecast backtest --resume ${name}`,
        );
        return {
          name,
          dir,
          status: 'interrupted',
          interruptedBy: fit.interruptedBy,
          foldsTotal: folds.length,
          foldsDone: done.size,
          foldsComputed: computed,
          results: null,
          seconds: (performance.now() - started) / 1000,
        };
      }
      writeJsonAtomic(join(dir, foldFileName(plan.fold)), file);
      done.add(plan.fold);
      computed++;
      state = { ...state, folds_done: [...done].sort((a, b) => a - b) };
      writeState(dir, state);
      appendBacktestLog(
        dir,
        `fold ${plan.fold}/${folds.length}: trained to ${plan.train_end} (${file.windows.train} train / ${file.windows.val} val windows, ${file.epochs_trained} epochs, ${file.stop_reason}), ` +
          `${file.forecasts.dates.length} forecasts ${plan.forecast_start}..${plan.forecast_end} in ${file.seconds.toFixed(1)} s`,
      );
      options.callbacks?.onFoldEnd?.({ plan, total: folds.length, done: done.size, seconds: file.seconds, epochsTrained: file.epochs_trained });
    }
    const files = folds.map((f) => readFoldFile(dir, f.fold) as FoldFile);
    const { forecasts, results } = assemble(name, config, settings, files);
    writeJsonAtomic(join(dir, BACKTEST_FILES.forecasts), forecasts);
    writeFileAtomic(join(dir, BACKTEST_FILES.forecastsCsv), forecastsCsv(forecasts.records));
    writeJsonAtomic(join(dir, BACKTEST_FILES.results), results);
    state = { ...state, status: 'completed', finished_at: new Date().toISOString() };
    writeState(dir, state);
    appendBacktestLog(dir, `completed: ${results.summary}`);
    return {
      name,
      dir,
      status: 'completed',
      interruptedBy: null,
      foldsTotal: folds.length,
      foldsDone: folds.length,
      foldsComputed: computed,
      results,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    try {
      writeState(dir, { ...state, status: 'failed', error: (err as Error).message });
      appendBacktestLog(dir, `failed: ${(err as Error).stack ?? (err as Error).message}`);
    } catch {
      // The disk may be full: the error that stopped the backtest is the one to report.
    }
    throw err;
  }
}
