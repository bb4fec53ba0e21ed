import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/engine/runtime.js';
import { Rng } from '../../src/engine/rng.js';

// GEMM against a float64 triple loop, over shapes that hit every ragged edge of the 4×8 tiles and the K/M/N blocking.
const engine = Engine.create();
const rng = new Rng(7);

function random(count: number): number {
  const ptr = engine.alloc(count);
  const view = engine.f32(ptr, count);
  for (let i = 0; i < count; i++) view[i] = rng.uniform(-1, 1);
  return ptr;
}

type Layout = 'nn' | 'nt' | 'tn';
/** op(A)(i,k) and op(B)(k,j) for stored matrices with leading dimensions lda/ldb. */
function reference(layout: Layout, M: number, N: number, K: number, A: Float32Array, lda: number, B: Float32Array, ldb: number) {
  const a = (i: number, k: number) => (layout === 'tn' ? A[k * lda + i] : A[i * lda + k]);
  const b = (k: number, j: number) => (layout === 'nt' ? B[j * ldb + k] : B[k * ldb + j]);
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a(i, k) * b(k, j);
      C[i * N + j] = s;
    }
  return C;
}

const shapes: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 2],
  [4, 8, 16],
  [7, 13, 9],
  [33, 17, 300],
  [70, 9, 513],
  [5, 1030, 3],
];

for (const layout of ['nn', 'nt', 'tn'] as const) {
  test(`gemm_${layout} matches a float64 reference with alpha, beta and padded leading dimensions`, () => {
    for (const [M, N, K] of shapes) {
      engine.resetArena();
      const pad = 3;
      const aRows = layout === 'tn' ? K : M,
        aCols = (layout === 'tn' ? M : K) + pad;
      const bRows = layout === 'nt' ? N : K,
        bCols = (layout === 'nt' ? K : N) + pad;
      const a = random(aRows * aCols),
        b = random(bRows * bCols);
      const ldc = N + 2;
      const c = random(M * ldc);
      const c0 = Float32Array.from(engine.f32(c, M * ldc));
      const alpha = 0.75,
        beta = -0.5;
      engine.k[`gemm_${layout}`](M, N, K, alpha, a, aCols, b, bCols, beta, c, ldc);
      const ref = reference(layout, M, N, K, engine.f32(a, aRows * aCols), aCols, engine.f32(b, bRows * bCols), bCols);
      const got = engine.f32(c, M * ldc);
      for (let i = 0; i < M; i++)
        for (let j = 0; j < ldc; j++) {
          const want = j < N ? alpha * ref[i * N + j] + beta * c0[i * ldc + j] : c0[i * ldc + j];
          assert.ok(Math.abs(got[i * ldc + j] - want) <= 1e-5 * (1 + Math.sqrt(K)), `${layout} ${M}x${N}x${K} at (${i},${j}): ${got[i * ldc + j]} vs ${want}`);
        }
    }
  });
}

test('gemm with beta = 0 ignores whatever C held (NaN in uninitialised arena memory)', () => {
  engine.resetArena();
  const a = random(6 * 5),
    b = random(5 * 10),
    c = engine.alloc(60);
  engine.f32(c, 60).fill(NaN);
  engine.k.gemm_nn(6, 10, 5, 1, a, 5, b, 10, 0, c, 10);
  assert.ok(engine.f32(c, 60).every(Number.isFinite));
});

test('gemm_batched runs independent products at element strides (per-head attention)', () => {
  engine.resetArena();
  const count = 3,
    M = 5,
    N = 6,
    K = 7;
  const a = random(count * M * K),
    b = random(count * N * K),
    c = engine.alloc(count * M * N);
  engine.k.gemm_batched(0, 1, count, M, N, K, 1, a, K, M * K, b, K, N * K, 0, c, N, M * N);
  for (let n = 0; n < count; n++) {
    const ref = reference('nt', M, N, K, engine.f32(a + n * M * K * 4, M * K), K, engine.f32(b + n * N * K * 4, N * K), K);
    const got = engine.f32(c + n * M * N * 4, M * N);
    ref.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-5));
  }
});

test('gemm_nn_packed with B packed once by gemm_pack_b equals the unpacked products (both B layouts)', () => {
  for (const [M, N, K] of [
    [32, 20, 9],
    [6, 13, 300],
    [4, 8, 1],
  ] as const) {
    for (const transB of [0, 1]) {
      engine.resetArena();
      const a = random(M * K),
        b = random(K * N),
        c = random(M * N);
      const c0 = Float32Array.from(engine.f32(c, M * N));
      const packed = engine.alloc(engine.k.gemm_packed_b_size(K, N));
      const ldb = transB ? K : N;
      engine.k.gemm_pack_b(transB, K, N, b, ldb, packed);
      engine.k.gemm_nn_packed(M, N, K, 1, a, K, packed, 1, c, N);
      const ref = reference(transB ? 'nt' : 'nn', M, N, K, engine.f32(a, M * K), K, engine.f32(b, K * N), ldb);
      const got = engine.f32(c, M * N);
      ref.forEach((v, i) => assert.ok(Math.abs(got[i] - (v + c0[i])) < 1e-5 * (1 + Math.sqrt(K)), `${M}x${N}x${K} t${transB} [${i}]`));
    }
  }
});

test('gemm_nt_bias and gemm_nn_packed_bias add a bias row to the product and never read C', () => {
  // shapes: ragged last panel (N = 13, 1030), several K blocks (300, 513), N beyond one column block (1030), K = 0
  for (const [M, N, K] of [
    [1, 1, 1],
    [7, 13, 9],
    [33, 17, 300],
    [70, 9, 513],
    [5, 1030, 3],
    [6, 10, 0],
  ] as const) {
    engine.resetArena();
    const a = random(M * K),
      b = random(N * K),
      bias = random(N);
    const biasV = engine.f32(bias, N);
    const ref = reference('nt', M, N, K, engine.f32(a, M * K), K, engine.f32(b, N * K), K);
    const check = (c: number, what: string) => {
      const got = engine.f32(c, M * N);
      ref.forEach((v, i) => assert.ok(Math.abs(got[i] - (v + biasV[i % N])) < 1e-5 * (1 + Math.sqrt(K)), `${what} ${M}x${N}x${K} [${i}]`));
    };
    const c = engine.alloc(M * N);
    engine.f32(c, M * N).fill(NaN);
    engine.k.gemm_nt_bias(M, N, K, a, K, b, K, bias, c, N);
    check(c, 'gemm_nt_bias');
    const packed = engine.alloc(engine.k.gemm_packed_b_size(K, N));
    engine.k.gemm_pack_b(1, K, N, b, K, packed);
    const cp = engine.alloc(M * N);
    engine.f32(cp, M * N).fill(NaN);
    engine.k.gemm_nn_packed_bias(M, N, K, a, K, packed, bias, cp, N);
    check(cp, 'gemm_nn_packed_bias');
  }
});

test('the kernel build in use is reported, and the baseline build (KLINECAST_ENGINE_FMA=0) gives the same products within rounding', async () => {
  const { engineVariant } = await import('../../src/engine/runtime.js');
  assert.ok(['fma', 'baseline'].includes(engineVariant()));
  // the other build, instantiated directly: both must agree to float32 rounding on the same operands
  const { readFileSync } = await import('node:fs');
  const baseline = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL('../../build/engine.wasm', import.meta.url))), {
    env: {
      abort: () => {
        throw new Error('abort');
      },
    },
  }).exports as unknown as Record<string, (...a: number[]) => number> & { memory: WebAssembly.Memory; heap_base(): number };
  const M = 9,
    N = 11,
    K = 37;
  engine.resetArena();
  const a = random(M * K),
    b = random(K * N),
    c = engine.alloc(M * N);
  engine.k.gemm_nn(M, N, K, 1, a, K, b, N, 0, c, N);
  const base = baseline.heap_base();
  baseline.memory.grow(4);
  new Float32Array(baseline.memory.buffer, base, M * K + K * N).set([...engine.f32(a, M * K), ...engine.f32(b, K * N)]);
  const cb = base + (M * K + K * N) * 4;
  baseline.gemm_nn(M, N, K, 1, base, K, base + M * K * 4, N, 0, cb, N);
  const ours = engine.f32(c, M * N),
    theirs = new Float32Array(baseline.memory.buffer, cb, M * N);
  ours.forEach((v, i) => assert.ok(Math.abs(v - theirs[i]) < 1e-5, `[${i}] ${v} vs ${theirs[i]}`));
});
