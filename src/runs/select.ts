/**
 * Choosing among runs: a run's value for a metric, sorting, the best run of a symbol, and what `prune` removes.
 */
import { statSync } from 'node:fs';
import { ACTIVE_STATUSES, WRITTEN_STATUSES, type RunStatus } from './files.js';
import type { RunInfo } from './store.js';
import { removeDirAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { finiteOrNull } from '../util/values.js';

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

/**
 * The usable runs (completed, with the metric) for a symbol and/or model, best first: the order a default forecast
 * tries them in when a better one cannot be loaded.
 */
export function rankedRuns(runs: RunInfo[], metric: string, filter: { symbol?: string; model?: string } = {}): RunInfo[] {
  const candidates = runs.filter(
    (r) =>
      r.status === 'completed' &&
      (filter.symbol === undefined || r.symbol === filter.symbol) &&
      (filter.model === undefined || r.modelType === filter.model) &&
      runMetric(r, metric) !== null,
  );
  return sortRuns(candidates, metric);
}

/** The best usable run (completed, with the metric) for a symbol and/or model, or null. */
export function bestRun(runs: RunInfo[], metric: string, filter: { symbol?: string; model?: string } = {}): RunInfo | null {
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
  const metric = criteria.keepBestBy ?? 'mae';
  const protectedRuns = new Map<string, string>();
  const symbols = new Set(runs.map((r) => r.symbol ?? `(${r.modelType ?? 'none'})`));
  for (const symbol of symbols) {
    const group = runs.filter((r) => (r.symbol ?? `(${r.modelType ?? 'none'})`) === symbol);
    const best = bestRun(group, metric) ?? bestRun(group, 'best_val_loss');
    if (best) protectedRuns.set(best.dir, `best run of ${symbol}`);
  }
  const plan: PrunePlan = { remove: [], keep: [] };
  for (const run of runs) {
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

function mtimeMs(dir: string): number {
  try {
    return statSync(dir).mtimeMs;
  } catch {
    return Date.now();
  }
}

/** Deletes a run folder; it is first renamed to a hidden name, so a half-deleted run never shows up in a listing. */
export const deleteRunDir = removeDirAtomic;

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
