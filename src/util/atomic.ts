import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that readers only ever see the old content or the new content, never a torn mix:
 * write to a temp file in the same folder, fsync, then rename over the target (atomic on POSIX).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
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
