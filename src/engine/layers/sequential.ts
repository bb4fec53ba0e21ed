import type { Layer } from '../layer.js';
import type { Parameter, Tensor } from '../runtime.js';

/** Renames parameters the way a parent module does in a PyTorch state_dict: `${prefix}.${name}`. */
export function prefixed(prefix: string, params: Parameter[]): Parameter[] {
  return params.map((p) => ({ name: `${prefix}.${p.name}`, value: p.value, grad: p.grad }));
}

/** nn.Sequential: children named by their index, so Linear–ReLU–Dropout–Linear yields 0.weight, 0.bias, 3.weight, 3.bias. */
export class Sequential implements Layer {
  constructor(readonly layers: Layer[]) {}

  forward(x: Tensor): Tensor {
    for (const layer of this.layers) x = layer.forward(x);
    return x;
  }

  backward(dy: Tensor): Tensor {
    for (let i = this.layers.length - 1; i >= 0; i--) dy = this.layers[i].backward(dy);
    return dy;
  }

  parameters(): Parameter[] {
    return this.layers.flatMap((layer, i) => prefixed(String(i), layer.parameters()));
  }

  setTraining(training: boolean): void {
    for (const layer of this.layers) layer.setTraining(training);
  }
}
