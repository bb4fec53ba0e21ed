import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/rng.js';
import { Engine } from '../../src/engine/runtime.js';

// Every non-GEMM kernel against float64 JavaScript: values directly, and the backward kernels against central
// finite differences of a float64 reference of the forward math (float32 is too coarse for differencing).
const engine = Engine.create();
const k = engine.k;
const rng = new Rng(11);

function put(values: ArrayLike<number>): number {
  const ptr = engine.alloc(values.length);
  engine.f32(ptr, values.length).set(values);
  return ptr;
}
function get(ptr: number, n: number): Float32Array {
  return Float32Array.from(engine.f32(ptr, n));
}
function random(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform(-scale, scale));
}

function maxRelError(kernel: string, ref: (x: number) => number, xs: Float32Array): number {
  const src = put(xs);
  const dst = engine.alloc(xs.length);
  k[kernel](dst, src, xs.length);
  const got = engine.f32(dst, xs.length);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) {
    const want = ref(xs[i]);
    worst = Math.max(worst, Math.abs(got[i] - want) / Math.abs(want));
  }
  return worst;
}

test('exp, tanh and sigmoid are accurate to 1e-6 relative (vector lanes and scalar tail)', () => {
  engine.resetArena();
  const sample = (lo: number, hi: number, n: number) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  // 4001 points: not a multiple of 4, so the scalar tail runs too
  assert.ok(maxRelError('exp_f32', Math.exp, sample(-80, 80, 4001)) < 1e-6);
  assert.ok(maxRelError('sigmoid_f32', (x) => 1 / (1 + Math.exp(-x)), sample(-30, 30, 4001)) < 1e-6);
  const tanhErr = maxRelError(
    'tanh_f32',
    Math.tanh,
    sample(-9, 9, 4001).filter((x) => x !== 0),
  );
  assert.ok(tanhErr < 1e-6, `tanh ${tanhErr}`);
  assert.ok(maxRelError('tanh_f32', Math.tanh, Float32Array.from([1e-7, -3e-5, 0.01, 0.54999, 0.55, 0.5500001, 20, -100])) < 1e-6);
  const edge = put([0, -1000, 1000]);
  k.sigmoid_f32(edge, edge, 3);
  // the exponent is clamped, so saturation is clean: no NaN/Inf, 0 < σ(−1000) < 1e-37, σ(1000) = 1
  const [mid, low, high] = get(edge, 3);
  assert.ok(mid === 0.5 && low >= 0 && low < 1e-37 && high === 1, `${mid} ${low} ${high}`);
  engine.resetArena();
});

test('elementwise ops and reductions equal their float64 definitions', () => {
  engine.resetArena();
  const n = 37;
  const a = random(n),
    b = random(n);
  const pa = put(a),
    pb = put(b),
    out = engine.alloc(n);
  const check = (what: string, want: (i: number) => number, tol = 1e-6) => {
    const got = engine.f32(out, n);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i] - want(i)) <= tol, `${what}[${i}]: ${got[i]} vs ${want(i)}`);
  };
  k.add(out, pa, pb, n);
  check('add', (i) => a[i] + b[i]);
  k.mul(out, pa, pb, n);
  check('mul', (i) => a[i] * b[i]);
  k.scale(out, pa, n, 2.5);
  check('scale', (i) => 2.5 * a[i]);
  k.copy(out, pa, n);
  k.axpy(out, pb, n, -0.5);
  check('axpy', (i) => a[i] - 0.5 * b[i]);
  k.relu_fwd(out, pa, n);
  check('relu', (i) => Math.max(a[i], 0));
  k.relu_bwd(out, pb, pa, n);
  check('relu_bwd', (i) => (a[i] > 0 ? b[i] : 0));
  k.fill(out, n, 3);
  check('fill', () => 3);
  assert.ok(Math.abs(k.sum(pa, n) - a.reduce((s, v) => s + v, 0)) < 1e-9);
  assert.ok(Math.abs(k.sum_sq(pa, n) - a.reduce((s, v) => s + v * v, 0)) < 1e-9);

  const rows = 5,
    cols = 7;
  const m = random(rows * cols),
    bias = random(cols);
  const pm = put(m),
    pbias = put(bias),
    acc = put(random(cols));
  const acc0 = get(acc, cols);
  k.bias_add(pm, pbias, rows, cols);
  const biased = get(pm, rows * cols);
  biased.forEach((v, i) => assert.ok(Math.abs(v - (m[i] + bias[i % cols])) < 1e-6));
  k.col_sum_acc(acc, pm, rows, cols);
  const sums = get(acc, cols);
  for (let c = 0; c < cols; c++) {
    let s = acc0[c];
    for (let r = 0; r < rows; r++) s += biased[r * cols + c];
    assert.ok(Math.abs(sums[c] - s) < 1e-5);
  }
  // 19 rows × 37 columns: two 8-row passes, 3 single rows, and a column tail past the last full vector
  const tall = 19;
  const wide = random(tall * 37),
    wideAcc0 = random(37),
    pWideAcc = put(wideAcc0);
  k.col_sum_acc(pWideAcc, put(wide), tall, 37);
  get(pWideAcc, 37).forEach((v, c) => {
    let s = wideAcc0[c];
    for (let r = 0; r < tall; r++) s += wide[r * 37 + c];
    assert.ok(Math.abs(v - s) < 1e-5, `col_sum_acc column ${c}`);
  });
  k.bias_set(pm, pbias, rows, cols);
  get(pm, rows * cols).forEach((v, i) => assert.equal(v, bias[i % cols]));
  const t = engine.alloc(rows * cols);
  k.transpose(t, pm, rows, cols);
  const pmv = get(pm, rows * cols),
    tv = get(t, rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) assert.equal(tv[c * rows + r], pmv[r * cols + c]);
  // [2,3,4] batch-first → [3,2,4] time-major and back
  const seq = random(24),
    ps = put(seq),
    tm = engine.alloc(24),
    back = engine.alloc(24);
  k.swap_axes01(tm, ps, 2, 3, 4);
  const tmv = get(tm, 24);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let f = 0; f < 4; f++) assert.equal(tmv[(j * 2 + i) * 4 + f], seq[(i * 3 + j) * 4 + f]);
  k.swap_axes01(back, tm, 3, 2, 4);
  assert.deepEqual(get(back, 24), seq);
  engine.resetArena();
});

test('MSE, Huber and MAE: values by their definitions, gradients by finite differences', () => {
  engine.resetArena();
  const n = 9;
  // differences spread over both Huber regimes, none at a kink
  const target = random(n);
  const pred = Float32Array.from(target, (t, i) => t + (i % 2 ? 1 : -1) * (0.1 + 0.37 * i));
  const pp = put(pred),
    pt = put(target),
    grad = engine.alloc(n);
  const defs: Record<string, (d: number) => number> = {
    mse: (d) => d * d,
    mae: (d) => Math.abs(d),
    huber: (d) => (Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5),
  };
  for (const [name, f] of Object.entries(defs)) {
    const lossAt = (p: Float32Array) => {
      const ptr = put(p);
      return name === 'huber' ? k.huber_loss(ptr, pt, n, 1) : k[`${name}_loss`](ptr, pt, n);
    };
    const value = lossAt(pred);
    const want = Array.from(pred, (p, i) => f(p - target[i])).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(value - want) < 1e-6 * (1 + want), `${name} loss ${value} vs ${want}`);
    if (name === 'huber') k.huber_grad(grad, pp, pt, n, 1, 1);
    else k[`${name}_grad`](grad, pp, pt, n, 1);
    const g = get(grad, n);
    const h = 2 ** -12;
    for (let i = 0; i < n; i++) {
      const up = Float32Array.from(pred),
        down = Float32Array.from(pred);
      up[i] += h;
      down[i] -= h;
      const numeric = (lossAt(up) - lossAt(down)) / (2 * h);
      assert.ok(Math.abs(g[i] - numeric) < 1e-4, `${name} grad[${i}]: ${g[i]} vs ${numeric}`);
    }
  }
  engine.resetArena();
});

const sig = (x: number) => 1 / (1 + Math.exp(-x));

/** float64 LSTM cell: returns [c, h] for one batch row. */
function lstmRef(pre: ArrayLike<number>, cPrev: ArrayLike<number>, H: number): [number[], number[]] {
  const c: number[] = [],
    h: number[] = [];
  for (let j = 0; j < H; j++) {
    const i = sig(pre[j]),
      f = sig(pre[H + j]),
      g = Math.tanh(pre[2 * H + j]),
      o = sig(pre[3 * H + j]);
    c.push(f * cPrev[j] + i * g);
    h.push(o * Math.tanh(c[j]));
  }
  return [c, h];
}

/** float64 GRU cell (PyTorch form): returns h for one batch row. */
function gruRef(gi: ArrayLike<number>, gh: ArrayLike<number>, hPrev: ArrayLike<number>, H: number): number[] {
  const h: number[] = [];
  for (let j = 0; j < H; j++) {
    const r = sig(gi[j] + gh[j]),
      z = sig(gi[H + j] + gh[H + j]);
    const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
    h.push((1 - z) * n + z * hPrev[j]);
  }
  return h;
}

function numericGrad(f: (v: number[]) => number, at: ArrayLike<number>): number[] {
  const h = 1e-6;
  return Array.from(at, (_, i) => {
    const up = Array.from(at),
      down = Array.from(at);
    up[i] += h;
    down[i] -= h;
    return (f(up) - f(down)) / (2 * h);
  });
}

test('LSTM cell forward matches float64 and its backward matches finite differences (H = 6: vector + tail)', () => {
  engine.resetArena();
  const B = 2,
    H = 6;
  const pre = random(B * 4 * H, 2),
    cPrev = random(B * H),
    gh = random(B * H),
    gc = random(B * H);
  const pg = put(pre),
    pc0 = put(cPrev),
    pc = engine.alloc(B * H),
    ptc = engine.alloc(B * H),
    ph = engine.alloc(B * H);
  k.lstm_cell_fwd(B, H, pg, pc0, pc, ptc, ph);
  const c = get(pc, B * H),
    tc = get(ptc, B * H),
    h = get(ph, B * H);
  // backward of L = Σ h⊙gh + Σ c⊙gc: dh = gh, and dc (from "step t+1") = gc
  const pdh = put(gh),
    pdc = put(gc),
    pdg = engine.alloc(B * 4 * H);
  const db0 = random(4 * H),
    pdb = put(db0);
  k.lstm_cell_bwd(B, H, pg, pc0, ptc, pdh, pdc, pdg, pdb);
  const dPre = get(pdg, B * 4 * H),
    dcPrev = get(pdc, B * H);
  // the bias gradient is accumulated: db = db0 + Σ_b dPre[b]
  get(pdb, 4 * H).forEach((v, i) => assert.ok(Math.abs(v - (db0[i] + dPre[i] + dPre[4 * H + i])) < 1e-6, `db[${i}]`));
  for (let b = 0; b < B; b++) {
    const rowPre = Array.from(pre.subarray(b * 4 * H, (b + 1) * 4 * H));
    const rowC = Array.from(cPrev.subarray(b * H, (b + 1) * H));
    const [cRef, hRef] = lstmRef(rowPre, rowC, H);
    for (let j = 0; j < H; j++) {
      assert.ok(Math.abs(c[b * H + j] - cRef[j]) < 1e-6 && Math.abs(h[b * H + j] - hRef[j]) < 1e-6);
      assert.ok(Math.abs(tc[b * H + j] - Math.tanh(cRef[j])) < 1e-6);
    }
    const L = (p: number[], cp: number[]) => {
      const [cc, hh] = lstmRef(p, cp, H);
      return cc.reduce((s, v, j) => s + v * gc[b * H + j] + hh[j] * gh[b * H + j], 0);
    };
    numericGrad((p) => L(p, rowC), rowPre).forEach((v, i) =>
      assert.ok(Math.abs(dPre[b * 4 * H + i] - v) < 1e-5, `dPre[${b},${i}] ${dPre[b * 4 * H + i]} vs ${v}`),
    );
    numericGrad((cp) => L(rowPre, cp), rowC).forEach((v, j) => assert.ok(Math.abs(dcPrev[b * H + j] - v) < 1e-5, `dcPrev ${j}`));
  }
  engine.resetArena();
});

test('GRU cell forward matches float64 and its backward matches finite differences (H = 5: vector + tail)', () => {
  engine.resetArena();
  const B = 2,
    H = 5;
  const gi = random(B * 3 * H, 2),
    gh = random(B * 3 * H, 2),
    hPrev = random(B * H),
    g = random(B * H),
    dPrev0 = random(B * H);
  const pgi = put(gi),
    pgh = put(gh),
    php = put(hPrev),
    ph = engine.alloc(B * H);
  k.gru_cell_fwd(B, H, pgi, pgh, php, ph);
  const h = get(ph, B * H);
  const pdh = put(g),
    pdgi = engine.alloc(B * 3 * H),
    pdgh = engine.alloc(B * 3 * H),
    pdPrev = put(dPrev0);
  const dbi0 = random(3 * H),
    dbhn0 = random(H),
    pdbi = put(dbi0),
    pdbhn = put(dbhn0);
  k.gru_cell_bwd(B, H, pgi, pgh, php, pdh, pdgi, pdgh, pdPrev, 1, pdbi, pdbhn);
  const dgi = get(pdgi, B * 3 * H),
    dgh = get(pdgh, B * 3 * H),
    dPrev = get(pdPrev, B * H);
  // bias-gradient sums accumulate: dbi += Σ_b dgi[b], dbhn += Σ_b dgh[b, n part]; dgh's r, z parts equal dgi's
  get(pdbi, 3 * H).forEach((v, i) => assert.ok(Math.abs(v - (dbi0[i] + dgi[i] + dgi[3 * H + i])) < 1e-6, `dbi[${i}]`));
  get(pdbhn, H).forEach((v, j) => assert.ok(Math.abs(v - (dbhn0[j] + dgh[2 * H + j] + dgh[5 * H + j])) < 1e-6, `dbhn[${j}]`));
  for (let b = 0; b < B; b++) for (let i = 0; i < 2 * H; i++) assert.equal(dgh[b * 3 * H + i], dgi[b * 3 * H + i]);
  for (let b = 0; b < B; b++) {
    const rGi = Array.from(gi.subarray(b * 3 * H, (b + 1) * 3 * H));
    const rGh = Array.from(gh.subarray(b * 3 * H, (b + 1) * 3 * H));
    const rH = Array.from(hPrev.subarray(b * H, (b + 1) * H));
    gruRef(rGi, rGh, rH, H).forEach((v, j) => assert.ok(Math.abs(h[b * H + j] - v) < 1e-6));
    const L = (a: number[], c: number[], hp: number[]) => gruRef(a, c, hp, H).reduce((s, v, j) => s + v * g[b * H + j], 0);
    numericGrad((a) => L(a, rGh, rH), rGi).forEach((v, i) => assert.ok(Math.abs(dgi[b * 3 * H + i] - v) < 1e-5, `dgi ${i}`));
    numericGrad((c) => L(rGi, c, rH), rGh).forEach((v, i) => assert.ok(Math.abs(dgh[b * 3 * H + i] - v) < 1e-5, `dgh ${i}`));
    // the kernel adds only the direct path z⊙dh to dhPrev; the gh path (dgh·W_hh) is the caller's GEMM, so
    // the direct path is the derivative with gh held fixed
    numericGrad((hp) => L(rGi, rGh, hp), rH).forEach((v, j) => assert.ok(Math.abs(dPrev[b * H + j] - dPrev0[b * H + j] - v) < 1e-5, `dhPrev ${j}`));
  }
  engine.resetArena();
});

test('dropout_mask (via drawDropoutMask) gives exactly the mask and the next Rng state of Rng.fillDropoutMask', async () => {
  const { drawDropoutMask } = await import('../../src/engine/layers/dropout.js');
  const { Tensor } = await import('../../src/engine/runtime.js');
  engine.resetArena();
  for (const p of [0.2, 0.5, 0.05]) {
    const a = new Rng(77),
      b = new Rng(77);
    const jsMask = new Float32Array(1001);
    a.fillDropoutMask(jsMask, p);
    const mask = Tensor.scratch(engine, [1001]);
    drawDropoutMask(b, mask, p);
    assert.deepEqual(mask.data(), jsMask);
    assert.deepEqual(b.getState(), a.getState());
    assert.equal(b.nextU32(), a.nextU32());
  }
  engine.resetArena();
});
