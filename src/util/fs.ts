/**
 * Quiet questions about a path: a path that cannot be looked at (missing, unreadable) is simply not a file or folder.
 */
import { lstatSync, statSync, type Stats } from 'node:fs';

function statOrNull(path: string, followLinks: boolean): Stats | null {
  try {
    return followLinks ? statSync(path) : lstatSync(path);
  } catch {
    return null;
  }
}

/** A folder itself, never a link to one. */
export function isRealDir(path: string): boolean {
  return statOrNull(path, false)?.isDirectory() === true;
}

/** A regular file itself, never a link to one. */
export function isRealFile(path: string): boolean {
  return statOrNull(path, false)?.isFile() === true;
}

/** A folder, or a link that leads to one. */
export function isDirOrLinkToDir(path: string): boolean {
  return statOrNull(path, true)?.isDirectory() === true;
}
