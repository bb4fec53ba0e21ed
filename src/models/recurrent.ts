import { Dropout } from '../engine/layers/dropout.js';
import { Linear } from '../engine/layers/linear.js';
import { ReLU } from '../engine/layers/activation.js';
import { Recurrent, type RecurrentKind } from '../engine/layers/recurrent.js';
import { Sequential, prefixed } from '../engine/layers/sequential.js';
import type { Rng } from '../engine/rng.js';
import type { Engine, Parameter, Tensor } from '../engine/runtime.js';
import type { ModelConfig } from './config.js';
import type { Network } from './network.js';

/** The seed's MLP head: nn.Sequential(Linear(in→headHidden), ReLU, Dropout, Linear(headHidden→outputSize)). */
export function createHead(engine: Engine, inFeatures: number, config: ModelConfig, rng: Rng): Sequential {
  return new Sequential([
    new Linear(engine, inFeatures, config.headHiddenSize, rng),
    new ReLU(engine),
    new Dropout(engine, config.dropout, rng),
    new Linear(engine, config.headHiddenSize, config.outputSize, rng),
  ]);
}

/**
 * LSTMModel / GRUModel of the seed: rnn (nn.LSTM or nn.GRU, batch_first, dropout between layers) → the last
 * step's hidden state of the last layer → fc head. state_dict names, exactly as PyTorch's:
 *   rnn.weight_ih_l{k}, rnn.weight_hh_l{k}, rnn.bias_ih_l{k}, rnn.bias_hh_l{k}   for k < numLayers
 *   fc.0.weight [headHidden, hidden], fc.0.bias, fc.3.weight [outputSize, headHidden], fc.3.bias
 */
export class RecurrentForecaster implements Network {
  readonly rnn: Recurrent;
  readonly fc: Sequential;

  constructor(
    readonly config: ModelConfig,
    readonly engine: Engine,
    kind: RecurrentKind,
    rng: Rng,
  ) {
    this.rnn = new Recurrent(engine, kind, config.inputSize, config.hiddenSize, config.numLayers, config.dropout, rng);
    this.rnn.computeInputGrad = false;
    this.fc = createHead(engine, config.hiddenSize, config, rng);
  }

  requireInputGrad(): void {
    this.rnn.computeInputGrad = true;
  }

  forward(x: Tensor): Tensor {
    this.rnn.forwardStates(x);
    return this.fc.forward(this.rnn.lastHidden());
  }

  backward(dy: Tensor): Tensor {
    return this.rnn.backwardLast(this.fc.backward(dy));
  }

  parameters(): Parameter[] {
    return [...prefixed('rnn', this.rnn.parameters()), ...prefixed('fc', this.fc.parameters())];
  }

  setTraining(training: boolean): void {
    this.rnn.setTraining(training);
    this.fc.setTraining(training);
  }
}

export function createLSTMModel(config: ModelConfig, engine: Engine, rng: Rng): Network {
  return new RecurrentForecaster(config, engine, 'lstm', rng);
}

export function createGRUModel(config: ModelConfig, engine: Engine, rng: Rng): Network {
  return new RecurrentForecaster(config, engine, 'gru', rng);
}
