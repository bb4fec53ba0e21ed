// Dropout masks drawn in wasm from the JS Rng's own generator (xoshiro128**), so a mask costs no JS loop: the caller
// copies the Rng's 4-word state in, the kernel advances it exactly as Rng.nextU32 would, and the caller copies it
// back. Same state in → same mask and same state out as Rng.fillDropoutMask (checked in test/engine/kernels).

// @ts-ignore: decorator
@inline
function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

/**
 * dst[0..n) = 0 with probability p, else 1/(1−p) (inverted dropout), drawing one u32 per element from the
 * xoshiro128** state at `state` (4 × u32, updated in place). p is f64 so the threshold p·2³² matches the JS side.
 */
export function dropout_mask(dst: usize, n: i32, p: f64, state: usize): void {
  let s0 = load<u32>(state), s1 = load<u32>(state, 4), s2 = load<u32>(state, 8), s3 = load<u32>(state, 12);
  const keep = <f32>(1.0 / (1.0 - p));
  const threshold = p * 4294967296.0;
  for (let i = 0; i < n; i++) {
    const result = rotl(s1 * 5, 7) * 9;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    store<f32>(dst + (<usize>i << 2), <f64>result < threshold ? 0 : keep);
  }
  store<u32>(state, s0);
  store<u32>(state, s1, 4);
  store<u32>(state, s2, 8);
  store<u32>(state, s3, 12);
}
