/**
 * The seed's build_complete_dataset: one symbol's series + a DatasetConfig → scaled windows and targets for
 * train / val / test, the feature and target scalers fit on the training segment only, and everything needed to
 * turn a prediction back into a price.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { sliceSeries } from '../data/series.js';
import type { IsoDate, KlineSeries } from '../data/types.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { assertFiniteRows, computeFeatureFrame, type FeatureFrame } from './frame.js';
import { DEFAULT_FEATURES, FEATURES, warmupOf } from './registry.js';
import { TARGET_KINDS, TargetNormSchema } from './target-norm.js';
import { Scaler, ScalerSpecSchema, ScalerStateSchema } from './scaler.js';
import { dateSegments, ratioSegments, SEGMENT_NAMES, SplitSchema, windowEndsIn, type RowRange, type SegmentName, type Segments } from './split.js';

export const DatasetConfigSchema = z.object({
  /** Rows of history in one input window. */
  seqLength: z.number().int().positive().default(60),
  /** Days predicted directly: targets are the log returns from the window's last close to days t+1 … t+horizon. */
  horizon: z.number().int().positive().default(1),
  features: z
    .array(z.string())
    .min(1)
    .default(() => [...DEFAULT_FEATURES])
    .superRefine((names, ctx) => {
      const unknown = names.filter((n) => !FEATURES.has(n));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown features: ${unknown.join(', ')}; known: ${[...FEATURES.keys()].join(', ')}` });
      if (new Set(names).size !== names.length) ctx.addIssue({ code: 'custom', message: 'features are listed more than once' });
    }),
  split: SplitSchema.default({ type: 'ratio', train: 0.7, val: 0.15, test: 0.15 }),
  scaler: ScalerSpecSchema.default({ kind: 'standard' }),
  targetScaler: ScalerSpecSchema.default({ kind: 'standard' }),
  /**
   * Universal runs: the target per date across the stocks, none (the log return) | zscore | rank (Qlib's
   * CSZScoreNorm / CSRankNorm; the outputs are then scores, not returns). Optional, not defaulted, so a config
   * without it is unchanged; absent = none.
   */
  targetNorm: TargetNormSchema.optional(),
});
export type DatasetConfig = z.infer<typeof DatasetConfigSchema>;
export type DatasetConfigInput = z.input<typeof DatasetConfigSchema>;

/** Validates a dataset config (the edge); every builder below trusts the result. */
export function parseDatasetConfig(input: DatasetConfigInput = {}): DatasetConfig {
  const parsed = DatasetConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new UserError(`invalid dataset config: ${issues}`, 'bad_config');
  }
  return parsed.data;
}

/**
 * What a training loop and an evaluation need of one segment's windows, whether they come from one stock (WindowSet)
 * or from many (UniverseWindows): sizes, scaled targets, the unscaled returns and closes to score against, and batches.
 */
export interface Windows {
  readonly name: SegmentName;
  readonly size: number;
  readonly seqLength: number;
  readonly numFeatures: number;
  readonly horizon: number;
  /** Scaled targets [size, horizon], row-major. */
  readonly y: Float32Array;
  /** Unscaled targets: log(close[t+k] / close[t]), [size, horizon]. */
  readonly returns: Float64Array;
  /** Close (adjusted when the series is, data.adjust) on each window's last day: predicted price = lastClose · exp(return). */
  readonly lastClose: Float64Array;
  readonly endDates: IsoDate[];
  /** [size, horizon], row-major: the trading dates the targets refer to. */
  readonly targetDates: IsoDate[];
  /** The stock of each window, for sets over many stocks; undefined when every window is of one stock. */
  readonly symbols?: readonly string[];
  /** For sets over many stocks: each window's stock as its index into the dataset's `members` (sorted symbols). */
  readonly stockIndex?: Int32Array;
  /** Copies the given windows into one [indices.length, seqLength, F] batch (into `out` when given). */
  gatherX(indices: ArrayLike<number>, out?: Float32Array): Float32Array;
  /** Targets of the given windows as one [indices.length, horizon] batch. */
  gatherY(indices: ArrayLike<number>, out?: Float32Array): Float32Array;
}

/** What the Trainer trains on: the three segments' windows and what inverts a prediction. */
export interface TrainingData {
  /** The stock of a single-stock dataset; null for a universe. */
  symbol: string | null;
  /** A universe's stocks trained on, in symbol order (what `stockIndex` indexes); absent for one stock. */
  members?: readonly string[];
  featureNames: string[];
  seqLength: number;
  horizon: number;
  train: Windows;
  val: Windows;
  test: Windows;
  featureScaler: Scaler;
  targetScaler: Scaler;
  /** The content of model/scaler.json. */
  scalerBundle: ScalerBundle;
}

/**
 * The windows of one segment. Window i's input is frame rows windowEnds[i]−seqLength+1 … windowEnds[i], which is a
 * contiguous slice of the scaled feature matrix, so `window(i)` is a zero-copy view and a batch is one gather.
 */
/** Where window i ends: the frame (dates and raw closes) of its stock, and the row of its last day. */
export interface WindowEnd {
  dates: readonly IsoDate[];
  close: Float64Array;
  end: number;
}

/**
 * Windows as zero-copy views into scaled feature matrices: the targets, closes and dates of each window are computed
 * once here; a subclass says where window i's rows are (`window`).
 */
export abstract class WindowViews implements Windows {
  readonly size: number;
  readonly y: Float32Array;
  readonly returns: Float64Array;
  readonly lastClose: Float64Array;
  readonly endDates: IsoDate[];
  readonly targetDates: IsoDate[];

  protected constructor(
    readonly name: SegmentName,
    readonly seqLength: number,
    readonly horizon: number,
    readonly numFeatures: number,
    count: number,
    endOf: (i: number) => WindowEnd,
    targetScaler: Scaler,
    /** The training target of the windows from their returns [count, horizon] (default: the returns themselves). */
    targetsOf?: (returns: Float64Array, endDates: readonly IsoDate[]) => Float64Array,
  ) {
    this.size = count;
    this.returns = new Float64Array(count * horizon);
    this.lastClose = new Float64Array(count);
    this.endDates = new Array<IsoDate>(count);
    this.targetDates = new Array<IsoDate>(count * horizon);
    for (let i = 0; i < count; i++) {
      const { dates, close, end } = endOf(i);
      const c = close[end];
      this.lastClose[i] = c;
      this.endDates[i] = dates[end];
      for (let k = 1; k <= horizon; k++) {
        this.returns[i * horizon + k - 1] = Math.log(close[end + k] / c);
        this.targetDates[i * horizon + k - 1] = dates[end + k];
      }
    }
    const targets = targetsOf ? targetsOf(this.returns, this.endDates) : this.returns;
    this.y = targetScaler.transformRows(targets, 0, count, new Float32Array(count * horizon));
  }

  /** Window i as a [seqLength, F] view into its scaled matrix (no copy). */
  abstract window(i: number): Float32Array;

  /** Copies the given windows into one [indices.length, seqLength, F] batch (into `out` when given). */
  gatherX(indices: ArrayLike<number>, out?: Float32Array): Float32Array {
    const stride = this.seqLength * this.numFeatures;
    const x = out ?? new Float32Array(indices.length * stride);
    for (let b = 0; b < indices.length; b++) x.set(this.window(indices[b]), b * stride);
    return x;
  }

  /** Targets of the given windows as one [indices.length, horizon] batch. */
  gatherY(indices: ArrayLike<number>, out?: Float32Array): Float32Array {
    const h = this.horizon;
    const y = out ?? new Float32Array(indices.length * h);
    for (let b = 0; b < indices.length; b++) y.set(this.y.subarray(indices[b] * h, (indices[b] + 1) * h), b * h);
    return y;
  }
}

export class WindowSet extends WindowViews {
  private materialized: Float32Array | null = null;

  constructor(
    name: SegmentName,
    /** Frame rows whose targets belong to this segment. */
    readonly rows: RowRange,
    readonly windowEnds: Int32Array,
    seqLength: number,
    horizon: number,
    private readonly features: Float32Array,
    frame: { dates: IsoDate[]; close: Float64Array; featureNames: string[] },
    targetScaler: Scaler,
  ) {
    super(
      name,
      seqLength,
      horizon,
      frame.featureNames.length,
      windowEnds.length,
      (i) => ({ dates: frame.dates, close: frame.close, end: windowEnds[i] }),
      targetScaler,
    );
  }

  /** Window i as a [seqLength, F] view into the shared scaled matrix (no copy). */
  window(i: number): Float32Array {
    const width = this.numFeatures;
    const end = this.windowEnds[i] + 1;
    return this.features.subarray((end - this.seqLength) * width, end * width);
  }

  /** All windows as [size, seqLength, F] (batch-first, row-major), built on first access and kept. */
  get X(): Float32Array {
    if (!this.materialized) {
      const all = new Int32Array(this.size);
      for (let i = 0; i < this.size; i++) all[i] = i;
      this.materialized = this.gatherX(all);
    }
    return this.materialized;
  }
}

export const TARGET_KIND = 'log_return' as const;

/** model/scaler.json: what inference needs to build a scaled input window and to invert a scaled prediction. */
export const ScalerBundleSchema = z.object({
  format: z.literal('klinecast.scaler'),
  version: z.literal(1),
  featureNames: z.array(z.string()).min(1),
  seqLength: z.number().int().positive(),
  horizon: z.number().int().positive(),
  /** Rows the features need before the first usable row. */
  warmup: z.number().int().min(0),
  target: z.object({
    /** log_return, or a cross-sectional score (cs_zscore_log_return, cs_rank_log_return) from which no price follows. */
    kind: z.enum([TARGET_KINDS.none, TARGET_KINDS.zscore, TARGET_KINDS.rank]),
    /** Human-readable: how the target was defined and how to invert it. */
    definition: z.string(),
  }),
  featureScaler: ScalerStateSchema,
  targetScaler: ScalerStateSchema,
});
export type ScalerBundle = z.infer<typeof ScalerBundleSchema>;

export interface Dataset extends TrainingData {
  symbol: string;
  config: DatasetConfig;
  featureNames: string[];
  seqLength: number;
  horizon: number;
  warmupDropped: number;
  /** Trading dates of the frame rows (after the warm-up). */
  dates: IsoDate[];
  /** Raw close per frame row. */
  close: Float64Array;
  /** Scaled features [rows, F], shared by the three segments' windows. */
  features: Float32Array;
  segments: Segments;
  train: WindowSet;
  val: WindowSet;
  test: WindowSet;
  featureScaler: Scaler;
  targetScaler: Scaler;
  /** The content of model/scaler.json. */
  scalerBundle: ScalerBundle;
}

/** The parts a dataset is rebuilt from (also what the disk cache stores). */
export interface DatasetParts {
  symbol: string;
  config: DatasetConfig;
  warmupDropped: number;
  dates: IsoDate[];
  close: Float64Array;
  features: Float32Array;
  segments: Segments;
  featureScaler: Scaler;
  targetScaler: Scaler;
}

function targetNames(horizon: number): string[] {
  return Array.from({ length: horizon }, (_, k) => `log_return_${k + 1}`);
}

/** Builds the window sets from already-scaled parts; deterministic, so a cached dataset equals a fresh one. */
export function assembleDataset(parts: DatasetParts): Dataset {
  const { config, segments, features, featureScaler, targetScaler } = parts;
  const frame = { dates: parts.dates, close: parts.close, featureNames: [...featureScaler.names] };
  const sets = SEGMENT_NAMES.map(
    (name) =>
      new WindowSet(
        name,
        segments[name],
        windowEndsIn(segments[name], config.seqLength, config.horizon),
        config.seqLength,
        config.horizon,
        features,
        frame,
        targetScaler,
      ),
  );
  return {
    symbol: parts.symbol,
    config,
    featureNames: frame.featureNames,
    seqLength: config.seqLength,
    horizon: config.horizon,
    warmupDropped: parts.warmupDropped,
    dates: parts.dates,
    close: parts.close,
    features,
    segments,
    train: sets[0],
    val: sets[1],
    test: sets[2],
    featureScaler,
    targetScaler,
    scalerBundle: {
      format: 'klinecast.scaler',
      version: 1,
      featureNames: frame.featureNames,
      seqLength: config.seqLength,
      horizon: config.horizon,
      warmup: warmupOf(frame.featureNames),
      target: {
        kind: TARGET_KIND,
        definition: 'y_k = (log(close[t+k] / close[t]) - center_k) / scale_k, k = 1..horizon; price_k = close[t] * exp(y_k * scale_k + center_k)',
      },
      featureScaler: featureScaler.toJSON(),
      targetScaler: targetScaler.toJSON(),
    },
  };
}

function windowCount(range: RowRange, seqLength: number, horizon: number): number {
  return Math.max(0, range.end - 1 - horizon - Math.max(range.start - 1, seqLength - 1) + 1);
}

/** Fits both scalers on the training segment only and assembles the dataset. */
function datasetFromFrame(frame: FeatureFrame, segments: Segments, config: DatasetConfig, required: readonly SegmentName[]): Dataset {
  const { seqLength, horizon } = config;
  for (const name of required) {
    const range = segments[name];
    if (windowCount(range, seqLength, horizon) === 0) {
      const span = range.end > range.start ? `${frame.dates[range.start]}..${frame.dates[range.end - 1]} (${range.end - range.start} rows)` : 'no rows';
      throw new UserError(
        `${frame.symbol}: the ${name} segment has no windows: it covers ${span}, and a window needs ${seqLength} rows of history ` +
          `and ${horizon} target row(s) inside its segment`,
        'too_short',
        { symbol: frame.symbol, segment: name },
      );
    }
  }
  const { train } = segments;
  const featureScaler = Scaler.fit(config.scaler, frame.featureNames, frame.values, train.start, train.end);
  const features = featureScaler.transformRows(frame.values, 0, frame.rows, new Float32Array(frame.rows * frame.featureNames.length));
  const trainEnds = windowEndsIn(train, seqLength, horizon);
  const trainReturns = new Float64Array(trainEnds.length * horizon);
  trainEnds.forEach((e, i) => {
    for (let k = 1; k <= horizon; k++) trainReturns[i * horizon + k - 1] = Math.log(frame.close[e + k] / frame.close[e]);
  });
  const targetScaler = Scaler.fit(config.targetScaler, targetNames(horizon), trainReturns, 0, trainEnds.length);
  return assembleDataset({
    symbol: frame.symbol,
    config,
    warmupDropped: frame.warmupDropped,
    dates: frame.dates,
    close: frame.close,
    features,
    segments,
    featureScaler,
    targetScaler,
  });
}

/** Smallest frame length (rows after warm-up) for which a ratio split gives every non-empty segment a window. */
function minimumRatioRows(config: DatasetConfig, split: { train: number; val: number; test: number }): number {
  const { seqLength, horizon } = config;
  for (let rows = seqLength + horizon; ; rows++) {
    const s = ratioSegments(rows, split);
    const ok =
      windowCount(s.train, seqLength, horizon) > 0 &&
      (split.val === 0 || windowCount(s.val, seqLength, horizon) > 0) &&
      (split.test === 0 || windowCount(s.test, seqLength, horizon) > 0);
    if (ok) return rows;
  }
}

function frameFor(series: KlineSeries, config: DatasetConfig, minimumRows: number, what: string): FeatureFrame {
  if ((config.targetNorm ?? 'none') !== 'none') {
    throw new UserError(
      `dataset.targetNorm ${config.targetNorm} normalises the target across the stocks of each date: it needs a universal dataset, not ${series.symbol} alone`,
      'bad_config',
    );
  }
  const warmup = warmupOf(config.features);
  const available = series.close.length;
  if (available - warmup < minimumRows) {
    throw new UserError(
      `${series.symbol} has ${available} rows, but ${what} needs at least ${warmup + minimumRows} ` +
        `(${warmup} warm-up rows for the features + ${minimumRows} rows for seqLength ${config.seqLength}, horizon ${config.horizon} and the split)`,
      'too_short',
      { symbol: series.symbol, rows: available, required: warmup + minimumRows },
    );
  }
  const frame = computeFeatureFrame(series, config.features);
  assertFiniteRows(frame);
  return frame;
}

/** One call for the whole dataset: features, warm-up drop, split, train-fit scalers, windows and targets. */
export function buildDataset(series: KlineSeries, input: DatasetConfigInput = {}): Dataset {
  const config = parseDatasetConfig(input);
  const split = config.split;
  const minimum = split.type === 'ratio' ? minimumRatioRows(config, split) : config.seqLength + config.horizon;
  const frame = frameFor(series, config, minimum, 'this dataset');
  if (split.type === 'ratio') {
    const required = SEGMENT_NAMES.filter((name) => split[name] > 0);
    return datasetFromFrame(frame, ratioSegments(frame.rows, split), config, required);
  }
  return datasetFromFrame(frame, dateSegments(frame.dates, split), config, SEGMENT_NAMES);
}

// --- inference -----------------------------------------------------------------------------------------------------

export function parseScalerBundle(json: unknown): ScalerBundle {
  const parsed = ScalerBundleSchema.safeParse(json);
  if (!parsed.success) throw new UserError(`invalid scaler.json: ${parsed.error.message}`, 'bad_scaler');
  return parsed.data;
}

export function saveScalerBundle(path: string, bundle: ScalerBundle): void {
  writeJsonAtomic(path, bundle);
}

export function loadScalerBundle(path: string): ScalerBundle {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`, 'not_found');
  }
  return parseScalerBundle(JSON.parse(text));
}

export interface InferenceInput {
  /** [1, seqLength, F], scaled with the saved feature scaler. */
  x: Float32Array;
  lastClose: number;
  lastDate: IsoDate;
  /** Dates of the window's rows. */
  dates: IsoDate[];
}

/**
 * The last seqLength rows up to `asOf` (inclusive; default: the last bar), scaled with the saved scaler, exactly as
 * the dataset window ending that day. Recursive indicators (EMA, MACD, RSI, KDJ) depend slightly on where the
 * series starts, so load the same history start as training, or at least a few hundred rows.
 */
export function buildInferenceInput(series: KlineSeries, bundle: ScalerBundle, asOf?: IsoDate): InferenceInput {
  let count = series.dates.length;
  if (asOf !== undefined) while (count > 0 && series.dates[count - 1] > asOf) count--;
  const needed = bundle.warmup + bundle.seqLength;
  if (count < needed) {
    throw new UserError(
      `${series.symbol} has ${count} rows${asOf ? ` up to ${asOf}` : ''}, but a prediction needs at least ${needed} ` +
        `(${bundle.warmup} warm-up + seqLength ${bundle.seqLength})`,
      'too_short',
      { symbol: series.symbol, rows: count, required: needed },
    );
  }
  const frame = computeFeatureFrame(sliceSeries(series, 0, count), bundle.featureNames);
  const from = frame.rows - bundle.seqLength;
  assertFiniteRows(frame, from, frame.rows);
  const scaler = Scaler.fromJSON(bundle.featureScaler);
  const x = scaler.transformRows(frame.values, from, frame.rows, new Float32Array(bundle.seqLength * bundle.featureNames.length));
  return { x, lastClose: frame.close[frame.rows - 1], lastDate: frame.dates[frame.rows - 1], dates: frame.dates.slice(from) };
}

/** Turns one scaled prediction [horizon] into log returns and prices: price_k = lastClose · exp(return_k). */
export function reconstructPrices(scaledPrediction: ArrayLike<number>, lastClose: number, targetScaler: Scaler): { returns: number[]; prices: number[] } {
  const returns = targetScaler.inverseRow(scaledPrediction);
  return { returns, prices: returns.map((r) => lastClose * Math.exp(r)) };
}
