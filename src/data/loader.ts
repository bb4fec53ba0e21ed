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
  /** rows the MySQL stream buffers at once */
  chunkSize?: number;
}

/** Columns that KlineSeries carries, in their column-major order. */
const SERIES_COLUMNS = ['open', 'high', 'low', 'close', 'pre_close', 'change', 'pct_chg', 'vol', 'amount', 'turnover_rate'] as const;

/**
 * The seed's StockDataLoader in camelCase: reads K-lines and stock info from either dialect.
 * Inputs are validated here (6-digit symbols, real dates), so nothing malformed reaches SQL.
 */
export class StockDataLoader {
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

  /** The same bars in columns (typed arrays), the shape features and training consume. */
  async loadSeries(symbol: Symbol6, start?: IsoDate, end?: IsoDate): Promise<KlineSeries> {
    const { sym, from, to } = checkArgs(symbol, start, end);
    let q = this.db.selectFrom('stock_kline_data').select(['symbol', 'trade_date', ...SERIES_COLUMNS]).where('symbol', '=', sym);
    if (from) q = q.where('trade_date', '>=', from);
    if (to) q = q.where('trade_date', '<=', to);
    const builder = new SeriesBuilder(sym);
    for (const row of await q.orderBy('trade_date').execute()) builder.push(row);
    return builder.finish();
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
   * (symbol, trade_date) and streamed (mysql2 row stream / SQLite iterator), so only the stock being
   * assembled is in memory, as typed arrays: 5,000 stocks × 1,000 days never exist as row objects.
   */
  async *streamSeries(options: BulkLoadOptions = {}): AsyncGenerator<KlineSeries> {
    const symbols = options.symbols?.map(requireSymbol);
    const from = options.start === undefined ? undefined : requireIsoDate(options.start, 'start date');
    const to = options.end === undefined ? undefined : requireIsoDate(options.end, 'end date');
    if (symbols && symbols.length === 0) return;
    let q = this.handle.reader().selectFrom('stock_kline_data').select(['symbol', 'trade_date', ...SERIES_COLUMNS]);
    if (symbols) q = q.where('symbol', 'in', symbols);
    if (from) q = q.where('trade_date', '>=', from);
    if (to) q = q.where('trade_date', '<=', to);
    let builder: SeriesBuilder | null = null;
    for await (const row of q.orderBy('symbol').orderBy('trade_date').stream(options.chunkSize ?? 2000)) {
      if (builder === null || builder.symbol !== row.symbol) {
        if (builder !== null) yield builder.finish();
        builder = new SeriesBuilder(row.symbol);
      }
      builder.push(row);
    }
    if (builder !== null) yield builder.finish();
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

/** Grows typed-array columns (doubling) as rows arrive, then trims them to length. */
class SeriesBuilder {
  private length = 0;
  private capacity = 256;
  private readonly dates: IsoDate[] = [];
  private cols: Float64Array[] = SERIES_COLUMNS.map(() => new Float64Array(256));

  constructor(readonly symbol: Symbol6) {}

  push(row: SeriesRow): void {
    if (this.length === this.capacity) {
      this.capacity *= 2;
      this.cols = this.cols.map((c) => {
        const grown = new Float64Array(this.capacity);
        grown.set(c);
        return grown;
      });
    }
    const i = this.length++;
    this.dates.push(row.trade_date);
    for (let c = 0; c < SERIES_COLUMNS.length; c++) {
      const v = row[SERIES_COLUMNS[c]];
      this.cols[c][i] = v === null || v === undefined ? NaN : Number(v);
    }
  }

  finish(): KlineSeries {
    const col = (name: (typeof SERIES_COLUMNS)[number]) => this.cols[SERIES_COLUMNS.indexOf(name)].slice(0, this.length);
    return {
      symbol: this.symbol,
      dates: this.dates,
      open: col('open'),
      high: col('high'),
      low: col('low'),
      close: col('close'),
      preClose: col('pre_close'),
      change: col('change'),
      pctChg: col('pct_chg'),
      vol: col('vol'),
      amount: col('amount'),
      turnoverRate: col('turnover_rate'),
    };
  }
}
