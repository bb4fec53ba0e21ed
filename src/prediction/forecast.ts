/**
 * From K-line series to forecasts with a loaded run, no database: the same features and the saved scaler as in
 * training (buildInferenceInput), one evaluation-mode forward pass over the whole batch of windows for the point
 * forecasts, Monte-Carlo dropout per window for the intervals, and forecast dates from the trading calendar.
 */
import { z } from 'zod';
import { adjustSeries, rawPrice, type AdjustMode, type IsoDate, type KlineSeries, type TradingCalendar } from '../data/index.js';
import { DEFAULT_INTERVAL_LEVEL, conformalHalfWidths } from '../evaluation/index.js';
import { buildInferenceInput, isScoreTarget, reconstructPrices, type InferenceInput } from '../features/index.js';
import { UserError } from '../util/errors.js';
import type { CheckpointChoice, RunModel } from '../runs/index.js';
import { forwardDropoutSamples, forwardPoint, stockRowsFor } from './model.js';

export const DEFAULT_SAMPLES = 100;
export const DEFAULT_LEVEL = DEFAULT_INTERVAL_LEVEL;

/**
 * How a forecast's interval is made. `conformal` (the default): split-conformal on the run's validation residuals
 * (model/intervals.json), calibrated, its test coverage measured in eval_results.json. `mc-dropout`: the spread of
 * Monte-Carlo dropout passes, which shows the model's own uncertainty only and is not calibrated. `none`.
 */
export const INTERVAL_METHODS = ['conformal', 'mc-dropout', 'none'] as const;
export type IntervalMethod = (typeof INTERVAL_METHODS)[number];
export const DEFAULT_SEED = 42;
/**
 * |log return| of the last forecast day below which the trend is "flat": 0.1%, one price tick (0.01 CNY) on a
 * 10 CNY stock, so a forecast that moves less than the market can quote is not called a trend.
 */
export const TREND_FLAT_BAND = 0.001;

export const ForecastOptionsSchema = z
  .object({
    /** Trading days to forecast, 1…the run's horizon; default: the whole horizon. */
    days: z.number().int().positive().optional(),
    interval: z.enum(INTERVAL_METHODS).default('conformal'),
    /** Monte-Carlo dropout passes of a `mc-dropout` interval; 0 gives none. */
    samples: z.number().int().min(0).max(10_000).default(DEFAULT_SAMPLES),
    /** Central coverage of the interval, e.g. 0.9 for the 5%–95% quantiles of the samples. */
    level: z.number().gt(0).lt(1).default(DEFAULT_LEVEL),
    seed: z.number().int().min(0).max(0xffffffff).default(DEFAULT_SEED),
  })
  .strict();
export type ForecastOptionsInput = z.input<typeof ForecastOptionsSchema>;
export type ForecastOptions = z.infer<typeof ForecastOptionsSchema>;

export function parseForecastOptions(input: ForecastOptionsInput = {}): ForecastOptions {
  const parsed = ForecastOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new UserError(
      `invalid prediction options: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`,
      'bad_input',
    );
  }
  return parsed.data;
}

export interface ForecastDay {
  /** The trading day forecast (weekends and exchange holidays skipped). */
  date: IsoDate;
  price: number;
  /** Predicted log return from the base close: price = baseClose · exp(return). */
  return: number;
  /** Interval bounds at `level`, null when samples = 0. */
  lower: number | null;
  upper: number | null;
}

export type Trend = 'up' | 'down' | 'flat';

export interface Forecast {
  symbol: string;
  /** The run whose model made the forecast, and which of its weights. */
  run: string;
  checkpoint: CheckpointChoice;
  /** The last bar the forecast starts from (after its close), and that close as stored (raw, unadjusted). */
  baseDate: IsoDate;
  baseClose: number;
  /**
   * How the run's bars were adjusted (data.adjust). Prices, bounds and baseClose are in the raw price of the base day
   * whatever it is: the adjusted forecast × raw base close / adjusted base close.
   */
  adjust: AdjustMode;
  /** The run's trained horizon; `predictions` holds the first `days` of it. */
  horizon: number;
  predictions: ForecastDay[];
  /** The sign of the last forecast day's return, "flat" within ±TREND_FLAT_BAND. */
  trend: Trend;
  /** How the interval was made, null without one; with `level`, every output names both. */
  interval: Exclude<IntervalMethod, 'none'> | null;
  /** null without an interval. */
  level: number | null;
  samples: number;
  seed: number;
  /** Things the caller should know (e.g. a model applied to another symbol than it was trained on). */
  warnings: string[];
}

/** The days asked for, checked against the run's horizon: the network predicts its horizon directly, never recursively. */
export function requestedDays(model: RunModel, days: number | undefined): number {
  const horizon = model.bundle.horizon;
  if (days === undefined) return horizon;
  if (days > horizon) {
    throw new UserError(
      `run ${model.run} predicts ${horizon} trading day${horizon === 1 ? '' : 's'} ahead (its horizon); ${days} days were asked. ` +
        `Train a run with horizon ≥ ${days} to forecast further: klinecast does not feed forecasts back as inputs.`,
      'days_beyond_horizon',
      { days, horizon, run: model.run },
    );
  }
  return days;
}

/** numpy's default (linear) quantile of ascending values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function trendOf(lastReturn: number): Trend {
  return lastReturn > TREND_FLAT_BAND ? 'up' : lastReturn < -TREND_FLAT_BAND ? 'down' : 'flat';
}

/**
 * Log-return bounds per day from the dropout samples: the (1−level)/2 and (1+level)/2 quantiles, widened to
 * include the point forecast when they miss it. The point forecast is what the model predicts (dropout off) and
 * what the chart draws, and dropout's nonlinearity can shift the sample cloud a little away from it; a band that
 * excluded the line it surrounds would read as a contradiction, and widening only ever makes the band more cautious.
 */
function intervalReturns(
  model: RunModel,
  scaledSamples: Float32Array,
  samples: number,
  level: number,
  pointReturns: number[],
  days: number,
): Array<[number, number]> {
  const h = model.bundle.horizon;
  const { center, scale } = model.bundle.targetScaler;
  const column = new Float64Array(samples);
  const bounds: Array<[number, number]> = [];
  for (let k = 0; k < days; k++) {
    for (let s = 0; s < samples; s++) column[s] = scaledSamples[s * h + k] * scale[k] + center[k];
    column.sort();
    const lo = quantileSorted(column, (1 - level) / 2);
    const hi = quantileSorted(column, (1 + level) / 2);
    bounds.push([Math.min(lo, pointReturns[k]), Math.max(hi, pointReturns[k])]);
  }
  return bounds;
}

/**
 * A forecast is a price, a return and an interval: a run trained on cross-sectional targets (dataset.targetNorm zscore
 * or rank) outputs scores that order the stocks of a day, from which none of the three follows, so it is refused here
 * rather than printed as if it were a return.
 */
export function assertReturnModel(model: RunModel): void {
  const kind = model.bundle.target.kind;
  if (!isScoreTarget(kind)) return;
  throw new UserError(
    `run ${model.run} was trained on cross-sectional targets (${kind}): its outputs are scores that rank the stocks of a date, not returns, ` +
      `so no price, return or interval can be forecast from them: rank the market with it instead (klinecast predict --run ${model.run} --symbols all). ` +
      `Its cross-sectional IC, Rank IC and quintile spread are in results/eval_results.json; for price forecasts train with --target-norm none`,
    'scores_only',
    { run: model.run, target: kind },
  );
}

/**
 * The next-day scores of a run on cross-sectional targets for prepared windows: what it ranks the stocks of a day by
 * (the network's step-1 output, inverted by its target scaler into the normalised target's units).
 */
export function scorePrepared(model: RunModel, prepared: PreparedInput[]): number[] {
  if (prepared.length === 0) return [];
  const { horizon } = model.bundle;
  const { scaled } = forwardPrepared(model, prepared);
  return prepared.map((_, i) => model.targetScaler.inverseRow(scaled.subarray(i * horizon, (i + 1) * horizon))[0]);
}

/** One point forward over the prepared windows stacked into one batch; `stocks` are their stock-embedding rows. */
function forwardPrepared(model: RunModel, prepared: PreparedInput[]): { scaled: Float32Array; stocks: Int32Array | undefined } {
  const { seqLength, featureNames } = model.bundle;
  const stride = seqLength * featureNames.length;
  const x = new Float32Array(prepared.length * stride);
  prepared.forEach((p, i) => x.set(p.input.x, i * stride));
  const stocks = stockRowsFor(
    model,
    prepared.map((p) => p.symbol),
  );
  return { scaled: forwardPoint(model, x, prepared.length, stocks), stocks };
}

/** A series prepared for the network: its scaled window and what the forecast needs beside it. */
export interface PreparedInput {
  symbol: string;
  input: InferenceInput;
  /** The base day's close as stored (input.lastClose is the adjusted one) */
  baseClose: number;
  adjust: AdjustMode;
  warnings: string[];
}

/**
 * The window ending at the last bar (≤ asOf) of a series, scaled with the run's saved scaler. A model that knows its
 * run's data.adjust (an engine's InferenceModel) gets raw bars adjusted the same way, from pre_close; bars the engine
 * loaded are adjusted already and pass unchanged.
 */
export function prepareInput(model: RunModel & { adjust?: AdjustMode }, bars: KlineSeries, asOf?: IsoDate, warnings: string[] = []): PreparedInput {
  const series = model.adjust ? adjustSeries(bars, model.adjust) : bars;
  const input = buildInferenceInput(series, model.bundle, asOf);
  let base = series.dates.length - 1;
  while (base > 0 && series.dates[base] !== input.lastDate) base--;
  return { symbol: series.symbol, input, baseClose: rawPrice(series, input.lastClose, base), adjust: series.adjustment?.mode ?? 'none', warnings };
}

/**
 * Forecasts for prepared windows: one forward pass over all of them for the point forecasts (chunked only to bound
 * engine memory), then `samples` dropout passes per window for the intervals, reseeded per window so that a
 * window's forecast is the same alone or in any batch.
 */
export function forecastPrepared(model: RunModel, prepared: PreparedInput[], calendar: TradingCalendar, options: ForecastOptions): Forecast[] {
  if (prepared.length === 0) return [];
  assertReturnModel(model);
  const days = requestedDays(model, options.days);
  const { horizon } = model.bundle;
  const { scaled, stocks } = forwardPrepared(model, prepared);
  // A run saved without a calibration (before conformal intervals, or without a validation segment) falls back to MC dropout.
  const method: Exclude<IntervalMethod, 'none'> | null =
    options.interval === 'none' ? null : options.interval === 'conformal' && model.intervals ? 'conformal' : options.samples > 0 ? 'mc-dropout' : null;
  const fallback =
    options.interval === 'conformal' && !model.intervals
      ? `run ${model.run} has no conformal calibration (model/intervals.json): ${method ? 'the band is MC dropout, which is not calibrated' : 'no interval'}`
      : null;
  const halfWidths = method === 'conformal' && model.intervals ? conformalHalfWidths(model.intervals, options.level) : [];
  return prepared.map((p, i) => {
    const { lastDate } = p.input;
    // Returns are the same on any price basis, so the raw base close turns them into prices a holder sees on the base day.
    const lastClose = p.baseClose;
    const { returns } = reconstructPrices(scaled.subarray(i * horizon, (i + 1) * horizon), lastClose, model.targetScaler);
    const pointReturns = returns.slice(0, days);
    const bounds =
      method === 'conformal'
        ? pointReturns.map((r, k): [number, number] => [r - halfWidths[k], r + halfWidths[k]])
        : method === 'mc-dropout'
          ? intervalReturns(
              model,
              forwardDropoutSamples(model, p.input.x, options.samples, options.seed, stocks?.[i]),
              options.samples,
              options.level,
              pointReturns,
              days,
            )
          : null;
    const dates = calendar.next(lastDate, days);
    const predictions: ForecastDay[] = pointReturns.map((r, k) => ({
      date: dates[k],
      price: lastClose * Math.exp(r),
      return: r,
      lower: bounds ? lastClose * Math.exp(bounds[k][0]) : null,
      upper: bounds ? lastClose * Math.exp(bounds[k][1]) : null,
    }));
    return {
      symbol: p.symbol,
      run: model.run,
      checkpoint: model.checkpoint,
      baseDate: lastDate,
      baseClose: lastClose,
      adjust: p.adjust,
      horizon,
      predictions,
      trend: trendOf(pointReturns[days - 1]),
      interval: method,
      level: bounds ? options.level : null,
      samples: options.samples,
      seed: options.seed,
      warnings: fallback ? [...p.warnings, fallback] : p.warnings,
    };
  });
}

/** Forecasts straight from series in memory (what the engine does after loading them; also the benchmark's path). */
export function forecastSeries(
  model: RunModel & { adjust?: AdjustMode },
  series: KlineSeries[],
  calendar: TradingCalendar,
  options: ForecastOptionsInput = {},
  asOf?: IsoDate,
): Forecast[] {
  const parsed = parseForecastOptions(options);
  return forecastPrepared(
    model,
    series.map((s) => prepareInput(model, s, asOf)),
    calendar,
    parsed,
  );
}
