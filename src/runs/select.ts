/**
 * Choosing among runs: a run's value for a metric, sorting, the one best-run rule (rankRuns), and what `prune` removes.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { directionAccuracy, mae, pearson, rmse, spearman } from '../evaluation/metrics.js';
import { ACTIVE_STATUSES, RUN_FILES, WRITTEN_STATUSES, type RunStatus } from './files.js';
import { isRunFolder, type RunInfo } from './store.js';
import { removeDirAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { finiteOrNull, isRecord } from '../util/values.js';

/** Metrics where a larger value is better; every other metric (losses, errors) is better when smaller. */
export const HIGHER_IS_BETTER: ReadonlySet<string> = new Set(['skill', 'r2', 'ic', 'rank_ic', 'direction_accuracy', 'created', 'epochs']);

/** Aliases accepted on the command line. */
const METRIC_ALIASES: Record<string, string> = {
  val_loss: 'best_val_loss',
  loss: 'best_val_loss',
  accuracy: 'direction_accuracy',
  dir_acc: 'direction_accuracy',
};

export function canonicalMetric(metric: string): string {
  return METRIC_ALIASES[metric] ?? metric;
}

/** A run's value for `metric`: an eval metric, best_val_loss, created (ms), size or epochs. Null when unknown. */
export function runMetric(run: RunInfo, metric: string): number | null {
  const key = canonicalMetric(metric);
  switch (key) {
    case 'best_val_loss':
      return run.bestValLoss;
    case 'created': {
      const t = Date.parse(run.createdAt ?? '');
      return Number.isFinite(t) ? t : null;
    }
    case 'size':
      return run.sizeBytes;
    case 'epochs':
      return run.epochsTrained;
    default:
      return run.evalMetrics ? finiteOrNull((run.evalMetrics as unknown as Record<string, unknown>)[key]) : null;
  }
}

/** Sorts best first for `metric`; runs without the metric go last. */
export function sortRuns(runs: RunInfo[], metric: string, descending?: boolean): RunInfo[] {
  const key = canonicalMetric(metric);
  const desc = descending ?? HIGHER_IS_BETTER.has(key);
  if (key === 'name') return [...runs].sort((a, b) => (desc ? b.name.localeCompare(a.name) : a.name.localeCompare(b.name)));
  return [...runs].sort((a, b) => {
    const x = runMetric(a, key);
    const y = runMetric(b, key);
    if (x === null || y === null) return x === null ? (y === null ? 0 : 1) : -1;
    return desc ? y - x : x - y;
  });
}

/** Metrics that mean the same for every stock and test segment: the only ones runs of different stocks are ranked by. */
export const SCALE_FREE_METRICS: ReadonlySet<string> = new Set(['skill', 'direction_accuracy', 'ic', 'rank_ic']);

/** The metrics the best-run rule ranks by (`runs best --metric`, `prune --keep-best-by`). */
export const BEST_METRICS = ['mae', 'rmse', 'skill', 'direction_accuracy', 'ic', 'rank_ic'] as const;

/** Fewer shared test days than this, and runs of one symbol are ranked by skill vs persistence on their own days. */
export const MIN_SHARED_DAYS = 20;

/** Metrics that are re-scored on the shared test days: those measured against the same actual prices. */
const RESCORED: ReadonlySet<string> = new Set(['mae', 'rmse', 'skill', 'direction_accuracy']);

/** One test day of one symbol: the step-1 forecast made after `date`'s close, and what happened. */
interface DayRecord {
  date: string;
  lastClose: number;
  actual: number;
  predicted: number;
}

/** A run's figures for one symbol, computed from its own records of that symbol. */
export interface SymbolFigures {
  days: number;
  mae: number | null;
  rmse: number | null;
  skill: number | null;
  direction_accuracy: number | null;
  ic: number | null;
  rank_ic: number | null;
}

function figuresOf(days: readonly DayRecord[]): SymbolFigures {
  const actual = days.map((d) => d.actual);
  const predicted = days.map((d) => d.predicted);
  const last = days.map((d) => d.lastClose);
  const model = mae(actual, predicted);
  const persistence = mae(actual, last);
  const actualReturn = days.map((d) => Math.log(d.actual / d.lastClose));
  const predictedReturn = days.map((d) => Math.log(d.predicted / d.lastClose));
  return {
    days: days.length,
    mae: model,
    rmse: rmse(actual, predicted),
    skill: model !== null && persistence !== null && persistence > 0 ? 1 - model / persistence : null,
    direction_accuracy: days.length ? directionAccuracy(actualReturn, predictedReturn).accuracy : null,
    ic: days.length > 2 ? pearson(predictedReturn, actualReturn) : null,
    rank_ic: days.length > 2 ? spearman(predictedReturn, actualReturn) : null,
  };
}

/** Parsed results/predictions.json, by symbol, for as long as the file is unchanged (a universal run's file is large). */
const recordCache = new Map<string, { stamp: string; bySymbol: Map<string, DayRecord[]> }>();
const RECORD_CACHE_SIZE = 64;

/** A run's step-1 test records of `symbol`, by date; null when the run has no readable predictions.json. */
function recordsOf(run: RunInfo, symbol: string): DayRecord[] | null {
  const path = join(run.dir, RUN_FILES.predictions);
  let stamp: string;
  try {
    const st = statSync(path);
    stamp = `${st.mtimeMs}:${st.size}`;
  } catch {
    return null;
  }
  let cached = recordCache.get(path);
  if (!cached || cached.stamp !== stamp) {
    const read = readJson(path, { within: run.dir });
    if (!read.ok || !isRecord(read.value) || !Array.isArray(read.value.records)) return null;
    const fileSymbol = typeof read.value.symbol === 'string' ? read.value.symbol : run.symbol;
    const bySymbol = new Map<string, DayRecord[]>();
    for (const r of read.value.records as unknown[]) {
      if (!isRecord(r) || r.step !== 1 || typeof r.date !== 'string') continue;
      const s = typeof r.symbol === 'string' ? r.symbol : fileSymbol;
      const lastClose = finiteOrNull(r.last_close);
      const actual = finiteOrNull(r.actual_price);
      const predicted = finiteOrNull(r.predicted_price);
      if (s === null || lastClose === null || actual === null || predicted === null || !(lastClose > 0)) continue;
      const list = bySymbol.get(s) ?? [];
      list.push({ date: r.date, lastClose, actual, predicted });
      bySymbol.set(s, list);
    }
    cached = { stamp, bySymbol };
    recordCache.delete(path);
    recordCache.set(path, cached);
    while (recordCache.size > RECORD_CACHE_SIZE) recordCache.delete(recordCache.keys().next().value as string);
  }
  return cached.bySymbol.get(symbol) ?? null;
}

/** How a ranking compared its runs: on their shared test days, or each on its own days by a scale-free figure. */
export type RankingBasis = 'shared_days' | 'skill' | 'own';

export interface RankedRun {
  run: RunInfo;
  /** The figure the run was ranked by (see RunRanking.basis); null sorts last. */
  value: number | null;
  /** Test days behind `value` (the shared days, or the run's own for this symbol); null when read from metadata. */
  days: number | null;
}

export interface RunRanking {
  /** The metric asked for; `rankedBy` is what was actually compared (skill when the shared days were too few). */
  metric: string;
  rankedBy: string;
  basis: RankingBasis;
  /** With a symbol and re-scored runs: how many (date, step 1) test days every candidate has. */
  sharedDays: number | null;
  symbol: string | null;
  /** Best first. */
  runs: RankedRun[];
  /** The rule as applied, in words (printed by `runs best`). */
  explanation: string;
}

export interface RankFilter {
  symbol?: string;
  model?: string;
}

/** Checks a metric for the best-run rule; without a symbol only scale-free ones. A UserError names the allowed ones. */
export function checkBestMetric(metric: string, symbol: string | undefined): string {
  const key = canonicalMetric(metric);
  if (!(BEST_METRICS as readonly string[]).includes(key)) {
    throw new UserError(`the best run is chosen by one of ${BEST_METRICS.join(', ')}; ${JSON.stringify(metric)} is not one (docs/PREDICTION.md, "Best run")`);
  }
  if (symbol === undefined && !SCALE_FREE_METRICS.has(key)) {
    throw new UserError(
      `${key} is in price units, which differ between stocks and test segments: name a symbol (--symbol; symbol= in the API), or rank runs of different stocks by a scale-free metric (${[...SCALE_FREE_METRICS].join(', ')})`,
      'bad_metric',
    );
  }
  return key;
}

/** The dates every run's records have. */
function sharedDates(perRun: DayRecord[][]): Set<string> {
  let shared = new Set(perRun[0].map((d) => d.date));
  for (const records of perRun.slice(1)) {
    const dates = new Set(records.map((d) => d.date));
    shared = new Set([...shared].filter((d) => dates.has(d)));
  }
  return shared;
}

const bySkillThenNewest = (a: RankedRun, b: RankedRun) =>
  (runMetric(b.run, 'skill') ?? -Infinity) - (runMetric(a.run, 'skill') ?? -Infinity) || (b.run.createdAt ?? '').localeCompare(a.run.createdAt ?? '');

function ordered(entries: RankedRun[], metric: string): RankedRun[] {
  const higher = HIGHER_IS_BETTER.has(metric);
  return [...entries].sort((a, b) => {
    if (a.value === null || b.value === null) return a.value === null ? (b.value === null ? bySkillThenNewest(a, b) : 1) : -1;
    return (higher ? b.value - a.value : a.value - b.value) || bySkillThenNewest(a, b);
  });
}

/**
 * The one best-run rule (docs/PREDICTION.md, "Best run"), used by `runs best`, predict's default run, the API, the
 * dashboard, `runs compare` and `prune --keep-best-by`. Candidates are completed runs.
 *
 * For one symbol X: X's single-stock runs and every universal run with test records of X, each scored on X's own
 * (date, step 1) records in results/predictions.json. When every candidate has records and they share at least
 * MIN_SHARED_DAYS days (or were all tested on exactly the same days), MAE, RMSE, skill and direction accuracy are
 * re-scored on exactly those shared days (so a run tested on an easier, calmer segment gains nothing); otherwise the
 * runs are ranked by skill vs persistence on their own days, which is scale-free. IC and rank IC are each run's own for X. Across symbols only scale-free metrics are
 * allowed, each run's own. Ties go to the higher skill, then the newer run.
 */
export function rankRuns(runs: RunInfo[], metric: string, filter: RankFilter = {}): RunRanking {
  const key = checkBestMetric(metric, filter.symbol);
  const completed = runs.filter((r) => r.status === 'completed' && (filter.model === undefined || r.modelType === filter.model));
  if (filter.symbol === undefined) {
    const entries = completed.map((run) => ({ run, value: runMetric(run, key), days: null })).filter((e) => e.value !== null);
    return {
      metric: key,
      rankedBy: key,
      basis: 'own',
      sharedDays: null,
      symbol: null,
      runs: ordered(entries, key),
      explanation: `across symbols by each run's own ${key} on its test segment (scale-free)`,
    };
  }
  const symbol = filter.symbol;
  const candidates: Array<{ run: RunInfo; records: DayRecord[] | null }> = [];
  for (const run of completed) {
    // A stock's own runs are read below, only when there is something to compare (a forecast of 1,000 symbols with
    // one run each reads no predictions.json).
    if (run.symbol === symbol) candidates.push({ run, records: null });
    else if (run.symbol === null) {
      // A universal run counts for X only by X's own test records: its pooled figures are about other stocks too.
      const records = recordsOf(run, symbol);
      if (records?.length) candidates.push({ run, records });
    }
  }
  if (candidates.length > 1) for (const c of candidates) c.records ??= recordsOf(c.run, symbol);
  const own = (c: (typeof candidates)[number], m: string): RankedRun => {
    if (c.records?.length) {
      const f = figuresOf(c.records);
      return { run: c.run, value: f[m as keyof SymbolFigures] ?? null, days: f.days };
    }
    return { run: c.run, value: runMetric(c.run, m), days: null };
  };
  const shared: Set<string> | null =
    RESCORED.has(key) && candidates.length > 1 && candidates.every((c) => c.records?.length) ? sharedDates(candidates.map((c) => c.records!)) : null;
  const sharedDays = shared?.size ?? null;
  const base = { metric: key, symbol, sharedDays };
  // Runs tested on exactly the same days are compared on them however few they are: nothing differs to re-score.
  const sameDays = shared !== null && candidates.every((c) => new Set(c.records!.map((d) => d.date)).size === shared.size);
  if (shared !== null && (shared.size >= MIN_SHARED_DAYS || (sameDays && shared.size > 0))) {
    const onShared = candidates.map((c) => {
      const f = figuresOf(c.records!.filter((d) => shared!.has(d.date)));
      return { run: c.run, value: f[key as keyof SymbolFigures] ?? null, days: f.days };
    });
    return {
      ...base,
      rankedBy: key,
      basis: 'shared_days',
      runs: ordered(onShared, key),
      explanation: sameDays
        ? `${symbol}: ${key} on the ${shared.size} test days all ${candidates.length} runs were tested on`
        : `${symbol}: ${key} re-scored on the ${shared.size} test days all ${candidates.length} runs share`,
    };
  }
  if (RESCORED.has(key) && key !== 'direction_accuracy' && candidates.length > 1) {
    const why =
      sharedDays === null
        ? 'not every run has test records of it in results/predictions.json'
        : `the runs share only ${sharedDays} test days (fewer than ${MIN_SHARED_DAYS})`;
    return {
      ...base,
      rankedBy: 'skill',
      basis: 'skill',
      runs: ordered(
        candidates.map((c) => own(c, 'skill')),
        'skill',
      ),
      explanation: `${symbol}: ${why}, so by skill vs persistence on each run's own test days (scale-free)`,
    };
  }
  return {
    ...base,
    rankedBy: key,
    basis: 'own',
    runs: ordered(
      candidates.map((c) => own(c, key)),
      key,
    ),
    explanation: candidates.length > 1 ? `${symbol}: by each run's own ${key} on its test days of ${symbol}` : `${symbol}: the only completed run`,
  };
}

/**
 * The usable runs for a symbol (or, with a scale-free metric, any), best first by the one rule (rankRuns): the order
 * a default forecast tries them in when a better one cannot be loaded. Runs without the figure are left out.
 */
export function rankedRuns(runs: RunInfo[], metric: string, filter: RankFilter = {}): RunInfo[] {
  return rankRuns(runs, metric, filter)
    .runs.filter((r) => r.value !== null)
    .map((r) => r.run);
}

/** The best run by the one rule (rankRuns), or null when no completed run has the figure. */
export function bestRun(runs: RunInfo[], metric: string, filter: RankFilter = {}): RunInfo | null {
  return rankedRuns(runs, metric, filter)[0] ?? null;
}

export interface PruneCriteria {
  /** Runs whose (effective) status is one of these; `corrupt` selects damaged folders. */
  statuses?: RunFilterStatus[];
  /** Runs created (or, for corrupt folders, modified) more than this long ago. */
  olderThanMs?: number;
  /** The best completed run of each symbol by this metric is always kept. */
  keepBestBy?: string;
  now?: number;
}

export interface PrunePlan {
  remove: Array<{ run: RunInfo; why: string }>;
  keep: Array<{ run: RunInfo; why: string }>;
}

/** A corrupt folder younger than this may be a run being created right now, so it is never pruned. */
const CORRUPT_GRACE_MS = 10 * 60 * 1000;

/** Decides what `prune` would delete. Runs that are still alive are never selected. */
export function planPrune(runs: RunInfo[], criteria: PruneCriteria): PrunePlan {
  const now = criteria.now ?? Date.now();
  const metric = checkBestMetric(criteria.keepBestBy ?? 'mae', 'any');
  const protectedRuns = new Map<string, string>();
  const protect = (run: RunInfo | null | undefined, why: string) => {
    if (run && !protectedRuns.has(run.dir)) protectedRuns.set(run.dir, why);
  };
  // The run each symbol's default forecast uses (a universal run can be it), and the best universal run of each model.
  for (const symbol of new Set(runs.map((r) => r.symbol).filter((s): s is string => s !== null))) {
    protect(bestRun(runs, metric, { symbol }) ?? lowestValLoss(runs.filter((r) => r.symbol === symbol)), `best run of ${symbol}`);
  }
  for (const model of new Set(runs.filter((r) => r.symbol === null).map((r) => r.modelType ?? 'none'))) {
    const universal = runs.filter((r) => r.symbol === null && (r.modelType ?? 'none') === model);
    protect(bestRun(universal, SCALE_FREE_METRICS.has(metric) ? metric : 'skill') ?? lowestValLoss(universal), `best universal ${model} run`);
  }
  const plan: PrunePlan = { remove: [], keep: [] };
  for (const run of runs) {
    if (run.legacyBatch !== null) {
      plan.keep.push({ run, why: `old batch layout (${run.legacyBatch}/runs/), read-only` });
      continue;
    }
    const created = run.status === 'corrupt' ? mtimeMs(run.dir) : Date.parse(run.createdAt ?? '');
    const age = now - created;
    const reasons: string[] = [];
    if (criteria.statuses?.length) {
      if (!criteria.statuses.includes(run.status)) {
        plan.keep.push({ run, why: `status ${run.status}` });
        continue;
      }
      reasons.push(`status ${run.status}`);
    }
    if (criteria.olderThanMs !== undefined) {
      if (!(age > criteria.olderThanMs)) {
        plan.keep.push({ run, why: 'too recent' });
        continue;
      }
      reasons.push(`${Math.floor(age / 86_400_000)} days old`);
    }
    if (reasons.length === 0) {
      plan.keep.push({ run, why: 'no criterion given' });
      continue;
    }
    if (ACTIVE_STATUSES.has(run.status as RunStatus)) {
      plan.keep.push({ run, why: 'still running' });
      continue;
    }
    if (run.status === 'corrupt' && !(age > CORRUPT_GRACE_MS)) {
      plan.keep.push({ run, why: 'may be a run being created' });
      continue;
    }
    const guard = protectedRuns.get(run.dir);
    if (guard) {
      plan.keep.push({ run, why: guard });
      continue;
    }
    plan.remove.push({ run, why: reasons.join(', ') });
  }
  return plan;
}

/** The completed run with the lowest validation loss: kept when no run of a group has test figures. */
function lowestValLoss(group: RunInfo[]): RunInfo | null {
  return (
    sortRuns(
      group.filter((r) => r.status === 'completed' && r.bestValLoss !== null),
      'best_val_loss',
    )[0] ?? null
  );
}

function mtimeMs(dir: string): number {
  try {
    return statSync(dir).mtimeMs;
  } catch {
    return Date.now();
  }
}

/**
 * Deletes a run folder; it is first renamed to a hidden name, so a half-deleted run never shows up in a listing. A
 * folder that is not positively a run (isRunFolder: a batch's folder, backtests/, anything foreign) is refused.
 */
export function deleteRunDir(dir: string): void {
  if (!isRunFolder(dir)) throw new UserError(`${dir} is not a run folder (no metadata.json); klinecast deletes only run folders`, 'not_a_run');
  removeDirAtomic(dir);
}

/** The metrics `--sort`, `best` and `prune --keep-best-by` accept. */
export const RUN_METRICS = [
  'best_val_loss',
  'val_loss',
  'loss',
  'mae',
  'rmse',
  'mape',
  'r2',
  'direction_accuracy',
  'ic',
  'rank_ic',
  'skill',
  'persistence_mae',
  'created',
  'size',
  'epochs',
  'name',
] as const;

export function checkRunMetric(metric: string): string {
  if (!(RUN_METRICS as readonly string[]).includes(metric)) {
    throw new UserError(`unknown metric ${JSON.stringify(metric)}; use one of ${RUN_METRICS.join(', ')}`);
  }
  return canonicalMetric(metric);
}

/** What users may filter runs by: every written status, plus crashed and corrupt. */
export const RUN_STATUS_FILTERS = [...WRITTEN_STATUSES, 'crashed', 'corrupt'] as const;
/** A status a run can be filtered by: written, or concluded by a reader (crashed, corrupt). */
export type RunFilterStatus = RunStatus | 'corrupt';

/** Comma-separated statuses ("completed,crashed"), each checked; a UserError names an unknown one. */
export function parseStatusList(text: string): RunFilterStatus[] {
  const statuses = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of statuses) {
    if (!(RUN_STATUS_FILTERS as readonly string[]).includes(s))
      throw new UserError(`unknown status ${JSON.stringify(s)}; use ${RUN_STATUS_FILTERS.join(', ')}`);
  }
  return statuses as RunFilterStatus[];
}

/** What `runs list` and GET /api/v1/runs filter and sort by. */
export interface RunQuery {
  symbol?: string;
  model?: string;
  statuses?: RunFilterStatus[] | null;
  /** A metric of RUN_METRICS (aliases allowed); default created. */
  sort?: string;
  /** Default: best first for the metric (HIGHER_IS_BETTER). */
  descending?: boolean;
  limit?: number;
}

/** The one query over runs: filter, sort, then cut to `limit`; `total` counts the matches before the cut. */
export function queryRuns(runs: RunInfo[], query: RunQuery): { items: RunInfo[]; total: number } {
  const statuses = query.statuses?.length ? query.statuses : null;
  const matching = runs.filter(
    (r) =>
      (query.symbol === undefined || r.symbol === query.symbol) &&
      (query.model === undefined || r.modelType === query.model) &&
      (statuses === null || statuses.includes(r.status)),
  );
  const sorted = sortRuns(matching, canonicalMetric(query.sort ?? 'created'), query.descending);
  return { items: query.limit === undefined ? sorted : sorted.slice(0, query.limit), total: sorted.length };
}
