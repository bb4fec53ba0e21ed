import { test } from 'node:test';
import { Recurrent } from '../../src/engine/layers/recurrent.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine } from '../../src/engine/runtime.js';
import { referenceSkip } from '../helpers/env.js';
import { compareCase, layerCase, lazyReferences } from './parity-helpers.js';

const engine = Engine.create();
const skipTorch = referenceSkip('torch');

// Hidden sizes that are not a multiple of the 4-lane vectors, and two layers (dropout configured, off in eval mode
// as in the torch module).
const shapes = [
  [5, 6, 1, 3, 4],
  [7, 16, 2, 4, 9],
  [3, 9, 2, 5, 6],
];
const cells = ['lstm', 'gru'] as const;
const grid = cells.flatMap((cell) => shapes.map(([input, hidden, layers, batch, time]) => ({ cell, input, hidden, layers, batch, time })));
const cases = grid.map(({ cell, input, hidden, layers, batch, time }) => {
  const rng = new Rng(input * 100 + hidden);
  const rnn = new Recurrent(engine, cell, input, hidden, layers, 0.2, rng);
  return layerCase(engine, rnn, { type: cell, input, hidden, layers, dropout: 0.2 }, [batch, time, input], rng);
});
// One PyTorch start-up for every case of both cells.
const references = lazyReferences(() => cases.map((c) => c.job));

grid.forEach(({ cell, input, hidden, layers, batch, time }, i) => {
  const name = cell.toUpperCase();
  test(
    `${name}(${input}→${hidden}, ${layers} layer(s)) over [${batch}, ${time}]: outputs and all gradients match torch.nn.${name}`,
    { skip: skipTorch },
    () => {
      compareCase(cases[i], references()[i]);
    },
  );
});
