import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReLU } from '../../src/engine/layers/activation.js';
import { Dropout } from '../../src/engine/layers/dropout.js';
import { Linear } from '../../src/engine/layers/linear.js';
import { Sequential } from '../../src/engine/layers/sequential.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine, Tensor } from '../../src/engine/runtime.js';
import { referenceSkip } from '../helpers/env.js';
import { compareCase, layerCase, lazyReferences, randomArray, type ParityCase } from './parity-helpers.js';

const engine = Engine.create();
const skipTorch = referenceSkip('torch');

const rng = new Rng(1);
const cases: [string, ParityCase][] = [
  ['Linear(13→7) on [3, 5, 13]', layerCase(engine, new Linear(engine, 13, 7, rng), { type: 'linear', in: 13, out: 7 }, [3, 5, 13], rng)],
  ['Linear(64→1) on [32, 64]', layerCase(engine, new Linear(engine, 64, 1, rng), { type: 'linear', in: 64, out: 1 }, [32, 64], rng)],
  ['Dropout(0.3) in eval mode (the identity)', layerCase(engine, new Dropout(engine, 0.3, rng), { type: 'dropout', p: 0.3 }, [4, 9], rng)],
];
const references = lazyReferences(() => cases.map(([, c]) => c.job));
cases.forEach(([name, c], i) => {
  test(`${name}: output, input gradient and parameter gradients match torch.nn`, { skip: skipTorch }, () => compareCase(c, references()[i]));
});

test('Linear initialisation follows PyTorch: weight and bias within ±1/√in, not all equal', () => {
  const layer = new Linear(engine, 100, 50, new Rng(3));
  const w = layer.weight.value.data();
  const bound = 1 / Math.sqrt(100);
  assert.ok(w.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...w) > 0.8 * bound && Math.min(...w) < -0.8 * bound);
});

test('Dropout in training zeroes about p of the elements, scales the rest by 1/(1−p), and backward uses the same mask', () => {
  engine.resetArena();
  const p = 0.25;
  const drop = new Dropout(engine, p, new Rng(4));
  const x = Tensor.scratch(engine, [100, 100]);
  x.data().fill(1);
  const y = Float32Array.from(drop.forward(x).data());
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / y.length - p) < 0.02, `dropped fraction ${zeros / y.length}`);
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-6));
  const dy = Tensor.scratch(engine, [100, 100]);
  dy.data().fill(2);
  const dx = drop.backward(dy).data();
  for (let i = 0; i < y.length; i++) assert.equal(dx[i], 2 * y[i]);
  engine.resetArena();
});

test('Sequential names children by index like nn.Sequential, and its gradients match finite differences', () => {
  engine.resetArena();
  const rng = new Rng(5);
  const seq = new Sequential([new Linear(engine, 3, 4, rng), new ReLU(engine), new Linear(engine, 4, 2, rng)]);
  assert.deepEqual(
    seq.parameters().map((p) => p.name),
    ['0.weight', '0.bias', '2.weight', '2.bias'],
  );
  const x = Tensor.scratch(engine, [5, 3]);
  x.set(randomArray(rng, 15));
  // central differences of L = Σ y⊙g, evaluated in float64 from the float32 outputs
  const g = randomArray(rng, 10);
  const lossAt = () => {
    const mark = engine.arenaMark();
    const y = seq.forward(x).data();
    let s = 0;
    for (let i = 0; i < 10; i++) s += y[i] * g[i];
    engine.resetArena(mark);
    return s;
  };
  const y = seq.forward(x);
  const dy = Tensor.scratch(engine, y.shape);
  dy.set(g);
  seq.backward(dy);
  for (const p of seq.parameters()) {
    const v = p.value.data();
    for (let i = 0; i < v.length; i++) {
      const keep = v[i];
      const h = 1e-2;
      v[i] = keep + h;
      const up = lossAt();
      v[i] = keep - h;
      const down = lossAt();
      v[i] = keep;
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(numeric - p.grad.data()[i]) < 2e-3, `${p.name}[${i}]: ${p.grad.data()[i]} vs ${numeric}`);
    }
  }
  engine.resetArena();
});
