import { Embedding, concatPerStep, perStepRowGrad } from '../engine/layers/embedding.js';
import { prefixed } from '../engine/layers/sequential.js';
import type { Rng } from '../engine/rng.js';
import { type Engine, type Parameter, Tensor } from '../engine/runtime.js';
import type { ModelConfig } from './config.js';
import type { Network, NetworkFactory } from './network.js';

/** The embedding row of a stock the model was not trained on (and of training samples drawn to stand in for one). */
export const UNKNOWN_STOCK_ROW = 0;

/** The embedding row of `symbol` given the trained stocks in index order (model/config.json `stocks`): 1 + its index, else 0. */
export function stockRow(stocks: readonly string[], symbol: string): number {
  const i = stocks.indexOf(symbol);
  return i < 0 ? UNKNOWN_STOCK_ROW : i + 1;
}

/**
 * A forecaster with a stock embedding (the original universal_model.py's Embedding(num_stocks, 32), plus a reserved
 * unknown row): stock_embedding = nn.Embedding(numStocks + 1, D); the window's row is concatenated to every time
 * step's features and the inner LSTM / GRU / Transformer reads F + D inputs. As a torch.nn module:
 *
 *   forward(x, stock): inner(torch.cat([x, stock_embedding(stock).unsqueeze(1).expand(-1, T, -1)], dim=2))
 *
 * state_dict: stock_embedding.weight [numStocks + 1, D] first (registered first), then the inner model's names
 * unchanged (rnn.* / input_projection.*, transformer_encoder.*, fc.*). The table is initialised first, from the same Rng.
 */
export class StockEmbeddingForecaster implements Network {
  readonly stockEmbedding: Embedding;
  readonly inner: Network;

  constructor(
    readonly config: ModelConfig,
    readonly engine: Engine,
    rng: Rng,
    innerFactory: NetworkFactory,
  ) {
    const D = config.stockEmbeddingDim;
    this.stockEmbedding = new Embedding(engine, config.numStocks + 1, D, rng);
    this.inner = innerFactory({ ...config, inputSize: config.inputSize + D, stockEmbeddingDim: 0, numStocks: 0 }, engine, rng);
    this.inner.requireInputGrad?.();
  }

  forward(x: Tensor, stocks?: Int32Array): Tensor {
    const B = x.shape[0];
    if (!stocks || stocks.length !== B) throw new Error(`stock embedding: ${B} windows need ${B} stock rows, got ${stocks?.length ?? 'none'}`);
    return this.inner.forward(concatPerStep(this.engine, x, this.stockEmbedding.forward(stocks)));
  }

  backward(dy: Tensor): Tensor {
    const dInput = this.inner.backward(dy);
    this.stockEmbedding.backward(perStepRowGrad(this.engine, dInput, this.config.inputSize));
    // The windows are data: no gradient flows to them.
    return Tensor.scratch(this.engine, [0]);
  }

  parameters(): Parameter[] {
    return [...prefixed('stock_embedding', this.stockEmbedding.parameters()), ...this.inner.parameters()];
  }

  setTraining(training: boolean): void {
    this.inner.setTraining(training);
  }
}

/** The default share of training samples that use the unknown row (model.unknownStockRate). */
export const DEFAULT_UNKNOWN_STOCK_RATE = 0.05;

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Whether training window `window` uses the unknown-stock row in epoch `epoch`: a hash of (seed, epoch, window) below
 * `rate`. A pure function of the three, so it needs no RNG state: resume, thread count and batch order cannot move it,
 * and each epoch draws a fresh ≈ rate share of every stock's windows, which is what trains the unknown row.
 */
export function drawsUnknownStock(seed: number, epoch: number, window: number, rate: number): boolean {
  if (rate <= 0) return false;
  const h = mix32(mix32(mix32(seed ^ 0x9e3779b9) ^ Math.imul(epoch, 0x85ebca6b)) ^ Math.imul(window + 1, 0xc2b2ae35));
  return h / 4294967296 < rate;
}
