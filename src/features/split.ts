/**
 * Splits of a feature frame into train / val / test segments, in time order. A segment is a range of frame rows,
 * and a window belongs to the segment that holds all of its target rows; its input rows may reach back into the
 * segments before it (history), never forward.
 */
import { z } from 'zod';
import type { IsoDate } from '../data/types.js';

/** Frame rows [start, end). */
export interface RowRange {
  start: number;
  end: number;
}

export interface Segments {
  train: RowRange;
  val: RowRange;
  test: RowRange;
}

export const SEGMENT_NAMES = ['train', 'val', 'test'] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const dateRange = z.tuple([isoDate, isoDate]).refine(([a, b]) => a <= b, 'start must not be after end');

export const RatioSplitSchema = z
  .object({
    type: z.literal('ratio'),
    train: z.number().gt(0).lte(1).default(0.7),
    val: z.number().min(0).lt(1).default(0.15),
    test: z.number().min(0).lt(1).default(0.15),
  })
  .refine((s) => Math.abs(s.train + s.val + s.test - 1) < 1e-9, 'train + val + test must be 1');

/** Qlib-style segments: inclusive [start, end] dates of the targets in each segment (Qlib's `valid` is our val). */
export const DateSplitSchema = z
  .object({
    type: z.literal('segments'),
    train: dateRange,
    valid: dateRange,
    test: dateRange,
  })
  .refine((s) => s.train[1] < s.valid[0] && s.valid[1] < s.test[0], 'segments must be in time order and not overlap');

export const SplitSchema = z.discriminatedUnion('type', [RatioSplitSchema, DateSplitSchema]);
export type SplitConfig = z.infer<typeof SplitSchema>;

export function ratioSegments(rows: number, split: { train: number; val: number; test: number }): Segments {
  const trainEnd = Math.round(rows * split.train);
  const valEnd = split.test === 0 ? rows : Math.round(rows * (split.train + split.val));
  return { train: { start: 0, end: trainEnd }, val: { start: trainEnd, end: valEnd }, test: { start: valEnd, end: rows } };
}

function rowsWithin(dates: readonly IsoDate[], [from, to]: readonly [IsoDate, IsoDate]): RowRange {
  let start = 0;
  while (start < dates.length && dates[start] < from) start++;
  let end = start;
  while (end < dates.length && dates[end] <= to) end++;
  return { start, end };
}

export function dateSegments(dates: readonly IsoDate[], split: { train: [IsoDate, IsoDate]; valid: [IsoDate, IsoDate]; test: [IsoDate, IsoDate] }): Segments {
  return { train: rowsWithin(dates, split.train), val: rowsWithin(dates, split.valid), test: rowsWithin(dates, split.test) };
}

/**
 * Window end rows whose targets (end+1 … end+horizon) all lie in `range`, and which have `seqLength` rows of history.
 * A window ending at e covers input rows e−seqLength+1 … e.
 */
export function windowEndsIn(range: RowRange, seqLength: number, horizon: number): Int32Array {
  const first = Math.max(range.start - 1, seqLength - 1);
  const last = range.end - 1 - horizon;
  const count = Math.max(0, last - first + 1);
  const ends = new Int32Array(count);
  for (let i = 0; i < count; i++) ends[i] = first + i;
  return ends;
}
