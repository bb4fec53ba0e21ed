import type { Layer } from '../layer.js';
import type { Rng } from '../rng.js';
import { type Engine, type Parameter, Tensor } from '../runtime.js';

/**
 * nn.Dropout(p), inverted: in training each element is zeroed with probability p and the rest scaled by 1/(1−p),
 * with the mask drawn from the model's seeded Rng; in evaluation it is the identity (returns its input as is).
 */
export class Dropout implements Layer {
  private training = true;
  private mask: Tensor | undefined;

  constructor(
    private readonly engine: Engine,
    readonly p: number,
    private readonly rng: Rng,
  ) {
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }

  get active(): boolean {
    return this.training && this.p > 0;
  }

  forward(x: Tensor): Tensor {
    if (!this.active) {
      this.mask = undefined;
      return x;
    }
    const mask = Tensor.scratch(this.engine, x.shape);
    drawDropoutMask(this.rng, mask, this.p);
    const y = Tensor.scratch(this.engine, x.shape);
    this.engine.k.mul(y.ptr, x.ptr, mask.ptr, x.size);
    this.mask = mask;
    return y;
  }

  backward(dy: Tensor): Tensor {
    const mask = this.mask;
    if (!mask) return dy;
    const dx = Tensor.scratch(this.engine, dy.shape);
    this.engine.k.mul(dx.ptr, dy.ptr, mask.ptr, dy.size);
    this.mask = undefined;
    return dx;
  }

  parameters(): Parameter[] {
    return [];
  }

  setTraining(training: boolean): void {
    this.training = training;
  }
}

/**
 * Fills `mask` with an inverted-dropout mask (0 with probability p, else 1/(1−p)) by the dropout_mask kernel, which
 * runs the Rng's own xoshiro128** on a copy of its state; the advanced state is written back, so the result and the
 * Rng afterwards are exactly those of rng.fillDropoutMask(mask.data(), p), without a per-element JS loop.
 */
export function drawDropoutMask(rng: Rng, mask: Tensor, p: number): void {
  const engine = mask.engine;
  const mark = engine.arenaMark();
  const statePtr = engine.alloc(4);
  const words = new Uint32Array(engine.memory.buffer, statePtr, 4);
  words.set(rng.getState().state);
  engine.k.dropout_mask(mask.ptr, mask.size, p, statePtr);
  const after = new Uint32Array(engine.memory.buffer, statePtr, 4);
  rng.setState({ algorithm: 'xoshiro128**', state: [after[0], after[1], after[2], after[3]] });
  engine.resetArena(mark);
}
