import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransformerEncoderLayer } from '../../src/engine/layers/transformer.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine, type Parameter, Tensor } from '../../src/engine/runtime.js';
import { type ModelConfig, ModelConfigSchema } from '../../src/models/config.js';
import { TransformerForecaster } from '../../src/models/transformer.js';
import { referenceSkip } from '../helpers/env.js';
import { assertClose, seededValues } from './transformer-gradcheck.js';
import { torchGradients } from './transformer-torch.js';

const skip = referenceSkip('torch');

/** Random weights that keep activations in a realistic range; layernorm gains around 1. */
function randomize(params: Parameter[], seed: number): void {
  params.forEach((p, i) => {
    const v = seededValues(p.value.size, seed + i, p.value.shape.length === 1 ? 0.2 : 1 / Math.sqrt(p.value.shape[1]!));
    if (/norm\d\.weight$/.test(p.name)) for (let j = 0; j < v.length; j++) v[j]! += 1;
    p.value.set(v);
  });
}

/** The torch.nn TransformerModel of ref_transformer.py with this config's sizes. */
function torchSpec(c: ModelConfig): Record<string, unknown> {
  return {
    type: 'transformer', input: c.inputSize, d_model: c.hiddenSize, nhead: c.numHeads, layers: c.numLayers,
    ff: c.dimFeedforward, dropout: c.dropout, head: c.headHiddenSize, output: c.outputSize,
  };
}

function assertGradsMatch(params: Parameter[], grads: Record<string, Float32Array>): void {
  assert.deepEqual(Object.keys(grads), params.map((p) => p.name), 'state_dict names and order');
  for (const p of params) assertClose(p.grad.data(), grads[p.name]!, 1e-4, 1e-5, `grad ${p.name}`);
}

test('TransformerEncoderLayer matches nn.TransformerEncoderLayer (eval): output, input and every parameter gradient', { skip }, () => {
  const e = Engine.create();
  const options = { dModel: 16, numHeads: 4, dimFeedforward: 24, dropout: 0.2 };
  const layer = new TransformerEncoderLayer(e, options, new Rng(1));
  layer.setTraining(false);
  randomize(layer.parameters(), 10);
  const [B, T] = [3, 7];
  const x = Tensor.scratch(e, [B, T, 16]);
  x.set(seededValues(B * T * 16, 2));
  const dy = Tensor.scratch(e, [B, T, 16]);
  dy.set(seededValues(B * T * 16, 3));
  const y = layer.forward(x);
  const dx = layer.backward(dy);
  const ref = torchGradients({ type: 'encoder_layer', d_model: 16, nhead: 4, ff: 24, dropout: 0.2 }, layer.parameters(), x, dy);
  assertClose(y.data(), ref.output, 1e-4, 1e-5, 'output');
  assertClose(dx.data(), ref.gradInput, 1e-4, 1e-5, 'grad input');
  assertGradsMatch(layer.parameters(), ref.grads);
});

for (const numLayers of [1, 2]) {
  test(`TransformerModel with ${numLayers} layer(s) matches the torch.nn reference (eval): output, input and every gradient`, { skip }, () => {
    const e = Engine.create();
    const config = ModelConfigSchema.parse({
      modelType: 'transformer', inputSize: 6, hiddenSize: 16, numLayers, numHeads: 2, dimFeedforward: 32, outputSize: 3, headHiddenSize: 8,
    });
    const model = new TransformerForecaster(config, e, new Rng(2));
    model.setTraining(false);
    randomize(model.parameters(), 20);
    const [B, T] = [4, 9];
    const x = Tensor.scratch(e, [B, T, config.inputSize]);
    x.set(seededValues(x.size, 4));
    const dy = Tensor.scratch(e, [B, config.outputSize]);
    dy.set(seededValues(dy.size, 5));
    const y = model.forward(x);
    assert.deepEqual(y.shape, [B, config.outputSize]);
    const dx = model.backward(dy);
    const ref = torchGradients(torchSpec(config), model.parameters(), x, dy);
    assertClose(y.data(), ref.output, 1e-4, 1e-5, 'output');
    assertClose(dx.data(), ref.gradInput, 1e-4, 1e-5, 'grad input');
    assertGradsMatch(model.parameters(), ref.grads);
  });
}
