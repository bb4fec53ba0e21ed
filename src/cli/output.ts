/** Terminal output shared by every command: tables for people, JSON for machines, one live progress line; and the flag values several commands share. */
import { readFileSync } from 'node:fs';
import { normalizeSymbol } from '../data/symbols.js';
import { UserError } from '../util/errors.js';

export type Cell = string | number | null | undefined;

function cellText(value: Cell): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return Number.isInteger(value) ? String(value) : value.toFixed(4);
  }
  return value;
}

/** Display width, counting CJK characters as two columns so Chinese names line up. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return width;
}

function pad(text: string, width: number, alignRight: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return alignRight ? fill + text : text + fill;
}

/** Renders rows as an aligned text table; numeric columns align right. */
export function renderTable(headers: string[], rows: Cell[][]): string {
  const texts = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === null || r[i] === undefined || typeof r[i] === 'number'));
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...texts.map((r) => displayWidth(r[i]))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i], numeric[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...texts.map(line)].join('\n');
}

export function printTable(headers: string[], rows: Cell[][]): void {
  console.log(renderTable(headers, rows));
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Formats seconds as "1h02m", "3m05s" or "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * One live line on a TTY (redrawn in place), or a plain line every few seconds when piped,
 * so logs stay readable in CI. Writes to stderr so `--json` output on stdout stays clean.
 */
export class ProgressLine {
  private readonly start = Date.now();
  private lastPlain = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, detail = ''): void {
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = done > 0 ? elapsed / done : NaN;
    const eta = formatDuration(rate * (this.total - done));
    const width = 24;
    const filled = this.total > 0 ? Math.round((done / this.total) * width) : 0;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const text = `${this.label} ${bar} ${done}/${this.total} ${detail} eta ${eta}`.trimEnd();
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${text}`);
    } else if (Date.now() - this.lastPlain > 5000 || done === this.total) {
      this.lastPlain = Date.now();
      process.stderr.write(`${text}\n`);
    }
  }

  finish(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

/** A number rounded for a table cell (null, NaN and Infinity show as "-"). */
export function fmt(value: number | null | undefined, digits = 4): Cell {
  return value === null || value === undefined || !Number.isFinite(value) ? null : Number(value.toFixed(digits));
}

/** A share 0..1 as "12.3%". */
export function pct(value: number | null | undefined): Cell {
  return value === null || value === undefined ? null : `${(value * 100).toFixed(1)}%`;
}

/** An ISO timestamp as "YYYY-MM-DD HH:MM". */
export function shortDate(iso: string | null): Cell {
  return iso ? iso.slice(0, 16).replace('T', ' ') : null;
}

/** Bytes as "812 B", "3.4 MB", "120 GB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * A --symbols value: `all`, `CODE,CODE`, or `@file` with codes separated by commas, spaces or lines (`#` starts a
 * comment); every code in any spelling the normaliser reads, returned as the 6-digit code.
 */
export function parseSymbolsFlag(value: string, flag = 'symbols'): 'all' | string[] {
  const text = value.trim();
  if (text === 'all') return 'all';
  let list: string[];
  if (text.startsWith('@')) {
    const file = text.slice(1);
    let body: string;
    try {
      body = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UserError(`cannot read symbols file ${file}: ${(err as Error).message}`);
    }
    list = body
      .split('\n')
      .map((l) => l.replace(/#.*/, ''))
      .join(',')
      .split(/[\s,]+/);
  } else list = text.split(',');
  list = list.map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UserError(`--${flag} "${value}" names no stock (use all, 600519,000001 or @file)`);
  return list.map((s) => {
    const symbol = normalizeSymbol(s);
    if (symbol === null) throw new UserError(`--${flag}: "${s}" is not an A-share code (600519, 600519.SH or sh600519)`);
    return symbol;
  });
}

/** A whole-number flag value of at least `min` (0 by default), or a UserError naming the flag and what was given. */
export function wholeNumberFlag(flag: string, raw: string, min = 0): number {
  const value = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new UserError(`--${flag} must be a whole number${min > 0 ? ` ≥ ${min}` : ''}, not "${raw}"`);
  }
  return value;
}

/** A finite-number flag value, or a UserError naming the flag and what was given. */
export function numberFlag(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new UserError(`--${flag} must be a number, not "${raw}"`);
  return value;
}
