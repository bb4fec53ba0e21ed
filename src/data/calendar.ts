import { addDays } from './dates.js';
import type { Db } from './db/schema.js';
import { isRuleTradingDay, nextRuleTradingDays, ruleTradingDays } from './holidays.js';
import type { IsoDate } from './types.js';

/**
 * The trading calendar: the dates stored in `trade_calendar` (every day that has bars) where the table
 * covers, and the rule (weekdays minus the fixed holiday list) before and after it.
 * Loaded once, then answered in memory: a few thousand dates.
 */
export class TradingCalendar {
  /** ascending, unique */
  readonly stored: readonly IsoDate[];
  private readonly storedSet: ReadonlySet<IsoDate>;

  constructor(storedDates: Iterable<IsoDate>) {
    // A weekend or known holiday is never a trading day, whatever an earlier import stored: one stock's bad
    // rows must not widen the market's calendar.
    this.stored = [...new Set(storedDates)].filter(isRuleTradingDay).sort();
    this.storedSet = new Set(this.stored);
  }

  static async load(db: Db): Promise<TradingCalendar> {
    const rows = await db.selectFrom('trade_calendar').select('trade_date').orderBy('trade_date').execute();
    return new TradingCalendar(rows.map((r) => r.trade_date));
  }

  get firstStored(): IsoDate | null {
    return this.stored[0] ?? null;
  }

  get lastStored(): IsoDate | null {
    return this.stored[this.stored.length - 1] ?? null;
  }

  private covers(date: IsoDate): boolean {
    return this.stored.length > 0 && date >= this.stored[0] && date <= this.stored[this.stored.length - 1];
  }

  isTradingDay(date: IsoDate): boolean {
    return this.covers(date) ? this.storedSet.has(date) : isRuleTradingDay(date);
  }

  /** Trading days in [start, end], ascending. */
  between(start: IsoDate, end: IsoDate): IsoDate[] {
    if (start > end) return [];
    const first = this.firstStored;
    const last = this.lastStored;
    if (first === null || last === null) return ruleTradingDays(start, end);
    const out: IsoDate[] = [];
    if (start < first) out.push(...ruleTradingDays(start, end < first ? end : addDays(first, -1)));
    const lo = lowerBound(this.stored, start);
    for (let i = lo; i < this.stored.length && this.stored[i] <= end; i++) out.push(this.stored[i]);
    if (end > last) out.push(...ruleTradingDays(start > last ? start : addDays(last, 1), end));
    return out;
  }

  /** The n trading days strictly after `from`: stored ones first, then extended by the rule. */
  next(from: IsoDate, n: number): IsoDate[] {
    const out: IsoDate[] = [];
    const first = this.firstStored;
    const last = this.lastStored;
    if (first !== null && last !== null) {
      if (from < first) {
        // Before the table starts: the rule fills the gap up to its first stored day.
        for (const d of nextRuleTradingDays(from, n)) if (d < first && out.length < n) out.push(d);
      }
      for (let i = upperBound(this.stored, from); i < this.stored.length && out.length < n; i++) out.push(this.stored[i]);
    }
    const after = out.length ? out[out.length - 1] : last !== null && last > from ? last : from;
    if (out.length < n) out.push(...nextRuleTradingDays(after, n - out.length));
    return out;
  }
}

function lowerBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The n trading days after `from` (forecast dates): the stored calendar, extended by the rule. */
export async function nextTradingDays(db: Db, from: IsoDate, n: number): Promise<IsoDate[]> {
  return (await TradingCalendar.load(db)).next(from, n);
}

/**
 * Adds dates that have bars to `trade_calendar` (existing ones are kept); weekends and known holidays are
 * never added (import rejects such bars). Call inside the writing transaction.
 */
export async function recordTradingDates(db: Db, dates: Iterable<IsoDate>): Promise<number> {
  const unique = [...new Set(dates)].filter(isRuleTradingDay);
  if (unique.length === 0) return 0;
  let added = 0;
  for (let i = 0; i < unique.length; i += 2000) {
    const chunk = unique.slice(i, i + 2000);
    const known = new Set(
      (await db.selectFrom('trade_calendar').select('trade_date').where('trade_date', 'in', chunk).execute()).map((r) => r.trade_date),
    );
    const fresh = chunk.filter((d) => !known.has(d));
    if (fresh.length) {
      await db.insertInto('trade_calendar').orIgnore().values(fresh.map((trade_date) => ({ trade_date }))).execute();
      added += fresh.length;
    }
  }
  return added;
}
