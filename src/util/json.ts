import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** A JSON file read without throwing: the value, or why not (missing, unreadable, not JSON), naming only the file's base name. */
export type JsonRead = { ok: true; value: unknown } | { ok: false; missing: boolean; reason: string };

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
