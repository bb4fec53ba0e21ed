/**
 * `klinecast simulate` over files and the database: finds the forecasts (a run's results/predictions.json, a
 * backtest's forecasts.json, or a file), loads the prices they need, runs the simulation (src/evaluation/trading) and
 * writes its folder beside the forecasts (docs/TRADING.md). Imported on its own, not from runs/index.ts: it loads
 * database code, which batch pool threads must not.
 */
import { existsSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { StockDataLoader } from '../data/loader.js';
import { addDays } from '../data/dates.js';
import { requireSymbol } from '../data/symbols.js';
import type { DatabaseHandle } from '../data/db/connection.js';
import type { IsoDate } from '../data/types.js';
import {
  PERIODS_PER_YEAR,
  buildMarket,
  checkStrategy,
  parseForecasts,
  simulate,
  type CostModel,
  type DealPrice,
  type Market,
  type MarketStockInput,
  type ParsedForecasts,
  type RuleToggles,
  type SimulationOutcome,
  type SimulationSummary,
  type StrategySpec,
} from '../evaluation/trading/index.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { isDirOrLinkToDir, isRealDir } from '../util/fs.js';
import { readJson } from '../util/json.js';
import { KLINECAST_VERSION } from '../util/version.js';
import type { SimulationListItem } from '../wire/index.js';
import { BACKTESTS_DIR, BACKTEST_FILES } from './backtests.js';
import { RUN_FILES, type RunMetadata } from './files.js';
import { DEFAULT_OUTPUT_DIR, claimRunDir, existingRunDirFor, runTimestamp, validateRunName } from './names.js';

/** The file of a backtest folder (out/backtests/{name}/, src/runs/backtests.ts) holding its forecasts. */
const BACKTEST_FORECASTS = BACKTEST_FILES.forecasts;
export const SIMULATION_FILES = {
  json: 'simulation.json',
  equity: 'equity.csv',
  trades: 'trades.csv',
  positions: 'positions.csv',
  rejected: 'rejected.csv',
} as const;

export interface ForecastSource {
  kind: 'run' | 'backtest' | 'file';
  /** The run's or backtest's folder name, or the file's name. */
  name: string;
  /** The forecasts file. */
  file: string;
  /** The run or backtest folder (for a file: its folder). */
  root: string;
  /** The folder simulations are written under: <run>/results/simulations/ or <backtest>/simulations/. */
  simulationsDir: string;
  /** A single-stock run's stock (its records carry none). */
  symbol: string | null;
}

function runSource(dir: string): ForecastSource {
  const meta = readJson(join(dir, RUN_FILES.metadata), { within: dir });
  const symbol = meta.ok && typeof (meta.value as RunMetadata).stock_symbol === 'string' ? (meta.value as RunMetadata).stock_symbol : null;
  return { kind: 'run', name: basename(dir), file: join(dir, RUN_FILES.predictions), root: dir, simulationsDir: join(dir, 'results', 'simulations'), symbol };
}

function backtestSource(dir: string): ForecastSource {
  return { kind: 'backtest', name: basename(dir), file: join(dir, BACKTEST_FORECASTS), root: dir, simulationsDir: join(dir, 'simulations'), symbol: null };
}

/** The folder is a backtest when it holds forecasts.json, a run when it holds results/predictions.json or metadata.json. */
function sourceOfDir(dir: string): ForecastSource | null {
  if (existsSync(join(dir, BACKTEST_FORECASTS))) return backtestSource(dir);
  if (existsSync(join(dir, RUN_FILES.predictions)) || existsSync(join(dir, RUN_FILES.metadata))) return runSource(dir);
  return null;
}

/**
 * What --forecasts names: a path (with a separator) to a run folder, a backtest folder or a forecasts JSON file; or a
 * bare name, looked up as a run in the output folder, then as a backtest in <output>/backtests/ (links not followed).
 */
export function resolveForecastSource(ref: string, outputDir = DEFAULT_OUTPUT_DIR): ForecastSource {
  if (ref.includes('/') || ref.includes('\\')) {
    const path = resolve(ref);
    if (!existsSync(path)) throw new UserError(`--forecasts: no file or folder ${ref}`, 'forecasts_not_found');
    if (!isDirOrLinkToDir(path)) {
      const name = basename(path);
      return { kind: 'file', name, file: path, root: dirname(path), simulationsDir: join(dirname(path), 'simulations'), symbol: null };
    }
    const source = sourceOfDir(path);
    if (!source)
      throw new UserError(
        `--forecasts: ${ref} is neither a run folder (results/predictions.json) nor a backtest folder (forecasts.json)`,
        'forecasts_not_found',
      );
    return source;
  }
  for (const [root, make] of [
    [outputDir, runSource],
    [join(outputDir, BACKTESTS_DIR), backtestSource],
  ] as const) {
    try {
      return make(existingRunDirFor(root, ref));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
    }
  }
  throw new UserError(`--forecasts: no run ${join(outputDir, ref)} and no backtest ${join(outputDir, BACKTESTS_DIR, ref)}`, 'forecasts_not_found');
}

/** Reads and validates the forecasts of a source. */
export function readForecasts(source: ForecastSource): ParsedForecasts {
  const read = readJson(source.file, { within: source.root });
  if (!read.ok) {
    const hint = read.missing && source.kind === 'run' ? ' (the run has not finished its test evaluation)' : '';
    throw new UserError(`--forecasts: ${read.reason}${hint}`, 'bad_forecasts');
  }
  return parseForecasts(read.value, basename(source.file), source.symbol);
}

/** Calendar days of prices loaded past the last forecast: the trade day after it, even across a long holiday. */
const TAIL_DAYS = 20;

export interface LoadedMarket {
  market: Market;
  /** The benchmark's closes on the market's days, or null for the equal-weighted universe. */
  benchmarkCloses: Float64Array | null;
  /** Stocks forecast that have no bar in the window (left out). */
  missingSymbols: string[];
}

/**
 * The bars of the forecast stocks (and the benchmark index) from the database, from the first forecast day to a little
 * after the last (or --end), with stock_basic_info's name, type and list date for ST and the listing days.
 */
export async function loadMarket(
  handle: DatabaseHandle,
  forecasts: ParsedForecasts,
  options: { benchmark: string; start?: IsoDate; end?: IsoDate },
): Promise<LoadedMarket> {
  const loader = new StockDataLoader(handle);
  const from = forecasts.first as IsoDate;
  const tail = addDays(forecasts.last as IsoDate, TAIL_DAYS);
  const to = options.end !== undefined && options.end < tail ? options.end : tail;
  const inputs: MarketStockInput[] = [];
  const missingSymbols: string[] = [];
  for (const symbol of forecasts.symbols) {
    const bars = await loader.loadKline(symbol, from, to);
    if (bars.length === 0) {
      missingSymbols.push(symbol);
      continue;
    }
    const info = await loader.loadStockInfo(symbol);
    inputs.push({
      symbol,
      name: info?.name ?? null,
      stockType: info?.stockType ?? null,
      listDate: info?.listDate ?? null,
      bars: bars.map((b) => ({ date: b.tradeDate, open: b.open, close: b.close, preClose: b.preClose, vol: b.vol, limitStatus: b.limitStatus })),
    });
  }
  if (inputs.length === 0) {
    throw new UserError(
      `the database has no bars for the forecast stocks (${forecasts.symbols.slice(0, 5).join(', ')}…) between ${from} and ${to}`,
      'no_prices',
    );
  }
  const market = buildMarket(inputs);
  if (options.benchmark === 'equal') return { market, benchmarkCloses: null, missingSymbols };
  const index = requireSymbol(options.benchmark);
  const bars = await loader.loadKline(index, from, to);
  if (bars.length === 0) {
    throw new UserError(
      `--benchmark ${index}: the database has no bars for it between ${from} and ${to}; import the index (data import) or use --benchmark equal`,
      'no_benchmark',
    );
  }
  const dayOf = new Map(market.dates.map((d, i) => [d, i]));
  const closes = new Float64Array(market.dates.length).fill(NaN);
  for (const b of bars) {
    const d = dayOf.get(b.tradeDate);
    if (d !== undefined) closes[d] = b.close;
  }
  return { market, benchmarkCloses: closes, missingSymbols };
}

export interface SimulationRequest {
  strategy: StrategySpec;
  dealPrice: DealPrice;
  cash: number;
  benchmark: string;
  start?: IsoDate;
  end?: IsoDate;
  rules: RuleToggles;
  costs: CostModel;
  /** Default `{strategy}_{YYYYMMDD_HHMMSS}`; a taken name gets _2, _3 … */
  name?: string;
}

/** simulation.json. */
export interface SimulationFile {
  name: string;
  created_at: string;
  klinecast_version: string;
  source: { kind: ForecastSource['kind']; name: string; file: string };
  settings: {
    strategy: StrategySpec;
    deal_price: DealPrice;
    cash: number;
    benchmark: string;
    start: IsoDate | null;
    end: IsoDate | null;
    rules: { t_plus_1: boolean; price_limits: boolean; lots: boolean; suspensions: boolean };
    costs: {
      commission_rate: number;
      min_commission: number;
      stamp_duty_rate: number;
      stamp_duty_rate_after_cut: number;
      stamp_duty_cut_date: IsoDate;
      transfer_fee_rate: number;
    };
    periods_per_year: number;
  };
  forecasts: {
    step1_records: number;
    stocks: number;
    days: number;
    first: IsoDate | null;
    last: IsoDate | null;
    unmatched: number;
    stocks_without_prices: string[];
  };
  summary: SimulationSummary;
  equity: Array<{
    date: IsoDate;
    equity: number;
    cash: number;
    market_value: number;
    return: number;
    benchmark_return: number;
    /** starting cash compounded by the benchmark's returns. */
    benchmark_equity: number;
    /** equity / running peak − 1. */
    drawdown: number;
    traded_value: number;
    costs: number;
    positions: number;
  }>;
  trades: SimulationOutcome['record']['trades'];
  positions: SimulationOutcome['record']['positions'];
  rejected: SimulationOutcome['record']['rejected'];
}

/** Runs the whole simulation for a source and returns the file's content (not yet written). */
export async function runSimulationFor(handle: DatabaseHandle, source: ForecastSource, request: SimulationRequest, now = new Date()): Promise<SimulationFile> {
  checkStrategy(request.strategy);
  const forecasts = readForecasts(source);
  let spec = request.strategy;
  if (spec.kind === 'long-flat' && spec.symbol === '') {
    if (forecasts.symbols.length !== 1) {
      throw new UserError(`long-flat trades one stock and the forecasts cover ${forecasts.symbols.length}: name it with --symbol`, 'bad_input');
    }
    spec = { ...spec, symbol: forecasts.symbols[0] };
  }
  const loaded = await loadMarket(handle, forecasts, request);
  const settings = { cash: request.cash, dealPrice: request.dealPrice, costs: request.costs, rules: request.rules, start: request.start, end: request.end };
  const outcome = simulate(loaded.market, forecasts.forecasts, spec, settings, { name: request.benchmark, closes: loaded.benchmarkCloses });
  return toSimulationFile(source, request, spec, forecasts, loaded, outcome, now);
}

function toSimulationFile(
  source: ForecastSource,
  request: SimulationRequest,
  spec: StrategySpec,
  forecasts: ParsedForecasts,
  loaded: LoadedMarket,
  outcome: SimulationOutcome,
  now: Date,
): SimulationFile {
  const { record, summary } = outcome;
  let bench = request.cash;
  let peak = request.cash;
  const equity = record.days.map((d) => {
    bench *= 1 + d.benchmark_return;
    peak = Math.max(peak, d.equity);
    return { ...d, benchmark_equity: bench, drawdown: peak > 0 ? d.equity / peak - 1 : 0 };
  });
  const c = request.costs;
  return {
    name: request.name ?? `${spec.kind}_${runTimestamp(now)}`,
    created_at: now.toISOString(),
    klinecast_version: KLINECAST_VERSION,
    source: { kind: source.kind, name: source.name, file: basename(source.file) },
    settings: {
      strategy: spec,
      deal_price: request.dealPrice,
      cash: request.cash,
      benchmark: request.benchmark,
      start: request.start ?? null,
      end: request.end ?? null,
      rules: { t_plus_1: request.rules.tPlusOne, price_limits: request.rules.priceLimits, lots: request.rules.lots, suspensions: request.rules.suspensions },
      costs: {
        commission_rate: c.commissionRate,
        min_commission: c.minCommission,
        stamp_duty_rate: c.stampDutyRate,
        stamp_duty_rate_after_cut: c.stampDutyRateAfterCut,
        stamp_duty_cut_date: c.stampDutyCutDate,
        transfer_fee_rate: c.transferFeeRate,
      },
      periods_per_year: PERIODS_PER_YEAR,
    },
    forecasts: {
      step1_records: forecasts.forecasts.length,
      stocks: forecasts.symbols.length,
      days: forecasts.days,
      first: forecasts.first,
      last: forecasts.last,
      unmatched: outcome.unmatchedForecasts,
      stocks_without_prices: loaded.missingSymbols,
    },
    summary,
    equity,
    trades: record.trades,
    positions: record.positions,
    rejected: record.rejected,
  };
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(Number(value.toPrecision(12))) : '') : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows of objects as CSV with the given columns, in that order. */
export function toCsv<T extends object>(columns: Array<keyof T & string>, rows: T[]): string {
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * Writes <simulationsDir>/<name>/: the name is claimed as run folders are (claimRunDir: an atomic mkdir, _2, _3 … when
 * taken, so two simulations never share one), then the empty folder is swapped for the full one (writeDirAtomic).
 */
export function writeSimulation(source: ForecastSource, file: SimulationFile): string {
  const { name, dir } = claimRunDir(source.simulationsDir, file.name);
  try {
    writeDirAtomic(dir, (tmp) => writeSimulationFiles(tmp, { ...file, name }));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true }); // the claim, still empty: nothing half-written stays
    throw err;
  }
  return dir;
}

function writeSimulationFiles(dir: string, file: SimulationFile): void {
  const write = (name: string, text: string) => writeFileAtomic(join(dir, name), text);
  write(SIMULATION_FILES.json, `${JSON.stringify(file, null, 2)}\n`);
  write(
    SIMULATION_FILES.equity,
    toCsv(
      ['date', 'equity', 'cash', 'market_value', 'return', 'benchmark_return', 'benchmark_equity', 'drawdown', 'traded_value', 'costs', 'positions'],
      file.equity,
    ),
  );
  write(
    SIMULATION_FILES.trades,
    toCsv(['date', 'signal_date', 'symbol', 'side', 'shares', 'price', 'value', 'commission', 'stamp_duty', 'transfer_fee', 'cost'], file.trades),
  );
  write(SIMULATION_FILES.positions, toCsv(['date', 'symbol', 'shares', 'close', 'value', 'weight'], file.positions));
  write(SIMULATION_FILES.rejected, toCsv(['date', 'signal_date', 'symbol', 'side', 'reason', 'requested', 'price'], file.rejected));
}

/** The folder whose simulations are listed and read: a run's or a backtest's, and its simulations folder. */
export interface SimulationsLocation {
  /** The run or backtest folder: every file read must resolve inside it (a linked results/ or simulations/ is refused). */
  root: string;
  simulationsDir: string;
}

/** The simulations folder when it resolves inside its root, else null (missing, or a link out). */
function ownSimulationsDir(where: SimulationsLocation): string | null {
  try {
    const real = realpathSync(where.simulationsDir);
    const root = realpathSync(where.root);
    return real.startsWith(root.endsWith(sep) ? root : root + sep) ? where.simulationsDir : null;
  } catch {
    return null;
  }
}

/** The simulations of a run or backtest, newest first. A folder whose simulation.json is unreadable is listed with the reason. */
export function listSimulations(where: SimulationsLocation): SimulationListItem[] {
  const dir = ownSimulationsDir(where);
  if (dir === null) return [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const items = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e): SimulationListItem => {
      const read = readSimulation(where, e.name);
      const empty = {
        name: e.name,
        created_at: null,
        strategy: null,
        benchmark: null,
        start: null,
        end: null,
        annualised_return: null,
        excess_annualised: null,
        information_ratio: null,
        max_drawdown: null,
      };
      if (!read.ok) return { ...empty, problem: read.reason };
      const f = read.file;
      return {
        name: e.name,
        created_at: f.created_at ?? null,
        strategy: f.settings?.strategy?.kind ?? null,
        benchmark: f.settings?.benchmark ?? null,
        start: f.summary?.start ?? null,
        end: f.summary?.end ?? null,
        annualised_return: f.summary?.portfolio?.annualised_return ?? null,
        excess_annualised: f.summary?.excess?.annualised ?? null,
        information_ratio: f.summary?.excess?.information_ratio ?? null,
        max_drawdown: f.summary?.portfolio?.max_drawdown ?? null,
        problem: null,
      };
    });
  return items.sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? '') || a.name.localeCompare(b.name));
}

/** One saved simulation.json, read only where it resolves inside the run or backtest folder (no link leads out). */
export function readSimulation(where: SimulationsLocation, name: string): { ok: true; file: SimulationFile } | { ok: false; reason: string } {
  const missing = { ok: false as const, reason: `no simulation named ${name}` };
  const base = ownSimulationsDir(where);
  if (base === null) return missing;
  const dir = join(base, validateRunName(name));
  if (!isRealDir(dir)) return missing;
  const read = readJson(join(dir, SIMULATION_FILES.json), { within: where.root });
  if (!read.ok) return { ok: false, reason: read.reason };
  if (typeof read.value !== 'object' || read.value === null) return { ok: false, reason: 'simulation.json is not an object' };
  return { ok: true, file: read.value as SimulationFile };
}
