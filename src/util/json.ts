import { closeSync, fstatSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { basename, sep } from 'node:path';

/** A JSON file read without throwing: the value, or why not (missing, unreadable, not JSON), naming only the file's base name. */
export type JsonRead = { ok: true; value: unknown } | { ok: false; missing: boolean; reason: string };

/** Why a file inside a folder was refused: it resolves (through a symbolic link) outside it, or is not a regular file. */
export class FileOutsideError extends Error {
  readonly code = 'EOUTSIDE';
}

/** True when `path` is `root` or inside it; both absolute and already resolved. */
function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The bytes of `path`, which must resolve (realpath, so through any symbolic link) to a regular file inside `root`:
 * a file or folder linked to somewhere else is refused with a FileOutsideError, and so is a FIFO or device, which
 * could block the reader. With `singleLink`, a file with other hard links is refused too (it may be a file from
 * outside the folder). Other failures are the fs error (ENOENT…).
 */
export function readFileWithin(root: string, path: string, options: { singleLink?: boolean } = {}): Buffer {
  const real = realpathSync(path);
  if (!isInside(realpathSync(root), real)) throw new FileOutsideError(`${basename(path)} is a link to a file outside its folder (not read)`);
  const fd = openSync(real, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileOutsideError(`${basename(path)} is not a regular file (not read)`);
    if (options.singleLink && st.nlink > 1) throw new FileOutsideError(`${basename(path)} has other hard links (not read: it may be a file from elsewhere)`);
    const out = Buffer.allocUnsafe(st.size);
    let at = 0;
    while (at < st.size) {
      const n = readSync(fd, out, at, st.size - at, at);
      if (n === 0) break;
      at += n;
    }
    return at === st.size ? out : out.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a JSON file. With `within`, the file must resolve inside that folder and have no other hard link
 * (readFileWithin): run folders write their JSON files by rename, so they never have one. The reason never
 * quotes the file's contents (JSON.parse's message does) nor its folder: only the base name.
 */
export function readJson(path: string, options: { within?: string } = {}): JsonRead {
  let text: string;
  try {
    text = options.within === undefined ? readFileSync(path, 'utf8') : readFileWithin(options.within, path, { singleLink: true }).toString('utf8');
  } catch (err) {
    if (err instanceof FileOutsideError) return { ok: false, missing: false, reason: err.message };
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, missing: code === 'ENOENT', reason: code === 'ENOENT' ? `no ${basename(path)}` : `cannot read ${basename(path)}: ${code}` };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const at = /at position (\d+)/.exec((err as Error).message);
    return { ok: false, missing: false, reason: `${basename(path)} is not valid JSON${at ? ` (at character ${at[1]})` : ''}` };
  }
}
