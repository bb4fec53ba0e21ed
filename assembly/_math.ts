// Fast f32x4 exp / tanh / sigmoid, accurate to ~2e-7 relative (checked against float64 Math in test/engine/kernels).
// Scalar callers use the same vector code on a splat, so a tail element gets bit-identical results to a vector lane.

const LOG2E: f32 = 1.4426950408889634;
// ln 2 split in two (Cody–Waite) so n·LN2_HI is exact in f32 and the reduction r = x − n·ln2 loses nothing
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187045e-6;
const EXP_MAX: f32 = 88.0;
const EXP_MIN: f32 = -87.0;
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

// 1.5·2^23: adding it to |t| < 2^22 rounds t to the nearest integer (ties to even, like f32x4.nearest), and the sum's
// low mantissa bits are that integer. Cheaper than nearest + trunc_sat (which V8 expands into a NaN/overflow-safe
// sequence), and because the constant's low 9 bits are zero, (bits(t + ROUND) + 127) << 23 is exactly 2^n.
const ROUND: f32 = 12582912.0;

// Clamp to [lo, hi] with pmin/pmax: one minps/maxps each, where f32x4.min/max must propagate NaN and ±0 exactly and
// cost V8 several instructions. Only a NaN input behaves differently, and no kernel feeds one.
// @ts-ignore: decorator
@inline
function clamp(x: v128, lo: f32, hi: f32): v128 {
  return f32x4.pmin(f32x4.pmax(x, f32x4.splat(lo)), f32x4.splat(hi));
}

// Range reduction shared by exp and expm1, for x already clamped to [EXP_MIN, EXP_MAX]: x = n·ln2 + r with
// |r| ≤ ln2/2. expRound(x) returns t = x·log2(e) + ROUND, which carries n both as a float (t − ROUND) and in its
// low mantissa bits (expScale(t) = 2^n); expRemainder(x, t) returns r.
// @ts-ignore: decorator
@inline
function expRound(x: v128): v128 {
  return madd(x, f32x4.splat(LOG2E), f32x4.splat(ROUND));
}

// @ts-ignore: decorator
@inline
function expScale(t: v128): v128 {
  return i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23);
}

// @ts-ignore: decorator
@inline
function expRemainder(x: v128, t: v128): v128 {
  const n = f32x4.sub(t, f32x4.splat(ROUND));
  // Cody–Waite: n·LN2_HI is exact, so only the tiny n·LN2_LO term rounds
  return madd(n, f32x4.splat(-LN2_LO), madd(n, f32x4.splat(-LN2_HI), x));
}

/** (e^r − 1) / r = 1 + r/2 + r²/6 + … + r⁶/5040 by Horner, for |r| ≤ ln2/2: shared by exp and tanh. */
// @ts-ignore: decorator
@inline
function expm1OverR(r: v128): v128 {
  let p = madd(r, f32x4.splat(<f32>(1.0 / 5040.0)), f32x4.splat(<f32>(1.0 / 720.0)));
  p = madd(r, p, f32x4.splat(<f32>(1.0 / 120.0)));
  p = madd(r, p, f32x4.splat(<f32>(1.0 / 24.0)));
  p = madd(r, p, f32x4.splat(<f32>(1.0 / 6.0)));
  p = madd(r, p, f32x4.splat(<f32>0.5));
  return madd(r, p, f32x4.splat(<f32>1.0));
}

/** e^x per lane: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial, 2^n built in the exponent bits. */
// @ts-ignore: decorator
@inline
export function vexp(x: v128): v128 {
  x = clamp(x, EXP_MIN, EXP_MAX);
  const t = expRound(x);
  const r = expRemainder(x, t);
  const p = madd(r, expm1OverR(r), f32x4.splat(<f32>1.0));
  return f32x4.mul(p, expScale(t));
}

/** 1 / (1 + e^−x) per lane. */
// @ts-ignore: decorator
@inline
export function vsigmoid(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, vexp(f32x4.neg(x))));
}

/**
 * tanh per lane as tanh|x| = m / (m + 2) with m = e^{2|x|} − 1, sign restored afterwards. e^y − 1 is computed as
 * 2^n·(e^r − 1) + (2^n − 1) with e^r − 1 = r·(1 + r/2 + … + r^6/5040), which stays accurate as y → 0, so one formula
 * covers the whole range (1 − 2/(e^{2x} + 1) would cancel catastrophically near 0). Beyond |x| = 9 tanh rounds to
 * ±1 in f32.
 */
// @ts-ignore: decorator
@inline
export function vtanh(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const y = f32x4.mul(f32x4.splat(2), f32x4.pmin(f32x4.abs(x), f32x4.splat(TANH_BIG)));
  const t = expRound(y);
  const r = expRemainder(y, t);
  const q = f32x4.mul(r, expm1OverR(r));
  const s = expScale(t);
  const m = madd(s, q, f32x4.sub(s, f32x4.splat(1)));
  return v128.or(f32x4.div(m, f32x4.add(m, f32x4.splat(2))), sign);
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
