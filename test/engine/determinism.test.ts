import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam, clipGradNorm } from '../../src/engine/optim/index.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine } from '../../src/engine/runtime.js';
import { ModelConfigSchema, createNetwork, stateDict, trainStep } from '../../src/models/index.js';
import { randomArray } from './parity-helpers.js';

/** A few training steps with dropout on (so the RNG drives masks too); returns the final weights. */
function train(kind: 'lstm' | 'gru', seed: number, rngResumeAt?: number, engine = Engine.create()): Record<string, Float32Array> {
  const rng = new Rng(seed);
  const net = createNetwork(
    ModelConfigSchema.parse({ modelType: kind, inputSize: 5, hiddenSize: 8, numLayers: 2, headHiddenSize: 6, dropout: 0.3 }),
    engine,
    rng,
  );
  const opt = new Adam(net.parameters(), { lr: 1e-2 });
  const data = new Rng(1234);
  for (let step = 0; step < 6; step++) {
    // a checkpoint/resume in the middle: the state goes through JSON and back into the Rng the layers hold
    if (step === rngResumeAt) rng.setState(JSON.parse(JSON.stringify(rng.getState())));
    const x = randomArray(data, 4 * 7 * 5);
    const y = randomArray(data, 4);
    trainStep(net, 'mse', x, y, 4);
    clipGradNorm(net.parameters(), 1);
    opt.step();
  }
  return Object.fromEntries(Object.entries(stateDict(net)).map(([name, t]) => [name, t.data]));
}

for (const kind of ['lstm', 'gru'] as const) {
  test(`${kind}: the same seed gives bit-identical weights after training steps with dropout (also across an RNG save/restore); another seed does not`, () => {
    const a = train(kind, 42);
    const b = train(kind, 42, 3);
    for (const name of Object.keys(a)) assert.deepEqual(b[name], a[name], name);
    const c = train(kind, 43);
    assert.ok(Object.keys(a).some((name) => a[name].some((v, i) => v !== c[name][i])));
  });
}

test('a released engine is reused by the next Engine.create and trains bit-identically to a fresh one, leftovers in its memory notwithstanding', () => {
  const fresh = train('lstm', 42, undefined, Engine.create());
  const used = Engine.create();
  train('gru', 7, undefined, used); // fills its memory with another model's parameters and activations
  const grown = used.memory.buffer.byteLength;
  used.release();
  const reused = Engine.create();
  assert.equal(reused, used, 'Engine.create hands out the released engine');
  assert.equal(reused.bytesInUse, 0);
  const again = train('lstm', 42, undefined, reused);
  assert.equal(reused.memory.buffer.byteLength, grown, 'no new memory was allocated');
  for (const name of Object.keys(fresh)) assert.deepEqual(again[name], fresh[name], name);
  reused.release();
  reused.release();
  assert.notEqual(Engine.create(), Engine.create(), 'releasing twice does not hand the same engine out twice');
});

test('Rng state survives a JSON round trip and continues the identical stream', () => {
  const rng = new Rng(9);
  for (let i = 0; i < 10; i++) rng.nextU32();
  const copy = Rng.fromState(JSON.parse(JSON.stringify(rng.getState())));
  for (let i = 0; i < 100; i++) assert.equal(copy.nextU32(), rng.nextU32());
  assert.throws(() => Rng.fromState({ algorithm: 'pcg' } as never), /xoshiro128/);
});

test('Rng: uniform in range with the right mean, dropout masks with the right rate', () => {
  const rng = new Rng(3);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
  const mask = new Float32Array(20000);
  rng.fillDropoutMask(mask, 0.2);
  assert.ok(Math.abs(mask.filter((v) => v === 0).length / 20000 - 0.2) < 0.01);
});
