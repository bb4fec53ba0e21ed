import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { infoToRow, type KlineBar, type StockInfo } from '../../data/index.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { dateField, queryInt, routeSchema, symbolField } from '../schema.js';

const SymbolParams = z.object({ symbol: symbolField }).strict();

const StocksQuery = z
  .object({
    /** stock_type, e.g. 主板, 创业板, 科创板, 北交所. */
    type: z.string().min(1).max(32).optional(),
    page: queryInt(1, 1_000_000).default(1),
    page_size: queryInt(1, 1000).default(100),
  })
  .strict();

const KlineQuery = z
  .object({
    start: dateField.optional(),
    end: dateField.optional(),
    /** Only the last N bars of the range. */
    limit: queryInt(1, 20_000).optional(),
  })
  .strict()
  .refine((q) => !q.start || !q.end || q.start <= q.end, { message: 'start must not be after end', path: ['start'] });

/** A stock as the API shows it: its stock_basic_info row, with is_active as a boolean. */
export function stockJson(info: StockInfo) {
  return { ...infoToRow(info), is_active: info.isActive };
}

function barJson(bar: KlineBar) {
  return {
    date: bar.tradeDate,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    pre_close: bar.preClose,
    change: bar.change,
    pct_chg: bar.pctChg,
    vol: bar.vol,
    amount: bar.amount,
    turnover_rate: bar.turnoverRate,
  };
}

function stockNotFound(symbol: string): HttpError {
  return new HttpError(404, 'stock_not_found', `no stock ${symbol} in the database (neither bars nor basic info)`);
}

export async function stockRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/stocks',
    { schema: routeSchema({ querystring: StocksQuery, summary: 'Active stocks, paged, optionally of one board', tags: ['stocks'] }) },
    async (request) => {
      const q = request.query as z.output<typeof StocksQuery>;
      const all = await ctx.loader.getAllActiveStocks(q.type);
      const from = (q.page - 1) * q.page_size;
      return { items: all.slice(from, from + q.page_size).map(stockJson), total: all.length, page: q.page, page_size: q.page_size };
    },
  );

  app.get(
    '/api/v1/stocks/:symbol/kline',
    { schema: routeSchema({ params: SymbolParams, querystring: KlineQuery, summary: 'Daily bars of one stock in [start, end]', tags: ['stocks'] }) },
    async (request) => {
      const { symbol } = request.params as z.output<typeof SymbolParams>;
      const q = request.query as z.output<typeof KlineQuery>;
      let bars = await ctx.loader.loadKline(symbol, q.start, q.end);
      if (bars.length === 0 && (await ctx.loader.getDateRange(symbol)) === null) throw stockNotFound(symbol);
      if (q.limit !== undefined) bars = bars.slice(-q.limit);
      return { symbol, count: bars.length, bars: bars.map(barJson) };
    },
  );

  app.get(
    '/api/v1/stocks/:symbol/info',
    { schema: routeSchema({ params: SymbolParams, summary: 'Basic info and data range of one stock', tags: ['stocks'] }) },
    async (request) => {
      const { symbol } = request.params as z.output<typeof SymbolParams>;
      const [info, range] = await Promise.all([ctx.loader.loadStockInfo(symbol), ctx.loader.getDateRange(symbol)]);
      if (!info && !range) throw stockNotFound(symbol);
      return {
        ...(info
          ? stockJson(info)
          : { symbol, name: null, exchange: null, market: null, stock_type: null, industry: null, list_date: null, delist_date: null, is_active: null }),
        data: range ? { first_date: range.start, last_date: range.end, bars: range.count } : null,
      };
    },
  );
}
