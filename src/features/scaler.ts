import { z } from 'zod';
import { UserError } from '../util/errors.js';

export const ScalerSpecSchema = z.object({
  /** standard: (x − mean)/std; robust: (x − median)/IQR, then clipped. */
  kind: z.enum(['standard', 'robust']).default('standard'),
  /** Scaled values are clipped to [−clip, clip]; null leaves them unclipped. Default: 5 for robust, none for standard. */
  clip: z.number().positive().nullable().optional(),
});
export type ScalerSpec = z.infer<typeof ScalerSpecSchema>;

/** What scaler.json stores per scaler: enough to transform and invert with no access to the training data. */
export const ScalerStateSchema = z.object({
  kind: z.enum(['standard', 'robust']),
  names: z.array(z.string()),
  center: z.array(z.number()),
  scale: z.array(z.number().positive()),
  clip: z.number().positive().nullable(),
});
export type ScalerState = z.infer<typeof ScalerStateSchema>;

const DEFAULT_ROBUST_CLIP = 5;

/** Linear-interpolated quantile of sorted values (numpy's default method). */
function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * A per-column affine scaler, fit once on the training segment and then applied unchanged everywhere else.
 * A column that is constant in training gets scale 1 (as scikit-learn does), so it can never divide by zero.
 */
export class Scaler {
  private constructor(readonly state: ScalerState) {}

  get names(): readonly string[] {
    return this.state.names;
  }

  /** Fits on rows [from, to) of a row-major matrix whose width is names.length. */
  static fit(spec: ScalerSpec, names: readonly string[], data: ArrayLike<number>, from: number, to: number): Scaler {
    const width = names.length;
    const count = to - from;
    if (count <= 0) throw new UserError('cannot fit a scaler on an empty training segment', 'empty_segment');
    const center = new Array<number>(width);
    const scale = new Array<number>(width);
    const column = new Float64Array(count);
    for (let f = 0; f < width; f++) {
      for (let r = 0; r < count; r++) column[r] = data[(from + r) * width + f];
      let c: number;
      let s: number;
      if (spec.kind === 'standard') {
        let sum = 0;
        for (let r = 0; r < count; r++) sum += column[r];
        c = sum / count;
        let ss = 0;
        for (let r = 0; r < count; r++) ss += (column[r] - c) ** 2;
        s = Math.sqrt(ss / count);
      } else {
        column.sort();
        c = quantileSorted(column, 0.5);
        s = quantileSorted(column, 0.75) - quantileSorted(column, 0.25);
      }
      if (!Number.isFinite(c) || !Number.isFinite(s)) {
        throw new UserError(`scaler statistic of "${names[f]}" is not finite`, 'non_finite_feature', { feature: names[f] });
      }
      center[f] = c;
      scale[f] = s > 0 ? s : 1;
    }
    const clip = spec.clip !== undefined ? spec.clip : spec.kind === 'robust' ? DEFAULT_ROBUST_CLIP : null;
    return new Scaler({ kind: spec.kind, names: [...names], center, scale, clip });
  }

  static fromJSON(json: unknown): Scaler {
    const parsed = ScalerStateSchema.safeParse(json);
    if (!parsed.success) throw new UserError(`invalid scaler: ${parsed.error.message}`, 'bad_scaler');
    const s = parsed.data;
    if (s.center.length !== s.names.length || s.scale.length !== s.names.length) {
      throw new UserError('invalid scaler: names, center and scale differ in length', 'bad_scaler');
    }
    return new Scaler(s);
  }

  toJSON(): ScalerState {
    return this.state;
  }

  /** Scales rows [from, to) of a row-major matrix into `out` (float32), starting at out[outOffset]. */
  transformRows(data: ArrayLike<number>, from: number, to: number, out: Float32Array, outOffset = 0): Float32Array {
    const { center, scale, clip } = this.state;
    const width = center.length;
    const lim = clip ?? Infinity;
    let o = outOffset;
    for (let r = from; r < to; r++) {
      const base = r * width;
      for (let f = 0; f < width; f++) {
        const v = (data[base + f] - center[f]) / scale[f];
        out[o++] = v > lim ? lim : v < -lim ? -lim : v;
      }
    }
    return out;
  }

  /** Undoes the scaling of one row (e.g. a model's scaled prediction); clipping is not undone. */
  inverseRow(scaled: ArrayLike<number>): number[] {
    const { center, scale } = this.state;
    return center.map((c, f) => scaled[f] * scale[f] + c);
  }
}
