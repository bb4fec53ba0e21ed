/**
 * Forward passes of a loaded run (src/runs loadRunModel) for inference: point forecasts in chunks, and the
 * Monte-Carlo dropout samples.
 */
import type { AdjustMode } from '../data/index.js';
import { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/runtime.js';
import { predict, stockRow } from '../models/index.js';
import type { LoadedModel, RunModel } from '../runs/index.js';

/** A loaded run ready to forecast: its model and the first day of history its features were computed from. */
export interface InferenceModel extends RunModel {
  /** config.json data.firstDate (the first bar training read), else data.startDate; null: the symbol's first bar. */
  historyStart: string | null;
  /** A universal run's stocks (config.json data.universe); null for a single-stock run. */
  universe: ReadonlySet<string> | null;
  /** How its bars were adjusted (config.json data.adjust): the history is read the same way. */
  adjust: AdjustMode;
}

/** Windows per forward pass: bounds the engine's step arena (activations grow with batch × seqLength × hidden). */
export const FORWARD_CHUNK = 256;

/**
 * The stock-embedding rows of `symbols` for a model with a stock embedding (a stock it was not trained on gets the
 * unknown row 0); undefined for a model without one.
 */
export function stockRowsFor(model: LoadedModel, symbols: readonly string[]): Int32Array | undefined {
  if (model.config.stockEmbeddingDim === 0) return undefined;
  const stocks = model.inputs.stocks ?? [];
  return Int32Array.from(symbols, (s) => stockRow(stocks, s));
}

/**
 * Evaluation-mode outputs (scaled) for `count` windows [count, seqLength, F] → [count, horizon], chunked. `stocks`
 * [count]: the windows' embedding rows (stockRowsFor), for a model with a stock embedding.
 */
export function forwardPoint(model: LoadedModel, x: Float32Array, count: number, stocks?: Int32Array): Float32Array {
  const stride = x.length / count;
  const h = model.config.outputSize;
  const out = new Float32Array(count * h);
  for (let start = 0; start < count; start += FORWARD_CHUNK) {
    const n = Math.min(FORWARD_CHUNK, count - start);
    out.set(predict(model.network, x.subarray(start * stride, (start + n) * stride), n, stocks?.subarray(start, start + n)), start * h);
  }
  return out;
}

/**
 * Monte-Carlo dropout: `samples` forward passes of one window [seqLength, F] with dropout on (and nothing else
 * changed: every layer is deterministic but the dropout masks), as batches of replicas. The dropout Rng is reset
 * to `seed` first, so the samples depend only on (weights, window, samples, seed), whatever was predicted before.
 * `stock`: the window's embedding row, for a model with a stock embedding. Returns scaled outputs [samples, horizon].
 */
export function forwardDropoutSamples(model: LoadedModel, window: Float32Array, samples: number, seed: number, stock?: number): Float32Array {
  const { network, config } = model;
  const e = network.engine;
  const h = config.outputSize;
  const seqLength = window.length / config.inputSize;
  const out = new Float32Array(samples * h);
  model.rng.setState(new Rng(seed).getState());
  for (let start = 0; start < samples; start += FORWARD_CHUNK) {
    const n = Math.min(FORWARD_CHUNK, samples - start);
    e.resetArena();
    try {
      network.setTraining(true);
      const input = Tensor.scratch(e, [n, seqLength, config.inputSize]);
      const view = input.data();
      for (let r = 0; r < n; r++) view.set(window, r * window.length);
      out.set(network.forward(input, stock === undefined ? undefined : new Int32Array(n).fill(stock)).data(), start * h);
    } finally {
      network.setTraining(false);
      e.resetArena();
    }
  }
  return out;
}
