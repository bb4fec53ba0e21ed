// Elementwise ops, reductions, layout shuffles and losses. Pointers are byte offsets, counts are elements (f32).
// Every loop runs f32x4 over the first n & ~3 elements and finishes the tail one element at a time.
import { vexp, vsigmoid, vtanh } from './_math';

/** dst[0..n) = value */
export function fill(dst: usize, n: i32, value: f32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), value);
}

/** dst[0..n) = src[0..n) (regions may overlap) */
export function copy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

/** dst = a + b (dst may alias a or b) */
export function add(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** dst += alpha·x */
export function axpy(dst: usize, x: usize, n: i32, alpha: f32): void {
  const va = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(va, v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + alpha * load<f32>(x + o));
  }
}

/** dst = a ⊙ b (dropout applies its mask of 0 and 1/(1−p) with this) */
export function mul(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** dst = s·src */
export function scale(dst: usize, src: usize, n: i32, s: f32): void {
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.mul(vs, v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, s * load<f32>(src + o));
  }
}

/** dst = max(src, 0) */
export function relu_fwd(dst: usize, src: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.max(v128.load(src + o), z));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, max<f32>(load<f32>(src + o), 0));
  }
}

/** dx = dy where y > 0, else 0; y is ReLU's output (or input: same sign test). dx may alias dy. */
export function relu_bwd(dx: usize, dy: usize, y: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), z)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(y + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

/** dst[r, c] += bias[c] for a row-major [rows, cols] matrix */
export function bias_add(dst: usize, bias: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) add(dst + (<usize>(r * cols) << 2), dst + (<usize>(r * cols) << 2), bias, cols);
}

/** dst[r, c] = bias[c]: initialises an accumulator with a broadcast bias */
export function bias_set(dst: usize, bias: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) memory.copy(dst + (<usize>(r * cols) << 2), bias, <usize>cols << 2);
}

/**
 * dst[c] += Σ_r src[r, c]: the bias gradient of a [rows, cols] output gradient. Eight rows are summed per pass, each
 * read front to back (eight sequential streams, which the hardware prefetcher follows), so dst is loaded and stored
 * once per eight rows instead of once per row: the recurrent layers' [T·B, G] sums were bound by those stores.
 */
export function col_sum_acc(dst: usize, src: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const p = src + <usize>r * rowBytes;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      let q = p + o;
      let s = v128.load(q);
      for (let i = 1; i < 8; i++) {
        q += rowBytes;
        s = f32x4.add(s, v128.load(q));
      }
      v128.store(dst + o, f32x4.add(v128.load(dst + o), s));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      let s: f32 = 0;
      for (let i = 0; i < 8; i++) s += load<f32>(p + <usize>i * rowBytes + o);
      store<f32>(dst + o, load<f32>(dst + o) + s);
    }
  }
  for (; r < rows; r++) add(dst, dst, src + <usize>r * rowBytes, cols);
}

/** Σ src, accumulated in f64 */
export function sum(src: usize, n: i32): f64 {
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(src + (<usize>i << 2));
    acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(v));
    acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)));
  }
  let s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1) + f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1);
  for (; i < n; i++) s += <f64>load<f32>(src + (<usize>i << 2));
  return s;
}

/** Σ src², accumulated in f64 (gradient-norm clipping) */
export function sum_sq(src: usize, n: i32): f64 {
  let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(src + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
    acc0 = f64x2.add(acc0, f64x2.mul(lo, lo));
    acc1 = f64x2.add(acc1, f64x2.mul(hi, hi));
  }
  let s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1) + f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(src + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

/** dst = e^src */
export function exp_f32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, vexp(v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, f32x4.extract_lane(vexp(f32x4.splat(load<f32>(src + o))), 0));
  }
}

/** dst = tanh(src) */
export function tanh_f32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, vtanh(v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, f32x4.extract_lane(vtanh(f32x4.splat(load<f32>(src + o))), 0));
  }
}

/** dst = sigmoid(src) */
export function sigmoid_f32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, vsigmoid(v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, f32x4.extract_lane(vsigmoid(f32x4.splat(load<f32>(src + o))), 0));
  }
}

/** dst[c, r] = src[r, c]: a [rows, cols] matrix transposed into [cols, rows] */
export function transpose(dst: usize, src: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      store<f32>(dst + (<usize>(c * rows + r) << 2), load<f32>(src + (<usize>(r * cols + c) << 2)));
    }
  }
}

/** dst[j, i, :] = src[i, j, :] for src [d0, d1, inner]: batch-first [B,T,F] ↔ time-major [T,B,F] */
export function swap_axes01(dst: usize, src: usize, d0: i32, d1: i32, inner: i32): void {
  const rowBytes = <usize>inner << 2;
  for (let i = 0; i < d0; i++) {
    for (let j = 0; j < d1; j++) {
      memory.copy(dst + <usize>(j * d0 + i) * rowBytes, src + <usize>(i * d1 + j) * rowBytes, rowBytes);
    }
  }
}

// Losses: each *_loss returns Σ over elements (f64; the caller divides for the mean) and each *_grad writes
// grad = scale · ∂loss_i/∂pred_i (scale = 1/n for a mean reduction).

/** Σ (pred − target)² */
export function mse_loss(pred: usize, target: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <f64>load<f32>(pred + (<usize>i << 2)) - <f64>load<f32>(target + (<usize>i << 2));
    s += d * d;
  }
  return s;
}

export function mse_grad(grad: usize, pred: usize, target: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(grad + o, 2 * scale * (load<f32>(pred + o) - load<f32>(target + o)));
  }
}

/** Σ |pred − target| */
export function mae_loss(pred: usize, target: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    s += Math.abs(<f64>load<f32>(pred + (<usize>i << 2)) - <f64>load<f32>(target + (<usize>i << 2)));
  }
  return s;
}

/** sign(pred − target)·scale, with sign(0) = 0 as torch.sign */
export function mae_grad(grad: usize, pred: usize, target: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(pred + o) - load<f32>(target + o);
    store<f32>(grad + o, d > 0 ? scale : d < 0 ? -scale : 0);
  }
}

/** PyTorch HuberLoss: ½d² where |d| < delta, else delta·(|d| − ½delta) */
export function huber_loss(pred: usize, target: usize, n: i32, delta: f32): f64 {
  let s: f64 = 0;
  const dl = <f64>delta;
  for (let i = 0; i < n; i++) {
    const d = <f64>load<f32>(pred + (<usize>i << 2)) - <f64>load<f32>(target + (<usize>i << 2));
    const a = Math.abs(d);
    s += a < dl ? 0.5 * d * d : dl * (a - 0.5 * dl);
  }
  return s;
}

export function huber_grad(grad: usize, pred: usize, target: usize, n: i32, delta: f32, scale: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(pred + o) - load<f32>(target + o);
    const g = d > delta ? delta : d < -delta ? -delta : d;
    store<f32>(grad + o, scale * g);
  }
}
