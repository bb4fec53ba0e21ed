import type { Layer } from '../layer.js';
import { type Engine, type Parameter, Tensor } from '../runtime.js';

/** nn.ReLU. */
export class ReLU implements Layer {
  private output: Tensor | undefined;

  constructor(private readonly engine: Engine) {}

  forward(x: Tensor): Tensor {
    const y = Tensor.scratch(this.engine, x.shape);
    this.engine.k.relu_fwd(y.ptr, x.ptr, x.size);
    this.output = y;
    return y;
  }

  backward(dy: Tensor): Tensor {
    const y = this.output;
    if (!y) throw new Error('ReLU.backward before forward');
    const dx = Tensor.scratch(this.engine, dy.shape);
    this.engine.k.relu_bwd(dx.ptr, dy.ptr, y.ptr, dy.size);
    this.output = undefined;
    return dx;
  }

  parameters(): Parameter[] {
    return [];
  }

  setTraining(): void {}
}
