import type { DatabaseHandle } from './db/connection.js';
import type { IsoDate, Symbol6 } from './types.js';

export interface StockSummary {
  symbol: Symbol6;
  name: string | null;
  stockType: string | null;
  industry: string | null;
  bars: number;
  first: IsoDate;
  last: IsoDate;
  lastClose: number;
}

export interface DatabaseSummary {
  database: string;
  dialect: string;
  stocks: number;
  bars: number;
  first: IsoDate | null;
  last: IsoDate | null;
  tradingDays: number;
  perStock: StockSummary[];
}

/** What the database holds: one aggregate query per table, so it stays quick on a full market. */
export async function summariseDatabase(handle: DatabaseHandle): Promise<DatabaseSummary> {
  const { db } = handle;
  const groups = await db
    .selectFrom('stock_kline_data')
    .select((eb) => ['symbol', eb.fn.countAll().as('bars'), eb.fn.min('trade_date').as('first'), eb.fn.max('trade_date').as('last')])
    .groupBy('symbol')
    .orderBy('symbol')
    .execute();
  const lastCloses = new Map(
    (
      await db
        .selectFrom('stock_kline_data as k')
        .select(['k.symbol', 'k.close'])
        .where(({ eb, selectFrom }) =>
          eb('k.trade_date', '=', selectFrom('stock_kline_data as k2').select((e) => e.fn.max('k2.trade_date').as('m')).whereRef('k2.symbol', '=', 'k.symbol')),
        )
        .execute()
    ).map((r) => [r.symbol, Number(r.close)]),
  );
  const info = new Map((await db.selectFrom('stock_basic_info').select(['symbol', 'name', 'stock_type', 'industry']).execute()).map((r) => [r.symbol, r]));
  const calendar = await db.selectFrom('trade_calendar').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  const perStock: StockSummary[] = groups.map((g) => ({
    symbol: g.symbol,
    name: info.get(g.symbol)?.name ?? null,
    stockType: info.get(g.symbol)?.stock_type ?? null,
    industry: info.get(g.symbol)?.industry ?? null,
    bars: Number(g.bars),
    first: String(g.first),
    last: String(g.last),
    lastClose: lastCloses.get(g.symbol) ?? NaN,
  }));
  return {
    database: handle.url,
    dialect: handle.dialect,
    stocks: perStock.length,
    bars: perStock.reduce((s, p) => s + p.bars, 0),
    first: perStock.length ? perStock.reduce((m, p) => (p.first < m ? p.first : m), perStock[0].first) : null,
    last: perStock.length ? perStock.reduce((m, p) => (p.last > m ? p.last : m), perStock[0].last) : null,
    tradingDays: Number(calendar?.n ?? 0),
    perStock,
  };
}
