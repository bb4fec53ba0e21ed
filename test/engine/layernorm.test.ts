import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/runtime.js';
import { assertClose, checkFiniteDifferences, dot, seededValues } from './transformer-gradcheck.js';

const EPS = 1e-5;

function layernormRef(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number, n: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += x[r * n + j]!;
    mean /= n;
    let variance = 0;
    for (let j = 0; j < n; j++) variance += (x[r * n + j]! - mean) ** 2;
    variance /= n;
    const rstd = 1 / Math.sqrt(variance + EPS);
    for (let j = 0; j < n; j++) y[r * n + j] = (x[r * n + j]! - mean) * rstd * gamma[j]! + beta[j]!;
  }
  return y;
}

for (const [rows, n] of [
  [4, 16],
  [3, 13],
  [2, 128],
] as const) {
  test(`layernorm forward with the fused residual matches float64 (${rows}x${n})`, () => {
    const e = Engine.create();
    const size = rows * n;
    const [x, res, sum, y, y2] = [e.alloc(size), e.alloc(size), e.alloc(size), e.alloc(size), e.alloc(size)];
    const [gamma, beta, mean, rstd] = [e.alloc(n), e.alloc(n), e.alloc(rows), e.alloc(rows)];
    const xs = seededValues(size, 3 + n, 3);
    for (let i = 0; i < size; i++) xs[i]! += 10; // a large common offset must not hurt the variance
    const rs = seededValues(size, 5 + n);
    e.f32(x, size).set(xs);
    e.f32(res, size).set(rs);
    e.f32(gamma, n).set(seededValues(n, 17, 2));
    e.f32(beta, n).set(seededValues(n, 19));
    e.k.layernorm_forward(x, res, sum, gamma, beta, y, mean, rstd, rows, n, EPS);
    const summed = xs.map((v, i) => v + rs[i]!);
    assert.deepEqual(e.f32(sum, size), summed);
    const expected = layernormRef(summed, e.f32(gamma, n), e.f32(beta, n), rows, n);
    assertClose(e.f32(y, size), expected, 1e-5, 1e-5, 'layernorm(x + res)');
    // without a residual the input is normalised directly
    e.k.layernorm_forward(sum, 0, 0, gamma, beta, y2, mean, rstd, rows, n, EPS);
    assert.deepEqual(e.f32(y2, size), e.f32(y, size));
  });

  test(`layernorm backward agrees with finite differences for x, gamma and beta (${rows}x${n})`, () => {
    const e = Engine.create();
    const size = rows * n;
    const [x, y, dy, dx] = [e.alloc(size), e.alloc(size), e.alloc(size), e.alloc(size)];
    const [gamma, beta, dgamma, dbeta, mean, rstd] = [e.alloc(n), e.alloc(n), e.alloc(n), e.alloc(n), e.alloc(rows), e.alloc(rows)];
    e.f32(x, size).set(seededValues(size, 23 + n, 2));
    e.f32(gamma, n).set(seededValues(n, 29, 2));
    e.f32(beta, n).set(seededValues(n, 31));
    const weights = seededValues(size, 37 + n);
    e.f32(dy, size).set(weights);
    const loss = (): number => {
      e.k.layernorm_forward(x, 0, 0, gamma, beta, y, mean, rstd, rows, n, EPS);
      return dot(e.f32(y, size), weights);
    };
    loss();
    // gradients accumulate into dgamma/dbeta: start from a known value
    e.f32(dgamma, n).fill(0.25);
    e.f32(dbeta, n).fill(-0.5);
    e.k.layernorm_backward(x, mean, rstd, gamma, dy, dx, dgamma, dbeta, rows, n);
    const dgammaAnalytic = e.f32(dgamma, n).map((v) => v - 0.25);
    const dbetaAnalytic = e.f32(dbeta, n).map((v) => v + 0.5);
    checkFiniteDifferences({ what: 'layernorm dx', input: () => e.f32(x, size), analytic: e.f32(dx, size).slice(), loss, h: 1e-2, tol: 1e-2 });
    checkFiniteDifferences({ what: 'layernorm dgamma', input: () => e.f32(gamma, n), analytic: dgammaAnalytic, loss, h: 1e-2, tol: 1e-2 });
    checkFiniteDifferences({ what: 'layernorm dbeta', input: () => e.f32(beta, n), analytic: dbetaAnalytic, loss, h: 1e-2, tol: 1e-2 });
  });
}
