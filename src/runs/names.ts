/**
 * Naming run folders: the default {symbol}_{model}_{YYYYMMDD_HHMMSS} name, validating names that come from users or the
 * network, resolving a CLI reference to a folder, and claiming a new folder under a free name.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { isRealDir, isRealFile } from '../util/fs.js';
import { pad2 } from '../util/values.js';

export const DEFAULT_OUTPUT_DIR = 'out';

/**
 * Folders of the output folder that hold other things than one run (DESIGN.md §4): a batch's bookkeeping in
 * batches/{name}/, walk-forward backtests in backtests/{name}/. They are never runs, so no run may take their names.
 */
export const BATCHES_DIR = 'batches';
export const BACKTESTS_DIR = 'backtests';
export const RESERVED_OUTPUT_FOLDERS: ReadonlySet<string> = new Set([BATCHES_DIR, BACKTESTS_DIR]);

/** The file that marks a batch folder, in the current layout (out/batches/{name}/) and the old one (out/batch/). */
export const BATCH_PROGRESS_FILE = 'batch_progress.json';
/** Where batches before out/batches/ kept their runs: {batch folder}/runs/{run}/ (read-only now). */
export const LEGACY_BATCH_RUNS_DIR = 'runs';

const RUN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a run name given by a user (CLI argument, HTTP path segment) so it names a folder directly inside the
 * output directory and nothing else: no separators, no "..", no hidden or temp names. Returns the name.
 */
export function validateRunName(name: string): string {
  checkFolderName(name, 'run name', 'bad_run_name');
  if (RESERVED_OUTPUT_FOLDERS.has(name))
    throw new UserError(`invalid run name "${name}": ${name}/ in the output folder is kept for klinecast's own ${name}`, 'bad_run_name');
  return name;
}

/** The run-name rule for any folder named by a user or the network (a run, a batch): one segment, no "..", no dot first. */
export function checkFolderName(name: string, what: string, code: string): string {
  if (typeof name !== 'string' || !RUN_NAME_PATTERN.test(name) || name.includes('..')) {
    throw new UserError(`invalid ${what} ${JSON.stringify(name)}: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`, code);
  }
  return name;
}

/**
 * The runs/ folders of batches written in the old layout ({batch}/batch_progress.json beside {batch}/runs/{run}/):
 * directly inside `outputDir` (out/batch/runs/), or `outputDir` itself when it is such a batch folder. Real folders
 * only, never links. Their runs are listed and readable, never pruned (docs/BATCH.md, "Old layout").
 */
export function legacyRunRoots(outputDir: string): string[] {
  const root = resolve(outputDir);
  const roots: string[] = [];
  const consider = (batchDir: string) => {
    const runs = join(batchDir, LEGACY_BATCH_RUNS_DIR);
    if (isRealFile(join(batchDir, BATCH_PROGRESS_FILE)) && isRealDir(runs)) roots.push(runs);
  };
  consider(root);
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return roots;
  }
  for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.') && !RESERVED_OUTPUT_FOLDERS.has(e.name)) consider(join(root, e.name));
  return roots;
}

/**
 * A real folder `name` directly inside `parent` whose realpath is the parent's realpath joined with the name (no link
 * on the way out), or null. `name` must already be checked (checkFolderName).
 */
export function containedDir(parent: string, name: string): string | null {
  const dir = join(parent, name);
  if (!isRealDir(dir)) return null;
  try {
    return realpathSync(dir) === join(realpathSync(parent), name) ? dir : null;
  } catch {
    return null;
  }
}

/** The folder of run `name` inside `outputDir`, after validating the name. Safe for names from the network. */
export function runDirFor(outputDir: string, name: string): string {
  return join(resolve(outputDir), validateRunName(name));
}

/**
 * The folder of an existing run `name` inside `outputDir`, for names from the network or a bare CLI name: a real
 * folder directly inside the output folder (or inside an old-layout batch's runs/, see legacyRunRoots), never a
 * symbolic link (which could lead anywhere), and its realpath inside the output folder's. Anything else is
 * run_not_found, named without any server path.
 */
export function existingRunDirFor(outputDir: string, name: string): string {
  validateRunName(name);
  const root = resolve(outputDir);
  // A run of the output folder itself first; then one left in an old-layout batch folder (out/batch/runs/{run}/).
  const dir = containedDir(root, name) ?? legacyRunRoots(root).reduce<string | null>((found, runs) => found ?? containedDir(runs, name), null);
  if (dir === null) throw new UserError(`no run named ${name}`, 'run_not_found');
  return dir;
}

/**
 * A run given on the command line: a bare name is looked up in `outputDir` (existingRunDirFor: links are not
 * followed); anything with a path separator (out/x, ./x, /abs/x) is taken as a path to a run folder.
 */
export function resolveRunRef(ref: string, outputDir = DEFAULT_OUTPUT_DIR): string {
  if (!(ref.includes('/') || ref.includes(sep))) {
    try {
      return existingRunDirFor(outputDir, ref);
    } catch (err) {
      // The output folder as the user gave it (usually relative), not the server's absolute path.
      if (err instanceof UserError && err.code === 'run_not_found') throw new UserError(`no run folder ${join(outputDir, ref)}`, 'run_not_found');
      throw err;
    }
  }
  const dir = resolve(ref);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`no run folder ${dir}`, 'run_not_found');
  return dir;
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
  // A reserved base (batches, backtests) is not refused here but skipped to base_2: only validateRunName refuses it.
  checkFolderName(base, 'run name', 'bad_run_name');
  const root = resolve(outputDir);
  mkdirSync(root, { recursive: true });
  for (let n = 1; n < 10_000; n++) {
    const name = n === 1 ? base : `${base}_${n}`;
    if (RESERVED_OUTPUT_FOLDERS.has(name)) continue;
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

/** Run-relative path with forward slashes, as stored in trainer_state.json. */
export function runRelative(runDir: string, path: string): string {
  return relative(runDir, path).split(sep).join('/');
}
