// Transformer kernels: row softmax, layernorm (with a fused residual add) and multi-head scaled-dot-product attention.
// Every pointer is a byte offset into linear memory; every stride ("ld") counts f32 elements, row-major.
// The large projections (in_proj, out_proj, the feed-forward Linears) run on the shared GEMMs; only the small per-head
// products live here, so one call covers a whole batch and every head.

import { vexp } from './_math';

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

@inline function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

// Softmax weights below e^-40 (4e-18, far under f32 resolution next to the row's largest weight of e^0 = 1) are
// flushed to zero. Kept, they decay into subnormal floats in the products of the backward pass, and subnormal
// arithmetic runs tens of times slower on x86: sharply peaked attention made attention_backward 30x slower.
const SOFTMAX_FLUSH: f32 = -40.0;

/** e^z per lane, zero where z < SOFTMAX_FLUSH. */
@inline function softmaxExp(z: v128): v128 {
  return v128.and(vexp(z), f32x4.ge(z, f32x4.splat(SOFTMAX_FLUSH)));
}

/** The same for one scalar through the vector code, so row tails agree bit-for-bit with the vector lanes. */
@inline function softmaxExp1(z: f32): f32 {
  return f32x4.extract_lane(softmaxExp(f32x4.splat(z)), 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// Softmax over the last axis: y = softmax(scale * x) row by row, numerically stable (max subtracted). y may alias x.

export function softmax_forward(x: usize, y: usize, rows: i32, n: i32, scale: f32): void {
  const n4 = n & ~3;
  const vscale = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * <usize>n * 4;
    const yr = y + <usize>r * <usize>n * 4;
    let vmax = f32x4.splat(-Infinity);
    let j = 0;
    for (; j < n4; j += 4) vmax = f32x4.max(vmax, v128.load(xr + <usize>j * 4));
    let m = hmax(vmax);
    for (; j < n; j++) m = max(m, load<f32>(xr + <usize>j * 4));
    const vm = f32x4.splat(m);
    let vsum = f32x4.splat(0);
    for (j = 0; j < n4; j += 4) {
      const e = softmaxExp(f32x4.mul(f32x4.sub(v128.load(xr + <usize>j * 4), vm), vscale));
      v128.store(yr + <usize>j * 4, e);
      vsum = f32x4.add(vsum, e);
    }
    let sum = hsum(vsum);
    for (; j < n; j++) {
      const e = softmaxExp1((load<f32>(xr + <usize>j * 4) - m) * scale);
      store<f32>(yr + <usize>j * 4, e);
      sum += e;
    }
    const vinv = f32x4.splat(<f32>1.0 / sum);
    for (j = 0; j < n4; j += 4) v128.store(yr + <usize>j * 4, f32x4.mul(v128.load(yr + <usize>j * 4), vinv));
    const inv = <f32>1.0 / sum;
    for (; j < n; j++) store<f32>(yr + <usize>j * 4, load<f32>(yr + <usize>j * 4) * inv);
  }
}

/** dx = scale * y * (dy - sum(dy * y)) per row, the backward of softmax_forward. dx may alias dy. */
export function softmax_backward(y: usize, dy: usize, dx: usize, rows: i32, n: i32, scale: f32): void {
  const n4 = n & ~3;
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>n * 4;
    const yr = y + off;
    const dyr = dy + off;
    const dxr = dx + off;
    let vdot = f32x4.splat(0);
    let j = 0;
    for (; j < n4; j += 4) vdot = f32x4.add(vdot, f32x4.mul(v128.load(yr + <usize>j * 4), v128.load(dyr + <usize>j * 4)));
    let dot = hsum(vdot);
    for (; j < n; j++) dot += load<f32>(yr + <usize>j * 4) * load<f32>(dyr + <usize>j * 4);
    const vd = f32x4.splat(dot);
    const vs = f32x4.splat(scale);
    for (j = 0; j < n4; j += 4) {
      const g = f32x4.mul(f32x4.sub(v128.load(dyr + <usize>j * 4), vd), v128.load(yr + <usize>j * 4));
      v128.store(dxr + <usize>j * 4, f32x4.mul(g, vs));
    }
    for (; j < n; j++) store<f32>(dxr + <usize>j * 4, (load<f32>(dyr + <usize>j * 4) - dot) * load<f32>(yr + <usize>j * 4) * scale);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// LayerNorm over the last axis (biased variance, as PyTorch). With res != 0 the input is x + res (the post-norm
// residual), and that sum is written to `sum` because backward needs it. mean and rstd ([rows]) are saved for backward.

export function layernorm_forward(
  x: usize, res: usize, sum: usize, gamma: usize, beta: usize, y: usize, mean: usize, rstd: usize,
  rows: i32, n: i32, eps: f32,
): void {
  const n4 = n & ~3;
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>n * 4;
    let xr = x + off;
    if (res != 0) {
      const sr = sum + off;
      const rr = res + off;
      let j = 0;
      for (; j < n4; j += 4) v128.store(sr + <usize>j * 4, f32x4.add(v128.load(xr + <usize>j * 4), v128.load(rr + <usize>j * 4)));
      for (; j < n; j++) store<f32>(sr + <usize>j * 4, load<f32>(xr + <usize>j * 4) + load<f32>(rr + <usize>j * 4));
      xr = sr;
    }
    let vs = f32x4.splat(0);
    let j = 0;
    for (; j < n4; j += 4) vs = f32x4.add(vs, v128.load(xr + <usize>j * 4));
    let s = hsum(vs);
    for (; j < n; j++) s += load<f32>(xr + <usize>j * 4);
    const mu = s / <f32>n;
    const vmu = f32x4.splat(mu);
    let vq = f32x4.splat(0);
    for (j = 0; j < n4; j += 4) {
      const d = f32x4.sub(v128.load(xr + <usize>j * 4), vmu);
      vq = f32x4.add(vq, f32x4.mul(d, d));
    }
    let q = hsum(vq);
    for (; j < n; j++) {
      const d = load<f32>(xr + <usize>j * 4) - mu;
      q += d * d;
    }
    const rs = <f32>1.0 / Mathf.sqrt(q / <f32>n + eps);
    store<f32>(mean + <usize>r * 4, mu);
    store<f32>(rstd + <usize>r * 4, rs);
    const vrs = f32x4.splat(rs);
    const yr = y + off;
    for (j = 0; j < n4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + <usize>j * 4), vmu), vrs);
      v128.store(yr + <usize>j * 4, f32x4.add(f32x4.mul(xh, v128.load(gamma + <usize>j * 4)), v128.load(beta + <usize>j * 4)));
    }
    for (; j < n; j++) {
      const xh = (load<f32>(xr + <usize>j * 4) - mu) * rs;
      store<f32>(yr + <usize>j * 4, xh * load<f32>(gamma + <usize>j * 4) + load<f32>(beta + <usize>j * 4));
    }
  }
}

/**
 * Backward of layernorm_forward given its input x (the residual sum when one was fused), mean and rstd.
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma; dgamma += sum dy * xhat; dbeta += sum dy.
 */
export function layernorm_backward(
  x: usize, mean: usize, rstd: usize, gamma: usize, dy: usize, dx: usize, dgamma: usize, dbeta: usize, rows: i32, n: i32,
): void {
  const n4 = n & ~3;
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>n * 4;
    const xr = x + off;
    const dyr = dy + off;
    const dxr = dx + off;
    const mu = load<f32>(mean + <usize>r * 4);
    const rs = load<f32>(rstd + <usize>r * 4);
    const vmu = f32x4.splat(mu);
    const vrs = f32x4.splat(rs);
    let vg = f32x4.splat(0);
    let vgx = f32x4.splat(0);
    let j = 0;
    for (; j < n4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + <usize>j * 4), vmu), vrs);
      const d = v128.load(dyr + <usize>j * 4);
      const g = f32x4.mul(d, v128.load(gamma + <usize>j * 4));
      vg = f32x4.add(vg, g);
      vgx = f32x4.add(vgx, f32x4.mul(g, xh));
      v128.store(dgamma + <usize>j * 4, f32x4.add(v128.load(dgamma + <usize>j * 4), f32x4.mul(d, xh)));
      v128.store(dbeta + <usize>j * 4, f32x4.add(v128.load(dbeta + <usize>j * 4), d));
    }
    let sg = hsum(vg);
    let sgx = hsum(vgx);
    for (; j < n; j++) {
      const xh = (load<f32>(xr + <usize>j * 4) - mu) * rs;
      const d = load<f32>(dyr + <usize>j * 4);
      const g = d * load<f32>(gamma + <usize>j * 4);
      sg += g;
      sgx += g * xh;
      store<f32>(dgamma + <usize>j * 4, load<f32>(dgamma + <usize>j * 4) + d * xh);
      store<f32>(dbeta + <usize>j * 4, load<f32>(dbeta + <usize>j * 4) + d);
    }
    const mg = sg / <f32>n;
    const mgx = sgx / <f32>n;
    const vmg = f32x4.splat(mg);
    const vmgx = f32x4.splat(mgx);
    for (j = 0; j < n4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + <usize>j * 4), vmu), vrs);
      const g = f32x4.mul(v128.load(dyr + <usize>j * 4), v128.load(gamma + <usize>j * 4));
      const t = f32x4.sub(f32x4.sub(g, vmg), f32x4.mul(xh, vmgx));
      v128.store(dxr + <usize>j * 4, f32x4.mul(t, vrs));
    }
    for (; j < n; j++) {
      const xh = (load<f32>(xr + <usize>j * 4) - mu) * rs;
      const g = load<f32>(dyr + <usize>j * 4) * load<f32>(gamma + <usize>j * 4);
      store<f32>(dxr + <usize>j * 4, (g - mg - xh * mgx) * rs);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Small strided products for the per-head attention matrices (T x T and T x head_dim): C = A·B, A [m,k], B [k,n].
// 4 rows x 8 columns of C per register block; B rows are contiguous so its loads vectorise along n.

// c + a·b per lane: one fused multiply-add in the relaxed-SIMD build (build/engine-fma.wasm), a multiply and an add
// in the baseline build, exactly as the GEMM micro-kernel does (the flag is a compile-time constant).
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

@inline function mm_nn(a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, m: i32, n: i32, k: i32): void {
  const n8 = n & ~7;
  const n4 = n & ~3;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = a + <usize>i * <usize>lda * 4;
    const a1 = a0 + <usize>lda * 4;
    const a2 = a1 + <usize>lda * 4;
    const a3 = a2 + <usize>lda * 4;
    const c0 = c + <usize>i * <usize>ldc * 4;
    const c1 = c0 + <usize>ldc * 4;
    const c2 = c1 + <usize>ldc * 4;
    const c3 = c2 + <usize>ldc * 4;
    let j = 0;
    for (; j < n8; j += 8) {
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0);
      let s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0);
      let s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      let bp = b + <usize>j * 4;
      for (let p = 0; p < k; p++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        const po = <usize>p * 4;
        const x0 = v128.load32_splat(a0 + po);
        const x1 = v128.load32_splat(a1 + po);
        const x2 = v128.load32_splat(a2 + po);
        const x3 = v128.load32_splat(a3 + po);
        s00 = madd(x0, b0, s00); s01 = madd(x0, b1, s01);
        s10 = madd(x1, b0, s10); s11 = madd(x1, b1, s11);
        s20 = madd(x2, b0, s20); s21 = madd(x2, b1, s21);
        s30 = madd(x3, b0, s30); s31 = madd(x3, b1, s31);
        bp += <usize>ldb * 4;
      }
      const jo = <usize>j * 4;
      v128.store(c0 + jo, s00); v128.store(c0 + jo, s01, 16);
      v128.store(c1 + jo, s10); v128.store(c1 + jo, s11, 16);
      v128.store(c2 + jo, s20); v128.store(c2 + jo, s21, 16);
      v128.store(c3 + jo, s30); v128.store(c3 + jo, s31, 16);
    }
    for (; j < n4; j += 4) {
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let bp = b + <usize>j * 4;
      for (let p = 0; p < k; p++) {
        const b0 = v128.load(bp);
        const po = <usize>p * 4;
        s0 = madd(v128.load32_splat(a0 + po), b0, s0);
        s1 = madd(v128.load32_splat(a1 + po), b0, s1);
        s2 = madd(v128.load32_splat(a2 + po), b0, s2);
        s3 = madd(v128.load32_splat(a3 + po), b0, s3);
        bp += <usize>ldb * 4;
      }
      const jo = <usize>j * 4;
      v128.store(c0 + jo, s0); v128.store(c1 + jo, s1); v128.store(c2 + jo, s2); v128.store(c3 + jo, s3);
    }
    for (; j < n; j++) {
      let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
      for (let p = 0; p < k; p++) {
        const bv = load<f32>(b + (<usize>p * <usize>ldb + <usize>j) * 4);
        const po = <usize>p * 4;
        s0 += load<f32>(a0 + po) * bv; s1 += load<f32>(a1 + po) * bv;
        s2 += load<f32>(a2 + po) * bv; s3 += load<f32>(a3 + po) * bv;
      }
      const jo = <usize>j * 4;
      store<f32>(c0 + jo, s0); store<f32>(c1 + jo, s1); store<f32>(c2 + jo, s2); store<f32>(c3 + jo, s3);
    }
  }
  for (; i < m; i++) {
    const ar = a + <usize>i * <usize>lda * 4;
    const cr = c + <usize>i * <usize>ldc * 4;
    let j = 0;
    for (; j < n4; j += 4) {
      let s = f32x4.splat(0);
      let bp = b + <usize>j * 4;
      for (let p = 0; p < k; p++) {
        s = madd(v128.load32_splat(ar + <usize>p * 4), v128.load(bp), s);
        bp += <usize>ldb * 4;
      }
      v128.store(cr + <usize>j * 4, s);
    }
    for (; j < n; j++) {
      let s: f32 = 0;
      for (let p = 0; p < k; p++) s += load<f32>(ar + <usize>p * 4) * load<f32>(b + (<usize>p * <usize>ldb + <usize>j) * 4);
      store<f32>(cr + <usize>j * 4, s);
    }
  }
}

/** dst [cols, rows] (stride ldd) = transpose of src [rows, cols] (stride lds). */
@inline function transpose(src: usize, lds: i32, dst: usize, ldd: i32, rows: i32, cols: i32): void {
  for (let i = 0; i < rows; i++) {
    const sr = src + <usize>i * <usize>lds * 4;
    for (let j = 0; j < cols; j++) store<f32>(dst + (<usize>j * <usize>ldd + <usize>i) * 4, load<f32>(sr + <usize>j * 4));
  }
}

@inline function mul_into(a: usize, b: usize, c: usize, count: i32): void {
  const c4 = count & ~3;
  let i = 0;
  for (; i < c4; i += 4) v128.store(c + <usize>i * 4, f32x4.mul(v128.load(a + <usize>i * 4), v128.load(b + <usize>i * 4)));
  for (; i < count; i++) store<f32>(c + <usize>i * 4, load<f32>(a + <usize>i * 4) * load<f32>(b + <usize>i * 4));
}

// ---------------------------------------------------------------------------------------------------------------------
// Multi-head scaled-dot-product attention over a batch, as in nn.MultiheadAttention after the input projection.
//
// Queries: batch b, position t, head h start at q + ((b*tq + t)*ldq + h*hd)*4; keys and values likewise with tk rows
// and stride ldkv. With the packed in_proj output qkv [B*T, 3d]: q = qkv, k = qkv + d*4, v = qkv + 2d*4, ld = 3d.
// Queries may cover only the last tq positions (tq < tk), which is all the model's final layer needs.
//
// probs [B, H, tq, tk] keeps softmax(scale * Q K^T). With mask != 0 ([B, H, tq, tk] of 0 or 1/(1-p): attention dropout)
// the dropped weights go to `dropped` and the product with V uses them. out receives the heads side by side (stride ldo).
// scratch: hd * tk floats.

export function attention_forward(
  q: usize, ldq: i32, k: usize, v: usize, ldkv: i32, out: usize, ldo: i32,
  probs: usize, mask: usize, dropped: usize,
  batch: i32, heads: i32, tq: i32, tk: i32, hd: i32, scale: f32, scratch: usize,
): void {
  const kt = scratch;
  const plane = <usize>tq * <usize>tk;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const qb = q + (<usize>b * <usize>tq * <usize>ldq + <usize>h * <usize>hd) * 4;
      const kb = k + (<usize>b * <usize>tk * <usize>ldkv + <usize>h * <usize>hd) * 4;
      const vb = v + (<usize>b * <usize>tk * <usize>ldkv + <usize>h * <usize>hd) * 4;
      const ob = out + (<usize>b * <usize>tq * <usize>ldo + <usize>h * <usize>hd) * 4;
      const po = (<usize>b * <usize>heads + <usize>h) * plane * 4;
      const p = probs + po;
      transpose(kb, ldkv, kt, tk, tk, hd);
      mm_nn(qb, ldq, kt, tk, p, tk, tq, tk, hd);
      softmax_forward(p, p, tq, tk, scale);
      let pv = p;
      if (mask != 0) {
        pv = dropped + po;
        mul_into(p, mask + po, pv, <i32>plane);
      }
      mm_nn(pv, tk, vb, ldkv, ob, ldo, tq, hd, tk);
    }
  }
}

/**
 * Backward of attention_forward. dout has the layout of out; dq/dk/dv the layouts of q/k/v (same strides), and are
 * overwritten (with the packed layout they are the three column blocks of d(qkv)).
 * scratch: hd*tk + 3*tq*tk floats.
 */
export function attention_backward(
  q: usize, ldq: i32, k: usize, v: usize, ldkv: i32, dout: usize, ldo: i32,
  probs: usize, mask: usize, dropped: usize, dq: usize, dk: usize, dv: usize,
  batch: i32, heads: i32, tq: i32, tk: i32, hd: i32, scale: f32, scratch: usize,
): void {
  const plane = <usize>tq * <usize>tk;
  const vt = scratch;
  const dp = vt + <usize>hd * <usize>tk * 4;
  const pt = dp + plane * 4;
  const dst = pt + plane * 4;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const qo = (<usize>b * <usize>tq * <usize>ldq + <usize>h * <usize>hd) * 4;
      const kvo = (<usize>b * <usize>tk * <usize>ldkv + <usize>h * <usize>hd) * 4;
      const dob = dout + (<usize>b * <usize>tq * <usize>ldo + <usize>h * <usize>hd) * 4;
      const po = (<usize>b * <usize>heads + <usize>h) * plane * 4;
      const p = probs + po;
      const pv = mask != 0 ? dropped + po : p;
      // d(dropped probs) = dO V^T, then through the dropout mask
      transpose(v + kvo, ldkv, vt, tk, tk, hd);
      mm_nn(dob, ldo, vt, tk, dp, tk, tq, tk, hd);
      if (mask != 0) mul_into(dp, mask + po, dp, <i32>plane);
      // dV = P'^T dO
      transpose(pv, tk, pt, tq, tq, tk);
      mm_nn(pt, tq, dob, ldo, dv + kvo, ldkv, tk, hd, tq);
      // dS = scale * softmax'(P) dP; dQ = dS K; dK = dS^T Q
      softmax_backward(p, dp, dp, tq, tk, scale);
      mm_nn(dp, tk, k + kvo, ldkv, dq + qo, ldq, tq, hd, tk);
      transpose(dp, tk, dst, tq, tq, tk);
      mm_nn(dst, tq, q + qo, ldq, dk + kvo, ldkv, tk, hd, tq);
    }
  }
}
