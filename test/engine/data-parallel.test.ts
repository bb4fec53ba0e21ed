/**
 * DataParallel (src/models/parallel.ts) on small models: the summed slice gradients against the single-thread
 * gradient, N threads against the serial fallback bit for bit, and determinism with dropout on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam, clipGradNorm } from '../../src/engine/optim/index.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine } from '../../src/engine/runtime.js';
import { DataParallel, ModelConfigSchema, createNetwork, sliceBounds, stateDict, trainStep, type ModelType } from '../../src/models/index.js';
import { randomArray } from './parity-helpers.js';

const T = 7;
const F = 5;

function config(kind: ModelType, dropout: number) {
  return ModelConfigSchema.parse({ modelType: kind, inputSize: F, hiddenSize: 8, numLayers: 2, headHiddenSize: 6, dropout, numHeads: 2, dimFeedforward: 12 });
}

function grads(net: ReturnType<typeof createNetwork>): Float32Array[] {
  return net.parameters().map((p) => Float32Array.from(p.grad.data()));
}

test('slices are fixed and contiguous, sizes differing by at most one, covering the batch', () => {
  assert.deepEqual(
    [0, 1].map((i) => sliceBounds(i, 32, 2)),
    [
      [0, 16],
      [16, 32],
    ],
  );
  assert.deepEqual(
    [0, 1, 2].map((i) => sliceBounds(i, 8, 3)),
    [
      [0, 2],
      [2, 5],
      [5, 8],
    ],
  );
  assert.deepEqual(
    [0, 1].map((i) => sliceBounds(i, 1, 2)),
    [
      [0, 0],
      [0, 1],
    ],
  );
});

for (const kind of ['lstm', 'gru', 'transformer'] as const) {
  test(`${kind}: without dropout the N = 2 and N = 3 gradient sums equal the single-thread batch gradient within float tolerance`, async () => {
    const net = createNetwork(config(kind, 0), Engine.create(), new Rng(5));
    const data = new Rng(77);
    const B = 9;
    const x = randomArray(data, B * T * F);
    const y = randomArray(data, B);
    const loss1 = trainStep(net, 'mse', x, y, B);
    const g1 = grads(net);
    for (const threads of [2, 3]) {
      const dp = await DataParallel.start({ threads, network: net, loss: 'mse', maxBatch: B, seqLength: T });
      try {
        assert.equal(dp.mode, 'threads');
        const lossN = await dp.step(new Rng(1), x, y, B);
        assert.ok(Math.abs(lossN - loss1) <= 1e-6 * Math.abs(loss1), `loss ${lossN} vs ${loss1}`);
        const gN = grads(net);
        net.parameters().forEach((p, k) => {
          for (let j = 0; j < gN[k].length; j++) {
            const a = gN[k][j];
            const b = g1[k][j];
            assert.ok(Math.abs(a - b) <= 1e-5 * Math.abs(b) + 1e-7, `${p.name}[${j}] N=${threads}: ${a} vs ${b}`);
          }
        });
      } finally {
        await dp.close();
      }
    }
  });
}

test('with a stock embedding, the slices carry their stock rows: N = 2 threads and the serial fallback equal the single-thread gradient', async () => {
  const net = createNetwork(ModelConfigSchema.parse({ ...config('gru', 0), stockEmbeddingDim: 3, numStocks: 4 }), Engine.create(), new Rng(6));
  const data = new Rng(78);
  const B = 7;
  const x = randomArray(data, B * T * F);
  const y = randomArray(data, B);
  const stocks = Int32Array.from([1, 4, 0, 1, 2, 4, 3]);
  const loss1 = trainStep(net, 'mse', x, y, B, stocks);
  const g1 = grads(net);
  for (const mode of ['threads', 'serial'] as const) {
    const dp = await DataParallel.start({ threads: 2, network: net, loss: 'mse', maxBatch: B, seqLength: T, mode, onNotice: () => {} });
    try {
      const lossN = await dp.step(new Rng(1), x, y, B, stocks);
      assert.ok(Math.abs(lossN - loss1) <= 1e-6 * Math.abs(loss1), `${mode}: loss ${lossN} vs ${loss1}`);
      const gN = grads(net);
      net.parameters().forEach((p, k) => {
        for (let j = 0; j < gN[k].length; j++) assert.ok(Math.abs(gN[k][j] - g1[k][j]) <= 1e-5 * Math.abs(g1[k][j]) + 1e-7, `${mode} ${p.name}[${j}]`);
      });
      assert.ok(
        gN[0].some((v) => v !== 0),
        'the embedding gets a gradient',
      );
    } finally {
      await dp.close();
    }
  }
});

test('a batch of one row on 2 threads (one empty slice) is the single-thread step bit for bit: the loss scaling is exact', async () => {
  const net = createNetwork(config('lstm', 0), Engine.create(), new Rng(5));
  const data = new Rng(8);
  const x = randomArray(data, T * F);
  const y = randomArray(data, 1);
  const loss1 = trainStep(net, 'huber', x, y, 1);
  const g1 = grads(net);
  const dp = await DataParallel.start({ threads: 2, network: net, loss: 'huber', maxBatch: 4, seqLength: T });
  try {
    assert.equal(await dp.step(new Rng(1), x, y, 1), loss1);
    assert.deepEqual(grads(net), g1);
  } finally {
    await dp.close();
  }
});

/** Steps of Adam + clipping with dropout on, on `threads` threads (or the serial fallback); the final weights. */
async function train(kind: ModelType, seed: number, threads: number, mode?: 'threads' | 'serial'): Promise<Record<string, Float32Array>> {
  const rng = new Rng(seed);
  const net = createNetwork(config(kind, 0.3), Engine.create(), rng);
  const opt = new Adam(net.parameters(), { lr: 1e-2 });
  const data = new Rng(1234);
  const notices: string[] = [];
  const dp = await DataParallel.start({ threads, network: net, loss: 'mse', maxBatch: 6, seqLength: T, mode, onNotice: (l) => notices.push(l) });
  try {
    assert.equal(dp.mode, mode ?? 'threads');
    for (let step = 0; step < 5; step++) {
      const count = step === 4 ? 3 : 6; // a last, smaller batch
      await dp.step(rng, randomArray(data, count * T * F), randomArray(data, count), count);
      clipGradNorm(net.parameters(), 1);
      opt.step();
    }
  } finally {
    await dp.close();
  }
  return Object.fromEntries(Object.entries(stateDict(net)).map(([name, t]) => [name, t.data]));
}

for (const kind of ['lstm', 'gru', 'transformer'] as const) {
  test(`${kind}: with dropout, N = 2 twice gives bit-identical weights, equal to the serial fallback's; another seed does not`, async () => {
    const a = await train(kind, 42, 2);
    const b = await train(kind, 42, 2);
    const serial = await train(kind, 42, 2, 'serial');
    for (const name of Object.keys(a)) {
      assert.deepEqual(b[name], a[name], name);
      assert.deepEqual(serial[name], a[name], `${name} (serial)`);
    }
    const c = await train(kind, 43, 2);
    assert.ok(Object.keys(a).some((name) => a[name].some((v, i) => v !== c[name][i])));
  });
}
