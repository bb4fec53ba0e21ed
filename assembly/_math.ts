// Fast f32x4 exp / tanh / sigmoid, accurate to ~2e-7 relative (checked against float64 Math in test/engine/kernels).
// Scalar callers use the same vector code on a splat, so a tail element gets bit-identical results to a vector lane.

const LOG2E: f32 = 1.4426950408889634;
// ln 2 split in two (Cody–Waite) so n·LN2_HI is exact in f32 and the reduction r = x − n·ln2 loses nothing
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187045e-6;
const EXP_MAX: f32 = 88.0;
const EXP_MIN: f32 = -87.0;
const TANH_SMALL: f32 = 0.55;
const TANH_BIG: f32 = 9.0;

// c + a·b per lane. Built with relaxed SIMD (build/engine-fma.wasm) it is one fused multiply-add, which halves the
// FP instructions of the micro-kernel (its bound without FMA: two ports × mulps+addps = 8 flops/cycle); the baseline
// build (build/engine.wasm) keeps the separate multiply and add. The flag is a compile-time constant, so each binary
// contains only its own branch.
// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** e^x per lane: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial, 2^n built in the exponent bits. */
// @ts-ignore: decorator
@inline
export function vexp(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = madd(r, f32x4.splat(<f32>(1.0 / 5040.0)), f32x4.splat(<f32>(1.0 / 720.0)));
  p = madd(r, p, f32x4.splat(<f32>(1.0 / 120.0)));
  p = madd(r, p, f32x4.splat(<f32>(1.0 / 24.0)));
  p = madd(r, p, f32x4.splat(<f32>(1.0 / 6.0)));
  p = madd(r, p, f32x4.splat(<f32>0.5));
  p = madd(r, p, f32x4.splat(<f32>1.0));
  p = madd(r, p, f32x4.splat(<f32>1.0));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/** 1 / (1 + e^−x) per lane. */
// @ts-ignore: decorator
@inline
export function vsigmoid(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, vexp(f32x4.neg(x))));
}

/**
 * tanh per lane. Near zero 1 − 2/(e^2x + 1) cancels catastrophically, so |x| < 0.55 uses the odd Taylor series
 * to x^15 (truncation < 5e-8 relative there); beyond 9 tanh rounds to ±1 in f32.
 */
// @ts-ignore: decorator
@inline
export function vtanh(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const a = f32x4.abs(x);
  const one = f32x4.splat(1);
  const e = vexp(f32x4.mul(f32x4.splat(2), f32x4.min(a, f32x4.splat(TANH_BIG))));
  const big = v128.or(f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(e, one))), sign);
  const x2 = f32x4.mul(x, x);
  let p = madd(x2, f32x4.splat(<f32>(-929569.0 / 638512875.0)), f32x4.splat(<f32>(21844.0 / 6081075.0)));
  p = madd(x2, p, f32x4.splat(<f32>(-1382.0 / 155925.0)));
  p = madd(x2, p, f32x4.splat(<f32>(62.0 / 2835.0)));
  p = madd(x2, p, f32x4.splat(<f32>(-17.0 / 315.0)));
  p = madd(x2, p, f32x4.splat(<f32>(2.0 / 15.0)));
  p = madd(x2, p, f32x4.splat(<f32>(-1.0 / 3.0)));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(x, x2), p));
  return v128.bitselect(small, big, f32x4.lt(a, f32x4.splat(TANH_SMALL)));
}

// @ts-ignore: decorator
@inline
export function sexp(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline
export function ssigmoid(x: f32): f32 {
  return f32x4.extract_lane(vsigmoid(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline
export function stanh(x: f32): f32 {
  return f32x4.extract_lane(vtanh(f32x4.splat(x)), 0);
}
