/**
 * PredictionEngine: trained runs → forecasts for symbols in the database. It chooses the run (given, or the best
 * completed one for the symbol by test MAE), loads it once (cached, reloaded when its weights file changes), reads
 * the symbol's bars from the same first day training read up to the requested end date, and forecasts the run's
 * horizon directly. With `record`, every forecast it makes is also written to the prediction ledger (ai_predictions,
 * ./ledger.ts); a ledger that cannot be written never costs the forecast, it is warned about once.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  StockDataLoader,
  TradingCalendar,
  recordForecasts,
  requireIsoDate,
  requireSymbol,
  resolveUniverse,
  type DatabaseHandle,
  type IsoDate,
  type KlineSeries,
  type LedgerSource,
} from '../data/index.js';
import {
  DEFAULT_OUTPUT_DIR,
  RUN_FILES,
  listRuns,
  loadRunModel,
  rankedRuns,
  resolveRunRef,
  weightsPathOf,
  type CheckpointChoice,
  type RunInfo,
} from '../runs/index.js';
import { readRunConfig } from '../training/index.js';
import { UserError } from '../util/errors.js';
import { isScoreTarget } from '../features/index.js';
import { ForecastOptionsSchema, forecastPrepared, prepareInput, requestedDays, scorePrepared, type Forecast, type PreparedInput } from './forecast.js';
import { ledgerRows } from './ledger.js';
import type { InferenceModel } from './model.js';

export const PredictRequestSchema = ForecastOptionsSchema.extend({
  /** Run name (inside the engine's output dir) or path; default: the best completed run for the symbol by test MAE. */
  run: z.string().min(1).optional(),
  checkpoint: z.enum(['final', 'best']).default('final'),
  /** Forecast from the last bar on or before this date; default: the last bar in the database. */
  endDate: z.string().optional(),
  /** Apply a run trained on one symbol to another one (the forecast then carries a warning). */
  allowOtherSymbol: z.boolean().default(false),
}).strict();
export type PredictRequest = z.input<typeof PredictRequestSchema>;
type ParsedRequest = z.infer<typeof PredictRequestSchema>;

export interface PredictionEngineOptions {
  database: DatabaseHandle;
  /** Where runs live; default "out". */
  outputDir?: string;
  /** Loaded runs kept in memory (each holds its own engine instance); least recently used ones are dropped. */
  maxCachedModels?: number;
  /**
   * Record every forecast in the prediction ledger with this source (cli, api, batch); undefined or false: record
   * nothing (a library caller's default; the CLI and the server record unless told --no-record).
   */
  record?: LedgerSource | false;
  /** Told once, on the first forecast the ledger could not take (default: a warning on stderr). */
  onRecordError?(message: string): void;
}

export interface PredictionFailure {
  symbol: string;
  code: string;
  message: string;
  details?: unknown;
}

/** Told after each run's group of stocks is forecast: stocks done (forecast or failed) of the total asked for. */
export type RankProgress = (done: number, total: number) => void;

export interface BatchForecast {
  forecasts: Forecast[];
  /** Symbols that could not be forecast (no bars, too little history, ...): one failure never stops the rest. */
  failures: PredictionFailure[];
}

/** One row of a ranking: a stock's next-day forecast from one run. */
export interface RankedForecast {
  rank: number;
  symbol: string;
  /** The run that made this forecast: the ranking's run, or (ranked without one) the stock's best run. */
  run: string;
  baseDate: IsoDate;
  baseClose: number;
  /** Predicted log return of the next trading day, the ranking key; null for a run on cross-sectional targets. */
  return: number | null;
  price: number | null;
  lower: number | null;
  upper: number | null;
  /** A run on cross-sectional targets: its score, the ranking key (it orders the stocks; it is not a return); else null. */
  score: number | null;
}

export interface Ranking {
  /** The one run every stock was forecast with; null when each stock used its own best run (see the entries' run). */
  run: string | null;
  /** What the run outputs (model/scaler.json target.kind): log_return, or a cross-sectional score kind. */
  target: string;
  interval: Forecast['interval'];
  level: number | null;
  /** The stocks asked for, and how many of them could be forecast. */
  requested: number;
  ranked: number;
  /** The best `top` by predicted next-day return, best first. */
  entries: RankedForecast[];
  failures: PredictionFailure[];
  warnings: string[];
}

/**
 * The metric bestRunFor ranks by, through the one best-run rule (src/runs/select.ts rankRuns): MAE on the test days
 * the symbol's runs share (universal runs by the symbol's own records), or skill when they share too few.
 */
export const BEST_RUN_METRIC = 'mae';

function parseRequest(input: PredictRequest): ParsedRequest {
  const parsed = PredictRequestSchema.safeParse(input);
  if (!parsed.success) {
    throw new UserError(
      `invalid prediction options: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`,
      'bad_input',
    );
  }
  const request = parsed.data;
  if (request.endDate !== undefined) request.endDate = requireIsoDate(request.endDate, 'end date');
  return request;
}

/**
 * A warning when a symbol's last bar (on or before endDate) is older than the market's last trading day up to
 * endDate: the forecast then starts from a stale close (a suspension, or data that is behind).
 */
function staleBarWarning(calendar: TradingCalendar, symbol: string, lastBar: IsoDate, endDate: IsoDate | undefined): string | null {
  const latest = calendar.lastStored;
  const asOf = latest === null || (endDate !== undefined && endDate < latest) ? endDate : latest;
  if (asOf === undefined) return null;
  const marketDay = calendar.between(lastBar, asOf).at(-1);
  return marketDay !== undefined && lastBar < marketDay
    ? `the last bar of ${symbol} is ${lastBar}, before the market's last trading day ${marketDay} (suspended, or the data is behind)`
    : null;
}

/** A run that cannot serve a forecast (damaged or incomplete files), as opposed to a failure of the request. */
function isUnloadable(err: unknown): err is UserError {
  return err instanceof UserError && (err.code === 'run_corrupt' || err.code === 'run_not_ready');
}

export class PredictionEngine {
  readonly outputDir: string;
  readonly loader: StockDataLoader;
  private readonly database: DatabaseHandle;
  private readonly maxCachedModels: number;
  private readonly record: LedgerSource | false;
  private readonly onRecordError: (message: string) => void;
  private recordErrorTold = false;
  /** Insertion order is recency order: a hit is re-inserted at the end. */
  private readonly models = new Map<string, InferenceModel>();

  constructor(options: PredictionEngineOptions) {
    this.database = options.database;
    this.outputDir = options.outputDir ?? DEFAULT_OUTPUT_DIR;
    this.loader = new StockDataLoader(options.database);
    this.maxCachedModels = Math.max(1, options.maxCachedModels ?? 8);
    this.record = options.record ?? false;
    this.onRecordError = options.onRecordError ?? ((message) => console.error(`warning: ${message}`));
  }

  /**
   * Writes forecasts to the ledger. A failure (the table missing, a read-only database, a lost connection) is told once
   * per engine and otherwise ignored: the forecast the caller asked for matters more than its record.
   */
  private async recordInLedger(forecasts: Forecast[]): Promise<void> {
    if (this.record === false || forecasts.length === 0) return;
    const source = this.record;
    try {
      await recordForecasts(
        this.database,
        forecasts.flatMap((f) => ledgerRows(f, source)),
      );
    } catch (err) {
      if (this.recordErrorTold) return;
      this.recordErrorTold = true;
      const reason = (err as Error).message.split('\n')[0];
      const missing = /ai_predictions/.test(reason) && /no such table|doesn't exist/i.test(reason);
      this.onRecordError(
        `forecasts are not recorded in the prediction ledger (${this.database.url}): ${reason}` +
          (missing ? '; run `klinecast db migrate` to create the ai_predictions table' : '') +
          '; the forecasts themselves are unaffected (--no-record turns recording off)',
      );
    }
  }

  /** A run's model, from the cache when its weights file is unchanged since it was loaded. */
  loadRun(ref: string, checkpoint: CheckpointChoice = 'final'): InferenceModel {
    const dir = resolveRunRef(ref, this.outputDir);
    const key = `${checkpoint}:${dir}`;
    const cached = this.models.get(key);
    if (cached) {
      let mtime: number | null = null;
      try {
        mtime = statSync(weightsPathOf(dir, checkpoint)).mtimeMs;
      } catch {
        mtime = null;
      }
      this.models.delete(key);
      if (mtime === cached.weightsMtimeMs) {
        this.models.set(key, cached);
        return cached;
      }
    }
    const loaded = loadRunModel(dir, { checkpoint });
    // A model folder copied without its run's config.json still predicts, from the symbol's first bar.
    const config = existsSync(join(dir, RUN_FILES.config)) ? readRunConfig(dir) : null;
    const model: InferenceModel = {
      ...loaded,
      historyStart: config ? (config.data.firstDate ?? config.data.startDate) : null,
      universe: config?.data.universe ? new Set(config.data.universe.map((m) => m.symbol)) : null,
      // Without its config.json the run's adjustment is unknown: the bars as stored, as before data.adjust existed.
      adjust: config?.data.adjust ?? 'none',
    };
    this.models.set(key, model);
    while (this.models.size > this.maxCachedModels) this.models.delete(this.models.keys().next().value as string);
    return model;
  }

  /** Drops every loaded model. */
  clearCache(): void {
    this.models.clear();
  }

  /**
   * The best completed run for a symbol by the best-run rule (with a saved model) whose model loads; a UserError when there is
   * none. A better run that cannot be loaded (corrupt weights, a garbage scaler.json, NaN weights, files gone) is
   * skipped for the next one, with a warning naming it: one damaged run never takes the symbol's default forecast down.
   */
  bestRunFor(symbol: string, runs: RunInfo[] = listRuns(this.outputDir), checkpoint: CheckpointChoice = 'final'): RunInfo {
    return this.chooseRunFor(symbol, runs, checkpoint).run;
  }

  /** bestRunFor with the warnings of the runs skipped on the way (empty when the best run loads). */
  chooseRunFor(
    symbol: string,
    runs: RunInfo[] = listRuns(this.outputDir),
    checkpoint: CheckpointChoice = 'final',
  ): { run: RunInfo; model: InferenceModel; warnings: string[] } {
    const sym = requireSymbol(symbol);
    const candidates = rankedRuns(
      runs.filter((r) => r.hasModel),
      BEST_RUN_METRIC,
      { symbol: sym },
    );
    if (!candidates.length) {
      throw new UserError(
        `no completed run with test metrics for ${sym} in ${this.outputDir}; train one (klinecast train --symbol ${sym}) or name a run with --run`,
        'run_not_found',
        { symbol: sym },
      );
    }
    const skipped: UserError[] = [];
    for (const run of candidates) {
      let model: InferenceModel;
      try {
        model = this.loadRun(run.name, checkpoint);
      } catch (err) {
        if (!isUnloadable(err)) throw err;
        skipped.push(err);
        continue;
      }
      const warnings = skipped.map((e) => `${e.message}; forecast with the next best run ${run.name} instead`);
      return { run, model, warnings };
    }
    const first = skipped[0];
    throw new UserError(
      candidates.length > 1 ? `${first.message}; and none of the other ${candidates.length - 1} completed run(s) of ${sym} loads either` : first.message,
      first.code,
      first.details ?? { symbol: sym },
    );
  }

  /** The forecast for one symbol: the next `days` (default: the run's horizon) trading days after its last bar. */
  async predict(symbol: string, request: PredictRequest = {}): Promise<Forecast> {
    const { forecasts, failures } = await this.predictMany([symbol], request);
    if (failures.length) {
      const f = failures[0];
      throw new UserError(f.message, f.code, f.details ?? { symbol: f.symbol });
    }
    return forecasts[0];
  }

  /**
   * The market's next-day forecasts ranked by predicted return (best first), cut to `top`. `symbols` is 'all' (the
   * database's active stocks) or a list. With a universal `run`, every stock is forecast by it (a run on
   * cross-sectional targets ranks by score instead); a single-stock run ranks only its own stock. Without a run, each
   * stock uses its best run by the one best-run rule (as predict() does); a stock with no run, or whose best run
   * outputs scores (not comparable with returns), is a failure with the reason, never an error for the rest. Each
   * distinct run is loaded once and forecasts its stocks in one batch.
   */
  async rank(
    run: string | undefined,
    symbols: 'all' | readonly string[],
    input: Omit<PredictRequest, 'run' | 'days'> & { top?: number; onProgress?: RankProgress } = {},
  ): Promise<Ranking> {
    const { top, onProgress, ...rest } = input;
    if (top !== undefined && (!Number.isInteger(top) || top <= 0)) throw new UserError(`top must be a positive whole number, got ${top}`, 'bad_input');
    const list = await resolveUniverse(this.database, symbols === 'all' ? 'all' : [...symbols]);
    const request = parseRequest({ ...rest, run, days: 1, allowOtherSymbol: run !== undefined });
    let target = 'log_return';
    if (run !== undefined) {
      const model = this.loadRun(run, request.checkpoint);
      if (model.symbol !== null && (list.length !== 1 || list[0] !== model.symbol)) {
        throw new UserError(
          `run ${model.run} was trained on ${model.symbol} alone, so it ranks no other stock: rank with a universal run, ` +
            `or leave out --run (run= in the API) to use each stock's best run`,
          'symbol_mismatch',
          { run: model.run, runSymbol: model.symbol },
        );
      }
      if (isScoreTarget(model.bundle.target.kind)) return this.rankScores(model, list, request, top);
      target = model.bundle.target.kind;
    }
    // Drawn before the bars are read: reading and features, not the forward, take most of a large ranking's time.
    onProgress?.(0, list.length);
    const prepared = await this.prepareMany(list, request);
    const failures = prepared.failures;
    // Without a run, a stock whose best run outputs scores cannot join a ranking by return: it is skipped, named.
    prepared.groups = prepared.groups.filter(({ model, prepared: members }) => {
      if (!isScoreTarget(model.bundle.target.kind)) return true;
      for (const p of members) {
        failures.push({
          symbol: p.symbol,
          code: 'scores_only',
          message: `its best run ${model.run} outputs cross-sectional scores, not returns (rank with it alone: --run ${model.run})`,
        });
      }
      return false;
    });
    const { forecasts } = await this.forecastGroups(prepared, request, onProgress ? (done) => onProgress(done + failures.length, list.length) : undefined);
    const ordered = [...forecasts].sort((a, b) => b.predictions[0].return - a.predictions[0].return || (a.symbol < b.symbol ? -1 : 1));
    const entries = ordered.slice(0, top ?? ordered.length).map((f, i) => {
      const d = f.predictions[0];
      return {
        rank: i + 1,
        symbol: f.symbol,
        run: f.run,
        baseDate: f.baseDate,
        baseClose: f.baseClose,
        return: d.return,
        price: d.price,
        lower: d.lower,
        upper: d.upper,
        score: null,
      };
    });
    const warnings = [...new Set(forecasts.flatMap((f) => f.warnings))];
    return {
      run: run === undefined ? null : (forecasts[0]?.run ?? run),
      target,
      interval: forecasts[0]?.interval ?? null,
      level: forecasts[0]?.level ?? null,
      requested: list.length,
      ranked: forecasts.length,
      entries,
      failures,
      warnings,
    };
  }

  /** rank() for a run on cross-sectional targets: by score, with no return, price or interval (none follows from a score). */
  private async rankScores(model: InferenceModel, list: readonly string[], request: ParsedRequest, top: number | undefined): Promise<Ranking> {
    const { groups, failures } = await this.prepareMany(list, request);
    const scored = groups.flatMap(({ model: m, prepared }) => {
      const scores = scorePrepared(m, prepared);
      return prepared.map((p, i) => ({ p, score: scores[i] }));
    });
    scored.sort((a, b) => b.score - a.score || (a.p.symbol < b.p.symbol ? -1 : 1));
    const entries: RankedForecast[] = scored.slice(0, top ?? scored.length).map(({ p, score }, i) => ({
      rank: i + 1,
      symbol: p.symbol,
      run: model.run,
      baseDate: p.input.lastDate,
      baseClose: p.input.lastClose,
      return: null,
      price: null,
      lower: null,
      upper: null,
      score,
    }));
    return {
      run: model.run,
      target: model.bundle.target.kind,
      interval: null,
      level: null,
      requested: list.length,
      ranked: scored.length,
      entries,
      failures,
      warnings: [...new Set(scored.flatMap(({ p }) => p.warnings))],
    };
  }

  /**
   * Forecasts for many symbols. Symbols are grouped by run (the given one, or each symbol's best run); each group's
   * bars come from one query and its windows go through the network as one batch. A symbol that cannot be forecast
   * is listed in `failures` with the reason; a bad request (options, run, days) throws for all.
   */
  async predictMany(symbols: readonly string[], input: PredictRequest = {}): Promise<BatchForecast> {
    const request = parseRequest(input);
    return this.forecastGroups(await this.prepareMany(symbols, request), request);
  }

  /** Each prepared group through its run as one batch, in the order asked for, recorded in the ledger. */
  private async forecastGroups(
    { groups, failures, calendar, unique }: Awaited<ReturnType<PredictionEngine['prepareMany']>>,
    request: ParsedRequest,
    onProgress?: (forecast: number) => void,
  ): Promise<BatchForecast> {
    const forecasts: Forecast[] = [];
    for (const { model, prepared } of groups) {
      forecasts.push(...forecastPrepared(model, prepared, calendar, request));
      onProgress?.(forecasts.length);
    }
    const order = new Map(unique.map((s, i) => [s, i]));
    forecasts.sort((a, b) => order.get(a.symbol)! - order.get(b.symbol)!);
    await this.recordInLedger(forecasts);
    return { forecasts, failures };
  }

  /** Each symbol's run (the request's, or its best), loaded, and its window prepared; failures collected, not thrown. */
  private async prepareMany(
    symbols: readonly string[],
    request: ParsedRequest,
  ): Promise<{
    groups: Array<{ model: InferenceModel; prepared: PreparedInput[] }>;
    failures: PredictionFailure[];
    calendar: TradingCalendar;
    unique: string[];
  }> {
    const failures: PredictionFailure[] = [];
    const groups = new Map<string, string[]>();
    const unique: string[] = [];
    for (const raw of new Set(symbols)) {
      try {
        unique.push(requireSymbol(raw));
      } catch (err) {
        if (!(err instanceof UserError) || symbols.length === 1) throw err;
        failures.push({ symbol: String(raw), code: err.code, message: err.message });
      }
    }
    const runs = request.run === undefined ? listRuns(this.outputDir) : [];
    /** Per symbol, the warnings of better runs skipped because they could not be loaded. */
    const fallbacks = new Map<string, string[]>();
    /** Each run loaded once for this call, whatever the engine's cache keeps (1,000 stocks may have 1,000 runs). */
    const loaded = new Map<string, InferenceModel>();
    for (const symbol of unique) {
      let run = request.run;
      if (run === undefined) {
        try {
          const chosen = this.chooseRunFor(symbol, runs, request.checkpoint);
          run = chosen.run.name;
          loaded.set(run, chosen.model);
          if (chosen.warnings.length) fallbacks.set(symbol, chosen.warnings);
        } catch (err) {
          if (!(err instanceof UserError) || symbols.length === 1) throw err;
          failures.push({ symbol, code: err.code, message: err.message, details: err.details });
          continue;
        }
      }
      const group = groups.get(run);
      if (group) group.push(symbol);
      else groups.set(run, [symbol]);
    }
    const calendar = await TradingCalendar.load(this.database.db);
    const prepared: Array<{ model: InferenceModel; prepared: PreparedInput[] }> = [];
    for (const [run, members] of groups) {
      const model = loaded.get(run) ?? this.loadRun(run, request.checkpoint);
      requestedDays(model, request.days);
      const series = await this.loadHistory(model, members, request.endDate);
      const inputs: PreparedInput[] = [];
      for (const symbol of members) {
        try {
          const warnings = [...(fallbacks.get(symbol) ?? []), ...this.checkSymbol(model, symbol, request.allowOtherSymbol)];
          const s = series.get(symbol);
          if (!s || s.dates.length === 0) {
            throw new UserError(
              `no bars for ${symbol}${request.endDate ? ` on or before ${request.endDate}` : ''} in the database (${this.database.url}); import them first (klinecast data import)`,
              'symbol_not_found',
            );
          }
          const p = prepareInput(model, s, request.endDate, warnings);
          const stale = staleBarWarning(calendar, symbol, p.input.lastDate, request.endDate);
          if (stale) p.warnings.push(stale);
          inputs.push(p);
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          failures.push({ symbol, code: err.code, message: err.message, details: err.details });
        }
      }
      prepared.push({ model, prepared: inputs });
    }
    return { groups: prepared, failures, calendar, unique };
  }

  /**
   * A run applies to its own symbol. A run trained on one stock has its scaler fit on that stock's history, so
   * another stock's inputs land where the model has not learned; the features are scale-free, which makes it
   * possible rather than meaningless, so it is allowed on request with a warning. A run without a symbol
   * (a general model) applies to any.
   */
  private checkSymbol(model: InferenceModel, symbol: string, allowOther: boolean): string[] {
    if (model.symbol === null) {
      // A universal model is symbol-agnostic: it forecasts any stock, but one it never saw deserves a word.
      const warnings =
        model.universe && !model.universe.has(symbol) ? [`${symbol} was not among the ${model.universe.size} stocks run ${model.run} was trained on`] : [];
      if (model.config.stockEmbeddingDim > 0 && !(model.inputs.stocks ?? []).includes(symbol)) {
        warnings.push(`${symbol} has no row in run ${model.run}'s stock embedding: it uses the unknown-stock row`);
      }
      return warnings;
    }
    if (model.symbol === symbol) return [];
    if (!allowOther) {
      throw new UserError(
        `run ${model.run} was trained on ${model.symbol}, not ${symbol}; its scaler and weights fit ${model.symbol}'s history. ` +
          `Use a run trained on ${symbol}, or allow other symbols explicitly (allowOtherSymbol, CLI --allow-other-symbol) to apply it anyway`,
        'symbol_mismatch',
        { run: model.run, runSymbol: model.symbol, symbol },
      );
    }
    return [`run ${model.run} was trained on ${model.symbol}; applied to ${symbol}, its inputs are scaled with ${model.symbol}'s statistics`];
  }

  /**
   * Bars from the run's recorded history start up to endDate, one query for the group, adjusted as the run's were
   * (qfq anchored at the base day: the forecast is then in that day's raw price, see forecastPrepared).
   */
  private async loadHistory(model: InferenceModel, symbols: string[], endDate: IsoDate | undefined): Promise<Map<string, KlineSeries>> {
    const out = new Map<string, KlineSeries>();
    const start = model.historyStart ?? undefined;
    const adjust = model.adjust;
    if (symbols.length === 1) {
      out.set(symbols[0], await this.loader.loadSeries(symbols[0], start, endDate, { adjust }));
      return out;
    }
    for await (const s of this.loader.streamSeries({ symbols, start, end: endDate, adjust })) out.set(s.symbol, s);
    return out;
  }
}
