/**
 * The dataset of a universal model (通用模型): one set of windows over many stocks. Every stock keeps its own scaled
 * feature matrix and windows are (stock, end row) pairs into it, so memory grows with stocks × days × features, never
 * with windows × seqLength. All stocks share one date-based split, so no test day of one stock is a training day of
 * another, and both scalers are fit on the pooled training segment only.
 */
import type { IsoDate, KlineSeries } from '../data/types.js';
import { UserError } from '../util/errors.js';
import { WindowViews, parseDatasetConfig, type DatasetConfig, type DatasetConfigInput, type ScalerBundle, type TrainingData } from './dataset.js';
import { assertFiniteRows, computeFeatureFrame, type FeatureFrame } from './frame.js';
import { warmupOf } from './registry.js';
import { Scaler } from './scaler.js';
import { TARGET_KINDS, crossSectionalNorm, targetDefinition, type TargetNorm } from './target-norm.js';
import { SEGMENT_NAMES, windowEndsIn, type RowRange, type SegmentName, type Segments } from './split.js';

/** One stock of a universe as training read it: what resume and eval reload, and what config.json records. */
export interface UniverseMember {
  symbol: string;
  rows: number;
  firstDate: IsoDate;
  lastDate: IsoDate;
}

/** A stock left out of the universe, with the reason (too short, non-finite features, no training window). */
export interface SkippedStock {
  symbol: string;
  reason: string;
}

interface Block {
  symbol: string;
  dates: IsoDate[];
  close: Float64Array;
  /** Scaled features [rows, F]. */
  features: Float32Array;
  segments: Segments;
}

/** The windows of one segment across every stock. Window i is block[i]'s frame rows end[i]−seqLength+1 … end[i]. */
export class UniverseWindows extends WindowViews {
  /** The stock of each window. */
  readonly symbols: string[];
  /** The stock of each window as its index into the dataset's members. */
  readonly stockIndex: Int32Array;

  constructor(
    name: SegmentName,
    private readonly blocks: readonly Block[],
    private readonly blockOf: Int32Array,
    private readonly endOf: Int32Array,
    seqLength: number,
    horizon: number,
    numFeatures: number,
    targetScaler: Scaler,
    targetNorm: TargetNorm,
  ) {
    super(
      name,
      seqLength,
      horizon,
      numFeatures,
      endOf.length,
      (i) => ({ dates: blocks[blockOf[i]].dates, close: blocks[blockOf[i]].close, end: endOf[i] }),
      targetScaler,
      targetNorm === 'none' ? undefined : (returns, endDates) => crossSectionalNorm(returns, endDates, horizon, targetNorm),
    );
    this.symbols = Array.from(blockOf, (b) => blocks[b].symbol);
    this.stockIndex = blockOf;
  }

  window(i: number): Float32Array {
    const width = this.numFeatures;
    const end = this.endOf[i] + 1;
    return this.blocks[this.blockOf[i]].features.subarray((end - this.seqLength) * width, end * width);
  }
}

export interface UniverseDataset extends TrainingData {
  config: DatasetConfig;
  /** Every stock given, with the rows and dates it was read with: what config.json records and resume reloads. */
  universe: UniverseMember[];
  /** The stocks trained on (the universe less the skipped ones), in symbol order. */
  members: string[];
  skipped: SkippedStock[];
  /** The shared split: the first date of the validation and of the test segment (null when that segment is empty). */
  boundaries: { valStart: IsoDate | null; testStart: IsoDate | null };
  train: UniverseWindows;
  val: UniverseWindows;
  test: UniverseWindows;
}

/** The first index of `dates` (sorted) that is ≥ `date` (or > `date` with `after`). */
export function bound(dates: readonly IsoDate[], date: IsoDate, after = false): number {
  let lo = 0;
  let hi = dates.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (dates[mid] < date || (after && dates[mid] === date)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Segment boundaries as dates, shared by every stock: a ratio of the calendar span, or the configured date segments. */
function splitDates(frames: readonly FeatureFrame[], config: DatasetConfig): { valStart: IsoDate | null; testStart: IsoDate | null } {
  const split = config.split;
  if (split.type === 'segments') return { valStart: split.valid[0], testStart: split.test[0] };
  const calendar = [...new Set(frames.flatMap((f) => f.dates))].sort();
  const at = (share: number) => calendar[Math.min(calendar.length - 1, Math.floor(calendar.length * share))];
  return {
    valStart: split.val > 0 ? at(split.train) : null,
    testStart: split.test > 0 ? at(split.train + split.val) : null,
  };
}

function segmentsOf(frame: FeatureFrame, config: DatasetConfig, bounds: { valStart: IsoDate | null; testStart: IsoDate | null }): Segments {
  const split = config.split;
  if (split.type === 'segments') {
    // Qlib-style segments [from, to], both ends inclusive; rows outside every segment belong to none.
    const range = (from: IsoDate, to: IsoDate): RowRange => ({ start: bound(frame.dates, from), end: bound(frame.dates, to, true) });
    return { train: range(split.train[0], split.train[1]), val: range(split.valid[0], split.valid[1]), test: range(split.test[0], split.test[1]) };
  }
  const n = frame.rows;
  const valStart = bounds.valStart === null ? null : bound(frame.dates, bounds.valStart);
  const testStart = bounds.testStart === null ? n : bound(frame.dates, bounds.testStart);
  const trainEnd = valStart ?? testStart;
  return { train: { start: 0, end: trainEnd }, val: { start: trainEnd, end: testStart }, test: { start: testStart, end: n } };
}

/**
 * Builds the universal dataset from many stocks' series. Stocks that are too short, have non-finite features or no
 * training window are skipped with the reason; with none left (or no window at all in a required segment) it throws.
 */
export function buildUniverseDataset(series: Iterable<KlineSeries>, input: DatasetConfigInput = {}): UniverseDataset {
  const config = parseDatasetConfig(input);
  const { seqLength, horizon } = config;
  const warmup = warmupOf(config.features);
  const skipped: SkippedStock[] = [];
  const frames: FeatureFrame[] = [];
  const universe: UniverseMember[] = [];
  for (const s of series) {
    if (s.dates.length > 0) universe.push({ symbol: s.symbol, rows: s.dates.length, firstDate: s.dates[0], lastDate: s.dates[s.dates.length - 1] });
    if (s.dates.length - warmup < seqLength + horizon + 1) {
      skipped.push({ symbol: s.symbol, reason: `${s.dates.length} rows: fewer than ${warmup} warm-up + seqLength ${seqLength} + horizon ${horizon} + 1` });
      continue;
    }
    const frame = computeFeatureFrame(s, config.features);
    try {
      assertFiniteRows(frame);
    } catch (err) {
      skipped.push({ symbol: s.symbol, reason: (err as Error).message });
      continue;
    }
    frames.push(frame);
  }
  if (frames.length === 0)
    throw new UserError(`no stock of the universe can be trained: ${skipped.map((s) => `${s.symbol} (${s.reason})`).join('; ') || 'none given'}`, 'too_short');

  const bounds = splitDates(frames, config);
  const kept: Array<{ frame: FeatureFrame; segments: Segments }> = [];
  for (const frame of frames) {
    const segments = segmentsOf(frame, config, bounds);
    if (windowEndsIn(segments.train, seqLength, horizon).length === 0) {
      skipped.push({
        symbol: frame.symbol,
        reason: `no training window: its history before the shared validation start ${bounds.valStart ?? bounds.testStart} is too short`,
      });
      continue;
    }
    kept.push({ frame, segments });
  }
  if (kept.length === 0) throw new UserError('no stock of the universe has a training window before the shared split', 'too_short');

  // Pooled training rows → the feature scaler; pooled training returns → the target scaler.
  const F = config.features.length;
  const trainRows = kept.reduce((n, k) => n + k.segments.train.end, 0);
  const pooled = new Float64Array(trainRows * F);
  let offset = 0;
  for (const { frame, segments } of kept) {
    pooled.set(frame.values.subarray(0, segments.train.end * F), offset);
    offset += segments.train.end * F;
  }
  const featureNames = [...config.features];
  const featureScaler = Scaler.fit(config.scaler, featureNames, pooled, 0, trainRows);
  const targetNorm = config.targetNorm ?? 'none';
  const trainReturns: number[] = [];
  const trainDates: IsoDate[] = [];
  for (const { frame, segments } of kept) {
    for (const e of windowEndsIn(segments.train, seqLength, horizon)) {
      for (let k = 1; k <= horizon; k++) trainReturns.push(Math.log(frame.close[e + k] / frame.close[e]));
      trainDates.push(frame.dates[e]);
    }
  }
  // With a cross-sectional target the scaler is fit on the normalised training targets, the values it will scale.
  const trainTargets = targetNorm === 'none' ? trainReturns : crossSectionalNorm(Float64Array.from(trainReturns), trainDates, horizon, targetNorm);
  const targetNames = Array.from({ length: horizon }, (_, k) => `log_return_${k + 1}`);
  const targetScaler = Scaler.fit(config.targetScaler, targetNames, trainTargets, 0, trainReturns.length / horizon);

  kept.sort((a, b) => (a.frame.symbol < b.frame.symbol ? -1 : a.frame.symbol > b.frame.symbol ? 1 : 0));
  const blocks: Block[] = kept.map(({ frame, segments }) => ({
    symbol: frame.symbol,
    dates: frame.dates,
    close: frame.close,
    features: featureScaler.transformRows(frame.values, 0, frame.rows, new Float32Array(frame.rows * F)),
    segments,
  }));
  const sets = SEGMENT_NAMES.map((name) => {
    const blockOf: number[] = [];
    const endOf: number[] = [];
    blocks.forEach((b, i) => {
      for (const e of windowEndsIn(b.segments[name], seqLength, horizon)) {
        blockOf.push(i);
        endOf.push(e);
      }
    });
    return new UniverseWindows(name, blocks, Int32Array.from(blockOf), Int32Array.from(endOf), seqLength, horizon, F, targetScaler, targetNorm);
  });
  const required: SegmentName[] =
    config.split.type === 'segments' ? [...SEGMENT_NAMES] : SEGMENT_NAMES.filter((n) => config.split.type === 'ratio' && config.split[n] > 0);
  for (const name of required) {
    const set = sets[SEGMENT_NAMES.indexOf(name)];
    if (set.size === 0)
      throw new UserError(`the universe has no window in its ${name} segment: the stocks' histories are too short for the split`, 'too_short');
  }

  const scalerBundle: ScalerBundle = {
    format: 'klinecast.scaler',
    version: 1,
    featureNames,
    seqLength,
    horizon,
    warmup,
    target: { kind: TARGET_KINDS[targetNorm], definition: targetDefinition(targetNorm) },
    featureScaler: featureScaler.toJSON(),
    targetScaler: targetScaler.toJSON(),
  };
  return {
    symbol: null,
    config,
    featureNames,
    seqLength,
    horizon,
    universe: universe.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0)),
    members: blocks.map((b) => b.symbol),
    skipped,
    boundaries: { valStart: bounds.valStart, testStart: bounds.testStart },
    train: sets[0],
    val: sets[1],
    test: sets[2],
    featureScaler,
    targetScaler,
    scalerBundle,
  };
}
