import type { KlineBar, LimitStatus, StockInfo } from '../types.js';
import type { StockBasicInfoTable, StockKlineTable } from './schema.js';
import { KLINE_SCALE } from './schema.js';

/** Rounds half away from zero at `scale` decimals, as a DECIMAL column stores it. */
export function roundTo(value: number, scale: number): number {
  const f = 10 ** scale;
  const r = Math.round(Math.abs(value) * f) / f;
  return value < 0 ? -r : r + 0; // `+ 0` turns -0 into 0
}

function roundOrNull(value: number | null, scale: number): number | null {
  return value === null ? null : roundTo(value, scale);
}

/** A bar as stored: every number rounded to its column's scale, so both dialects hold identical values. */
export function barToRow(bar: KlineBar): StockKlineTable {
  const s = KLINE_SCALE;
  return {
    symbol: bar.symbol,
    trade_date: bar.tradeDate,
    open: roundTo(bar.open, s.open),
    high: roundTo(bar.high, s.high),
    low: roundTo(bar.low, s.low),
    close: roundTo(bar.close, s.close),
    pre_close: roundTo(bar.preClose, s.pre_close),
    change: roundTo(bar.change, s.change),
    pct_chg: roundTo(bar.pctChg, s.pct_chg),
    vol: roundTo(bar.vol, s.vol),
    amount: roundTo(bar.amount, s.amount),
    turnover_rate: roundOrNull(bar.turnoverRate, s.turnover_rate),
    pe: roundOrNull(bar.pe, s.pe),
    pb: roundOrNull(bar.pb, s.pb),
    total_mv: roundOrNull(bar.totalMv, s.total_mv),
    circ_mv: roundOrNull(bar.circMv, s.circ_mv),
    limit_status: bar.limitStatus,
  };
}

/** Numbers as numbers whatever the driver hands back (a user's own columns may be DECIMAL strings or DOUBLE). */
function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function rowToBar(row: StockKlineTable): KlineBar {
  return {
    symbol: row.symbol,
    tradeDate: row.trade_date,
    open: num(row.open),
    high: num(row.high),
    low: num(row.low),
    close: num(row.close),
    preClose: num(row.pre_close),
    change: num(row.change),
    pctChg: num(row.pct_chg),
    vol: num(row.vol),
    amount: num(row.amount),
    turnoverRate: numOrNull(row.turnover_rate),
    pe: numOrNull(row.pe),
    pb: numOrNull(row.pb),
    totalMv: numOrNull(row.total_mv),
    circMv: numOrNull(row.circ_mv),
    limitStatus: row.limit_status === null || row.limit_status === undefined ? null : (num(row.limit_status) as LimitStatus),
  };
}

export function infoToRow(info: StockInfo): StockBasicInfoTable {
  return {
    symbol: info.symbol,
    name: info.name,
    exchange: info.exchange,
    market: info.market,
    stock_type: info.stockType,
    industry: info.industry,
    list_date: info.listDate,
    delist_date: info.delistDate,
    is_active: info.isActive ? 1 : 0,
  };
}

export function rowToInfo(row: StockBasicInfoTable): StockInfo {
  return {
    symbol: row.symbol,
    name: row.name,
    exchange: row.exchange,
    market: row.market,
    stockType: row.stock_type,
    industry: row.industry,
    listDate: row.list_date,
    delistDate: row.delist_date,
    isActive: Boolean(num(row.is_active)),
  };
}

/** Same stored values? Rows from the database are compared with rows about to be written (both already rounded). */
export function sameKlineRow(a: StockKlineTable, b: StockKlineTable): boolean {
  for (const key of Object.keys(KLINE_SCALE) as Array<keyof typeof KLINE_SCALE>) {
    const x = a[key];
    const y = b[key];
    if (x === null || y === null ? x !== y : num(x) !== num(y)) return false;
  }
  return limitOrNull(a.limit_status) === limitOrNull(b.limit_status);
}

function limitOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
