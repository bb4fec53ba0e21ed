import { deriveFactors } from './adjust.js';
import { TradingCalendar } from './calendar.js';
import type { DatabaseHandle } from './db/connection.js';
import { StockDataLoader } from './loader.js';
import { boardOf, requireSymbol } from './symbols.js';
import type { ExRightsEvent, IsoDate, KlineSeries, Symbol6 } from './types.js';

export interface DateGap {
  /** first and last missing trading day */
  from: IsoDate;
  to: IsoDate;
  days: number;
}

export interface DataFinding {
  date: IsoDate;
  kind: 'jump' | 'pct_chg_mismatch' | 'pre_close_mismatch' | 'ohlc' | 'non_positive' | 'off_calendar';
  detail: string;
}

export interface StockCheck {
  symbol: Symbol6;
  name: string | null;
  rows: number;
  first: IsoDate;
  last: IsoDate;
  /** trading days in [first, last] by the calendar */
  expected: number;
  missing: number;
  /** (expected − missing) / expected */
  coverage: number;
  gaps: DateGap[];
  longestGap: number;
  jumps: number;
  ohlcViolations: number;
  /**
   * Ex-rights / ex-dividend days with their factor step (from the adj_factor table where it has both days, else from
   * pre_close below the previous close): what data.adjust corrects. They are not jumps.
   */
  exRights: ExRightsEvent[];
  findings: DataFinding[];
}

export interface CheckReport {
  stocks: StockCheck[];
  calendar: { storedDays: number; first: IsoDate | null; last: IsoDate | null };
  totals: { stocks: number; rows: number; missing: number; jumps: number; ohlcViolations: number; exRights: number };
}

/** The board's daily limit on a date: ChiNext moved from ±10% to ±20% on 2020-08-24. */
function limitPct(symbol: Symbol6, date: IsoDate): number {
  const board = boardOf(symbol);
  if (!board) return 10;
  if (board.stockType === '创业板' && date < '2020-08-24') return 10;
  return board.limit * 100;
}

/**
 * Checks one stock's raw bars against the calendar and the exchange rules; pure, for tests and for the CLI.
 * `adjFactors` are the stock's adj_factor rows by date, when the database has them.
 */
export function checkSeries(series: KlineSeries, calendar: TradingCalendar, name: string | null = null, adjFactors?: ReadonlyMap<IsoDate, number>): StockCheck {
  const n = series.dates.length;
  const first = series.dates[0];
  const last = series.dates[n - 1];
  const expectedDays = calendar.between(first, last);
  const have = new Set(series.dates);
  const gaps: DateGap[] = [];
  let missing = 0;
  for (let i = 0; i < expectedDays.length; i++) {
    if (have.has(expectedDays[i])) continue;
    let j = i;
    while (j + 1 < expectedDays.length && !have.has(expectedDays[j + 1])) j++;
    gaps.push({ from: expectedDays[i], to: expectedDays[j], days: j - i + 1 });
    missing += j - i + 1;
    i = j;
  }
  const findings: DataFinding[] = [];
  let jumps = 0;
  let ohlc = 0;
  const { open, high, low, close, preClose, pctChg } = series;
  for (let i = 0; i < n; i++) {
    const date = series.dates[i];
    if (!(open[i] > 0 && high[i] > 0 && low[i] > 0 && close[i] > 0 && preClose[i] > 0)) {
      ohlc++;
      findings.push({ date, kind: 'non_positive', detail: `o ${open[i]} h ${high[i]} l ${low[i]} c ${close[i]} pre ${preClose[i]}` });
      continue;
    }
    if (high[i] < low[i] || open[i] > high[i] || open[i] < low[i] || close[i] > high[i] || close[i] < low[i]) {
      ohlc++;
      findings.push({ date, kind: 'ohlc', detail: `o ${open[i]} h ${high[i]} l ${low[i]} c ${close[i]}` });
    }
    if (!calendar.isTradingDay(date)) findings.push({ date, kind: 'off_calendar', detail: 'bar on a day the calendar marks closed' });
    const actualPct = (close[i] / preClose[i] - 1) * 100;
    // New listings trade without limits for their first days, so only flag what exceeds the board's limit clearly.
    if (Math.abs(actualPct) > limitPct(series.symbol, date) + 0.5) {
      jumps++;
      findings.push({ date, kind: 'jump', detail: `close/pre_close ${actualPct.toFixed(2)}% beyond the ±${limitPct(series.symbol, date)}% limit` });
    }
    if (Number.isFinite(pctChg[i]) && Math.abs(actualPct - pctChg[i]) > 0.05) {
      findings.push({ date, kind: 'pct_chg_mismatch', detail: `pct_chg ${pctChg[i]} but close/pre_close gives ${actualPct.toFixed(4)}` });
    }
  }
  // pre_close against the previous close: below it is an ex-rights day (listed, not a jump), above it is never one.
  const { exRights, anomalies } = deriveFactors(series, adjFactors);
  for (const a of anomalies) {
    jumps++;
    findings.push({
      date: a.date,
      kind: 'pre_close_mismatch',
      detail: `pre_close ${a.preClose} above the previous close ${a.previousClose}: no corporate action raises it (data adjusted already, or a splice)`,
    });
  }
  findings.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const expected = expectedDays.length;
  return {
    symbol: series.symbol,
    name,
    rows: n,
    first,
    last,
    expected,
    missing,
    coverage: expected ? (expected - missing) / expected : 1,
    gaps,
    longestGap: gaps.reduce((m, g) => Math.max(m, g.days), 0),
    jumps,
    ohlcViolations: ohlc,
    exRights,
    findings,
  };
}

/** `klinecast data check`: every stock (or one), streamed through the bulk loader. */
export async function checkData(handle: DatabaseHandle, symbol?: string): Promise<CheckReport> {
  const calendar = await TradingCalendar.load(handle.db);
  const names = new Map(
    (await handle.db.selectFrom('stock_basic_info').select(['symbol', 'name']).execute()).map((r) => [r.symbol, r.name]),
  );
  const loader = new StockDataLoader(handle);
  const stocks: StockCheck[] = [];
  const symbols = symbol === undefined ? undefined : [requireSymbol(symbol)];
  for await (const series of loader.streamSeries({ symbols })) {
    if (series.dates.length === 0) continue;
    const factors = await loader.loadAdjFactors(series.symbol, series.dates[0], series.dates[series.dates.length - 1]);
    stocks.push(checkSeries(series, calendar, names.get(series.symbol) ?? null, factors));
  }
  return {
    stocks,
    calendar: { storedDays: calendar.stored.length, first: calendar.firstStored, last: calendar.lastStored },
    totals: {
      stocks: stocks.length,
      rows: stocks.reduce((s, c) => s + c.rows, 0),
      missing: stocks.reduce((s, c) => s + c.missing, 0),
      jumps: stocks.reduce((s, c) => s + c.jumps, 0),
      ohlcViolations: stocks.reduce((s, c) => s + c.ohlcViolations, 0),
      exRights: stocks.reduce((s, c) => s + c.exRights.length, 0),
    },
  };
}
