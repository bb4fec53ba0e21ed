import type { Layer } from '../layer.js';
import type { Rng } from '../rng.js';
import { type Engine, type Parameter, Tensor } from '../runtime.js';
import { ReLU } from './activation.js';
import { MultiheadAttention } from './attention.js';
import { Dropout } from './dropout.js';
import { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import { prefixed } from './sequential.js';

export interface EncoderLayerOptions {
  dModel: number;
  numHeads: number;
  dimFeedforward: number;
  dropout: number;
}

/**
 * nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation=relu, batch_first=True,
 * norm_first=False):
 *   x = norm1(x + dropout1(self_attn(x, x, x)))
 *   x = norm2(x + dropout2(linear2(dropout(relu(linear1(x))))))
 * state_dict: self_attn.in_proj_weight, self_attn.in_proj_bias, self_attn.out_proj.{weight,bias},
 * linear1.{weight,bias}, linear2.{weight,bias}, norm1.{weight,bias}, norm2.{weight,bias}.
 *
 * forwardLast(x) computes only the last position's output [B, 1, d] (see MultiheadAttention.forwardLast): every row
 * after the attention is independent, so nothing else of the full output is needed to produce it.
 */
export class TransformerEncoderLayer implements Layer {
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  private readonly relu: ReLU;
  private readonly dropout: Dropout;
  private readonly dropout1: Dropout;
  private readonly dropout2: Dropout;
  private cache: { inputShape: readonly number[]; lastOnly: boolean } | undefined;

  constructor(
    private readonly engine: Engine,
    readonly options: EncoderLayerOptions,
    rng: Rng,
  ) {
    const { dModel: d, numHeads, dimFeedforward, dropout } = options;
    this.selfAttn = new MultiheadAttention(engine, d, numHeads, dropout, rng);
    this.linear1 = new Linear(engine, d, dimFeedforward, rng);
    this.linear2 = new Linear(engine, dimFeedforward, d, rng);
    this.norm1 = new LayerNorm(engine, d);
    this.norm2 = new LayerNorm(engine, d);
    this.relu = new ReLU(engine);
    this.dropout = new Dropout(engine, dropout, rng);
    this.dropout1 = new Dropout(engine, dropout, rng);
    this.dropout2 = new Dropout(engine, dropout, rng);
  }

  forward(x: Tensor): Tensor {
    this.cache = { inputShape: x.shape, lastOnly: false };
    return this.block(x, this.selfAttn.forward(x));
  }

  forwardLast(x: Tensor): Tensor {
    const [B, T, d] = x.shape as [number, number, number];
    this.cache = { inputShape: x.shape, lastOnly: true };
    const xLast = Tensor.scratch(this.engine, [B, 1, d]);
    for (let b = 0; b < B; b++) this.engine.k.copy(xLast.ptr + b * d * 4, x.ptr + (b * T + T - 1) * d * 4, d);
    return this.block(xLast, this.selfAttn.forwardLast(x));
  }

  /** Everything after the attention, row by row: residual + norm1, then the feed-forward block, residual + norm2. */
  private block(residual: Tensor, attended: Tensor): Tensor {
    const h = this.norm1.forwardResidual(this.dropout1.forward(attended), residual);
    const f = this.linear2.forward(this.dropout.forward(this.relu.forward(this.linear1.forward(h))));
    return this.norm2.forwardResidual(this.dropout2.forward(f), h);
  }

  backward(dy: Tensor): Tensor {
    const c = this.cache;
    if (!c) throw new Error('TransformerEncoderLayer.backward before forward');
    this.cache = undefined;
    const k = this.engine.k;
    const dz2 = this.norm2.backward(dy);
    const dff = this.linear1.backward(this.relu.backward(this.dropout.backward(this.linear2.backward(this.dropout2.backward(dz2)))));
    const dh = dff; // d(h) = d(norm2 input) through the residual + through the feed-forward block
    k.add(dh.ptr, dh.ptr, dz2.ptr, dh.size);
    const dz1 = this.norm1.backward(dh);
    const dx = this.selfAttn.backward(this.dropout1.backward(dz1));
    if (!c.lastOnly) {
      k.add(dx.ptr, dx.ptr, dz1.ptr, dx.size);
    } else {
      const [B, T, d] = c.inputShape as [number, number, number];
      for (let b = 0; b < B; b++) {
        const row = dx.ptr + (b * T + T - 1) * d * 4;
        k.add(row, row, dz1.ptr + b * d * 4, d);
      }
    }
    return dx;
  }

  parameters(): Parameter[] {
    return [
      ...prefixed('self_attn', this.selfAttn.parameters()),
      ...prefixed('linear1', this.linear1.parameters()),
      ...prefixed('linear2', this.linear2.parameters()),
      ...prefixed('norm1', this.norm1.parameters()),
      ...prefixed('norm2', this.norm2.parameters()),
    ];
  }

  setTraining(training: boolean): void {
    for (const layer of [this.selfAttn, this.dropout, this.dropout1, this.dropout2]) layer.setTraining(training);
  }
}

/**
 * nn.TransformerEncoder(encoder_layer, num_layers) without a final norm: `layers.{i}.` + the layer's names.
 * forwardLast runs every layer in full except the last, which computes only the last position.
 */
export class TransformerEncoder implements Layer {
  readonly layers: TransformerEncoderLayer[];

  constructor(engine: Engine, options: EncoderLayerOptions, numLayers: number, rng: Rng) {
    this.layers = Array.from({ length: numLayers }, () => new TransformerEncoderLayer(engine, options, rng));
  }

  forward(x: Tensor): Tensor {
    for (const layer of this.layers) x = layer.forward(x);
    return x;
  }

  forwardLast(x: Tensor): Tensor {
    const last = this.layers.length - 1;
    for (let i = 0; i < last; i++) x = this.layers[i]!.forward(x);
    return this.layers[last]!.forwardLast(x);
  }

  backward(dy: Tensor): Tensor {
    for (let i = this.layers.length - 1; i >= 0; i--) dy = this.layers[i]!.backward(dy);
    return dy;
  }

  parameters(): Parameter[] {
    return this.layers.flatMap((layer, i) => prefixed(`layers.${i}`, layer.parameters()));
  }

  setTraining(training: boolean): void {
    for (const layer of this.layers) layer.setTraining(training);
  }
}
