import { Linear } from '../engine/layers/linear.js';
import { PositionalEncoding } from '../engine/layers/positional.js';
import { Sequential, prefixed } from '../engine/layers/sequential.js';
import { TransformerEncoder } from '../engine/layers/transformer.js';
import type { Rng } from '../engine/rng.js';
import { type Engine, type Parameter, Tensor } from '../engine/runtime.js';
import type { ModelConfig } from './config.js';
import type { Network } from './network.js';
import { createHead } from './recurrent.js';

/**
 * The seed's TransformerModel. As a torch.nn module (test/engine/ref_transformer.py holds exactly this):
 *
 *   input_projection = nn.Linear(input_size, d_model)
 *   pos_encoder      = PositionalEncoding(d_model, dropout)          # tutorial sinusoids, pe buffer persistent=False
 *   transformer_encoder = nn.TransformerEncoder(
 *       nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True), num_layers)
 *   fc = nn.Sequential(nn.Linear(d_model, head_hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(head_hidden, output_size))
 *
 *   forward(x): fc(transformer_encoder(pos_encoder(input_projection(x) * sqrt(d_model)))[:, -1, :])
 *
 * state_dict, in order: input_projection.{weight,bias};
 * transformer_encoder.layers.{i}.self_attn.{in_proj_weight,in_proj_bias,out_proj.weight,out_proj.bias},
 * .linear1.{weight,bias}, .linear2.{weight,bias}, .norm1.{weight,bias}, .norm2.{weight,bias}; fc.0.{weight,bias},
 * fc.3.{weight,bias}. d_model is config.hiddenSize.
 *
 * Only the last time step reaches the head, so the final encoder layer computes just that position (same values).
 */
export class TransformerForecaster implements Network {
  readonly inputProjection: Linear;
  readonly posEncoder: PositionalEncoding;
  readonly encoder: TransformerEncoder;
  readonly fc: Sequential;
  private readonly inputScale: number;

  constructor(
    readonly config: ModelConfig,
    readonly engine: Engine,
    rng: Rng,
  ) {
    const d = config.hiddenSize;
    if (d % config.numHeads !== 0) throw new Error(`transformer: hiddenSize (d_model) ${d} must be divisible by numHeads ${config.numHeads}`);
    this.inputScale = Math.sqrt(d);
    this.inputProjection = new Linear(engine, config.inputSize, d, rng);
    this.posEncoder = new PositionalEncoding(engine, d, config.dropout, rng);
    this.encoder = new TransformerEncoder(
      engine,
      { dModel: d, numHeads: config.numHeads, dimFeedforward: config.dimFeedforward, dropout: config.dropout },
      config.numLayers,
      rng,
    );
    this.fc = createHead(engine, d, config, rng);
  }

  forward(x: Tensor): Tensor {
    const k = this.engine.k;
    const projected = this.inputProjection.forward(x);
    k.scale(projected.ptr, projected.ptr, projected.size, this.inputScale);
    const last = this.encoder.forwardLast(this.posEncoder.forward(projected));
    const [B, , d] = last.shape as [number, number, number];
    const out = this.fc.forward(new Tensor(this.engine, last.ptr, [B, d]));
    return out;
  }

  backward(dy: Tensor): Tensor {
    const dLast = this.fc.backward(dy);
    const [B, d] = dLast.shape as [number, number];
    const dProjected = this.posEncoder.backward(this.encoder.backward(new Tensor(this.engine, dLast.ptr, [B, 1, d])));
    this.engine.k.scale(dProjected.ptr, dProjected.ptr, dProjected.size, this.inputScale);
    return this.inputProjection.backward(dProjected);
  }

  parameters(): Parameter[] {
    return [
      ...prefixed('input_projection', this.inputProjection.parameters()),
      ...prefixed('transformer_encoder', this.encoder.parameters()),
      ...prefixed('fc', this.fc.parameters()),
    ];
  }

  setTraining(training: boolean): void {
    this.posEncoder.setTraining(training);
    this.encoder.setTraining(training);
    this.fc.setTraining(training);
  }
}

export function createTransformerModel(config: ModelConfig, engine: Engine, rng: Rng): Network {
  return new TransformerForecaster(config, engine, rng);
}
