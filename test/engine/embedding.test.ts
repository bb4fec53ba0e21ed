import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Embedding, concatPerStep, perStepRowGrad } from '../../src/engine/layers/embedding.js';
import { lossForwardBackward } from '../../src/engine/loss.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine, Tensor } from '../../src/engine/runtime.js';
import { ModelConfigSchema, createNetwork, drawsUnknownStock, stateDict, stockRow, zeroGrad, type ModelType, type Network } from '../../src/models/index.js';
import { referenceSkip } from '../helpers/env.js';
import { runTorch, type RefTensor } from '../helpers/torch.js';
import { compareCase, gradsOf, paramInputs, randomArray, type ParityCase } from './parity-helpers.js';

const engine = Engine.create();
const skipTorch = referenceSkip('torch');
// ref_transformer.py serves every module spec of torch_ref.py plus the Transformer.
const SCRIPT = fileURLToPath(new URL('./ref_transformer.py', import.meta.url));

test('Embedding gathers rows and scatter-adds their gradients, an index used twice getting both', () => {
  engine.resetArena();
  const emb = new Embedding(engine, 3, 2, new Rng(1));
  emb.weight.value.set([1, 2, 3, 4, 5, 6]);
  emb.weight.grad.data().fill(0);
  const out = emb.forward(Int32Array.from([2, 0, 2]));
  assert.deepEqual(Array.from(out.data()), [5, 6, 1, 2, 5, 6]);
  const dy = Tensor.scratch(engine, [3, 2]);
  dy.set([0.5, 1, 2, 3, 0.25, -1]);
  emb.backward(dy);
  assert.deepEqual(Array.from(emb.weight.grad.data()), [2, 3, 0, 0, 0.75, 0]);
  assert.throws(() => emb.forward(Int32Array.from([3])), /index 3 out of range/);
  engine.resetArena();
});

test('concatPerStep appends the row to every time step; perStepRowGrad sums that part of the gradient over time', () => {
  engine.resetArena();
  const x = Tensor.scratch(engine, [2, 2, 1]);
  x.set([1, 2, 3, 4]);
  const e = Tensor.scratch(engine, [2, 2]);
  e.set([10, 11, 20, 21]);
  assert.deepEqual(Array.from(concatPerStep(engine, x, e).data()), [1, 10, 11, 2, 10, 11, 3, 20, 21, 4, 20, 21]);
  const dy = Tensor.scratch(engine, [2, 2, 3]);
  dy.set([9, 1, 2, 9, 3, 4, 9, 5, 6, 9, 7, 8]);
  assert.deepEqual(Array.from(perStepRowGrad(engine, dy, 1).data()), [4, 6, 12, 14]);
  engine.resetArena();
});

test('the table starts as PyTorch nn.Embedding does, N(0, 1), and comes first in the state_dict', () => {
  const net = build('lstm', 1, 3);
  const dict = stateDict(net);
  assert.equal(Object.keys(dict)[0], 'stock_embedding.weight');
  assert.deepEqual(dict['stock_embedding.weight'].shape, [5, 3]);
  // The inner LSTM reads the 6 features plus the 3 embedding columns.
  assert.deepEqual(dict['rnn.weight_ih_l0'].shape, [48, 9]);
  const big = createNetwork(
    ModelConfigSchema.parse({ modelType: 'gru', inputSize: 2, hiddenSize: 4, stockEmbeddingDim: 64, numStocks: 499 }),
    engine,
    new Rng(7),
  );
  const w = stateDict(big)['stock_embedding.weight'].data;
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
  assert.ok(Math.abs(mean) < 0.02 && Math.abs(sd - 1) < 0.02, `mean ${mean}, sd ${sd}`);
});

test('a stock maps to 1 + its index among the trained stocks, any other to the unknown row 0', () => {
  assert.equal(stockRow(['000001', '600519'], '600519'), 2);
  assert.equal(stockRow(['000001', '600519'], '000001'), 1);
  assert.equal(stockRow(['000001', '600519'], '300750'), 0);
});

test('the unknown-row draw is a pure function of (seed, epoch, window) with about the configured rate', () => {
  let hits = 0;
  for (let w = 0; w < 20000; w++) if (drawsUnknownStock(42, 3, w, 0.05)) hits++;
  assert.ok(Math.abs(hits / 20000 - 0.05) < 0.006, `${hits} of 20000`);
  assert.equal(drawsUnknownStock(42, 3, 17, 0.05), drawsUnknownStock(42, 3, 17, 0.05));
  const other = Array.from({ length: 2000 }, (_, w) => drawsUnknownStock(42, 4, w, 0.05));
  const same = Array.from({ length: 2000 }, (_, w) => drawsUnknownStock(42, 3, w, 0.05));
  assert.notDeepEqual(other, same, 'another epoch draws other windows');
  assert.equal(drawsUnknownStock(42, 3, 17, 0), false);
});

function build(kind: ModelType, numLayers: number, seed: number): Network {
  const config = ModelConfigSchema.parse({
    modelType: kind,
    inputSize: 6,
    hiddenSize: kind === 'transformer' ? 8 : 12,
    numLayers,
    outputSize: 2,
    headHiddenSize: 8,
    dropout: 0.2,
    numHeads: 2,
    dimFeedforward: 16,
    stockEmbeddingDim: 3,
    numStocks: 4,
  });
  return createNetwork(config, engine, new Rng(seed));
}

function torchSpec(net: Network): Record<string, unknown> {
  const c = net.config;
  const common = { input: c.inputSize, layers: c.numLayers, dropout: c.dropout, head: c.headHiddenSize, output: c.outputSize };
  const stock_embedding = { num: c.numStocks + 1, dim: c.stockEmbeddingDim };
  return c.modelType === 'transformer'
    ? { type: 'transformer', d_model: c.hiddenSize, nhead: c.numHeads, ff: c.dimFeedforward, ...common, stock_embedding }
    : { type: 'model', kind: c.modelType, hidden: c.hiddenSize, ...common, stock_embedding };
}

/** Forward, MSE loss and backward in eval mode; stocks repeat (rows 2 and 0) so the scatter-add must sum. */
function modelCase(kind: ModelType, numLayers: number): ParityCase {
  const net = build(kind, numLayers, 20 + numLayers);
  const rng = new Rng(5);
  const B = 5,
    T = 4;
  const stocks = Int32Array.from([2, 0, 4, 2, 0]);
  engine.resetArena();
  zeroGrad(net);
  net.setTraining(false);
  const x = Tensor.scratch(engine, [B, T, 6]);
  x.set(randomArray(rng, x.size));
  const y = Tensor.scratch(engine, [B, 2]);
  y.set(randomArray(rng, y.size, 0.5));
  const out = net.forward(x, stocks);
  const grad = Tensor.scratch(engine, out.shape);
  const value = lossForwardBackward(engine, 'mse', out, y, grad);
  net.backward(grad);
  const tensors: Record<string, RefTensor> = {
    ...paramInputs(net),
    x: { shape: [B, T, 6], data: Float32Array.from(x.data()) },
    y: { shape: [B, 2], data: Float32Array.from(y.data()) },
    stocks: { shape: [B], data: Float32Array.from(stocks) },
  };
  const result = {
    job: { request: { task: 'grad', module: torchSpec(net), mode: 'eval', loss: 'mse' }, tensors },
    out: Float32Array.from(out.data()),
    loss: value,
    grads: gradsOf(net),
  };
  engine.resetArena();
  return result;
}

const cases: [string, ParityCase][] = [
  ['LSTM, 1 layer', modelCase('lstm', 1)],
  ['GRU, 2 layers', modelCase('gru', 2)],
  ['Transformer, 1 layer', modelCase('transformer', 1)],
];

test('with a stock embedding, output, loss and every gradient (stock_embedding.weight included) match torch.nn', { skip: skipTorch }, () => {
  const tensors: Record<string, RefTensor> = {};
  cases.forEach(([, c], i) => {
    for (const [name, t] of Object.entries(c.job.tensors)) tensors[`${i}/${name}`] = t;
  });
  const out = runTorch({ task: 'batch', requests: cases.map(([, c]) => c.job.request) }, tensors, SCRIPT);
  cases.forEach(([name, c], i) => {
    const ref = Object.fromEntries(
      Object.entries(out)
        .filter(([k]) => k.startsWith(`${i}/`))
        .map(([k, t]) => [k.slice(`${i}/`.length), t]),
    );
    assert.doesNotThrow(() => compareCase(c, ref), name);
    // The embedding rows never used in the batch (1 and 3) get no gradient, on both sides.
    const g = c.grads['stock_embedding.weight'];
    assert.ok(g.subarray(3, 6).every((v) => v === 0) && g.subarray(9, 12).every((v) => v === 0), `${name}: unused rows`);
  });
});

test('a network with a stock embedding refuses a batch without its stock rows', () => {
  const net = build('gru', 1, 1);
  engine.resetArena();
  const x = Tensor.scratch(engine, [2, 3, 6]);
  assert.throws(() => net.forward(x), /2 windows need 2 stock rows, got none/);
  engine.resetArena();
});
