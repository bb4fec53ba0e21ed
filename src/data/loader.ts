import { adjustSeries, type AdjustMode } from './adjust.js';
import { TradingCalendar } from './calendar.js';
import { requireIsoDate } from './dates.js';
import type { DatabaseHandle } from './db/connection.js';
import { rowToBar, rowToInfo } from './db/rows.js';
import type { StockKlineTable } from './db/schema.js';
import { requireSymbol } from './symbols.js';
import type { IsoDate, KlineBar, KlineSeries, StockInfo, Symbol6 } from './types.js';

export interface DateRange {
  start: IsoDate;
  end: IsoDate;
  /** number of bars */
  count: number;
}

export interface CompletenessReport {
  symbol: Symbol6;
  start: IsoDate;
  end: IsoDate;
  /** trading days in [start, end] by the calendar */
  expected: number;
  present: number;
  /** trading days without a bar (suspensions or holes in the data) */
  missing: IsoDate[];
  /** bars on days the calendar says were closed */
  unexpected: IsoDate[];
  /** present / expected, 1 when nothing was expected */
  coverage: number;
  complete: boolean;
}

export interface BulkLoadOptions {
  /** default: every symbol that has bars */
  symbols?: Symbol6[];
  start?: IsoDate;
  end?: IsoDate;
  /** rows per streamed batch (and the MySQL stream's high-water mark) */
  chunkSize?: number;
  /** price adjustment (src/data/adjust.ts); default none: the bars as stored */
  adjust?: AdjustMode;
}

export interface SeriesLoadOptions {
  /** price adjustment (src/data/adjust.ts); default none: the bars as stored */
  adjust?: AdjustMode;
}

/** Columns that KlineSeries carries, in their column-major order. */
const SERIES_COLUMNS = ['open', 'high', 'low', 'close', 'pre_close', 'change', 'pct_chg', 'vol', 'amount', 'turnover_rate'] as const;

/**
 * The seed's StockDataLoader in camelCase: reads K-lines and stock info from either dialect.
 * Inputs are validated here (6-digit symbols, real dates), so nothing malformed reaches SQL.
 */
export class StockDataLoader {
  /** Whether the database has an adj_factor table (a user's stock_db before `db migrate` has none), asked once. */
  private adjFactorTable: Promise<boolean> | null = null;

  constructor(private readonly handle: DatabaseHandle) {}

  private get db() {
    return this.handle.db;
  }

  /** Bars of one stock in [start, end] (both inclusive, either optional), ascending by date. */
  async loadKline(symbol: Symbol6, start?: IsoDate, end?: IsoDate): Promise<KlineBar[]> {
    const { sym, from, to } = checkArgs(symbol, start, end);
    let q = this.db.selectFrom('stock_kline_data').selectAll().where('symbol', '=', sym);
    if (from) q = q.where('trade_date', '>=', from);
    if (to) q = q.where('trade_date', '<=', to);
    const rows = await q.orderBy('trade_date').execute();
    return rows.map(rowToBar);
  }

  /**
   * The same bars in columns (typed arrays), the shape features and training consume; with `adjust`, adjusted over
   * exactly the bars loaded (qfq is anchored at the last of them).
   */
  async loadSeries(symbol: Symbol6, start?: IsoDate, end?: IsoDate, options: SeriesLoadOptions = {}): Promise<KlineSeries> {
    const { sym, from, to } = checkArgs(symbol, start, end);
    let q = this.db.selectFrom('stock_kline_data').select(['symbol', 'trade_date', ...SERIES_COLUMNS]).where('symbol', '=', sym);
    if (from) q = q.where('trade_date', '>=', from);
    if (to) q = q.where('trade_date', '<=', to);
    const builder = new SeriesBuilder(sym);
    for (const row of await q.orderBy('trade_date').execute()) builder.push(row);
    return this.adjusted(builder.finish(), options.adjust);
  }

  /** tushare adj_factor of one stock by date, over [start, end] (empty when the table is missing or has none). */
  async loadAdjFactors(symbol: Symbol6, start?: IsoDate, end?: IsoDate): Promise<Map<IsoDate, number>> {
    const { sym, from, to } = checkArgs(symbol, start, end);
    const factors = new Map<IsoDate, number>();
    if (!(await this.hasAdjFactorTable())) return factors;
    let q = this.db.selectFrom('adj_factor').select(['trade_date', 'adj_factor']).where('symbol', '=', sym);
    if (from) q = q.where('trade_date', '>=', from);
    if (to) q = q.where('trade_date', '<=', to);
    for (const row of await q.execute()) factors.set(row.trade_date, toNumber(row.adj_factor));
    return factors;
  }

  private hasAdjFactorTable(): Promise<boolean> {
    this.adjFactorTable ??= this.db.introspection.getTables().then((tables) => tables.some((t) => t.name === 'adj_factor'));
    return this.adjFactorTable;
  }

  /** A raw series (as loaded, or a slice of one) in `adjust` over exactly its bars, with the stock's adj_factor rows. */
  adjustRange(series: KlineSeries, adjust: AdjustMode): Promise<KlineSeries> {
    return this.adjusted(series, adjust);
  }

  private async adjusted(series: KlineSeries, adjust: AdjustMode = 'none'): Promise<KlineSeries> {
    if (adjust === 'none' || series.dates.length === 0) return series;
    const factors = await this.loadAdjFactors(series.symbol, series.dates[0], series.dates[series.dates.length - 1]);
    return adjustSeries(series, adjust, factors);
  }

  async getDateRange(symbol: Symbol6): Promise<DateRange | null> {
    const sym = requireSymbol(symbol);
    const row = await this.db
      .selectFrom('stock_kline_data')
      .select((eb) => [eb.fn.min('trade_date').as('start'), eb.fn.max('trade_date').as('end'), eb.fn.countAll().as('count')])
      .where('symbol', '=', sym)
      .executeTakeFirst();
    if (!row || row.start === null || Number(row.count) === 0) return null;
    return { start: String(row.start), end: String(row.end), count: Number(row.count) };
  }

  /** Active stocks from stock_basic_info, optionally of one board (主板 / 创业板 / 科创板 / 北交所), by symbol. */
  async getAllActiveStocks(stockType?: string): Promise<StockInfo[]> {
    let q = this.db.selectFrom('stock_basic_info').selectAll().where('is_active', '=', 1);
    if (stockType) q = q.where('stock_type', '=', stockType);
    return (await q.orderBy('symbol').execute()).map(rowToInfo);
  }

  async loadStockInfo(symbol: Symbol6): Promise<StockInfo | null> {
    const sym = requireSymbol(symbol);
    const row = await this.db.selectFrom('stock_basic_info').selectAll().where('symbol', '=', sym).executeTakeFirst();
    return row ? rowToInfo(row) : null;
  }

  /** The last date with a bar for this stock, or for any stock when no symbol is given. */
  async getLatestTradeDate(symbol?: Symbol6): Promise<IsoDate | null> {
    let q = this.db.selectFrom('stock_kline_data').select((eb) => eb.fn.max('trade_date').as('latest'));
    if (symbol !== undefined) q = q.where('symbol', '=', requireSymbol(symbol));
    const row = await q.executeTakeFirst();
    return row?.latest ? String(row.latest) : null;
  }

  /** Symbols that have bars, ascending. */
  async listSymbols(): Promise<Symbol6[]> {
    const rows = await this.db.selectFrom('stock_kline_data').select('symbol').distinct().orderBy('symbol').execute();
    return rows.map((r) => r.symbol);
  }

  /** Trading days in [start, end] (default: the stock's own range) that have no bar, against the trading calendar. */
  async validateCompleteness(symbol: Symbol6, start?: IsoDate, end?: IsoDate): Promise<CompletenessReport> {
    const { sym, from, to } = checkArgs(symbol, start, end);
    const range = from && to ? null : await this.getDateRange(sym);
    const s = from ?? range?.start;
    const e = to ?? range?.end;
    if (!s || !e) return { symbol: sym, start: from ?? '', end: to ?? '', expected: 0, present: 0, missing: [], unexpected: [], coverage: 1, complete: true };
    const calendar = await TradingCalendar.load(this.db);
    const expected = calendar.between(s, e);
    const have = (await this.db
      .selectFrom('stock_kline_data')
      .select('trade_date')
      .where('symbol', '=', sym)
      .where('trade_date', '>=', s)
      .where('trade_date', '<=', e)
      .orderBy('trade_date')
      .execute()).map((r) => r.trade_date);
    const haveSet = new Set(have);
    const expectedSet = new Set(expected);
    const missing = expected.filter((d) => !haveSet.has(d));
    const unexpected = have.filter((d) => !expectedSet.has(d));
    const coverage = expected.length ? (expected.length - missing.length) / expected.length : 1;
    return { symbol: sym, start: s, end: e, expected: expected.length, present: have.length, missing, unexpected, coverage, complete: missing.length === 0 };
  }

  /**
   * Many stocks, one KlineSeries at a time, ordered by symbol. Rows come from a single query ordered by
   * (symbol, trade_date), streamed in small batches (mysql2 row stream / SQLite iterator, see
   * DatabaseHandle.streamRows), so only the stock being assembled is in memory, as typed arrays:
   * 5,000 stocks × 1,000 days never exist as row objects.
   */
  async *streamSeries(options: BulkLoadOptions = {}): AsyncGenerator<KlineSeries> {
    const symbols = options.symbols?.map(requireSymbol);
    const from = options.start === undefined ? undefined : requireIsoDate(options.start, 'start date');
    const to = options.end === undefined ? undefined : requireIsoDate(options.end, 'end date');
    if (symbols && symbols.length === 0) return;
    let q = this.db.selectFrom('stock_kline_data').select(['symbol', 'trade_date', ...SERIES_COLUMNS]);
    if (symbols) q = q.where('symbol', 'in', symbols);
    if (from) q = q.where('trade_date', '>=', from);
    if (to) q = q.where('trade_date', '<=', to);
    let builder: SeriesBuilder | null = null;
    for await (const rows of this.handle.streamRows(q.orderBy('symbol').orderBy('trade_date').compile(), options.chunkSize ?? 2000)) {
      for (const row of rows) {
        if (builder === null || builder.symbol !== row.symbol) {
          if (builder !== null) yield await this.adjusted(builder.finish(), options.adjust);
          builder = new SeriesBuilder(row.symbol);
        }
        builder.push(row);
      }
    }
    if (builder !== null) yield await this.adjusted(builder.finish(), options.adjust);
  }
}

function checkArgs(symbol: Symbol6, start?: IsoDate, end?: IsoDate) {
  return {
    sym: requireSymbol(symbol),
    from: start === undefined ? undefined : requireIsoDate(start, 'start date'),
    to: end === undefined ? undefined : requireIsoDate(end, 'end date'),
  };
}

type SeriesRow = Pick<StockKlineTable, 'symbol' | 'trade_date' | (typeof SERIES_COLUMNS)[number]>;

/** A driver value as a number: NULL → NaN (a user's own columns may hold DECIMAL strings). */
function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : v === null || v === undefined ? NaN : Number(v);
}

/**
 * Grows typed-array columns (doubling) as rows arrive, then trims them to length. The fields are spelled
 * out rather than looped over by name: this runs once per row of a whole-market load.
 */
class SeriesBuilder {
  private length = 0;
  private readonly dates: IsoDate[] = [];
  private open = new Float64Array(256);
  private high = new Float64Array(256);
  private low = new Float64Array(256);
  private close = new Float64Array(256);
  private preClose = new Float64Array(256);
  private change = new Float64Array(256);
  private pctChg = new Float64Array(256);
  private vol = new Float64Array(256);
  private amount = new Float64Array(256);
  private turnoverRate = new Float64Array(256);

  constructor(readonly symbol: Symbol6) {}

  private grow(): void {
    const grown = (a: Float64Array) => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.open = grown(this.open);
    this.high = grown(this.high);
    this.low = grown(this.low);
    this.close = grown(this.close);
    this.preClose = grown(this.preClose);
    this.change = grown(this.change);
    this.pctChg = grown(this.pctChg);
    this.vol = grown(this.vol);
    this.amount = grown(this.amount);
    this.turnoverRate = grown(this.turnoverRate);
  }

  push(row: SeriesRow): void {
    if (this.length === this.open.length) this.grow();
    const i = this.length++;
    this.dates.push(row.trade_date);
    this.open[i] = toNumber(row.open);
    this.high[i] = toNumber(row.high);
    this.low[i] = toNumber(row.low);
    this.close[i] = toNumber(row.close);
    this.preClose[i] = toNumber(row.pre_close);
    this.change[i] = toNumber(row.change);
    this.pctChg[i] = toNumber(row.pct_chg);
    this.vol[i] = toNumber(row.vol);
    this.amount[i] = toNumber(row.amount);
    this.turnoverRate[i] = toNumber(row.turnover_rate);
  }

  finish(): KlineSeries {
    const n = this.length;
    return {
      symbol: this.symbol,
      dates: this.dates,
      open: this.open.slice(0, n),
      high: this.high.slice(0, n),
      low: this.low.slice(0, n),
      close: this.close.slice(0, n),
      preClose: this.preClose.slice(0, n),
      change: this.change.slice(0, n),
      pctChg: this.pctChg.slice(0, n),
      vol: this.vol.slice(0, n),
      amount: this.amount.slice(0, n),
      turnoverRate: this.turnoverRate.slice(0, n),
    };
  }
}
