/**
 * The out/backtests/{name}/ standard (DESIGN.md §4, docs/BACKTESTING.md): the files of one walk-forward backtest, the
 * record shape of its forecasts (a run's predictions.json record plus its fold), and reading backtests back. The
 * training layer writes them (src/training/backtest.ts); `klinecast backtest list`, `simulate` and the dashboard read them.
 */
import { appendFileSync, mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { PredictionRecord, PredictionsFile } from '../evaluation/index.js';
import { guardDiskFull } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { finiteOrNull, isRecord } from '../util/values.js';
import { logTimestamp } from './manager.js';
import { BACKTESTS_DIR, DEFAULT_OUTPUT_DIR, existingRunDirFor } from './names.js';
import { isPidAlive } from './store.js';

/** The folder of the output folder that holds every backtest. */
export { BACKTESTS_DIR };

export const BACKTEST_FILES = {
  /** Resolved settings, the train config, the data read and the fold plan. */
  config: 'config.json',
  /** Status and the finished folds: what --resume continues from. */
  state: 'state.json',
  /** One file per finished fold: its fit, its calibration and its raw forecasts. */
  foldsDir: 'folds',
  forecasts: 'forecasts.json',
  forecastsCsv: 'forecasts.csv',
  results: 'results.json',
  log: 'logs/backtest.log',
} as const;

/** folds/fold-001.json … */
export function foldFileName(fold: number): string {
  return `${BACKTEST_FILES.foldsDir}/fold-${String(fold).padStart(3, '0')}.json`;
}

export type BacktestStatus = 'running' | 'interrupted' | 'completed' | 'failed';

/** state.json. */
export interface BacktestStateFile {
  status: BacktestStatus;
  folds_total: number;
  /** Fold numbers (1-based) whose folds/fold-NNN.json is written, ascending. */
  folds_done: number[];
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  host: string;
  pid: number;
  /** The abort reason (SIGINT, SIGTERM) of an interrupted backtest, or the error of a failed one. */
  error: string | null;
}

/** One forecast of forecasts.json: a run's predictions.json record, with the symbol always set and the fold that made it. */
export interface BacktestForecastRecord extends PredictionRecord {
  symbol: string;
  /** 1-based: the fold whose model made this forecast (results.json folds[fold − 1]). */
  fold: number;
}

/** forecasts.json: the shape of a run's results/predictions.json (split "walk_forward"), with the interval it carries. */
export interface BacktestForecastsFile extends PredictionsFile {
  name: string;
  /** How lower/upper were made: split_conformal (per fold), aci (adaptive), or none (no bounds on the records). */
  interval: { method: 'split_conformal' | 'aci' | 'none'; level: number };
  records: BacktestForecastRecord[];
}

/** The CSV columns of forecasts.csv: the record's fields, in this order. */
export const FORECAST_CSV_COLUMNS = [
  'fold',
  'symbol',
  'date',
  'step',
  'target_date',
  'last_close',
  'actual_price',
  'predicted_price',
  'actual_return',
  'predicted_return',
  'lower',
  'upper',
] as const;

/** forecasts.csv: one header line, then one line per record; an absent bound or target date is an empty cell. */
export function forecastsCsv(records: readonly BacktestForecastRecord[]): string {
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v));
  const lines = [FORECAST_CSV_COLUMNS.join(',')];
  for (const r of records) lines.push(FORECAST_CSV_COLUMNS.map((c) => cell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

/** out/backtests/ of an output folder. */
export function backtestsRoot(outputDir = DEFAULT_OUTPUT_DIR): string {
  return join(resolve(outputDir), BACKTESTS_DIR);
}

/** A backtest given on the command line: a bare name inside out/backtests/, or a path to its folder. */
export function resolveBacktestRef(ref: string, outputDir = DEFAULT_OUTPUT_DIR): string {
  if (ref.includes('/')) {
    const dir = resolve(ref);
    if (!readJson(join(dir, BACKTEST_FILES.config)).ok)
      throw new UserError(`no backtest folder ${dir} (no readable ${BACKTEST_FILES.config})`, 'run_not_found');
    return dir;
  }
  try {
    return existingRunDirFor(backtestsRoot(outputDir), ref);
  } catch (err) {
    if (err instanceof UserError && err.code === 'run_not_found') throw new UserError(`no backtest ${join(outputDir, BACKTESTS_DIR, ref)}`, 'run_not_found');
    throw err;
  }
}

/** Appends "[YYYY-MM-DD HH:MM:SS] message" lines to logs/backtest.log, as a run's training.log. */
export function appendBacktestLog(dir: string, message: string): void {
  const path = join(dir, BACKTEST_FILES.log);
  const stamp = `[${logTimestamp()}] `;
  guardDiskFull(path, () => {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(
      path,
      `${message
        .split('\n')
        .map((l) => stamp + l)
        .join('\n')}\n`,
    );
  });
}

/** A backtest as `klinecast backtest list` shows it. */
export interface BacktestInfo {
  name: string;
  dir: string;
  /** `crashed`: state.json says running but its process is gone; `corrupt`: config.json or state.json unreadable. */
  status: BacktestStatus | 'crashed' | 'corrupt';
  reason: string | null;
  symbol: string | null;
  /** Stocks of a universal backtest; null for one stock. */
  stocks: number | null;
  modelType: string | null;
  createdAt: string | null;
  start: string | null;
  end: string | null;
  retrain: string | null;
  foldsTotal: number | null;
  foldsDone: number;
  /** From results.json when complete: overall skill vs persistence, and the coverage of the records' interval. */
  skill: number | null;
  coverage: number | null;
  /** Overall next-day Diebold–Mariano p-value against persistence (squared error, HLN-corrected). */
  dmP: number | null;
  /** Overall coverage of each interval measured: split-conformal always, ACI when the backtest ran it. */
  coverageSplitConformal: number | null;
  coverageAci: number | null;
  summary: string | null;
}

function field(record: unknown, ...path: string[]): unknown {
  let node = record;
  for (const key of path) node = isRecord(node) ? node[key] : undefined;
  return node;
}

const text = (v: unknown) => (typeof v === 'string' ? v : null);

/** Reads one backtest folder; never throws (a damaged folder is `corrupt`, with the reason). */
export function readBacktest(dir: string): BacktestInfo {
  const info: BacktestInfo = {
    name: dir.split('/').pop() as string,
    dir,
    status: 'corrupt',
    reason: null,
    symbol: null,
    stocks: null,
    modelType: null,
    createdAt: null,
    start: null,
    end: null,
    retrain: null,
    foldsTotal: null,
    foldsDone: 0,
    skill: null,
    coverage: null,
    dmP: null,
    coverageSplitConformal: null,
    coverageAci: null,
    summary: null,
  };
  const config = readJson(join(dir, BACKTEST_FILES.config), { within: dir });
  if (!config.ok) return { ...info, reason: config.reason };
  const state = readJson(join(dir, BACKTEST_FILES.state), { within: dir });
  if (!state.ok) return { ...info, reason: state.reason };
  const c = config.value;
  const s = state.value as Partial<BacktestStateFile>;
  const symbols = field(c, 'train', 'data', 'universe');
  Object.assign(info, {
    status: s.status ?? 'corrupt',
    reason: typeof s.error === 'string' ? s.error : null,
    symbol: text(field(c, 'train', 'data', 'symbol')),
    stocks: Array.isArray(symbols) ? symbols.length : null,
    modelType: text(field(c, 'train', 'model', 'modelType')),
    createdAt: text(field(c, 'created_at')),
    start: text(field(c, 'forecast_period', 'start')),
    end: text(field(c, 'forecast_period', 'end')),
    retrain: text(field(c, 'settings', 'retrain')),
    foldsTotal: typeof s.folds_total === 'number' ? s.folds_total : null,
    foldsDone: Array.isArray(s.folds_done) ? s.folds_done.length : 0,
  });
  if (s.status === 'running' && s.host === hostname() && typeof s.pid === 'number' && s.pid !== process.pid && !isPidAlive(s.pid)) {
    info.status = 'crashed';
    info.reason = `process ${s.pid} is gone; resume with klinecast backtest --resume ${info.name}`;
  }
  if (s.status === 'completed') {
    const results = readJson(join(dir, BACKTEST_FILES.results), { within: dir });
    if (results.ok) {
      info.skill = finiteOrNull(field(results.value, 'overall', 'metrics', 'skill'));
      const method = text(field(results.value, 'interval', 'method'));
      info.coverage = method && method !== 'none' ? finiteOrNull(field(results.value, 'overall', 'intervals', method, 'coverage')) : null;
      info.dmP = finiteOrNull(field(results.value, 'overall', 'significance', 'vs_persistence', 'p_value'));
      info.coverageSplitConformal = finiteOrNull(field(results.value, 'overall', 'intervals', 'split_conformal', 'coverage'));
      info.coverageAci = finiteOrNull(field(results.value, 'overall', 'intervals', 'aci', 'coverage'));
      info.summary = text(field(results.value, 'summary'));
    } else info.reason = results.reason;
  }
  return info;
}

/** Every backtest of an output folder (hidden and temp folders skipped), newest first. */
export function listBacktests(outputDir = DEFAULT_OUTPUT_DIR): BacktestInfo[] {
  const root = backtestsRoot(outputDir);
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserError(`cannot read ${root}: ${(err as Error).message}`);
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => readBacktest(join(root, e.name)))
    .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.name.localeCompare(b.name));
}

/** forecasts.json of a finished backtest, for readers such as `klinecast simulate`. */
export function readBacktestForecasts(dir: string): BacktestForecastsFile {
  const read = readJson(join(dir, BACKTEST_FILES.forecasts), { within: dir });
  if (!read.ok)
    throw new UserError(
      `backtest ${dir.split('/').pop()}: ${read.reason}${read.missing ? ' (not finished: resume it with klinecast backtest --resume)' : ''}`,
      read.missing ? 'run_not_ready' : 'run_corrupt',
    );
  const file = read.value as BacktestForecastsFile;
  if (!isRecord(file) || !Array.isArray(file.records)) throw new UserError(`backtest ${dir.split('/').pop()}: forecasts.json has no records`, 'run_corrupt');
  return file;
}

/** A backtest's stocks: its one symbol, or the universe a universal backtest read (config.json's train.data). */
export function backtestSymbols(config: unknown): string[] {
  const universe = field(config, 'train', 'data', 'universe');
  if (Array.isArray(universe)) return universe.map((u) => (typeof u === 'string' ? u : text(field(u, 'symbol')))).filter((s): s is string => s !== null);
  const symbol = text(field(config, 'train', 'data', 'symbol'));
  return symbol ? [symbol] : [];
}

/**
 * What config.json says of a backtest, without what only this machine knows (the database URL, the output folder)
 * and without the bars' checksums: the settings, the period, the fold plan, and the train config's data, features,
 * model and training.
 */
export function backtestConfigSummary(config: unknown): Record<string, unknown> {
  const data = field(config, 'train', 'data');
  const pick = (keys: string[]) => (isRecord(data) ? Object.fromEntries(keys.filter((k) => k in data).map((k) => [k, data[k]])) : null);
  return {
    settings: field(config, 'settings') ?? null,
    forecast_period: field(config, 'forecast_period') ?? null,
    folds: field(config, 'folds') ?? null,
    data: pick(['symbol', 'symbols', 'universe', 'stockType', 'startDate', 'endDate', 'adjust', 'rows', 'firstDate', 'lastDate']),
    dataset: field(config, 'train', 'dataset') ?? null,
    model: field(config, 'train', 'model') ?? null,
    training: field(config, 'train', 'training') ?? null,
  };
}

export interface BacktestDetails {
  info: BacktestInfo;
  /** backtestConfigSummary of config.json, or null when it is unreadable (info.reason says why). */
  config: Record<string, unknown> | null;
  /** Its stocks (backtestSymbols), in the universe's order. */
  symbols: string[];
  /** results.json (per fold and overall) of a completed backtest, else null. */
  results: unknown;
}

/** One backtest folder: its list entry, its config summary and results.json; never throws (see readBacktest). */
export function readBacktestDetails(dir: string): BacktestDetails {
  const info = readBacktest(dir);
  const config = readJson(join(dir, BACKTEST_FILES.config), { within: dir });
  const results = info.status === 'completed' ? readJson(join(dir, BACKTEST_FILES.results), { within: dir }) : null;
  return {
    info,
    config: config.ok ? backtestConfigSummary(config.value) : null,
    symbols: config.ok ? backtestSymbols(config.value) : [],
    results: results?.ok ? results.value : null,
  };
}

/** forecasts.json with its records narrowed to one stock and/or one step ahead. */
export function selectBacktestForecasts(file: BacktestForecastsFile, filter: { symbol?: string; step?: number }): BacktestForecastsFile {
  if (filter.symbol === undefined && filter.step === undefined) return file;
  return {
    ...file,
    records: file.records.filter((r) => (filter.symbol === undefined || r.symbol === filter.symbol) && (filter.step === undefined || r.step === filter.step)),
  };
}
