// GEMM kernels: C = alpha·op(A)·op(B) + beta·C, row-major, f32, every pointer a byte offset into linear memory.
//
// The design is GotoBLAS/BLIS in miniature: op(B) is packed into 8-column panels, op(A) into 4-row panels, K is
// blocked so a packed A block and one B panel stay in cache, and a 4×8 micro-kernel keeps its 8 f32x4 accumulators
// in registers (8 accumulators + 2 B vectors + 1 broadcast = 11 of the 16 xmm registers V8 has on x64).
// Packing also absorbs every layout (N or T) and the ragged edges (panels are zero-padded), so one micro-kernel
// serves NN, NT and TN.

import { madd } from './_math';

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 64;
const NC: i32 = 1024;

const PACK_A: usize = memory.data(MC * KC * 4, 64);
const PACK_B: usize = memory.data(NC * KC * 4, 64);
const EDGE: usize = memory.data(MR * NR * 4, 64);
const BIAS_EDGE: usize = memory.data(NR * 4, 64);

// The NR bias values of the panel starting at column j (bias = 0: no bias). A full panel reads them in place; the
// ragged last one copies its valid columns into a zero-padded buffer so the micro-kernel never reads past the bias.
// @ts-ignore: decorator
@inline
function biasPanel(bias: usize, j: i32, cols: i32): usize {
  if (bias == 0) return 0;
  if (cols == NR) return bias + (<usize>j << 2);
  for (let c = 0; c < NR; c++) store<f32>(BIAS_EDGE + (<usize>c << 2), c < cols ? load<f32>(bias + (<usize>(j + c) << 2)) : 0);
  return BIAS_EDGE;
}

// Packs op(A)[i0..i0+mc, k0..k0+kc] into panels of MR rows: panel p holds, for each k, MR consecutive floats.
// Element (i, k) of op(A) lives at a + i*ars + k*acs (byte strides). Rows past M are zero.
@inline
function packA(a: usize, ars: usize, acs: usize, i0: i32, mc: i32, k0: i32, kc: i32, M: i32): void {
  let dst = PACK_A;
  const panelBytes = <usize>(kc * MR) << 2;
  for (let p = 0; p < mc; p += MR) {
    if (ars == 4 && p + 4 * MR <= mc && i0 + p + 4 * MR <= M) {
      // op(A) = Aᵀ, four panels at once: each k row yields one 64-byte line (16 contiguous values) that is split
      // over four panels, instead of four separate visits to that line at the row stride (which for the recurrent
      // gradients, 1.5–2 KB, were evicted from L1 between visits)
      let src = a + (<usize>(i0 + p) << 2) + <usize>k0 * acs;
      let out = dst;
      for (let k = 0; k < kc; k++) {
        v128.store(out, v128.load(src));
        v128.store(out + panelBytes, v128.load(src, 16));
        v128.store(out + 2 * panelBytes, v128.load(src, 32));
        v128.store(out + 3 * panelBytes, v128.load(src, 48));
        src += acs;
        out += MR << 2;
      }
      dst += 4 * panelBytes;
      p += 3 * MR;
      continue;
    }
    if (ars == 4 && i0 + p + MR <= M) {
      // op(A) = Aᵀ: the panel's MR values at each k are contiguous, one vector copy per k
      let src = a + (<usize>(i0 + p) << 2) + <usize>k0 * acs;
      let out = dst;
      for (let k = 0; k < kc; k++) {
        v128.store(out, v128.load(src));
        src += acs;
        out += MR << 2;
      }
      dst += <usize>(kc * MR) << 2;
      continue;
    }
    for (let r = 0; r < MR; r++) {
      const i = i0 + p + r;
      let out = dst + <usize>(r << 2);
      if (i < M) {
        let src = a + <usize>i * ars + <usize>k0 * acs;
        for (let k = 0; k < kc; k++) {
          store<f32>(out, load<f32>(src));
          src += acs;
          out += MR << 2;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          store<f32>(out, 0);
          out += MR << 2;
        }
      }
    }
    dst += <usize>(kc * MR) << 2;
  }
}

// Packs op(B)[k0..k0+kc, j0..j0+nc] into panels of NR columns: panel q holds, for each k, NR consecutive floats.
// Element (k, j) of op(B) lives at b + k*brs + j*bcs. Columns past N are zero.
@inline
function packB(b: usize, brs: usize, bcs: usize, k0: i32, kc: i32, j0: i32, nc: i32, N: i32): void {
  let dst = PACK_B;
  for (let q = 0; q < nc; q += NR) {
    const jq = j0 + q;
    if (bcs == 4 && jq + NR <= N) {
      // row-major op(B): each k contributes two contiguous vectors
      let src = b + <usize>k0 * brs + (<usize>jq << 2);
      let out = dst;
      for (let k = 0; k < kc; k++) {
        v128.store(out, v128.load(src));
        v128.store(out, v128.load(src, 16), 16);
        src += brs;
        out += NR << 2;
      }
    } else {
      for (let c = 0; c < NR; c++) {
        const j = jq + c;
        let out = dst + <usize>(c << 2);
        if (j < N) {
          let src = b + <usize>k0 * brs + <usize>j * bcs;
          for (let k = 0; k < kc; k++) {
            store<f32>(out, load<f32>(src));
            src += brs;
            out += NR << 2;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            store<f32>(out, 0);
            out += NR << 2;
          }
        }
      }
    }
    dst += <usize>(kc * NR) << 2;
  }
}

// One MR×NR tile: C[rows, cols] = alpha·(bias + packed A panel · packed B panel) + beta·C, where `bias` points at
// the panel's NR bias values (0: none) and is added to every row. beta == 0 never reads C, so C may hold garbage
// (uninitialised arena memory) on entry. Starting the accumulators at the bias lets a layer skip writing its
// broadcast bias into C (and the GEMM skip reading it back).
@inline
function microKernel(kc: i32, pa: usize, pb: usize, c: usize, ldcBytes: usize, alpha: f32, beta: f32, rows: i32, cols: i32, bias: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  if (bias != 0) {
    c00 = v128.load(bias);
    c01 = v128.load(bias, 16);
  }
  let c10 = c00, c11 = c01;
  let c20 = c00, c21 = c01;
  let c30 = c00, c31 = c01;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  const va = f32x4.splat(alpha);
  if (rows == MR && cols == NR) {
    if (beta == 0) {
      v128.store(c, f32x4.mul(va, c00));
      v128.store(c, f32x4.mul(va, c01), 16);
      c += ldcBytes;
      v128.store(c, f32x4.mul(va, c10));
      v128.store(c, f32x4.mul(va, c11), 16);
      c += ldcBytes;
      v128.store(c, f32x4.mul(va, c20));
      v128.store(c, f32x4.mul(va, c21), 16);
      c += ldcBytes;
      v128.store(c, f32x4.mul(va, c30));
      v128.store(c, f32x4.mul(va, c31), 16);
    } else {
      const vb = f32x4.splat(beta);
      v128.store(c, f32x4.add(f32x4.mul(va, c00), f32x4.mul(vb, v128.load(c))));
      v128.store(c, f32x4.add(f32x4.mul(va, c01), f32x4.mul(vb, v128.load(c, 16))), 16);
      c += ldcBytes;
      v128.store(c, f32x4.add(f32x4.mul(va, c10), f32x4.mul(vb, v128.load(c))));
      v128.store(c, f32x4.add(f32x4.mul(va, c11), f32x4.mul(vb, v128.load(c, 16))), 16);
      c += ldcBytes;
      v128.store(c, f32x4.add(f32x4.mul(va, c20), f32x4.mul(vb, v128.load(c))));
      v128.store(c, f32x4.add(f32x4.mul(va, c21), f32x4.mul(vb, v128.load(c, 16))), 16);
      c += ldcBytes;
      v128.store(c, f32x4.add(f32x4.mul(va, c30), f32x4.mul(vb, v128.load(c))));
      v128.store(c, f32x4.add(f32x4.mul(va, c31), f32x4.mul(vb, v128.load(c, 16))), 16);
    }
    return;
  }
  // ragged edge: spill the tile, then write only the valid part
  v128.store(EDGE, c00, 0);
  v128.store(EDGE, c01, 16);
  v128.store(EDGE, c10, 32);
  v128.store(EDGE, c11, 48);
  v128.store(EDGE, c20, 64);
  v128.store(EDGE, c21, 80);
  v128.store(EDGE, c30, 96);
  v128.store(EDGE, c31, 112);
  for (let r = 0; r < rows; r++) {
    const row = c + <usize>r * ldcBytes;
    const acc = EDGE + <usize>(r * NR * 4);
    for (let j = 0; j < cols; j++) {
      const p = row + (<usize>j << 2);
      const v = alpha * load<f32>(acc + (<usize>j << 2));
      store<f32>(p, beta == 0 ? v : v + beta * load<f32>(p));
    }
  }
}

// K = 0: C = alpha·bias + beta·C
function scaleC(M: i32, N: i32, alpha: f32, beta: f32, c: usize, ldcBytes: usize, bias: usize): void {
  for (let i = 0; i < M; i++) {
    const row = c + <usize>i * ldcBytes;
    for (let j = 0; j < N; j++) {
      const p = row + (<usize>j << 2);
      const b: f32 = bias == 0 ? 0 : alpha * load<f32>(bias + (<usize>j << 2));
      store<f32>(p, beta == 0 ? b : b + beta * load<f32>(p));
    }
  }
}

// The one driver behind every layout: op(A)(i,k) at a + i*ars + k*acs, op(B)(k,j) at b + k*brs + j*bcs;
// bias (0: none) is an [N] vector added to every row of the product.
function gemmStrided(
  M: i32, N: i32, K: i32, alpha: f32,
  a: usize, ars: usize, acs: usize,
  b: usize, brs: usize, bcs: usize,
  beta: f32, c: usize, ldc: i32, bias: usize = 0,
): void {
  if (M <= 0 || N <= 0) return;
  const ldcBytes = <usize>ldc << 2;
  if (K <= 0) {
    scaleC(M, N, alpha, beta, c, ldcBytes, bias);
    return;
  }
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = min(NC, N - j0);
    const ncPad = (nc + NR - 1) & ~(NR - 1);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0);
      const betaK = k0 == 0 ? beta : <f32>1;
      packB(b, brs, bcs, k0, kc, j0, ncPad, N);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = min(MC, M - i0);
        const mcPad = (mc + MR - 1) & ~(MR - 1);
        packA(a, ars, acs, i0, mcPad, k0, kc, M);
        for (let q = 0; q < ncPad; q += NR) {
          const pb = PACK_B + (<usize>(q * kc) << 2);
          const cols = min(NR, nc - q);
          const pbias = k0 == 0 ? biasPanel(bias, j0 + q, cols) : 0;
          for (let p = 0; p < mcPad; p += MR) {
            const rows = min(MR, mc - p);
            const pa = PACK_A + (<usize>(p * kc) << 2);
            const cp = c + <usize>(i0 + p) * ldcBytes + (<usize>(j0 + q) << 2);
            microKernel(kc, pa, pb, cp, ldcBytes, alpha, betaK, rows, cols, pbias);
          }
        }
      }
    }
  }
}

/**
 * C[M,N] = alpha·A[M,K]·B[K,N] + beta·C. Row-major; lda/ldb/ldc are row strides in elements (≥ K, N, N).
 * beta = 0 overwrites C without reading it; beta = 1 accumulates.
 */
export function gemm_nn(M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32): void {
  gemmStrided(M, N, K, alpha, a, <usize>lda << 2, 4, b, <usize>ldb << 2, 4, beta, c, ldc);
}

/** C[M,N] = alpha·A[M,K]·Bᵀ + beta·C with B stored [N,K] (ldb ≥ K): x·Wᵀ for a PyTorch weight W [out,in]. */
export function gemm_nt(M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32): void {
  gemmStrided(M, N, K, alpha, a, <usize>lda << 2, 4, b, 4, <usize>ldb << 2, beta, c, ldc);
}

/** C[M,N] = A[M,K]·Bᵀ + bias, bias [N] added to every row, C overwritten (never read): a Linear x·Wᵀ + b in one pass. */
export function gemm_nt_bias(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, bias: usize, c: usize, ldc: i32): void {
  gemmStrided(M, N, K, 1, a, <usize>lda << 2, 4, b, 4, <usize>ldb << 2, 0, c, ldc, bias);
}

/** C[M,N] = alpha·Aᵀ·B[K,N] + beta·C with A stored [K,M] (lda ≥ M): weight gradients dyᵀ·x summed over rows. */
export function gemm_tn(M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32): void {
  gemmStrided(M, N, K, alpha, a, 4, <usize>lda << 2, b, <usize>ldb << 2, 4, beta, c, ldc);
}

/**
 * `count` independent GEMMs (e.g. one per attention head) whose operands sit at fixed element strides:
 * A_n = a + n·strideA, B_n = b + n·strideB, C_n = c + n·strideC (strides in elements).
 * transA/transB = 0 for stored as op(X), 1 for stored transposed (A [K,M], B [N,K]).
 */
export function gemm_batched(
  transA: i32, transB: i32, count: i32,
  M: i32, N: i32, K: i32, alpha: f32,
  a: usize, lda: i32, strideA: i32,
  b: usize, ldb: i32, strideB: i32,
  beta: f32, c: usize, ldc: i32, strideC: i32,
): void {
  const ars: usize = transA ? 4 : <usize>lda << 2;
  const acs: usize = transA ? <usize>lda << 2 : 4;
  const brs: usize = transB ? 4 : <usize>ldb << 2;
  const bcs: usize = transB ? <usize>ldb << 2 : 4;
  for (let n = 0; n < count; n++) {
    gemmStrided(
      M, N, K, alpha,
      a + (<usize>(n * strideA) << 2), ars, acs,
      b + (<usize>(n * strideB) << 2), brs, bcs,
      beta, c + (<usize>(n * strideC) << 2), ldc,
    );
  }
}

/** Floats a fully packed op(B) [K, N] needs (gemm_pack_b's destination size): K × N rounded up to 8 columns. */
export function gemm_packed_b_size(K: i32, N: i32): i32 {
  return K * ((N + NR - 1) & ~(NR - 1));
}

/**
 * Packs all of op(B) [K, N] once into `dst` (gemm_packed_b_size floats), so a GEMM repeated with the same B (the
 * recurrent weight at every time step) skips the per-call packing. transB = 0: B stored [K, N]; 1: stored [N, K].
 * Layout: 8-column panels one after another, each K rows of 8 floats, zero-padded past N.
 */
export function gemm_pack_b(transB: i32, K: i32, N: i32, b: usize, ldb: i32, dst: usize): void {
  const brs: usize = transB ? 4 : <usize>ldb << 2;
  const bcs: usize = transB ? <usize>ldb << 2 : 4;
  const NP = (N + NR - 1) & ~(NR - 1);
  for (let q = 0; q < NP; q += NR) {
    let out = dst + (<usize>(q * K) << 2);
    for (let c = 0; c < NR; c++) {
      const j = q + c;
      let o = out + (<usize>c << 2);
      if (j < N) {
        let src = b + <usize>j * bcs;
        for (let k = 0; k < K; k++) {
          store<f32>(o, load<f32>(src));
          src += brs;
          o += NR << 2;
        }
      } else {
        for (let k = 0; k < K; k++) {
          store<f32>(o, 0);
          o += NR << 2;
        }
      }
    }
  }
}

/** C[M,N] = alpha·A[M,K]·op(B) + beta·C with op(B) prepacked by gemm_pack_b (same K and N). */
export function gemm_nn_packed(M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, packedB: usize, beta: f32, c: usize, ldc: i32): void {
  gemmPacked(M, N, K, alpha, a, lda, packedB, beta, c, ldc, 0);
}

/** C[M,N] = A[M,K]·op(B) + bias, bias [N] added to every row, C overwritten (never read); op(B) as gemm_nn_packed. */
export function gemm_nn_packed_bias(M: i32, N: i32, K: i32, a: usize, lda: i32, packedB: usize, bias: usize, c: usize, ldc: i32): void {
  gemmPacked(M, N, K, 1, a, lda, packedB, 0, c, ldc, bias);
}

function gemmPacked(M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32, packedB: usize, beta: f32, c: usize, ldc: i32, bias: usize): void {
  if (M <= 0 || N <= 0) return;
  const ldcBytes = <usize>ldc << 2;
  if (K <= 0) {
    scaleC(M, N, alpha, beta, c, ldcBytes, bias);
    return;
  }
  const ars: usize = <usize>lda << 2;
  const NP = (N + NR - 1) & ~(NR - 1);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const betaK = k0 == 0 ? beta : <f32>1;
    for (let i0 = 0; i0 < M; i0 += MC) {
      const mc = min(MC, M - i0);
      const mcPad = (mc + MR - 1) & ~(MR - 1);
      packA(a, ars, 4, i0, mcPad, k0, kc, M);
      for (let q = 0; q < NP; q += NR) {
        const pb = packedB + (<usize>(q * K + k0 * NR) << 2);
        const cols = min(NR, N - q);
        const pbias = k0 == 0 ? biasPanel(bias, q, cols) : 0;
        for (let p = 0; p < mcPad; p += MR) {
          const rows = min(MR, mc - p);
          const pa = PACK_A + (<usize>(p * kc) << 2);
          microKernel(kc, pa, pb, c + <usize>(i0 + p) * ldcBytes + (<usize>q << 2), ldcBytes, alpha, betaK, rows, cols, pbias);
        }
      }
    }
  }
}
