import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultiheadAttention } from '../../src/engine/layers/attention.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine, Tensor } from '../../src/engine/runtime.js';
import { referenceSkip } from '../helpers/env.js';
import { assertClose, seededValues } from './transformer-gradcheck.js';
import { torchGradients } from './transformer-torch.js';

const skip = referenceSkip('torch');

function setup(B: number, T: number, d: number, H: number) {
  const e = Engine.create();
  const mha = new MultiheadAttention(e, d, H, 0.2, new Rng(5));
  mha.setTraining(false);
  mha.parameters().forEach((p, i) => p.value.set(seededValues(p.value.size, 100 + i, 0.3)));
  const x = Tensor.scratch(e, [B, T, d]);
  x.set(seededValues(B * T * d, 7, 1.5));
  return { e, mha, x };
}

test('MultiheadAttention matches nn.MultiheadAttention (eval): output, input and every parameter gradient', { skip }, () => {
  const [B, T, d, H] = [3, 7, 16, 4];
  const { e, mha, x } = setup(B, T, d, H);
  const dy = Tensor.scratch(e, [B, T, d]);
  dy.set(seededValues(B * T * d, 8));
  const y = mha.forward(x);
  const dx = mha.backward(dy);
  const ref = torchGradients({ type: 'mha', d_model: d, nhead: H, dropout: 0.2 }, mha.parameters(), x, dy);
  assertClose(y.data(), ref.output, 1e-4, 1e-5, 'output');
  assertClose(dx.data(), ref.gradInput, 1e-4, 1e-5, 'grad input');
  assert.deepEqual(
    Object.keys(ref.grads),
    mha.parameters().map((p) => p.name),
  );
  for (const p of mha.parameters()) assertClose(p.grad.data(), ref.grads[p.name]!, 1e-4, 1e-5, `grad ${p.name}`);
  // the key bias cannot change any output (softmax is shift-invariant per row): its gradient is exactly zero
  assert.ok(
    mha.inProjBias.grad
      .data()
      .subarray(d, 2 * d)
      .every((v) => v === 0),
  );
});

test('forwardLast equals the last position of forward, and its backward equals backward with dy only there', () => {
  const [B, T, d, H] = [2, 6, 12, 3];
  const full = setup(B, T, d, H);
  const last = setup(B, T, d, H);
  const dyLast = seededValues(B * d, 9);
  const dyFull = Tensor.scratch(full.e, [B, T, d]);
  dyFull.data().fill(0);
  for (let b = 0; b < B; b++) dyFull.data().set(dyLast.subarray(b * d, (b + 1) * d), (b * T + T - 1) * d);
  const yFull = full.mha.forward(full.x).data();
  const dxFull = full.mha.backward(dyFull).data();
  const yLast = last.mha.forwardLast(last.x);
  assert.deepEqual(yLast.shape, [B, 1, d]);
  const expected = new Float32Array(B * d);
  for (let b = 0; b < B; b++) expected.set(yFull.subarray((b * T + T - 1) * d, (b * T + T) * d), b * d);
  assertClose(yLast.data(), expected, 1e-5, 1e-6, 'last output');
  const dy = Tensor.scratch(last.e, [B, 1, d]);
  dy.set(dyLast);
  const dxLast = last.mha.backward(dy);
  assertClose(dxLast.data(), dxFull, 1e-5, 1e-6, 'grad input');
  const fullParams = full.mha.parameters();
  last.mha.parameters().forEach((p, i) => assertClose(p.grad.data(), fullParams[i]!.grad.data(), 1e-5, 1e-6, `grad ${p.name}`));
});

test('attention dropout is on only in training and is reproducible from the seed', () => {
  const [B, T, d, H] = [2, 5, 8, 2];
  const { e, mha, x } = setup(B, T, d, H);
  mha.setTraining(true);
  const mark = e.arenaMark();
  const yTrain = mha.forward(x).data().slice();
  mha.setTraining(false);
  const yEval = mha.forward(x).data().slice();
  e.resetArena(mark);
  assert.notDeepEqual(yTrain, yEval);
  // same seed, same mask: a second engine reproduces the training output bit for bit
  const again = setup(B, T, d, H);
  again.mha.setTraining(true);
  assert.deepEqual(again.mha.forward(again.x).data(), yTrain);
});
