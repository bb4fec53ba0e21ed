/**
 * What the stock embedding costs a training step: the JavaScript gather, concat, row-gradient and scatter-add alone,
 * and a whole seed-default LSTM step (B 32, T 60, F 50) without and with an embedding of 8 and 32 columns over 33
 * stocks (the extra cost there is the first layer's input gradient, which the embedding needs). docs/ENGINE.md §3.
 * Run: node --import tsx bench/embedding.ts
 */
import { loadavg } from 'node:os';
import { Embedding, concatPerStep, perStepRowGrad } from '../src/engine/layers/embedding.js';
import { Rng } from '../src/engine/rng.js';
import { Engine, Tensor } from '../src/engine/runtime.js';
import { ModelConfigSchema, createNetwork, trainStep } from '../src/models/index.js';

const B = 32;
const T = 60;
const F = 50;
const STOCKS = 33;
const rng = new Rng(1);
const x = new Float32Array(B * T * F).map(() => rng.normal());
const y = new Float32Array(B).map(() => rng.normal());
const stocks = Int32Array.from({ length: B }, (_, i) => (i * 7) % (STOCKS + 1));

console.log(`load average ${loadavg()[0].toFixed(1)} at the start`);
const ops = Engine.create();
const embedding = new Embedding(ops, STOCKS + 1, 8, new Rng(3));
const opSteps = 2000;
let t0 = performance.now();
for (let i = 0; i < opSteps; i++) {
  ops.resetArena();
  const input = Tensor.scratch(ops, [B, T, F]);
  const joined = concatPerStep(ops, input, embedding.forward(stocks));
  embedding.backward(perStepRowGrad(ops, joined, F));
}
console.log(`gather + concat + row gradient + scatter-add, D 8: ${(((performance.now() - t0) / opSteps) * 1000).toFixed(0)} µs a step`);

for (const D of [0, 8, 32]) {
  const net = createNetwork(ModelConfigSchema.parse({ modelType: 'lstm', inputSize: F, stockEmbeddingDim: D, numStocks: STOCKS }), Engine.create(), new Rng(2));
  const rows = D > 0 ? stocks : undefined;
  for (let i = 0; i < 5; i++) trainStep(net, 'mse', x, y, B, rows);
  const steps = 40;
  t0 = performance.now();
  for (let i = 0; i < steps; i++) trainStep(net, 'mse', x, y, B, rows);
  console.log(`seed-default LSTM step, stock embedding D ${D}: ${((performance.now() - t0) / steps).toFixed(1)} ms`);
}
console.log(`load average ${loadavg()[0].toFixed(1)} at the end`);
