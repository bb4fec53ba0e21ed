import type { Layer } from '../layer.js';
import type { Rng } from '../rng.js';
import { type Engine, type Parameter, Tensor } from '../runtime.js';
import { Dropout } from './dropout.js';

/**
 * The PyTorch tutorial's sinusoidal positional encoding, batch-first: y = dropout(x + pe[:T]) with
 *   pe[pos, 2i] = sin(pos / 10000^(2i/d)),  pe[pos, 2i+1] = cos(pos / 10000^(2i/d)).
 * pe is a constant, not a parameter, so it is not part of the state_dict (a torch module registers it with
 * persistent=False). The table is computed in float32 steps as torch does, so both sides add the same values.
 */
export class PositionalEncoding implements Layer {
  private readonly dropout: Dropout;
  private readonly tables = new Map<number, Float32Array>();

  constructor(
    private readonly engine: Engine,
    readonly dModel: number,
    dropout: number,
    rng: Rng,
  ) {
    this.dropout = new Dropout(engine, dropout, rng);
  }

  /** pe[:length] as a [length, d] row-major table. */
  table(length: number): Float32Array {
    let pe = this.tables.get(length);
    if (!pe) {
      const d = this.dModel;
      const f = Math.fround;
      const step = f(-Math.log(10000) / d);
      pe = new Float32Array(length * d);
      for (let i = 0; 2 * i < d; i++) {
        const div = f(Math.exp(f(2 * i * step)));
        for (let pos = 0; pos < length; pos++) {
          const angle = f(pos * div);
          pe[pos * d + 2 * i] = Math.sin(angle);
          if (2 * i + 1 < d) pe[pos * d + 2 * i + 1] = Math.cos(angle);
        }
      }
      this.tables.set(length, pe);
    }
    return pe;
  }

  forward(x: Tensor): Tensor {
    const [B, T, d] = x.shape as [number, number, number];
    if (x.shape.length !== 3 || d !== this.dModel) throw new Error(`PositionalEncoding(${this.dModel}): input shape [${x.shape}]`);
    const e = this.engine;
    const pe = e.alloc(T * d);
    e.f32(pe, T * d).set(this.table(T));
    const y = Tensor.scratch(e, x.shape);
    e.k.copy(y.ptr, x.ptr, x.size);
    e.k.bias_add(y.ptr, pe, B, T * d);
    return this.dropout.forward(y);
  }

  backward(dy: Tensor): Tensor {
    return this.dropout.backward(dy);
  }

  parameters(): Parameter[] {
    return [];
  }

  setTraining(training: boolean): void {
    this.dropout.setTraining(training);
  }
}
