// Fused recurrent cells over one time step of a whole batch, in PyTorch's gate order. The input and hidden
// projections (x·W_ihᵀ, h·W_hhᵀ) are GEMMs done by the caller; these kernels do everything elementwise between them.
// Rows are contiguous: gates [B, 4H] (LSTM) or [B, 3H] (GRU), states [B, H]. Vector lanes run along H; the tail
// of an H that is not a multiple of 4 goes through the same vector code one lane at a time (each kernel's lane
// function is inlined twice with a constant `vector`, so neither loop tests it per element).
import { vsigmoid, vtanh } from './_math';

// @ts-ignore: decorator
@inline
function ld(p: usize, vector: bool): v128 {
  return vector ? v128.load(p) : f32x4.splat(load<f32>(p));
}

// @ts-ignore: decorator
@inline
function st(p: usize, v: v128, vector: bool): void {
  if (vector) v128.store(p, v);
  else store<f32>(p, f32x4.extract_lane(v, 0));
}

// *p += v (the bias-gradient sums)
// @ts-ignore: decorator
@inline
function acc(p: usize, v: v128, vector: bool): void {
  st(p, f32x4.add(ld(p, vector), v), vector);
}

// @ts-ignore: decorator
@inline
function lstmForwardLanes(vector: bool, o: usize, cPrev: usize, c: usize, tc: usize, h: usize, hb: usize, g0: usize, s0: usize): void {
  const gi = vsigmoid(ld(g0 + o, vector));
  const gf = vsigmoid(ld(g0 + hb + o, vector));
  const gg = vtanh(ld(g0 + 2 * hb + o, vector));
  const go = vsigmoid(ld(g0 + 3 * hb + o, vector));
  const cv = f32x4.add(f32x4.mul(gf, ld(cPrev + s0 + o, vector)), f32x4.mul(gi, gg));
  st(g0 + o, gi, vector);
  st(g0 + hb + o, gf, vector);
  st(g0 + 2 * hb + o, gg, vector);
  st(g0 + 3 * hb + o, go, vector);
  const tcv = vtanh(cv);
  st(c + s0 + o, cv, vector);
  st(tc + s0 + o, tcv, vector);
  st(h + s0 + o, f32x4.mul(go, tcv), vector);
}

/**
 * LSTM step forward. `gates` holds the pre-activations [B, 4H] (x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh, order i,f,g,o)
 * and is overwritten with the activations σ(i), σ(f), tanh(g), σ(o) that backward needs.
 * c = f⊙cPrev + i⊙g, h = o⊙tanh(c); tanh(c) is also written to `tc` [B, H], so backward reuses it instead of
 * evaluating tanh a second time.
 */
export function lstm_cell_fwd(B: i32, H: i32, gates: usize, cPrev: usize, c: usize, tc: usize, h: usize): void {
  const hb = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const g0 = gates + <usize>b * hb * 4;
    const s0 = <usize>b * hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmForwardLanes(true, <usize>j << 2, cPrev, c, tc, h, hb, g0, s0);
    for (; j < H; j++) lstmForwardLanes(false, <usize>j << 2, cPrev, c, tc, h, hb, g0, s0);
  }
}

// @ts-ignore: decorator
@inline
function lstmBackwardLanes(vector: bool, o: usize, cPrev: usize, tc: usize, dh: usize, dc: usize, db: usize, hb: usize, one: v128, g0: usize, d0: usize, s0: usize): void {
  const gi = ld(g0 + o, vector);
  const gf = ld(g0 + hb + o, vector);
  const gg = ld(g0 + 2 * hb + o, vector);
  const go = ld(g0 + 3 * hb + o, vector);
  const tcv = ld(tc + s0 + o, vector);
  const dhv = ld(dh + s0 + o, vector);
  const dcv = f32x4.add(ld(dc + s0 + o, vector), f32x4.mul(f32x4.mul(dhv, go), f32x4.sub(one, f32x4.mul(tcv, tcv))));
  const dOut = f32x4.mul(dhv, tcv);
  const dIn = f32x4.mul(dcv, gg);
  const dG = f32x4.mul(dcv, gi);
  const dF = f32x4.mul(dcv, ld(cPrev + s0 + o, vector));
  const dai = f32x4.mul(dIn, f32x4.mul(gi, f32x4.sub(one, gi)));
  const daf = f32x4.mul(dF, f32x4.mul(gf, f32x4.sub(one, gf)));
  const dag = f32x4.mul(dG, f32x4.sub(one, f32x4.mul(gg, gg)));
  const dao = f32x4.mul(dOut, f32x4.mul(go, f32x4.sub(one, go)));
  st(d0 + o, dai, vector);
  st(d0 + hb + o, daf, vector);
  st(d0 + 2 * hb + o, dag, vector);
  st(d0 + 3 * hb + o, dao, vector);
  st(dc + s0 + o, f32x4.mul(dcv, gf), vector);
  acc(db + o, dai, vector);
  acc(db + hb + o, daf, vector);
  acc(db + 2 * hb + o, dag, vector);
  acc(db + 3 * hb + o, dao, vector);
}

/**
 * LSTM step backward. In: `acts` (the activations lstm_cell_fwd left in `gates`), cPrev, tc = tanh(c) (written by
 * lstm_cell_fwd), dh (the whole gradient reaching h_t: from above plus from step t+1), dc (gradient reaching c_t
 * from step t+1).
 * Out: dgates [B, 4H] = gradients of the gate pre-activations; dc is overwritten with the gradient reaching c_{t−1};
 * db [4H] += Σ_b dgates[b] (the bias gradient, summed here while dgates is in registers instead of by a later pass
 * over the whole [T, B, 4H] buffer).
 */
export function lstm_cell_bwd(B: i32, H: i32, acts: usize, cPrev: usize, tc: usize, dh: usize, dc: usize, dgates: usize, db: usize): void {
  const hb = <usize>H << 2;
  const one = f32x4.splat(1);
  for (let b = 0; b < B; b++) {
    const g0 = acts + <usize>b * hb * 4;
    const d0 = dgates + <usize>b * hb * 4;
    const s0 = <usize>b * hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) lstmBackwardLanes(true, <usize>j << 2, cPrev, tc, dh, dc, db, hb, one, g0, d0, s0);
    for (; j < H; j++) lstmBackwardLanes(false, <usize>j << 2, cPrev, tc, dh, dc, db, hb, one, g0, d0, s0);
  }
}

// @ts-ignore: decorator
@inline
function gruForwardLanes(vector: bool, o: usize, hPrev: usize, h: usize, hb: usize, i0: usize, h0: usize, s0: usize): void {
  const r = vsigmoid(f32x4.add(ld(i0 + o, vector), ld(h0 + o, vector)));
  const z = vsigmoid(f32x4.add(ld(i0 + hb + o, vector), ld(h0 + hb + o, vector)));
  const n = vtanh(f32x4.add(ld(i0 + 2 * hb + o, vector), f32x4.mul(r, ld(h0 + 2 * hb + o, vector))));
  const hp = ld(hPrev + s0 + o, vector);
  st(i0 + o, r, vector);
  st(i0 + hb + o, z, vector);
  st(i0 + 2 * hb + o, n, vector);
  st(h + s0 + o, f32x4.add(n, f32x4.mul(z, f32x4.sub(hp, n))), vector);
}

/**
 * GRU step forward, PyTorch's formulation (b_hn inside the reset gate):
 *   r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r⊙gh_n), h = (1−z)⊙n + z⊙hPrev
 * gi [B, 3H] = x·W_ihᵀ + b_ih (order r,z,n) is overwritten with r, z, n; gh [B, 3H] = h·W_hhᵀ + b_hh is kept
 * unchanged (backward needs gh_n).
 */
export function gru_cell_fwd(B: i32, H: i32, gi: usize, gh: usize, hPrev: usize, h: usize): void {
  const hb = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const i0 = gi + <usize>b * hb * 3;
    const h0 = gh + <usize>b * hb * 3;
    const s0 = <usize>b * hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) gruForwardLanes(true, <usize>j << 2, hPrev, h, hb, i0, h0, s0);
    for (; j < H; j++) gruForwardLanes(false, <usize>j << 2, hPrev, h, hb, i0, h0, s0);
  }
}

// @ts-ignore: decorator
@inline
function gruBackwardLanes(vector: bool, o: usize, hPrev: usize, dh: usize, dhPrev: usize, accumulatePrev: i32, dbi: usize, dbhn: usize, hb: usize, one: v128, a0: usize, h0: usize, di0: usize, dh0: usize, s0: usize): void {
  const r = ld(a0 + o, vector);
  const z = ld(a0 + hb + o, vector);
  const n = ld(a0 + 2 * hb + o, vector);
  const hp = ld(hPrev + s0 + o, vector);
  const d = ld(dh + s0 + o, vector);
  const dan = f32x4.mul(f32x4.mul(d, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n)));
  const daz = f32x4.mul(f32x4.mul(d, f32x4.sub(hp, n)), f32x4.mul(z, f32x4.sub(one, z)));
  const dar = f32x4.mul(f32x4.mul(dan, ld(h0 + 2 * hb + o, vector)), f32x4.mul(r, f32x4.sub(one, r)));
  st(di0 + o, dar, vector);
  st(di0 + hb + o, daz, vector);
  st(di0 + 2 * hb + o, dan, vector);
  const dhn = f32x4.mul(dan, r);
  st(dh0 + o, dar, vector);
  st(dh0 + hb + o, daz, vector);
  st(dh0 + 2 * hb + o, dhn, vector);
  acc(dbi + o, dar, vector);
  acc(dbi + hb + o, daz, vector);
  acc(dbi + 2 * hb + o, dan, vector);
  acc(dbhn + o, dhn, vector);
  if (accumulatePrev) st(dhPrev + s0 + o, f32x4.add(ld(dhPrev + s0 + o, vector), f32x4.mul(d, z)), vector);
}

/**
 * GRU step backward. In: acts (r,z,n left in gi by gru_cell_fwd), gh (hidden pre-activations), hPrev, dh (whole
 * gradient reaching h_t). Out: dgi [B, 3H] (gradients of the input pre-activations), dgh [B, 3H] (of the hidden
 * pre-activations, including b_hh), and when accumulatePrev != 0, dhPrev += z⊙dh (the direct path to h_{t−1};
 * the caller adds dgh·W_hh). Bias-gradient sums, taken here while the values are in registers instead of by later
 * passes over [T, B, 3H]: dbi [3H] += Σ_b dgi[b]; dbhn [H] += Σ_b of the n part of dgh[b] (its r and z parts equal
 * dgi's, so the caller reuses those sums for b_hh).
 */
export function gru_cell_bwd(
  B: i32, H: i32, acts: usize, gh: usize, hPrev: usize, dh: usize, dgi: usize, dgh: usize, dhPrev: usize, accumulatePrev: i32,
  dbi: usize, dbhn: usize,
): void {
  const hb = <usize>H << 2;
  const one = f32x4.splat(1);
  for (let b = 0; b < B; b++) {
    const a0 = acts + <usize>b * hb * 3;
    const h0 = gh + <usize>b * hb * 3;
    const di0 = dgi + <usize>b * hb * 3;
    const dh0 = dgh + <usize>b * hb * 3;
    const s0 = <usize>b * hb;
    let j = 0;
    for (; j + 4 <= H; j += 4) gruBackwardLanes(true, <usize>j << 2, hPrev, dh, dhPrev, accumulatePrev, dbi, dbhn, hb, one, a0, h0, di0, dh0, s0);
    for (; j < H; j++) gruBackwardLanes(false, <usize>j << 2, hPrev, dh, dhPrev, accumulatePrev, dbi, dbhn, hb, one, a0, h0, di0, dh0, s0);
  }
}
