/**
 * A KlineSeries as transferable buffers: every column's ArrayBuffer moves to the worker thread without a copy,
 * and dates travel as yyyymmdd integers in one more typed array instead of thousands of strings.
 */
import type { KlineSeries, SeriesAdjustment } from '../data/types.js';

const COLUMNS = ['open', 'high', 'low', 'close', 'preClose', 'change', 'pctChg', 'vol', 'amount', 'turnoverRate'] as const;
type Column = (typeof COLUMNS)[number];

export interface PackedSeries {
  symbol: string;
  dates: Int32Array;
  columns: Record<Column, Float64Array>;
  /** an adjusted series' adjustment (its multiplier moves like the columns) */
  adjustment?: SeriesAdjustment;
}

/** Columns that share a buffer with other data (a view into a larger array) are copied, so transfer never detaches foreign memory. */
function own(array: Float64Array): Float64Array {
  return array.byteOffset === 0 && array.byteLength === array.buffer.byteLength ? array : array.slice();
}

export function packSeries(series: KlineSeries): { packed: PackedSeries; transfer: ArrayBuffer[] } {
  const dates = new Int32Array(series.dates.length);
  for (let i = 0; i < dates.length; i++) {
    const d = series.dates[i];
    dates[i] = Number(d.slice(0, 4)) * 10000 + Number(d.slice(5, 7)) * 100 + Number(d.slice(8, 10));
  }
  const columns = {} as Record<Column, Float64Array>;
  for (const c of COLUMNS) columns[c] = own(series[c]);
  const transfer = [dates.buffer as ArrayBuffer, ...COLUMNS.map((c) => columns[c].buffer as ArrayBuffer)];
  const packed: PackedSeries = { symbol: series.symbol, dates, columns };
  if (series.adjustment) {
    packed.adjustment = { ...series.adjustment, multiplier: own(series.adjustment.multiplier) };
    transfer.push(packed.adjustment.multiplier.buffer as ArrayBuffer);
  }
  return { packed, transfer: [...new Set(transfer)] };
}

export function unpackSeries(packed: PackedSeries): KlineSeries {
  const dates = Array.from(packed.dates, (n) => {
    const s = String(n);
    return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
  });
  return { symbol: packed.symbol, dates, ...packed.columns, ...(packed.adjustment && { adjustment: packed.adjustment }) };
}

/** The series a universal job is sent with: its thread loads the stocks itself, so nothing travels but a label. */
export function noSeries(label = 'universe'): KlineSeries {
  const none = () => new Float64Array(0);
  return {
    symbol: label,
    dates: [],
    open: none(),
    high: none(),
    low: none(),
    close: none(),
    preClose: none(),
    change: none(),
    pctChg: none(),
    vol: none(),
    amount: none(),
    turnoverRate: none(),
  };
}
