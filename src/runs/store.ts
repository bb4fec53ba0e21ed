/**
 * Reading run folders back: one run (with crash detection), every run of an output folder, and one run in full.
 * Reading never throws on a damaged folder: it reports why, as status `corrupt` or in `problems`.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { EvalMetricsSummary, MetricsEntry, RunMetadata, RunStatus } from './files.js';
import { ACTIVE_STATUSES, CHECKPOINT_FILES, RUN_FILES, WRITTEN_STATUSES } from './files.js';
import { DEFAULT_OUTPUT_DIR, RESERVED_OUTPUT_FOLDERS, legacyRunRoots } from './names.js';
import { readJson } from '../util/json.js';
import type { RunSummary } from '../wire/index.js';
import { finiteOrNull, isRecord } from '../util/values.js';
import { UserError } from '../util/errors.js';
import { isRealDir, isRealFile } from '../util/fs.js';

/** An active run whose heartbeat is older than this is taken as crashed, even on another host. */
export const DEFAULT_STALE_AFTER_MS = 30 * 60 * 1000;

export interface RunInfo {
  name: string;
  dir: string;
  /** `corrupt` when metadata.json is missing or unusable; `crashed` when an active run's process is gone. */
  status: RunStatus | 'corrupt';
  /** Why the status is corrupt or crashed; null otherwise. */
  reason: string | null;
  /** Other files that could not be read (the run is still listed with its status). */
  problems: string[];
  metadata: RunMetadata | null;
  symbol: string | null;
  modelType: string | null;
  createdAt: string | null;
  bestValLoss: number | null;
  epochsTrained: number | null;
  evalMetrics: EvalMetricsSummary | null;
  /** A universal run's number of stocks (metadata.json universe.stocks); null for a single-stock run. */
  stocks: number | null;
  checkpoints: string[];
  hasBest: boolean;
  hasModel: boolean;
  /** Bytes of model/model.safetensors, or null before the final model is saved. */
  modelBytes: number | null;
  sizeBytes: number;
  /**
   * The old-layout batch folder holding this run (e.g. "batch" for out/batch/runs/{run}/), relative to the output
   * folder; null for a run directly in it. Such runs are listed and read, never pruned.
   */
  legacyBatch: string | null;
}

export interface ReadOptions {
  now?: number;
  staleAfterMs?: number;
}

/** Why `value` is not a usable metadata.json, or null when it is. */
function metadataProblem(value: unknown): string | null {
  if (!isRecord(value)) return 'metadata.json is not an object';
  for (const key of ['run_name', 'model_type', 'created_at', 'status'] as const) {
    if (typeof value[key] !== 'string') return `metadata.json has no ${key}`;
  }
  if (!(WRITTEN_STATUSES as readonly string[]).includes(value.status as string)) {
    // A status is quoted only when it looks like one: a reason never carries a file's contents.
    const status = value.status as string;
    return /^[a-z_]{1,20}$/.test(status) ? `metadata.json has unknown status "${status}"` : 'metadata.json has an unknown status';
  }
  return null;
}

export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The status a reader should show: an active status whose process is gone becomes `crashed`. The process is gone when
 * its pid is dead on this host, or (on any host) when its heartbeat is older than `staleAfterMs`.
 */
export function effectiveStatus(meta: RunMetadata, options: ReadOptions = {}): { status: RunStatus; reason: string | null } {
  if (!ACTIVE_STATUSES.has(meta.status)) return { status: meta.status, reason: null };
  if (meta.host === hostname() && typeof meta.pid === 'number' && meta.pid !== process.pid && !isPidAlive(meta.pid)) {
    return { status: 'crashed', reason: `process ${meta.pid} on ${meta.host} is gone (was ${meta.status})` };
  }
  const beat = Date.parse(meta.heartbeat_at ?? meta.updated_at);
  const now = options.now ?? Date.now();
  const staleAfter = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  if (Number.isFinite(beat) && now - beat > staleAfter) {
    return { status: 'crashed', reason: `no heartbeat for ${Math.round((now - beat) / 60000)} min (was ${meta.status})` };
  }
  return { status: meta.status, reason: null };
}

/** Checkpoint folder names checkpoint-{N}, sorted by N. Temp folders (.tmp-…) are not checkpoints. */
export function listCheckpointNames(runDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(runDir, RUN_FILES.checkpointsDir));
  } catch {
    return [];
  }
  return names.filter((n) => /^checkpoint-\d+$/.test(n)).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
}

/** Total bytes under `dir`, counting hard-linked files (best/ of runs written before it became a copy) once. */
export function dirSize(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  for (const file of listFiles(dir)) {
    let st;
    try {
      st = lstatSync(join(dir, file.path));
    } catch {
      continue; // removed while walking (a rotation in progress)
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    total += st.size;
  }
  return total;
}

/** Every regular file under `dir`, with its path relative to `dir` (forward slashes) and size, sorted by path. */
export function listFiles(dir: string): Array<{ path: string; bytes: number }> {
  const out: Array<{ path: string; bytes: number }> = [];
  const walk = (sub: string) => {
    let entries;
    try {
      entries = readdirSync(join(dir, sub), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else if (e.isFile()) {
        try {
          out.push({ path: rel, bytes: lstatSync(join(dir, rel)).size });
        } catch {
          // removed while walking (a rotation in progress): skip it
        }
      }
    }
  };
  walk('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The smallest val_loss in a metrics history, or null. */
export function bestValLossOf(history: MetricsEntry[]): number | null {
  let best: number | null = null;
  for (const row of history) {
    const v = finiteOrNull(row.val_loss);
    if (v !== null && (best === null || v < best)) best = v;
  }
  return best;
}

/** Size of a regular file (a link is not followed: the run's own files are never links), or null. */
function fileSize(path: string): number | null {
  try {
    const st = lstatSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

/** True when `path` is a regular file or folder of the run itself, not a link. */
function isOwn(path: string): boolean {
  try {
    const st = lstatSync(path);
    return st.isFile() || st.isDirectory();
  } catch {
    return false;
  }
}

/** Reads one run folder. Never throws: a damaged folder comes back with status `corrupt` and the reason. */
export function readRun(dir: string, options: ReadOptions = {}): RunInfo {
  const info: RunInfo = {
    name: basename(dir),
    dir,
    status: 'corrupt',
    reason: null,
    problems: [],
    metadata: null,
    symbol: null,
    modelType: null,
    createdAt: null,
    bestValLoss: null,
    epochsTrained: null,
    evalMetrics: null,
    stocks: null,
    checkpoints: listCheckpointNames(dir),
    hasBest: isOwn(join(dir, RUN_FILES.bestDir)) && isOwn(join(dir, RUN_FILES.bestDir, CHECKPOINT_FILES.trainerState)),
    hasModel: isOwn(join(dir, RUN_FILES.modelDir)) && fileSize(join(dir, RUN_FILES.modelSafetensors)) !== null,
    modelBytes: fileSize(join(dir, RUN_FILES.modelSafetensors)),
    sizeBytes: dirSize(dir),
    legacyBatch: null,
  };
  // Every file is read only where it resolves inside the run folder: a link out of it is a problem, not data.
  const meta = readJson(join(dir, RUN_FILES.metadata), { within: dir });
  if (!meta.ok) {
    info.reason = meta.missing ? 'no metadata.json (half-created, or not a run folder)' : meta.reason;
    return info;
  }
  const problem = metadataProblem(meta.value);
  if (problem) {
    info.reason = problem;
    return info;
  }
  const metadata = meta.value as RunMetadata;
  const { status, reason } = effectiveStatus(metadata, options);
  Object.assign(info, {
    status,
    reason,
    metadata,
    symbol: typeof metadata.stock_symbol === 'string' ? metadata.stock_symbol : null,
    modelType: metadata.model_type,
    createdAt: metadata.created_at,
    evalMetrics: isRecord(metadata.eval_metrics) ? (metadata.eval_metrics as unknown as EvalMetricsSummary) : null,
    stocks: isRecord(metadata.universe) ? finiteOrNull(metadata.universe.stocks) : null,
  });
  for (const file of [RUN_FILES.config, RUN_FILES.evalResults, RUN_FILES.predictions, RUN_FILES.modelConfig]) {
    const read = readJson(join(dir, file), { within: dir });
    if (!read.ok && !read.missing) info.problems.push(read.reason);
  }
  const metrics = readJson(join(dir, RUN_FILES.metrics), { within: dir });
  const history = metrics.ok && Array.isArray(metrics.value) ? (metrics.value as MetricsEntry[]) : [];
  if (metrics.ok && !Array.isArray(metrics.value)) info.problems.push('metrics.json is not an array');
  if (!metrics.ok && !metrics.missing) info.problems.push(metrics.reason);
  info.bestValLoss = finiteOrNull(metadata.best_val_loss) ?? bestValLossOf(history);
  const epochs = history.map((r) => r.epoch).filter((e): e is number => typeof e === 'number');
  info.epochsTrained = finiteOrNull(metadata.epochs_trained) ?? (epochs.length ? Math.max(...epochs) : null);
  return info;
}

/**
 * True when `dir` is positively a run folder: it has a metadata.json (readable or not), or a config.json beside one
 * of a run's own folders (model/, checkpoints/, logs/, results/). Everything else in an output folder (batches/,
 * backtests/, an old batch folder, a user's own folder) is not a run: never listed as corrupt, never pruned.
 */
export function isRunFolder(dir: string): boolean {
  if (!isRealDir(dir)) return false;
  if (isRealFile(join(dir, RUN_FILES.metadata))) return true;
  if (!isRealFile(join(dir, RUN_FILES.config))) return false;
  return [RUN_FILES.modelDir, RUN_FILES.checkpointsDir, 'logs', 'results'].some((sub) => isRealDir(join(dir, sub)));
}

export interface OutputDirScan {
  /** The runs, newest first: those of the output folder itself, then those of old-layout batch folders. */
  runs: RunInfo[];
  /** Folders of the output folder that are not runs nor klinecast's own (batches/, backtests/): old batch folders, foreign ones. */
  ignored: string[];
}

/** Reads an output folder: every run folder directly in it or in an old batch's runs/, and the names of the rest. */
export function scanOutputDir(outputDir = DEFAULT_OUTPUT_DIR, options: ReadOptions = {}): OutputDirScan {
  const root = resolve(outputDir);
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], ignored: [] };
    throw new UserError(`cannot read output folder ${root}: ${(err as Error).message}`);
  }
  const runs: RunInfo[] = [];
  const ignored: string[] = [];
  // Dirent types come from lstat: a symbolic link in the output folder is never a run.
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dir = join(root, e.name);
    if (RESERVED_OUTPUT_FOLDERS.has(e.name)) continue;
    if (isRunFolder(dir)) runs.push(readRun(dir, options));
    else ignored.push(e.name);
  }
  const own = new Set(runs.map((r) => r.name));
  for (const legacyRoot of legacyRunRoots(root)) {
    const batch = relative(root, dirname(legacyRoot)) || '.';
    let children;
    try {
      children = readdirSync(legacyRoot, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const c of children) {
      const dir = join(legacyRoot, c.name);
      // A name taken by a run of the output folder resolves to that run; the old copy stays out of the list.
      if (!c.isDirectory() || c.name.startsWith('.') || own.has(c.name) || !isRunFolder(dir)) continue;
      runs.push({ ...readRun(dir, options), legacyBatch: batch });
    }
  }
  runs.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.name.localeCompare(b.name));
  return { runs, ignored: ignored.sort() };
}

/** Every run of `outputDir` (scanOutputDir's runs): folders that are not runs are left out, never shown as corrupt. */
export function listRuns(outputDir = DEFAULT_OUTPUT_DIR, options: ReadOptions = {}): RunInfo[] {
  return scanOutputDir(outputDir, options).runs;
}

export interface RunDetails {
  info: RunInfo;
  config: unknown;
  modelConfig: unknown;
  trainingArgs: unknown;
  evalResults: unknown;
  history: MetricsEntry[];
  files: Array<{ path: string; bytes: number }>;
}

/** Everything about one run that fits on a screen (predictions and weights excluded). Unreadable files come back null. */
export function readRunDetails(dir: string, options: ReadOptions = {}): RunDetails {
  const value = (file: string) => {
    const read = readJson(join(dir, file), { within: dir });
    return read.ok ? read.value : null;
  };
  const metrics = value(RUN_FILES.metrics);
  return {
    info: readRun(dir, options),
    config: value(RUN_FILES.config),
    modelConfig: value(RUN_FILES.modelConfig),
    trainingArgs: value(RUN_FILES.trainingArgs),
    evalResults: value(RUN_FILES.evalResults),
    history: Array.isArray(metrics) ? (metrics as MetricsEntry[]) : [],
    files: listFiles(dir),
  };
}

/** A run as the API lists it. The server's folder path is left out: clients address runs by name. */
export function toRunSummary(run: RunInfo): RunSummary {
  return {
    name: run.name,
    status: run.status,
    reason: run.reason,
    problems: run.problems,
    symbol: run.symbol,
    stocks: run.stocks,
    model_type: run.modelType,
    created_at: run.createdAt,
    finished_at: run.metadata?.finished_at ?? null,
    best_val_loss: run.bestValLoss,
    epochs_trained: run.epochsTrained,
    eval_metrics: run.evalMetrics,
    checkpoints: run.checkpoints,
    has_best: run.hasBest,
    has_model: run.hasModel,
    size_bytes: run.sizeBytes,
    legacy_batch: run.legacyBatch,
  };
}
