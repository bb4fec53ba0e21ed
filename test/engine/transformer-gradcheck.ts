/**
 * Shared checks for the Transformer kernel and layer tests: seeded test data, a float64 reference for comparisons,
 * and central finite differences of a scalar loss computed by the float32 kernels themselves.
 */
import assert from 'node:assert/strict';

/** Deterministic uniform values in [-scale, scale) (mulberry32), independent of the engine's RNG. */
export function seededValues(count: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** |actual - expected| <= atol + rtol * |expected| element-wise, reporting the worst element. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i]! - expected[i]!) - (atol + rtol * Math.abs(expected[i]!));
    if (!(excess <= worstExcess)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    assert.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/**
 * Checks analytic gradients against central differences of loss() for `indices` of an input.
 * `input()` must return a fresh view of the tensor to perturb (engine memory may move); loss() reruns the forward.
 */
export function checkFiniteDifferences(opts: {
  what: string;
  input: () => Float32Array;
  analytic: ArrayLike<number>;
  loss: () => number;
  indices?: number[];
  h?: number;
  tol?: number;
}): void {
  const h = opts.h ?? 1e-2;
  const tol = opts.tol ?? 2e-2;
  const n = opts.input().length;
  const indices = opts.indices ?? Array.from({ length: n }, (_, i) => i);
  const numeric: number[] = [];
  const analytic: number[] = [];
  let scale = 0;
  for (const i of indices) scale = Math.max(scale, Math.abs(opts.analytic[i]!));
  for (const i of indices) {
    const x0 = opts.input()[i]!;
    opts.input()[i] = x0 + h;
    const up = opts.loss();
    opts.input()[i] = x0 - h;
    const down = opts.loss();
    opts.input()[i] = x0;
    numeric.push((up - down) / (2 * h));
    analytic.push(opts.analytic[i]!);
  }
  // float32 forward passes: compare against the gradient's overall scale, not element by element near zero
  assertClose(analytic, numeric, tol, tol * Math.max(scale, 1e-3), `${opts.what} finite differences`);
}
