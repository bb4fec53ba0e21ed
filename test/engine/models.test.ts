import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam, AdamW, clipGradNorm } from '../../src/engine/optim/index.js';
import { LOSS_KINDS, type LossKind, lossForwardBackward } from '../../src/engine/loss.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine, Tensor } from '../../src/engine/runtime.js';
import { ModelConfigSchema, createNetwork, loadStateDict, predict, stateDict, trainStep, zeroGrad } from '../../src/models/index.js';
import type { Network } from '../../src/models/index.js';
import { referenceSkip } from '../helpers/env.js';
import { assertClose, runTorch } from '../helpers/torch.js';
import { paramInputs, randomArray } from './parity-helpers.js';

const engine = Engine.create();

function build(kind: 'lstm' | 'gru', numLayers: number, seed: number, outputSize = 1): Network {
  const config = ModelConfigSchema.parse({ modelType: kind, inputSize: 6, hiddenSize: 12, numLayers, outputSize, headHiddenSize: 8, dropout: 0.2 });
  return createNetwork(config, engine, new Rng(seed));
}

function torchSpec(net: Network) {
  const c = net.config;
  return { type: 'model', kind: c.modelType, input: c.inputSize, hidden: c.hiddenSize, layers: c.numLayers, dropout: c.dropout, head: c.headHiddenSize, output: c.outputSize };
}

test('LSTM and GRU models expose exactly the seed state_dict names, in order', () => {
  assert.deepEqual(Object.keys(stateDict(build('lstm', 2, 1))), [
    'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0',
    'rnn.weight_ih_l1', 'rnn.weight_hh_l1', 'rnn.bias_ih_l1', 'rnn.bias_hh_l1',
    'fc.0.weight', 'fc.0.bias', 'fc.3.weight', 'fc.3.bias',
  ]);
  const gru = stateDict(build('gru', 1, 1, 5));
  assert.deepEqual(gru['rnn.weight_ih_l0'].shape, [36, 6]);
  assert.deepEqual(gru['fc.3.weight'].shape, [5, 8]);
});

for (const kind of ['lstm', 'gru'] as const) {
  for (const numLayers of [1, 2]) {
    const losses: LossKind[] = numLayers === 1 ? [...LOSS_KINDS] : ['mse'];
    for (const loss of losses) {
      test(`${kind} model, ${numLayers} layer(s), ${loss} loss: output, loss and every parameter gradient match PyTorch (eval mode)`, { skip: referenceSkip('torch') }, () => {
        const net = build(kind, numLayers, 10 + numLayers, 3);
        const rng = new Rng(99);
        const B = 4, T = 7;
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
        const ref = runTorch(
          { task: 'grad', module: torchSpec(net), mode: 'eval', loss },
          { ...paramInputs(net), x: { shape: [B, T, 6], data: Float32Array.from(x.data()) }, y: { shape: [B, 3], data: Float32Array.from(y.data()) } },
        );
        assertClose('output', out.data(), ref.out.data);
        assertClose('loss', [value], ref.loss.data);
        const torchNames = Object.keys(ref).filter((n) => n.startsWith('grad.')).map((n) => n.slice(5));
        assert.deepEqual(net.parameters().map((p) => p.name).sort(), torchNames.sort());
        for (const p of net.parameters()) assertClose(`gradient of ${p.name}`, p.grad.data(), ref[`grad.${p.name}`].data);
        engine.resetArena();
      });
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

for (const [kind, optimizer] of [['lstm', 'adam'], ['gru', 'adamw']] as const) {
  test(`${kind} model: after 20 ${optimizer} steps with grad-norm clipping the parameters agree with PyTorch within 1e-3`, { skip: referenceSkip('torch') }, () => {
    // dropout 0 so that training mode here and the reference's eval mode compute the same function
    const config = ModelConfigSchema.parse({ modelType: kind, inputSize: 6, hiddenSize: 12, numLayers: 2, outputSize: 2, headHiddenSize: 8, dropout: 0 });
    const net = createNetwork(config, engine, new Rng(21));
    const initial = paramInputs(net);
    const opt = optimizer === 'adam' ? new Adam(net.parameters(), { lr: 1e-2 }) : new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 0.01 });
    const data = new Rng(22);
    const B = 8, T = 10, steps = 20, clip = 0.5;
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
    const ref = runTorch(
      { task: 'train', module: torchSpec(net), steps, optimizer, lr: 1e-2, weight_decay: optimizer === 'adam' ? 0 : 0.01, clip, loss: 'mse' },
      { ...initial, ...batches },
    );
    assertClose('losses', losses, ref.loss.data, 1e-3, 1e-5);
    for (const p of net.parameters()) assertClose(`${p.name} after ${steps} steps`, p.value.data(), ref[`p.${p.name}`].data, 1e-3, 1e-5);
  });
}
