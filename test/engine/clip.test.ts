import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipGradNorm } from '../../src/engine/optim/index.js';
import { createParameter, Engine, type Parameter } from '../../src/engine/runtime.js';
import { referenceSkip } from '../helpers/env.js';
import { seededValues, torchReference } from './optim-helpers.js';

function withGrads(grads: { shape: number[]; values: number[] }[]): Parameter[] {
  const engine = Engine.create();
  return grads.map((g, i) => {
    const p = createParameter(engine, `p${i}`, g.shape);
    p.grad.set(g.values);
    return p;
  });
}

test('hand-computed: norm 5 clipped to 1, a norm below the limit leaves gradients untouched', () => {
  const params = withGrads([
    { shape: [2], values: [3, 0] },
    { shape: [1, 1], values: [-4] },
  ]);
  assert.equal(clipGradNorm(params, 1), 5);
  const coef = Math.fround(1 / Math.fround(5 + Math.fround(1e-6)));
  assert.deepEqual(Array.from(params[0].grad.data()), [Math.fround(3 * coef), 0]);
  assert.deepEqual(Array.from(params[1].grad.data()), [Math.fround(-4 * coef)]);

  const small = withGrads([{ shape: [3], values: [0.1, -0.2, 0.3] }]);
  const before = small[0].grad.data().slice();
  assert.equal(clipGradNorm(small, 10), Math.fround(Math.sqrt(0.1 ** 2 + 0.2 ** 2 + 0.3 ** 2)));
  assert.deepEqual(small[0].grad.data(), before);
  assert.equal(clipGradNorm([], 1), 0);
});

test('a NaN gradient gives a NaN norm and NaN gradients, as torch does by default', () => {
  const params = withGrads([
    { shape: [2], values: [NaN, 1] },
    { shape: [1], values: [2] },
  ]);
  assert.ok(Number.isNaN(clipGradNorm(params, 1)));
  assert.ok(params.every((p) => p.grad.data().every(Number.isNaN)));
});

test('norms and clipped gradients equal torch.nn.utils.clip_grad_norm_', { skip: referenceSkip('torch') }, () => {
  // Sizes 1..9 cover every tail length of the f32x4 loops; 4099 a long body.
  const sizes = [[1], [2], [3], [4], [5], [6], [7], [8], [9], [4099]];
  const cases = [0.5, 1, 5, 1000].map((maxNorm, c) => ({
    kind: 'clip',
    max_norm: maxNorm,
    grads: sizes.map((shape, i) => ({ shape, values: seededValues(shape[0], 31 * c + i, 0.1) })),
  }));
  const reference = torchReference<{ norm: number; grads: number[][] }>(cases);
  cases.forEach((c, i) => {
    const params = withGrads(c.grads);
    const norm = clipGradNorm(params, c.max_norm);
    assert.ok(Math.abs(norm - reference[i].norm) <= 1e-6 * reference[i].norm, `max_norm ${c.max_norm}: norm ${norm} vs ${reference[i].norm}`);
    params.forEach((p, j) => {
      const got = p.grad.data();
      const want = reference[i].grads[j];
      for (let k = 0; k < got.length; k++) {
        assert.ok(Math.abs(got[k] - want[k]) <= 1e-6 * Math.abs(want[k]) + 1e-12, `max_norm ${c.max_norm}, p${j}[${k}]: ${got[k]} vs ${want[k]}`);
      }
    });
  });
  // The limits straddle the norm (about 3.7), so both the clipping and the pass-through path were compared.
  assert.ok(reference.some((r, i) => r.norm > cases[i].max_norm) && reference.some((r, i) => r.norm < cases[i].max_norm));
});
