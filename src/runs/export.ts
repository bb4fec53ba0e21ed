/**
 * `runs export`: a run as a .tar archive (entries under `{run_name}/`, readable by `tar -xf`, Python's tarfile, 7-Zip)
 * or as a folder copy. Either appears complete or not at all.
 */
import { closeSync, cpSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { create as createTar } from 'tar';
import { RUN_FILES } from './files.js';
import { listFiles } from './store.js';
import { UserError } from '../util/errors.js';

/** Folders and files of a run that a model-only export keeps: everything except checkpoints/. */
function isModelOnlyPath(path: string): boolean {
  return !path.startsWith(`${RUN_FILES.checkpointsDir}/`);
}

/**
 * checkpoints/best/ shares its files with a checkpoint by hard link. tar would store the second name as a link entry,
 * which some readers (7-Zip, zip-minded tools, Python's isfile()) do not show as a file; a link cache that never
 * remembers makes every file a regular entry.
 */
class NoHardLinks<K, V> extends Map<K, V> {
  override set(): this {
    return this;
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Exports a run to `to`: a `.tar` destination gets a portable (ustar/pax) archive, anything else a new folder.
 * `modelOnly` leaves out checkpoints/ (kept for resuming, not needed to predict). Returns the files exported.
 */
export function exportRun(runDir: string, to: string, options: { modelOnly?: boolean } = {}): { to: string; files: number; bytes: number } {
  const dest = resolve(to);
  if (existsSync(dest)) throw new UserError(`export destination ${dest} already exists; choose a new path`);
  if (dest === runDir || dest.startsWith(runDir + sep)) throw new UserError('export destination cannot be inside the run folder');
  const files = listFiles(runDir).filter((f) => !/\.tmp-/.test(f.path) && (!options.modelOnly || isModelOnlyPath(f.path)));
  const bytes = files.reduce((s, f) => s + f.bytes, 0);
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    if (dest.endsWith('.tar')) {
      createTar(
        { sync: true, file: tmp, cwd: runDir, prefix: basename(runDir), portable: true, linkCache: new NoHardLinks() },
        files.map((f) => f.path),
      );
      fsyncFile(tmp); // the archive's bytes are on disk before its name is
    } else {
      for (const f of files) cpSync(join(runDir, f.path), join(tmp, f.path));
    }
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { to: dest, files: files.length, bytes };
}
