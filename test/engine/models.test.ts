import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam, AdamW, clipGradNorm } from '../../src/engine/optim/index.js';
import { LOSS_KINDS, type LossKind, lossForwardBackward } from '../../src/engine/loss.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine, EngineMemoryError, Tensor } from '../../src/engine/runtime.js';
import { ModelConfigSchema, createNetwork, loadStateDict, predict, stateDict, trainStep, zeroGrad } from '../../src/models/index.js';
import type { Network } from '../../src/models/index.js';
import { referenceSkip } from '../helpers/env.js';
import { assertClose } from '../helpers/torch.js';
import { type ParityCase, compareCase, gradsOf, lazyReferences, paramInputs, randomArray } from './parity-helpers.js';

const engine = Engine.create();
const skipTorch = referenceSkip('torch');

function build(kind: 'lstm' | 'gru', numLayers: number, seed: number, outputSize = 1): Network {
  const config = ModelConfigSchema.parse({ modelType: kind, inputSize: 6, hiddenSize: 12, numLayers, outputSize, headHiddenSize: 8, dropout: 0.2 });
  return createNetwork(config, engine, new Rng(seed));
}

function torchSpec(net: Network) {
  const c = net.config;
  return {
    type: 'model',
    kind: c.modelType,
    input: c.inputSize,
    hidden: c.hiddenSize,
    layers: c.numLayers,
    dropout: c.dropout,
    head: c.headHiddenSize,
    output: c.outputSize,
  };
}

test('LSTM and GRU models expose exactly the seed state_dict names, in order', () => {
  assert.deepEqual(Object.keys(stateDict(build('lstm', 2, 1))), [
    'rnn.weight_ih_l0',
    'rnn.weight_hh_l0',
    'rnn.bias_ih_l0',
    'rnn.bias_hh_l0',
    'rnn.weight_ih_l1',
    'rnn.weight_hh_l1',
    'rnn.bias_ih_l1',
    'rnn.bias_hh_l1',
    'fc.0.weight',
    'fc.0.bias',
    'fc.3.weight',
    'fc.3.bias',
  ]);
  const gru = stateDict(build('gru', 1, 1, 5));
  assert.deepEqual(gru['rnn.weight_ih_l0'].shape, [36, 6]);
  assert.deepEqual(gru['fc.3.weight'].shape, [5, 8]);
});

/** Our side of one whole-model case in eval mode: output, loss and every gradient, copied out of engine memory. */
function modelCase(kind: 'lstm' | 'gru', numLayers: number, loss: LossKind): ParityCase {
  const net = build(kind, numLayers, 10 + numLayers, 3);
  const rng = new Rng(99);
  const B = 4,
    T = 7;
  engine.resetArena();
  zeroGrad(net);
  net.setTraining(false);
  const x = Tensor.scratch(engine, [B, T, 6]);
  x.set(randomArray(rng, x.size));
  const y = Tensor.scratch(engine, [B, 3]);
  y.set(randomArray(rng, y.size, 0.5));
  const out = net.forward(x);
  const grad = Tensor.scratch(engine, out.shape);
  const value = lossForwardBackward(engine, loss, out, y, grad);
  net.backward(grad);
  const job = {
    request: { task: 'grad', module: torchSpec(net), mode: 'eval', loss },
    tensors: { ...paramInputs(net), x: { shape: [B, T, 6], data: Float32Array.from(x.data()) }, y: { shape: [B, 3], data: Float32Array.from(y.data()) } },
  };
  const result = { job, out: Float32Array.from(out.data()), loss: value, grads: gradsOf(net) };
  engine.resetArena();
  return result;
}

const gradCases: { name: string; case: ParityCase }[] = [];
for (const kind of ['lstm', 'gru'] as const) {
  for (const numLayers of [1, 2]) {
    for (const loss of numLayers === 1 ? LOSS_KINDS : (['mse'] as const)) {
      gradCases.push({ name: `${kind} model, ${numLayers} layer(s), ${loss} loss`, case: modelCase(kind, numLayers, loss) });
    }
  }
}

test('loadStateDict is strict: a wrong shape or a missing/unknown name is a clear error, and a good dict round-trips', () => {
  const a = build('gru', 2, 3);
  const b = build('gru', 2, 4);
  loadStateDict(b, stateDict(a));
  assert.deepEqual(stateDict(b), stateDict(a));
  const bad = stateDict(a);
  bad['rnn.weight_hh_l1'] = { shape: [36, 13], data: new Float32Array(36 * 13) };
  assert.throws(() => loadStateDict(b, bad), /rnn\.weight_hh_l1 has shape \[36,13\], the model expects \[36,12\]/);
  const lstmDict = stateDict(build('lstm', 1, 5));
  assert.throws(() => loadStateDict(b, lstmDict), /missing rnn\.weight_ih_l1.*unexpected|missing .*rnn\.weight_hh_l1/);
});

test('trainStep returns the training loss and leaves gradients; predict is deterministic in eval mode', () => {
  const net = build('lstm', 2, 6);
  const rng = new Rng(7);
  const x = randomArray(rng, 5 * 4 * 6);
  const y = randomArray(rng, 5);
  const loss = trainStep(net, 'mse', x, y, 5);
  assert.ok(Number.isFinite(loss) && loss > 0);
  assert.ok(net.parameters().every((p) => p.grad.data().some((v) => v !== 0)));
  const p1 = predict(net, x, 5);
  const p2 = predict(net, x, 5);
  assert.deepEqual(p1, p2);
  assert.throws(() => trainStep(net, 'mse', x, y, 3), /x holds 120 values, not 3 windows/);
});

/** 20 optimizer steps with clipping on our side; returns our final parameters and losses and the torch job. */
function trainCase(kind: 'lstm' | 'gru', optimizer: 'adam' | 'adamw') {
  // dropout 0 so that training mode here and the reference's eval mode compute the same function
  const config = ModelConfigSchema.parse({ modelType: kind, inputSize: 6, hiddenSize: 12, numLayers: 2, outputSize: 2, headHiddenSize: 8, dropout: 0 });
  const net = createNetwork(config, engine, new Rng(21));
  const initial = paramInputs(net);
  const opt = optimizer === 'adam' ? new Adam(net.parameters(), { lr: 1e-2 }) : new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0.01 });
  const data = new Rng(22);
  const B = 8,
    T = 10,
    steps = 20,
    clip = 0.5;
  const batches: Record<string, { shape: number[]; data: Float32Array }> = {};
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const x = randomArray(data, B * T * 6);
    const y = randomArray(data, B * 2, 0.5);
    batches[`x.${i}`] = { shape: [B, T, 6], data: x };
    batches[`y.${i}`] = { shape: [B, 2], data: y };
    losses.push(trainStep(net, 'mse', x, y, B));
    clipGradNorm(net.parameters(), clip);
    opt.step();
  }
  const job = {
    request: { task: 'train', module: torchSpec(net), steps, optimizer, lr: 1e-2, weight_decay: optimizer === 'adam' ? 0 : 0.01, clip, loss: 'mse' },
    tensors: { ...initial, ...batches },
  };
  const params = Object.fromEntries(net.parameters().map((p) => [p.name, Float32Array.from(p.value.data())]));
  return { name: `${kind} model: after ${steps} ${optimizer} steps with grad-norm clipping`, job, losses, params };
}

const trainCases = [trainCase('lstm', 'adam'), trainCase('gru', 'adamw')];
const references = lazyReferences(() => [...gradCases.map((c) => c.case.job), ...trainCases.map((c) => c.job)]);

gradCases.forEach(({ name, case: c }, i) => {
  test(`${name}: output, loss and every parameter gradient match PyTorch (eval mode), names included`, { skip: skipTorch }, () => {
    compareCase(c, references()[i]);
  });
});

trainCases.forEach((c, i) => {
  test(`${c.name}: losses and parameters agree with PyTorch within 1e-3`, { skip: skipTorch }, () => {
    const ref = references()[gradCases.length + i];
    assertClose('losses', c.losses, ref.loss.data, 1e-3, 1e-5);
    for (const [name, value] of Object.entries(c.params)) assertClose(`${name} after training`, value, ref[`p.${name}`].data, 1e-3, 1e-5);
  });
});

test('a model too large for wasm memory fails with a clear EngineMemoryError, not an opaque RangeError', () => {
  const config = ModelConfigSchema.parse({ modelType: 'lstm', inputSize: 6, hiddenSize: 30000, numLayers: 1 });
  assert.throws(
    () => createNetwork(config, Engine.create(), new Rng(1)),
    (err: Error) => err instanceof EngineMemoryError && /reduce batch size, sequence length or hidden size/.test(err.message),
  );
});
