import { test } from 'node:test';
import { Engine } from '../../src/engine/runtime.js';
import { assertClose, checkFiniteDifferences, dot, seededValues } from './transformer-gradcheck.js';

/** float64 multi-head attention on the packed layout qkv [B*T, 3d] (queries only for the last tq positions). */
function attentionRef(qkv: ArrayLike<number>, mask: ArrayLike<number> | undefined, B: number, T: number, tq: number, H: number, hd: number): Float64Array {
  const d = H * hd;
  const out = new Float64Array(B * tq * d);
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < tq; i++) {
        const qi = (b * T + T - tq + i) * 3 * d + h * hd;
        const s = new Float64Array(T);
        for (let j = 0; j < T; j++) {
          const kj = (b * T + j) * 3 * d + d + h * hd;
          for (let c = 0; c < hd; c++) s[j]! += qkv[qi + c]! * qkv[kj + c]! * scale;
        }
        const m = Math.max(...s);
        let z = 0;
        for (let j = 0; j < T; j++) z += s[j] = Math.exp(s[j]! - m);
        for (let j = 0; j < T; j++) {
          const p = (s[j]! / z) * (mask ? mask[((b * H + h) * tq + i) * T + j]! : 1);
          const vj = (b * T + j) * 3 * d + 2 * d + h * hd;
          for (let c = 0; c < hd; c++) out[(b * tq + i) * d + h * hd + c]! += p * qkv[vj + c]!;
        }
      }
  return out;
}

function dropoutMask(count: number, seed: number, p: number): Float32Array {
  return seededValues(count, seed).map((u) => ((u + 1) / 2 < p ? 0 : 1 / (1 - p)));
}

// Shapes with odd sizes exercise every tail path of the small GEMM (rows not a multiple of 4, columns not of 8 or 4).
for (const c of [
  { B: 2, T: 9, H: 2, hd: 5, tq: 9, dropout: false },
  { B: 2, T: 9, H: 2, hd: 5, tq: 9, dropout: true },
  { B: 3, T: 6, H: 3, hd: 8, tq: 1, dropout: false },
  { B: 1, T: 12, H: 2, hd: 16, tq: 12, dropout: true },
]) {
  const name = `B${c.B} T${c.T} H${c.H} hd${c.hd} tq${c.tq}${c.dropout ? ' dropout' : ''}`;
  test(`attention forward matches float64 and backward agrees with finite differences (${name})`, () => {
    const { B, T, H, hd, tq } = c;
    const d = H * hd;
    const e = Engine.create();
    const qkvSize = B * T * 3 * d;
    const plane = B * H * tq * T;
    const qkv = e.alloc(qkvSize);
    const out = e.alloc(B * tq * d);
    const probs = e.alloc(plane);
    const mask = c.dropout ? e.alloc(plane) : 0;
    const dropped = c.dropout ? e.alloc(plane) : 0;
    const scratch = e.alloc(hd * T + 3 * tq * T);
    const dout = e.alloc(B * tq * d);
    const dqkv = e.allocZeroed(qkvSize);
    e.f32(qkv, qkvSize).set(seededValues(qkvSize, 41 + T, 1.5));
    const maskValues = c.dropout ? dropoutMask(plane, 43, 0.3) : undefined;
    if (mask) e.f32(mask, plane).set(maskValues!);
    const weights = seededValues(B * tq * d, 47);
    e.f32(dout, B * tq * d).set(weights);
    const scale = 1 / Math.sqrt(hd);
    // tq < T: queries are the last tq rows of each batch, read through the packed buffer with a row offset
    const qStart = qkv + (T - tq) * 3 * d * 4;
    const run = (): void => {
      for (let b = 0; b < B; b++) {
        e.k.attention_forward(
          qStart + b * T * 3 * d * 4,
          3 * d,
          qkv + b * T * 3 * d * 4 + d * 4,
          qkv + b * T * 3 * d * 4 + 2 * d * 4,
          3 * d,
          out + b * tq * d * 4,
          d,
          probs + b * H * tq * T * 4,
          mask ? mask + b * H * tq * T * 4 : 0,
          dropped ? dropped + b * H * tq * T * 4 : 0,
          1,
          H,
          tq,
          T,
          hd,
          scale,
          scratch,
        );
      }
    };
    const loss = (): number => {
      run();
      return dot(e.f32(out, B * tq * d), weights);
    };
    if (tq === T) {
      // the whole batch in one call (the layout the layer uses)
      e.k.attention_forward(qkv, 3 * d, qkv + d * 4, qkv + 2 * d * 4, 3 * d, out, d, probs, mask, dropped, B, H, T, T, hd, scale, scratch);
      assertClose(e.f32(out, B * tq * d), attentionRef(e.f32(qkv, qkvSize), maskValues, B, T, tq, H, hd), 1e-5, 1e-6, 'attention out');
    }
    loss();
    assertClose(e.f32(out, B * tq * d), attentionRef(e.f32(qkv, qkvSize), maskValues, B, T, tq, H, hd), 1e-5, 1e-6, 'attention out (per batch)');
    for (let b = 0; b < B; b++) {
      const o = b * T * 3 * d * 4;
      e.k.attention_backward(
        qStart + o,
        3 * d,
        qkv + o + d * 4,
        qkv + o + 2 * d * 4,
        3 * d,
        dout + b * tq * d * 4,
        d,
        probs + b * H * tq * T * 4,
        mask ? mask + b * H * tq * T * 4 : 0,
        dropped ? dropped + b * H * tq * T * 4 : 0,
        dqkv + (T - tq) * 3 * d * 4 + o,
        dqkv + o + d * 4,
        dqkv + o + 2 * d * 4,
        1,
        H,
        tq,
        T,
        hd,
        scale,
        scratch,
      );
    }
    checkFiniteDifferences({ what: 'attention d(qkv)', input: () => e.f32(qkv, qkvSize), analytic: e.f32(dqkv, qkvSize).slice(), loss, h: 1e-2, tol: 1e-2 });
  });
}
