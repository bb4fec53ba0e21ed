import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerNorm } from '../../src/engine/layers/layernorm.js';
import { Engine, Tensor } from '../../src/engine/runtime.js';
import { referenceSkip } from '../helpers/env.js';
import { assertClose, seededValues } from './transformer-gradcheck.js';
import { torchGradients } from './transformer-torch.js';

test('LayerNorm matches nn.LayerNorm: output, input gradient and weight/bias gradients', { skip: referenceSkip('torch') }, () => {
  const e = Engine.create();
  const [B, T, n] = [3, 5, 24];
  const ln = new LayerNorm(e, n);
  ln.weight.value.set(seededValues(n, 1, 2));
  ln.bias.value.set(seededValues(n, 2));
  const x = Tensor.scratch(e, [B, T, n]);
  x.set(seededValues(B * T * n, 3, 3));
  const dy = Tensor.scratch(e, [B, T, n]);
  dy.set(seededValues(B * T * n, 4));
  const y = ln.forward(x);
  const dx = ln.backward(dy);
  const ref = torchGradients({ type: 'layernorm', features: n }, ln.parameters(), x, dy);
  assertClose(y.data(), ref.output, 1e-4, 1e-5, 'output');
  assertClose(dx.data(), ref.gradInput, 1e-4, 1e-5, 'grad input');
  assert.deepEqual(Object.keys(ref.grads), ['weight', 'bias']);
  assertClose(ln.weight.grad.data(), ref.grads.weight!, 1e-4, 1e-5, 'grad weight');
  assertClose(ln.bias.grad.data(), ref.grads.bias!, 1e-4, 1e-5, 'grad bias');
});
