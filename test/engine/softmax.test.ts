import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/runtime.js';
import { assertClose, checkFiniteDifferences, dot, seededValues } from './transformer-gradcheck.js';

function softmaxRef(x: ArrayLike<number>, rows: number, n: number, scale: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x[r * n + j]!);
    let s = 0;
    for (let j = 0; j < n; j++) s += y[r * n + j] = Math.exp(scale * (x[r * n + j]! - m));
    for (let j = 0; j < n; j++) y[r * n + j]! /= s;
  }
  return y;
}

for (const [rows, n] of [
  [3, 8],
  [5, 7],
  [2, 1],
  [4, 60],
] as const) {
  test(`softmax forward matches float64 and is stable for large inputs (${rows}x${n})`, () => {
    const e = Engine.create();
    const x = e.alloc(rows * n);
    const y = e.alloc(rows * n);
    const values = seededValues(rows * n, 7 + n, 4);
    values[0] = 1000; // would overflow exp without subtracting the row max
    if (n > 1) values[1] = 1000; // two maxima: the row sum is 2, so the far-away weights would land below f32's normal range
    e.f32(x, rows * n).set(values);
    e.k.softmax_forward(x, y, rows, n, 0.5);
    assertClose(e.f32(y, rows * n), softmaxRef(values, rows, n, 0.5), 2e-6, 1e-9, 'softmax');
    // weights far below f32 resolution are exactly zero, never subnormal (subnormals make the backward crawl)
    for (const v of e.f32(y, rows * n)) assert.ok(v === 0 || v >= 1.1754944e-38, `subnormal softmax weight ${v}`);
    for (let r = 0; r < rows; r++) {
      const row = e.f32(y + r * n * 4, n);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6, `row ${r} sums to 1`);
    }
  });

  test(`softmax backward agrees with finite differences (${rows}x${n})`, () => {
    const e = Engine.create();
    const size = rows * n;
    const x = e.alloc(size);
    const y = e.alloc(size);
    const dy = e.alloc(size);
    const dx = e.alloc(size);
    e.f32(x, size).set(seededValues(size, 11 + n, 2));
    const weights = seededValues(size, 13 + n);
    e.f32(dy, size).set(weights);
    const scale = 0.7;
    const loss = (): number => {
      e.k.softmax_forward(x, y, rows, n, scale);
      return dot(e.f32(y, size), weights);
    };
    loss();
    e.k.softmax_backward(y, dy, dx, rows, n, scale);
    const analytic = e.f32(dx, size).slice();
    checkFiniteDifferences({ what: 'softmax dx', input: () => e.f32(x, size), analytic, loss, h: 1e-2, tol: 1e-2 });
    // in place (dx aliasing dy) gives the same result
    loss();
    e.k.softmax_backward(y, dy, dy, rows, n, scale);
    assert.deepEqual(e.f32(dy, size), analytic);
  });
}
