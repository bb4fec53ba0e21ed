/** The fields an import row can carry, named as in KlineBar (plus baostock's trading status). */
export type ImportField =
  | 'symbol' | 'date' | 'open' | 'high' | 'low' | 'close' | 'preClose' | 'change' | 'pctChg' | 'vol' | 'amount'
  | 'turnoverRate' | 'pe' | 'pb' | 'totalMv' | 'circMv' | 'limitStatus' | 'tradeStatus';

interface ColumnSpec {
  field: ImportField;
  /** multiplies the value into the schema's unit (lots of 100 shares, thousand CNY) */
  scale?: number;
}

export interface CsvFormat {
  name: 'klinecast' | 'tushare' | 'akshare' | 'baostock';
  /** lower-cased header names that must all be present for the format to be recognised */
  signature: string[];
  /** lower-cased header name → field */
  columns: Record<string, ColumnSpec>;
  /** columns these exports carry that klinecast does not store */
  ignored: string[];
}

/** tushare's daily / daily_basic columns, which klinecast's own format shares (DESIGN.md §1 units). */
const TUSHARE_COLUMNS: Record<string, ColumnSpec> = {
  trade_date: { field: 'date' },
  open: { field: 'open' },
  high: { field: 'high' },
  low: { field: 'low' },
  close: { field: 'close' },
  pre_close: { field: 'preClose' },
  change: { field: 'change' },
  pct_chg: { field: 'pctChg' },
  vol: { field: 'vol' },
  amount: { field: 'amount' },
  turnover_rate: { field: 'turnoverRate' },
  pe: { field: 'pe' },
  pb: { field: 'pb' },
  total_mv: { field: 'totalMv' },
  circ_mv: { field: 'circMv' },
};

const TUSHARE_IGNORED = [
  'turnover_rate_f', 'volume_ratio', 'pe_ttm', 'ps', 'ps_ttm', 'dv_ratio', 'dv_ttm', 'total_share', 'float_share',
  'free_share', 'adj_factor', 'openinterest',
];

/** Checked in this order; the first whose signature matches the header wins. */
export const CSV_FORMATS: CsvFormat[] = [
  {
    name: 'tushare',
    signature: ['ts_code', 'trade_date'],
    columns: { ts_code: { field: 'symbol' }, ...TUSHARE_COLUMNS },
    ignored: TUSHARE_IGNORED,
  },
  {
    // query_history_k_data_plus: volume in shares, amount in CNY, turn and pctChg in %.
    name: 'baostock',
    signature: ['date', 'code'],
    columns: {
      date: { field: 'date' },
      code: { field: 'symbol' },
      open: { field: 'open' },
      high: { field: 'high' },
      low: { field: 'low' },
      close: { field: 'close' },
      preclose: { field: 'preClose' },
      volume: { field: 'vol', scale: 0.01 },
      amount: { field: 'amount', scale: 0.001 },
      turn: { field: 'turnoverRate' },
      pctchg: { field: 'pctChg' },
      pettm: { field: 'pe' },
      pbmrq: { field: 'pb' },
      tradestatus: { field: 'tradeStatus' },
    },
    ignored: ['adjustflag', 'psttm', 'pcfncfttm', 'isst'],
  },
  {
    // stock_zh_a_hist: 成交量 in lots, 成交额 in CNY, 涨跌幅 and 换手率 in %.
    name: 'akshare',
    signature: ['日期'],
    columns: {
      日期: { field: 'date' },
      股票代码: { field: 'symbol' },
      开盘: { field: 'open' },
      收盘: { field: 'close' },
      最高: { field: 'high' },
      最低: { field: 'low' },
      成交量: { field: 'vol' },
      成交额: { field: 'amount', scale: 0.001 },
      涨跌幅: { field: 'pctChg' },
      涨跌额: { field: 'change' },
      换手率: { field: 'turnoverRate' },
    },
    ignored: ['振幅'],
  },
  {
    name: 'klinecast',
    signature: ['trade_date'],
    columns: { symbol: { field: 'symbol' }, ...TUSHARE_COLUMNS, limit_status: { field: 'limitStatus' } },
    ignored: TUSHARE_IGNORED,
  },
];

/** Index columns that pandas writes (`df.to_csv()` without index=False); never data. */
const PANDAS_INDEX = ['', 'unnamed: 0', 'index'];

/** Without a symbol column, the file name must hold the code (600519.csv, 600519.SH.csv, sh.600519.csv, sh600519_daily.csv). */
export const REQUIRED_FIELDS: ImportField[] = ['date', 'open', 'high', 'low', 'close', 'vol', 'amount'];

export interface DetectedLayout {
  format: CsvFormat;
  /** field → column index */
  index: Partial<Record<ImportField, number>>;
  scale: Partial<Record<ImportField, number>>;
}

export type Detection = { ok: true; layout: DetectedLayout } | { ok: false; reason: string };

export function normaliseHeader(name: string): string {
  return name.trim().replace(/^"|"$/g, '').trim().toLowerCase();
}

export function detectFormat(header: string[]): Detection {
  const names = header.map(normaliseHeader);
  const format = CSV_FORMATS.find((f) => f.signature.every((s) => names.includes(s)));
  if (!format) {
    return {
      ok: false,
      reason: `unrecognised header "${header.join(',')}": expected a klinecast (symbol,trade_date,…), tushare (ts_code,trade_date,…), akshare (日期,开盘,…) or baostock (date,code,…) export, or a tushare adj_factor export (ts_code,trade_date,adj_factor)`,
    };
  }
  const index: DetectedLayout['index'] = {};
  const scale: DetectedLayout['scale'] = {};
  const unknown: string[] = [];
  names.forEach((name, i) => {
    const spec = format.columns[name];
    if (spec) {
      if (index[spec.field] !== undefined) unknown.push(`${header[i]} (a second ${spec.field} column)`);
      index[spec.field] = i;
      if (spec.scale !== undefined) scale[spec.field] = spec.scale;
    } else if (!format.ignored.includes(name) && !PANDAS_INDEX.includes(name)) {
      unknown.push(header[i].trim() === '' ? '(empty)' : header[i].trim());
    }
  });
  if (unknown.length) return { ok: false, reason: `${format.name} header has unknown column(s): ${unknown.join(', ')}` };
  const missing = REQUIRED_FIELDS.filter((f) => index[f] === undefined);
  if (missing.length) {
    const names = missing.map((f) => Object.entries(format.columns).find(([, s]) => s.field === f)?.[0] ?? f);
    return { ok: false, reason: `${format.name} header lacks column(s): ${names.join(', ')}` };
  }
  return { ok: true, layout: { format, index, scale } };
}
