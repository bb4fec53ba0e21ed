import { UserError } from '../util/errors.js';
import type { Symbol6 } from './types.js';

export function isSymbol6(text: string): boolean {
  return /^\d{6}$/.test(text);
}

export function requireSymbol(text: string): Symbol6 {
  if (!isSymbol6(text)) throw new UserError(`symbol "${text}" is not a 6-digit A-share code (e.g. 600519)`);
  return text;
}

/**
 * Reads the symbol spellings of the common exports: 600519, 600519.SH (tushare), sh.600519 (baostock),
 * sh600519 / SH600519 (akshare, eastmoney). Returns the bare 6-digit code, or null.
 */
export function parseSymbolLoose(text: string): Symbol6 | null {
  const s = text.trim();
  const m = /^(?:(?:sh|sz|bj)\.?)?(\d{6})(?:\.(?:sh|sz|bj|ss))?$/i.exec(s);
  return m ? m[1] : null;
}

export type Exchange = 'SSE' | 'SZSE' | 'BSE';
export type Board = '主板' | '创业板' | '科创板' | '北交所';

export interface BoardInfo {
  exchange: Exchange;
  /** the exchange's short market code, as in ts_code suffixes */
  market: 'SH' | 'SZ' | 'BJ';
  stockType: Board;
  /** daily price limit as a fraction (0.1 = ±10%) under the current rules, ST aside */
  limit: number;
}

/**
 * Exchange and board from the code prefix (current rules: 002 is part of the SZ main board since 2021,
 * 300/301 ChiNext and 688/689 STAR have ±20%, Beijing ±30%). Null for prefixes that are not A-share stocks.
 */
export function boardOf(symbol: Symbol6): BoardInfo | null {
  const p3 = symbol.slice(0, 3);
  if (['600', '601', '603', '605'].includes(p3)) return { exchange: 'SSE', market: 'SH', stockType: '主板', limit: 0.1 };
  if (p3 === '688' || p3 === '689') return { exchange: 'SSE', market: 'SH', stockType: '科创板', limit: 0.2 };
  if (['000', '001', '002', '003'].includes(p3)) return { exchange: 'SZSE', market: 'SZ', stockType: '主板', limit: 0.1 };
  if (p3 === '300' || p3 === '301') return { exchange: 'SZSE', market: 'SZ', stockType: '创业板', limit: 0.2 };
  if (/^(43|83|87|88|92)/.test(symbol)) return { exchange: 'BSE', market: 'BJ', stockType: '北交所', limit: 0.3 };
  return null;
}
