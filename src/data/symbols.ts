import { UserError } from '../util/errors.js';
import type { Symbol6 } from './types.js';

export function isSymbol6(text: string): boolean {
  return /^\d{6}$/.test(text);
}

/**
 * The one symbol normaliser. Reads the spellings of the common sources: 600519, 600519.SH / 600519.sz (tushare;
 * .SS is Yahoo's), sh.600519 (baostock), sh600519 / SH600519 (akshare, eastmoney), with surrounding blanks.
 * Returns the bare 6-digit code klinecast uses everywhere, or null. The CLI, the API, the training config, import
 * and the loader all go through here, so `600519.SH` and `sh600519` are one stock whatever the database stores
 * (the database's own spelling is the schema mapping's business, src/data/db/mapping.ts).
 */
export function normalizeSymbol(text: string): Symbol6 | null {
  const m = /^(?:(?:sh|sz|bj)\.?)?(\d{6})(?:\.(?:sh|sz|bj|ss))?$/i.exec(text.trim());
  return m ? m[1] : null;
}

/** normalizeSymbol under its first name (the CSV parser calls it so). */
export const parseSymbolLoose = normalizeSymbol;

/** The 6-digit code of any accepted spelling (see normalizeSymbol), or a UserError naming what was given. */
export function requireSymbol(text: string): Symbol6 {
  const symbol = typeof text === 'string' ? normalizeSymbol(text) : null;
  if (symbol === null) throw new UserError(`symbol "${String(text)}" is not an A-share code (600519, 600519.SH or sh600519)`);
  return symbol;
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

/** How a database spells a symbol: 600519, 600519.SH, 600519.sh, sh600519, SH600519 or sh.600519. */
export const SYMBOL_FORMS = ['bare', 'suffix', 'suffix_lower', 'prefix', 'prefix_upper', 'prefix_dot'] as const;
export type SymbolForm = (typeof SYMBOL_FORMS)[number];

/** SH / SZ / BJ of a code: its board's, else by the first digit (indices and funds have no board here). */
export function marketOf(symbol: Symbol6): 'SH' | 'SZ' | 'BJ' {
  const board = boardOf(symbol);
  if (board) return board.market;
  return /^[5679]/.test(symbol) ? 'SH' : /^[48]/.test(symbol) ? 'BJ' : 'SZ';
}

/** A 6-digit code in a database's spelling (the inverse of normalizeSymbol for that form). */
export function formatSymbol(symbol: Symbol6, form: SymbolForm): string {
  if (form === 'bare') return symbol;
  const market = marketOf(symbol);
  switch (form) {
    case 'suffix':
      return `${symbol}.${market}`;
    case 'suffix_lower':
      return `${symbol}.${market.toLowerCase()}`;
    case 'prefix':
      return `${market.toLowerCase()}${symbol}`;
    case 'prefix_upper':
      return `${market}${symbol}`;
    case 'prefix_dot':
      return `${market.toLowerCase()}.${symbol}`;
  }
}

/** The spelling of one stored value, or null when it is none of the SYMBOL_FORMS. */
export function symbolFormOf(stored: string): SymbolForm | null {
  if (/^\d{6}$/.test(stored)) return 'bare';
  if (/^\d{6}\.(SH|SZ|BJ|SS)$/.test(stored)) return 'suffix';
  if (/^\d{6}\.(sh|sz|bj|ss)$/.test(stored)) return 'suffix_lower';
  if (/^(sh|sz|bj)\d{6}$/.test(stored)) return 'prefix';
  if (/^(SH|SZ|BJ)\d{6}$/.test(stored)) return 'prefix_upper';
  if (/^(sh|sz|bj)\.\d{6}$/i.test(stored)) return 'prefix_dot';
  return null;
}
