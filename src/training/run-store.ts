/**
 * The out/ folder as a store of runs: naming and claiming run folders, reading them back (with crash detection),
 * listing, choosing the best, pruning and exporting. Reading never throws on a damaged folder: it reports why.
 */
import {
  closeSync,
  cpSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import {
  ACTIVE_STATUSES,
  CHECKPOINT_FILES,
  RUN_FILES,
  WRITTEN_STATUSES,
  type EvalMetricsSummary,
  type MetricsEntry,
  type RunMetadata,
  type RunStatus,
} from './run-files.js';

export const DEFAULT_OUTPUT_DIR = 'out';

/** An active run whose heartbeat is older than this is taken as crashed, even on another host. */
export const DEFAULT_STALE_AFTER_MS = 30 * 60 * 1000;

const RUN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a run name given by a user (CLI argument, HTTP path segment) so it names a folder directly inside the
 * output directory and nothing else: no separators, no "..", no hidden or temp names. Returns the name.
 */
export function validateRunName(name: string): string {
  if (typeof name !== 'string' || !RUN_NAME_PATTERN.test(name) || name.includes('..')) {
    throw new UserError(
      `invalid run name ${JSON.stringify(name)}: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      'bad_run_name',
    );
  }
  return name;
}

/** The folder of run `name` inside `outputDir`, after validating the name. Safe for names from the network. */
export function runDirFor(outputDir: string, name: string): string {
  return join(resolve(outputDir), validateRunName(name));
}

/**
 * A run given on the command line: a bare name is looked up in `outputDir`; anything with a path separator
 * (out/x, ./x, /abs/x) is taken as a path to a run folder.
 */
export function resolveRunRef(ref: string, outputDir = DEFAULT_OUTPUT_DIR): string {
  const dir = ref.includes('/') || ref.includes(sep) ? resolve(ref) : runDirFor(outputDir, ref);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`no run folder ${dir}`, 'run_not_found');
  return dir;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** YYYYMMDD_HHMMSS in local time, as the seed's datetime.now().strftime('%Y%m%d_%H%M%S'). */
export function runTimestamp(date = new Date()): string {
  return `${date.getFullYear()}${pad2(date.getMonth() + 1)}${pad2(date.getDate())}_${pad2(date.getHours())}${pad2(date.getMinutes())}${pad2(date.getSeconds())}`;
}

/** `{symbol}_{model}_{YYYYMMDD_HHMMSS}`, or `{model}_{YYYYMMDD_HHMMSS}` without a symbol. */
export function defaultRunName(modelType: string, symbol?: string | null, date = new Date()): string {
  return validateRunName(symbol ? `${symbol}_${modelType}_${runTimestamp(date)}` : `${modelType}_${runTimestamp(date)}`);
}

/**
 * Creates the run folder under the first free name among `base`, `base_2`, `base_3`… . mkdir without `recursive`
 * fails when the folder exists, so two processes racing for the same name can never both get it.
 */
export function claimRunDir(outputDir: string, base: string): { name: string; dir: string } {
  validateRunName(base);
  const root = resolve(outputDir);
  mkdirSync(root, { recursive: true });
  for (let n = 1; n < 10_000; n++) {
    const name = n === 1 ? base : `${base}_${n}`;
    const dir = join(root, validateRunName(name));
    try {
      mkdirSync(dir);
      return { name, dir };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new UserError(`could not find a free run name for ${base} in ${root}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading runs

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
  checkpoints: string[];
  hasBest: boolean;
  hasModel: boolean;
  /** Bytes of model/model.safetensors, or null before the final model is saved. */
  modelBytes: number | null;
  sizeBytes: number;
}

export interface ReadOptions {
  now?: number;
  staleAfterMs?: number;
}

type JsonRead = { ok: true; value: unknown } | { ok: false; missing: boolean; reason: string };

export function readJson(path: string): JsonRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, missing: code === 'ENOENT', reason: code === 'ENOENT' ? `no ${basename(path)}` : `cannot read ${basename(path)}: ${code}` };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, missing: false, reason: `${basename(path)} is not valid JSON (${(err as Error).message})` };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `value` is not a usable metadata.json, or null when it is. */
function metadataProblem(value: unknown): string | null {
  if (!isRecord(value)) return 'metadata.json is not an object';
  for (const key of ['run_name', 'model_type', 'created_at', 'status'] as const) {
    if (typeof value[key] !== 'string') return `metadata.json has no ${key}`;
  }
  if (!(WRITTEN_STATUSES as readonly string[]).includes(value.status as string)) return `metadata.json has unknown status ${JSON.stringify(value.status)}`;
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

/** Total bytes under `dir`, counting hard-linked files (best/ shares its files with a checkpoint) once. */
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

function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
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

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
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
    checkpoints: listCheckpointNames(dir),
    hasBest: existsSync(join(dir, RUN_FILES.bestDir, CHECKPOINT_FILES.trainerState)),
    hasModel: existsSync(join(dir, RUN_FILES.modelSafetensors)),
    modelBytes: fileSize(join(dir, RUN_FILES.modelSafetensors)),
    sizeBytes: dirSize(dir),
  };
  const meta = readJson(join(dir, RUN_FILES.metadata));
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
  });
  for (const file of [RUN_FILES.config, RUN_FILES.evalResults, RUN_FILES.predictions, RUN_FILES.modelConfig]) {
    const read = readJson(join(dir, file));
    if (!read.ok && !read.missing) info.problems.push(read.reason);
  }
  const metrics = readJson(join(dir, RUN_FILES.metrics));
  const history = metrics.ok && Array.isArray(metrics.value) ? (metrics.value as MetricsEntry[]) : [];
  if (metrics.ok && !Array.isArray(metrics.value)) info.problems.push('metrics.json is not an array');
  if (!metrics.ok && !metrics.missing) info.problems.push(metrics.reason);
  info.bestValLoss = finiteOrNull(metadata.best_val_loss) ?? bestValLossOf(history);
  const epochs = history.map((r) => r.epoch).filter((e): e is number => typeof e === 'number');
  info.epochsTrained = finiteOrNull(metadata.epochs_trained) ?? (epochs.length ? Math.max(...epochs) : null);
  return info;
}

/** Every run folder directly inside `outputDir` (hidden and temp folders skipped), newest first. */
export function listRuns(outputDir = DEFAULT_OUTPUT_DIR, options: ReadOptions = {}): RunInfo[] {
  const root = resolve(outputDir);
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserError(`cannot read output folder ${root}: ${(err as Error).message}`);
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => readRun(join(root, e.name), options))
    .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.name.localeCompare(b.name));
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics for sorting and choosing

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

/** The best usable run (completed, with the metric) for a symbol and/or model, or null. */
export function bestRun(runs: RunInfo[], metric: string, filter: { symbol?: string; model?: string } = {}): RunInfo | null {
  const candidates = runs.filter(
    (r) =>
      r.status === 'completed' &&
      (filter.symbol === undefined || r.symbol === filter.symbol) &&
      (filter.model === undefined || r.modelType === filter.model) &&
      runMetric(r, metric) !== null,
  );
  return sortRuns(candidates, metric)[0] ?? null;
}

// ---------------------------------------------------------------------------------------------------------------
// Pruning

export interface PruneCriteria {
  /** Runs whose (effective) status is one of these; `corrupt` selects damaged folders. */
  statuses?: Array<RunStatus | 'corrupt'>;
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

/**
 * Deletes a run folder. It is first renamed to a hidden name, so a half-deleted run never shows up in a listing.
 */
export function deleteRunDir(dir: string): void {
  const trash = join(dirname(dir), `.deleting-${basename(dir)}-${randomBytes(4).toString('hex')}`);
  renameSync(dir, trash);
  rmSync(trash, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Export

/** Folders and files of a run that a model-only export keeps: everything except checkpoints/. */
function isModelOnlyPath(path: string): boolean {
  return !path.startsWith(`${RUN_FILES.checkpointsDir}/`);
}

/**
 * Exports a run. A destination ending in `.tar` gets a POSIX ustar archive whose entries sit under `{run_name}/`
 * (readable by `tar -xf`, Python's tarfile, 7-Zip); any other destination is a new folder holding a copy.
 * `modelOnly` leaves out checkpoints/ (kept for resuming, not needed to predict). Returns the files exported.
 */
export function exportRun(runDir: string, to: string, options: { modelOnly?: boolean } = {}): { to: string; files: number; bytes: number } {
  const dest = resolve(to);
  if (existsSync(dest)) throw new UserError(`export destination ${dest} already exists; choose a new path`);
  if (dest === runDir || dest.startsWith(runDir + sep)) throw new UserError('export destination cannot be inside the run folder');
  const files = listFiles(runDir).filter((f) => !/\.tmp-/.test(f.path) && (!options.modelOnly || isModelOnlyPath(f.path)));
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  if (dest.endsWith('.tar')) {
    writeTar(
      runDir,
      basename(runDir),
      files.map((f) => f.path),
      dest,
    );
  } else {
    mkdirSync(dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      for (const f of files) cpSync(join(runDir, f.path), join(tmp, f.path));
      renameSync(tmp, dest);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  return { to: dest, files: files.length, bytes };
}

function tarHeader(name: string, size: number, mtime: number, type: '0' | '5'): Buffer {
  const header = Buffer.alloc(512, 0);
  let path = name;
  let prefix = '';
  if (Buffer.byteLength(path) > 100) {
    // ustar splits long names at a "/" into prefix (<=155 bytes) and name (<=100 bytes).
    const cut = path.lastIndexOf('/', Math.max(0, path.length - 1));
    for (let i = cut; i > 0; i = path.lastIndexOf('/', i - 1)) {
      if (Buffer.byteLength(path.slice(i + 1)) <= 100 && Buffer.byteLength(path.slice(0, i)) <= 155) {
        prefix = path.slice(0, i);
        path = path.slice(i + 1);
        break;
      }
    }
    if (!prefix) throw new UserError(`path too long for a tar archive: ${name}`);
  }
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, '0') + '\0';
  header.write(path, 0, 100, 'utf8');
  header.write(octal(type === '5' ? 0o755 : 0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(Math.floor(mtime / 1000), 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write(type, 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return header;
}

/** Writes a ustar archive of `paths` (relative to `root`) under the folder `top`, atomically (temp file + rename). */
function writeTar(root: string, top: string, paths: string[], dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w');
  const write = (buf: Uint8Array) => {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  };
  try {
    const dirs = new Set<string>([top]);
    for (const p of paths) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) dirs.add(`${top}/${parts.slice(0, i).join('/')}`);
    }
    const now = Date.now();
    for (const d of [...dirs].sort()) write(tarHeader(`${d}/`, 0, now, '5'));
    for (const p of paths) {
      const full = join(root, p);
      const data = readFileSync(full);
      write(tarHeader(`${top}/${p}`, data.length, statSync(full).mtimeMs, '0'));
      write(data);
      const rest = (512 - (data.length % 512)) % 512;
      if (rest) write(Buffer.alloc(rest));
    }
    write(Buffer.alloc(1024));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, dest);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Run-relative path with forward slashes, as stored in trainer_state.json. */
export function runRelative(runDir: string, path: string): string {
  return relative(runDir, path).split(sep).join('/');
}

// ---------------------------------------------------------------------------------------------------------------
// One run in full, for `runs show` and the HTTP API

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
    const read = readJson(join(dir, file));
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

/** Parses an age like "30d", "12h", "90m" or "2w" into milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhdw])$/.exec(text.trim());
  if (!m) throw new UserError(`invalid age ${JSON.stringify(text)}: use a number and a unit, e.g. 90m, 12h, 30d or 2w`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
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

export function parseStatusList(text: string): Array<RunStatus | 'corrupt'> {
  const statuses = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of statuses) {
    if (!(RUN_STATUS_FILTERS as readonly string[]).includes(s))
      throw new UserError(`unknown status ${JSON.stringify(s)}; use ${RUN_STATUS_FILTERS.join(', ')}`);
  }
  return statuses as Array<RunStatus | 'corrupt'>;
}
