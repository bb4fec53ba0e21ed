import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lossForwardBackward } from '../../src/engine/loss.js';
import { TransformerEncoderLayer } from '../../src/engine/layers/transformer.js';
import { Adam, clipGradNorm } from '../../src/engine/optim/index.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine, type Parameter, Tensor } from '../../src/engine/runtime.js';
import { type ModelConfig, ModelConfigSchema } from '../../src/models/config.js';
import { createNetwork, trainStep, zeroGrad } from '../../src/models/index.js';
import { TransformerForecaster } from '../../src/models/transformer.js';
import { referenceSkip } from '../helpers/env.js';
import type { RefTensor } from '../helpers/torch.js';
import { assertClose, checkFiniteDifferences, seededValues } from './transformer-gradcheck.js';
import { runTorchTransformer, torchGradients } from './transformer-torch.js';

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
    type: 'transformer',
    input: c.inputSize,
    d_model: c.hiddenSize,
    nhead: c.numHeads,
    layers: c.numLayers,
    ff: c.dimFeedforward,
    dropout: c.dropout,
    head: c.headHiddenSize,
    output: c.outputSize,
  };
}

function assertGradsMatch(params: Parameter[], grads: Record<string, Float32Array>): void {
  assert.deepEqual(
    Object.keys(grads),
    params.map((p) => p.name),
    'state_dict names and order',
  );
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
      modelType: 'transformer',
      inputSize: 6,
      hiddenSize: 16,
      numLayers,
      numHeads: 2,
      dimFeedforward: 32,
      outputSize: 3,
      headHiddenSize: 8,
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

test('TransformerModel after 20 Adam steps with grad-norm clipping (MSE, eval mode) still agrees with PyTorch within 1e-3', { skip }, () => {
  const e = Engine.create();
  const config = ModelConfigSchema.parse({
    modelType: 'transformer',
    inputSize: 5,
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 4,
    dimFeedforward: 24,
    outputSize: 2,
    headHiddenSize: 8,
  });
  const model = new TransformerForecaster(config, e, new Rng(3));
  model.setTraining(false);
  const params = model.parameters();
  const initial: Record<string, RefTensor> = {};
  for (const p of params) initial[`p.${p.name}`] = { shape: [...p.value.shape], data: Float32Array.from(p.value.data()) };
  const adam = new Adam(params, { lr: 3e-3 });
  const [steps, B, T] = [20, 4, 8];
  const batches: Record<string, RefTensor> = {};
  for (let i = 0; i < steps; i++) {
    batches[`x.${i}`] = { shape: [B, T, config.inputSize], data: seededValues(B * T * config.inputSize, 200 + i) };
    batches[`y.${i}`] = { shape: [B, config.outputSize], data: seededValues(B * config.outputSize, 300 + i, 0.5) };
  }
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    e.resetArena();
    adam.zeroGrad();
    const x = Tensor.scratch(e, batches[`x.${i}`]!.shape);
    x.set(batches[`x.${i}`]!.data);
    const y = Tensor.scratch(e, batches[`y.${i}`]!.shape);
    y.set(batches[`y.${i}`]!.data);
    const out = model.forward(x);
    const grad = Tensor.scratch(e, out.shape);
    losses.push(lossForwardBackward(e, 'mse', out, y, grad));
    model.backward(grad);
    clipGradNorm(params, 0.5);
    adam.step();
  }
  e.resetArena();
  const ref = runTorchTransformer(
    { task: 'train', module: torchSpec(config), steps, optimizer: 'adam', lr: 3e-3, clip: 0.5, loss: 'mse' },
    { ...initial, ...batches },
  );
  assertClose(losses, ref.loss!.data, 1e-3, 1e-5, 'losses');
  const d = config.hiddenSize;
  for (const p of params) {
    const ours = p.value.data();
    const theirs = ref[`p.${p.name}`]!.data;
    if (!p.name.endsWith('self_attn.in_proj_bias')) {
      assertClose(ours, theirs, 1e-3, 1e-3, `${p.name} after ${steps} steps`);
      continue;
    }
    // The key block of in_proj_bias has an exactly zero gradient (softmax is shift-invariant per row). We keep it
    // exactly zero, so it never moves; torch sums roundoff there, and Adam turns that noise into steps of up to lr.
    // So: query and value blocks within 1e-3, key block unchanged here and within Adam's step bound in torch.
    assertClose([...ours.subarray(0, d), ...ours.subarray(2 * d)], [...theirs.subarray(0, d), ...theirs.subarray(2 * d)], 1e-3, 1e-3, `${p.name} q,v`);
    assert.deepEqual(ours.subarray(d, 2 * d), initial[`p.${p.name}`]!.data.subarray(d, 2 * d), `${p.name} key block unchanged`);
    for (const v of theirs.subarray(d, 2 * d)) assert.ok(Math.abs(v) <= steps * 3e-3, `torch key bias ${v} within ${steps} Adam steps`);
  }
});

test('training mode (every dropout on, attention dropout included): whole-model gradients agree with finite differences under the same masks', () => {
  const e = Engine.create();
  const rng = new Rng(8);
  const config = ModelConfigSchema.parse({
    modelType: 'transformer',
    inputSize: 3,
    hiddenSize: 8,
    numLayers: 2,
    numHeads: 2,
    dimFeedforward: 12,
    outputSize: 2,
    headHiddenSize: 6,
    dropout: 0.3,
  });
  const model = createNetwork(config, e, rng);
  model.setTraining(true);
  const [B, T] = [2, 5];
  const xValues = seededValues(B * T * 3, 50);
  const weights = seededValues(B * 2, 51);
  const masks = rng.getState();
  // every forward replays the same dropout masks, so the loss is one smooth function of the weights
  const loss = (): number => {
    rng.setState(masks);
    e.resetArena();
    const x = Tensor.scratch(e, [B, T, 3]);
    x.set(xValues);
    return model
      .forward(x)
      .data()
      .reduce((s, v, i) => s + v * weights[i]!, 0);
  };
  zeroGrad(model);
  loss();
  const dy = Tensor.scratch(e, [B, 2]);
  dy.set(weights);
  model.backward(dy);
  const params = model.parameters();
  const grads = new Map(params.map((p) => [p.name, Float32Array.from(p.grad.data())]));
  e.resetArena();
  const pick = new Rng(77);
  for (const p of params) {
    const indices = Array.from({ length: Math.min(6, p.value.size) }, () => pick.int(p.value.size));
    checkFiniteDifferences({ what: p.name, input: () => p.value.data(), analytic: grads.get(p.name)!, loss, indices, h: 1e-3, tol: 3e-2 });
  }
});

test('the same seed gives bit-identical transformer weights after training steps with dropout; another seed does not', () => {
  const train = (seed: number): Float32Array[] => {
    const e = Engine.create();
    const config = ModelConfigSchema.parse({
      modelType: 'transformer',
      inputSize: 4,
      hiddenSize: 8,
      numLayers: 2,
      numHeads: 2,
      dimFeedforward: 16,
      dropout: 0.3,
    });
    const model = createNetwork(config, e, new Rng(seed));
    const adam = new Adam(model.parameters(), { lr: 1e-2 });
    for (let step = 0; step < 4; step++) {
      trainStep(model, 'mse', seededValues(3 * 6 * 4, 60 + step), seededValues(3, 70 + step), 3);
      clipGradNorm(model.parameters(), 1);
      adam.step();
    }
    return model.parameters().map((p) => Float32Array.from(p.value.data()));
  };
  const a = train(42);
  assert.deepEqual(train(42), a);
  assert.notDeepEqual(train(43), a);
});
