/**
 * Which stocks a many-stock command works on (a universal model's universe, a whole-market batch): `all` active stocks,
 * optionally of one board, or a given list, normalised and sorted.
 */
import type { DatabaseHandle } from './db/connection.js';
import { StockDataLoader } from './loader.js';
import { UserError } from '../util/errors.js';

export async function resolveUniverse(handle: DatabaseHandle, symbols: 'all' | readonly string[], stockType?: string | null, limit?: number): Promise<string[]> {
  const loader = new StockDataLoader(handle);
  let list: string[];
  if (symbols === 'all') {
    list = (await loader.getAllActiveStocks(stockType ?? undefined)).map((s) => s.symbol);
    // A database filled only with K-lines has no stock_basic_info rows: every symbol with bars is the market.
    if (list.length === 0 && !stockType) list = await loader.listSymbols();
  } else {
    list = [...new Set(symbols)];
    if (stockType) {
      const ofType = new Set((await loader.getAllActiveStocks(stockType)).map((s) => s.symbol));
      list = list.filter((s) => ofType.has(s));
    }
  }
  list.sort();
  if (limit !== undefined) list = list.slice(0, limit);
  if (list.length === 0) throw new UserError(`no stocks to train${stockType ? ` of type ${stockType}` : ''}: check --symbols/--stock-type and the database`);
  return list;
}
