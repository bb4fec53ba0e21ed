import { UserError } from '../util/errors.js';
import type { IsoDate } from './types.js';

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** True for a real calendar date written as YYYY-MM-DD (rejects 2023-02-30). */
export function isIsoDate(text: string): boolean {
  const m = ISO_RE.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/**
 * Reads the date spellings found in exports (YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD, with an optional
 * midnight time part that pandas adds) and returns YYYY-MM-DD, or null when it is not a real date.
 */
export function parseDateLoose(text: string): IsoDate | null {
  let s = text.trim();
  const withTime = /^(\S+)[ T]00:00(:00(\.0+)?)?$/.exec(s);
  if (withTime) s = withTime[1];
  let iso: string;
  if (/^\d{8}$/.test(s)) iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
  else {
    const m = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(s);
    if (!m) return null;
    iso = `${m[1]}-${m[2].padStart(2, '0')}-${m[3].padStart(2, '0')}`;
  }
  return isIsoDate(iso) ? iso : null;
}

/** Validates a date given by a user or caller; `what` names it in the error. */
export function requireIsoDate(text: string, what = 'date'): IsoDate {
  const iso = parseDateLoose(text);
  if (iso === null) throw new UserError(`${what} "${text}" is not a date (expected YYYY-MM-DD)`);
  return iso;
}

function toUtcMs(date: IsoDate): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
}

function fromUtcMs(ms: number): IsoDate {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return fromUtcMs(toUtcMs(date) + days * DAY_MS);
}

/** Whole days from a to b (positive when b is later). */
export function daysBetween(a: IsoDate, b: IsoDate): number {
  return Math.round((toUtcMs(b) - toUtcMs(a)) / DAY_MS);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(date: IsoDate): number {
  return new Date(toUtcMs(date)).getUTCDay();
}

/** Today's date in China (UTC+8, no DST), where the exchanges are. */
export function todayInChina(now = Date.now()): IsoDate {
  return fromUtcMs(now + 8 * 3_600_000);
}
