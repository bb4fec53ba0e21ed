import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from './errors.js';

/** A full disk, or a full quota. */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** The mount point of the file system holding `path` (or its nearest existing parent). */
function mountPointOf(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const dev = statSync(p).dev;
  for (let parent = dirname(p); parent !== p && statSync(parent).dev === dev; parent = dirname(p)) p = parent;
  return p;
}

function freeBytes(path: string): number | null {
  try {
    const st = statfsSync(mountPointOf(path));
    return st.bavail * st.bsize;
  } catch {
    return null;
  }
}

/**
 * Runs a write of `target` (a file or folder); a full disk becomes a UserError (code disk_full) in one line naming the
 * disk (its mount point) and what was being written, instead of a Node error with a stack. Other errors pass through.
 */
export function guardDiskFull<T>(target: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === undefined || !DISK_FULL_CODES.has(code) || err instanceof UserError) throw err;
    let disk: string;
    try {
      disk = mountPointOf(target);
    } catch {
      disk = '(unknown)';
    }
    const free = freeBytes(target);
    const error = new UserError(
      `no space left on the disk mounted at ${disk}${free === null ? '' : ` (${free} bytes free)`}: writing ${basename(target)} in ${dirname(target)} failed (${code}); ` +
        'free some space there, or write to another --output-dir',
      'disk_full',
      { disk, path: target },
    );
    throw Object.assign(error, { cause: err });
  }
}

/**
 * Writes a file so that readers only ever see the old content or the new content, never a torn mix:
 * write to a temp file in the same folder, fsync, then rename over the target (atomic on POSIX).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  guardDiskFull(path, () => writeFileAtomicUnguarded(path, data));
}

function writeFileAtomicUnguarded(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** JSON with a trailing newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

function hiddenSibling(dir: string, kind: 'tmp' | 'old' | 'deleting'): string {
  return join(dirname(dir), `.${kind}-${basename(dir)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Writes a folder so it appears complete or not at all: `fill` writes into a hidden temp folder beside it, which is
 * then renamed into place. An existing folder of the same name is swapped out (renamed aside, then removed); a crash
 * between the two renames is undone by recoverAtomicLeftovers.
 */
export function writeDirAtomic(finalDir: string, fill: (tmpDir: string) => void): void {
  guardDiskFull(finalDir, () => writeDirAtomicUnguarded(finalDir, fill));
}

function writeDirAtomicUnguarded(finalDir: string, fill: (tmpDir: string) => void): void {
  const tmp = hiddenSibling(finalDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  try {
    fill(tmp);
    if (existsSync(finalDir)) {
      const old = hiddenSibling(finalDir, 'old');
      renameSync(finalDir, old);
      renameSync(tmp, finalDir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, finalDir);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Deletes a folder after renaming it to a hidden name, so a half-deleted folder never shows up in a listing. */
export function removeDirAtomic(dir: string): void {
  const trash = hiddenSibling(dir, 'deleting');
  renameSync(dir, trash);
  rmSync(trash, { recursive: true, force: true });
}

/**
 * Finishes or undoes what a killed writer left under `dir`: temp folders and files are removed, and a folder that was
 * swapped aside (.old-X) while its replacement never arrived is put back.
 */
export function recoverAtomicLeftovers(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    const old = /^\.old-(.+)-\d+-[0-9a-f]{8}$/.exec(e.name);
    if (old && e.isDirectory()) {
      const original = join(dir, old[1]);
      if (existsSync(original)) rmSync(path, { recursive: true, force: true });
      else renameSync(path, original);
    } else if (/^\.(tmp|deleting)-/.test(e.name) || /\.tmp-\d+-[0-9a-f]{8}$/.test(e.name)) {
      rmSync(path, { recursive: true, force: true });
    } else if (e.isDirectory()) {
      recoverAtomicLeftovers(path);
    }
  }
}
