import type { Layer } from '../layer.js';
import { drawDropoutMask } from './dropout.js';
import type { Rng } from '../rng.js';
import { type Engine, type Parameter, Tensor, createParameter } from '../runtime.js';

export type RecurrentKind = 'lstm' | 'gru';

/** Gates per cell, in PyTorch's order: LSTM i,f,g,o; GRU r,z,n. */
const GATES: Record<RecurrentKind, number> = { lstm: 4, gru: 3 };

interface LayerParams {
  weightIh: Parameter;
  weightHh: Parameter;
  biasIh: Parameter;
  biasHh: Parameter;
}

/** What one layer's forward keeps for its backward; all of it lives in the step arena, time-major. */
interface LayerCache {
  /** the layer's input [T, B, in] (after inter-layer dropout) */
  input: Tensor;
  /** h_{-1}..h_{T-1}: [T+1, B, H] with slot 0 = zeros, so h_{t-1} of step t is slot t */
  hs: Tensor;
  /** LSTM: gate activations [T, B, 4H]; GRU: r,z,n activations [T, B, 3H] */
  gates: Tensor;
  /** LSTM: c_{-1}..c_{T-1} [T+1, B, H]; GRU: hidden pre-activations h·W_hhᵀ + b_hh [T, B, 3H] */
  aux: Tensor;
  /** LSTM: tanh(c_0)..tanh(c_{T-1}) [T, B, H], kept so backward does not evaluate tanh again; GRU: unused */
  tanhC: Tensor | undefined;
  /** inverted-dropout mask applied to this layer's input (layers ≥ 1 in training) */
  mask: Tensor | undefined;
}

/**
 * nn.LSTM / nn.GRU with batch_first=True: multi-layer, dropout between layers (not after the last), zero initial
 * state, PyTorch gate order and both bias vectors (GRU's b_hn inside the reset gate). Parameters are named
 * weight_ih_l{k} [G·H, in], weight_hh_l{k} [G·H, H], bias_ih_l{k} [G·H], bias_hh_l{k} [G·H] and start U(±1/√H).
 *
 * Speed comes from the layout: the layer works time-major, so x·W_ihᵀ for ALL steps is one GEMM before the
 * recurrence, each step then needs only the [B, H]·W_hhᵀ GEMM plus one fused cell kernel, and in backward the
 * weight gradients of all steps are again one GEMM each (h_{t-1} of every step is a contiguous slice of `hs`).
 */
export class Recurrent implements Layer {
  readonly layers: LayerParams[] = [];
  readonly gates: number;
  /** When false, backward skips the gradient of the input (the first layer of a model fed with data). */
  computeInputGrad = true;
  private training = true;
  private caches: LayerCache[] = [];
  private shape: { B: number; T: number } | undefined;

  constructor(
    private readonly engine: Engine,
    readonly kind: RecurrentKind,
    readonly inputSize: number,
    readonly hiddenSize: number,
    readonly numLayers: number,
    readonly dropout: number,
    private readonly rng: Rng,
  ) {
    if (!(dropout >= 0 && dropout < 1)) throw new Error(`${kind}: dropout must be in [0, 1), got ${dropout}`);
    this.gates = GATES[kind];
    const G = this.gates * hiddenSize;
    for (let l = 0; l < numLayers; l++) {
      const inSize = l === 0 ? inputSize : hiddenSize;
      this.layers.push({
        weightIh: createParameter(engine, `weight_ih_l${l}`, [G, inSize]),
        weightHh: createParameter(engine, `weight_hh_l${l}`, [G, hiddenSize]),
        biasIh: createParameter(engine, `bias_ih_l${l}`, [G]),
        biasHh: createParameter(engine, `bias_hh_l${l}`, [G]),
      });
    }
    const bound = 1 / Math.sqrt(hiddenSize);
    for (const p of this.parameters()) {
      const v = p.value.data();
      for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-bound, bound);
    }
  }

  parameters(): Parameter[] {
    return this.layers.flatMap((p) => [p.weightIh, p.weightHh, p.biasIh, p.biasHh]);
  }

  setTraining(training: boolean): void {
    this.training = training;
  }

  /** x [B, T, inputSize] → outputs h_t of the last layer for every step, [B, T, H]. */
  forward(x: Tensor): Tensor {
    const states = this.forwardStates(x);
    const [T, B, H] = states.shape;
    const y = Tensor.scratch(this.engine, [B, T, H]);
    this.engine.k.swap_axes01(y.ptr, states.ptr, T, B, H);
    return y;
  }

  /**
   * The recurrence without the batch-first copy of its outputs: returns the last layer's h_0..h_{T-1} time-major
   * [T, B, H]. A model that reads only lastHidden() calls this, then backwardLast().
   */
  forwardStates(x: Tensor): Tensor {
    if (x.shape.length !== 3 || x.shape[2] !== this.inputSize) {
      throw new Error(`${this.kind}: expected input [batch, time, ${this.inputSize}], got [${x.shape}]`);
    }
    const [B, T] = x.shape;
    const e = this.engine;
    const H = this.hiddenSize;
    this.shape = { B, T };
    this.caches = [];
    let input = Tensor.scratch(e, [T, B, this.inputSize]);
    e.k.swap_axes01(input.ptr, x.ptr, B, T, this.inputSize);
    for (let l = 0; l < this.numLayers; l++) {
      let mask: Tensor | undefined;
      if (l > 0 && this.training && this.dropout > 0) {
        mask = Tensor.scratch(e, input.shape);
        drawDropoutMask(this.rng, mask, this.dropout);
        const dropped = Tensor.scratch(e, input.shape);
        e.k.mul(dropped.ptr, input.ptr, mask.ptr, input.size);
        input = dropped;
      }
      const cache = this.kind === 'lstm' ? this.lstmForward(l, input, B, T) : this.gruForward(l, input, B, T);
      cache.mask = mask;
      this.caches.push(cache);
      input = new Tensor(e, cache.hs.ptr + B * H * 4, [T, B, H]);
    }
    return input;
  }

  /** The last layer's h_{T-1} [B, H] after forward: what the forecasting head reads. */
  lastHidden(): Tensor {
    const { B, T } = this.requireShape();
    const hs = this.caches[this.caches.length - 1].hs;
    return new Tensor(this.engine, hs.ptr + T * B * this.hiddenSize * 4, [B, this.hiddenSize]);
  }

  /** dy [B, T, H] → dx [B, T, inputSize] (an empty tensor when computeInputGrad is false). */
  backward(dy: Tensor): Tensor {
    const { B, T } = this.requireShape();
    const e = this.engine;
    const H = this.hiddenSize;
    const dOut = Tensor.scratch(e, [T, B, H]);
    e.k.swap_axes01(dOut.ptr, dy.ptr, B, T, H);
    return this.backwardTimeMajor(dOut);
  }

  /** Backward when the only gradient is dh_{T-1} [B, H] of the last layer (the head's input). */
  backwardLast(dh: Tensor): Tensor {
    const { B, T } = this.requireShape();
    const e = this.engine;
    const H = this.hiddenSize;
    const dOut = Tensor.scratch(e, [T, B, H]);
    e.k.fill(dOut.ptr, (T - 1) * B * H, 0);
    e.k.copy(dOut.ptr + (T - 1) * B * H * 4, dh.ptr, B * H);
    return this.backwardTimeMajor(dOut);
  }

  private backwardTimeMajor(dOut: Tensor): Tensor {
    const { B, T } = this.requireShape();
    const e = this.engine;
    for (let l = this.numLayers - 1; l >= 0; l--) {
      const cache = this.caches[l];
      const needInput = l > 0 || this.computeInputGrad;
      const dIn = this.kind === 'lstm' ? this.lstmBackward(l, cache, dOut, B, T, needInput) : this.gruBackward(l, cache, dOut, B, T, needInput);
      if (!dIn) break;
      if (cache.mask) e.k.mul(dIn.ptr, dIn.ptr, cache.mask.ptr, dIn.size);
      dOut = dIn;
    }
    this.caches = [];
    if (!this.computeInputGrad) return Tensor.scratch(e, [0]);
    const dx = Tensor.scratch(e, [B, T, this.inputSize]);
    e.k.swap_axes01(dx.ptr, dOut.ptr, T, B, this.inputSize);
    return dx;
  }

  private requireShape(): { B: number; T: number } {
    if (!this.shape || this.caches.length === 0) throw new Error(`${this.kind}: backward before forward`);
    return this.shape;
  }

  private lstmForward(l: number, input: Tensor, B: number, T: number): LayerCache {
    const e = this.engine;
    const k = e.k;
    const H = this.hiddenSize;
    const G = 4 * H;
    const inSize = input.shape[2];
    const p = this.layers[l];
    // both biases enter every pre-activation, so the input GEMM starts its sums at b_ih + b_hh (in registers: no
    // broadcast pass over the [T, B, 4H] gates before it)
    const gates = Tensor.scratch(e, [T, B, G]);
    const bias = e.alloc(G);
    k.add(bias, p.biasIh.value.ptr, p.biasHh.value.ptr, G);
    k.gemm_nt_bias(T * B, G, inSize, input.ptr, inSize, p.weightIh.value.ptr, inSize, bias, gates.ptr, G);
    const hs = Tensor.scratch(e, [T + 1, B, H]);
    const cs = Tensor.scratch(e, [T + 1, B, H]);
    const tanhC = Tensor.scratch(e, [T, B, H]);
    k.fill(hs.ptr, B * H, 0);
    k.fill(cs.ptr, B * H, 0);
    const whh = this.packRecurrentWeight(p, 'forward');
    const stepH = B * H * 4;
    const stepG = B * G * 4;
    for (let t = 0; t < T; t++) {
      const g = gates.ptr + t * stepG;
      if (t > 0) k.gemm_nn_packed(B, G, H, 1, hs.ptr + t * stepH, H, whh, 1, g, G);
      k.lstm_cell_fwd(B, H, g, cs.ptr + t * stepH, cs.ptr + (t + 1) * stepH, tanhC.ptr + t * stepH, hs.ptr + (t + 1) * stepH);
    }
    return { input, hs, gates, aux: cs, tanhC, mask: undefined };
  }

  private lstmBackward(l: number, c: LayerCache, dOut: Tensor, B: number, T: number, needInput: boolean): Tensor | undefined {
    const e = this.engine;
    const k = e.k;
    const H = this.hiddenSize;
    const G = 4 * H;
    const inSize = c.input.shape[2];
    const p = this.layers[l];
    const dGates = Tensor.scratch(e, [T, B, G]);
    const dc = e.allocZeroed(B * H);
    const whh = this.packRecurrentWeight(p, 'backward');
    const stepH = B * H * 4;
    const stepG = B * G * 4;
    if (!c.tanhC) throw new Error('lstm: forward did not keep tanh(c)');
    const tanhC = c.tanhC.ptr;
    // Σ over steps and batch of dgates, summed by the cell kernel: the gradient of both b_ih and b_hh
    const db = e.allocZeroed(G);
    for (let t = T - 1; t >= 0; t--) {
      const dg = dGates.ptr + t * stepG;
      k.lstm_cell_bwd(B, H, c.gates.ptr + t * stepG, c.aux.ptr + t * stepH, tanhC + t * stepH, dOut.ptr + t * stepH, dc, dg, db);
      if (t > 0) k.gemm_nn_packed(B, H, G, 1, dg, G, whh, 1, dOut.ptr + (t - 1) * stepH, H);
    }
    k.add(p.biasIh.grad.ptr, p.biasIh.grad.ptr, db, G);
    k.add(p.biasHh.grad.ptr, p.biasHh.grad.ptr, db, G);
    return this.accumulateWeightGrads(p, c, dGates, dGates, B, T, G, inSize, needInput);
  }

  private gruForward(l: number, input: Tensor, B: number, T: number): LayerCache {
    const e = this.engine;
    const k = e.k;
    const H = this.hiddenSize;
    const G = 3 * H;
    const inSize = input.shape[2];
    const p = this.layers[l];
    const gi = Tensor.scratch(e, [T, B, G]);
    k.gemm_nt_bias(T * B, G, inSize, input.ptr, inSize, p.weightIh.value.ptr, inSize, p.biasIh.value.ptr, gi.ptr, G);
    // gh_t = h_{t-1}·W_hhᵀ + b_hh: the bias alone at t = 0 (h_{-1} = 0), the per-step GEMM adds it after
    const gh = Tensor.scratch(e, [T, B, G]);
    k.bias_set(gh.ptr, p.biasHh.value.ptr, B, G);
    const hs = Tensor.scratch(e, [T + 1, B, H]);
    k.fill(hs.ptr, B * H, 0);
    const whh = this.packRecurrentWeight(p, 'forward');
    const stepH = B * H * 4;
    const stepG = B * G * 4;
    for (let t = 0; t < T; t++) {
      if (t > 0) k.gemm_nn_packed_bias(B, G, H, hs.ptr + t * stepH, H, whh, p.biasHh.value.ptr, gh.ptr + t * stepG, G);
      k.gru_cell_fwd(B, H, gi.ptr + t * stepG, gh.ptr + t * stepG, hs.ptr + t * stepH, hs.ptr + (t + 1) * stepH);
    }
    return { input, hs, gates: gi, aux: gh, tanhC: undefined, mask: undefined };
  }

  private gruBackward(l: number, c: LayerCache, dOut: Tensor, B: number, T: number, needInput: boolean): Tensor | undefined {
    const e = this.engine;
    const k = e.k;
    const H = this.hiddenSize;
    const G = 3 * H;
    const inSize = c.input.shape[2];
    const p = this.layers[l];
    const dGi = Tensor.scratch(e, [T, B, G]);
    const dGh = Tensor.scratch(e, [T, B, G]);
    const whh = this.packRecurrentWeight(p, 'backward');
    const stepH = B * H * 4;
    const stepG = B * G * 4;
    // bias-gradient sums kept by the cell kernel: dbi = Σ dgi (all of b_ih's gradient, and the r, z part of b_hh's,
    // where dgh equals dgi), dbhn = Σ of dgh's n part
    const dbi = e.allocZeroed(G);
    const dbhn = e.allocZeroed(H);
    for (let t = T - 1; t >= 0; t--) {
      const dgh = dGh.ptr + t * stepG;
      const dPrev = t > 0 ? dOut.ptr + (t - 1) * stepH : 0;
      k.gru_cell_bwd(
        B,
        H,
        c.gates.ptr + t * stepG,
        c.aux.ptr + t * stepG,
        c.hs.ptr + t * stepH,
        dOut.ptr + t * stepH,
        dGi.ptr + t * stepG,
        dgh,
        dPrev,
        t > 0 ? 1 : 0,
        dbi,
        dbhn,
      );
      if (t > 0) k.gemm_nn_packed(B, H, G, 1, dgh, G, whh, 1, dPrev, H);
    }
    k.add(p.biasIh.grad.ptr, p.biasIh.grad.ptr, dbi, G);
    k.add(p.biasHh.grad.ptr, p.biasHh.grad.ptr, dbi, 2 * H);
    k.add(p.biasHh.grad.ptr + 2 * H * 4, p.biasHh.grad.ptr + 2 * H * 4, dbhn, H);
    return this.accumulateWeightGrads(p, c, dGi, dGh, B, T, G, inSize, needInput);
  }

  /**
   * W_hh packed once per pass into GEMM panels, because every time step multiplies by it: forward needs W_hhᵀ
   * (h·W_hhᵀ), backward W_hh itself (dgates·W_hh).
   */
  private packRecurrentWeight(p: LayerParams, pass: 'forward' | 'backward'): number {
    const k = this.engine.k;
    const H = this.hiddenSize;
    const G = this.gates * H;
    const [K, N] = pass === 'forward' ? [H, G] : [G, H];
    const packed = this.engine.alloc(k.gemm_packed_b_size(K, N));
    k.gemm_pack_b(pass === 'forward' ? 1 : 0, K, N, p.weightHh.value.ptr, H, packed);
    return packed;
  }

  /**
   * All steps at once: dW_ih += dGiᵀ·input, dW_hh += dGhᵀ·h_{t-1}, and dInput = dGi·W_ih (the bias gradients were
   * summed by the cell kernels). For the LSTM the input and hidden pre-activation gradients are the same tensor.
   */
  private accumulateWeightGrads(
    p: LayerParams,
    c: LayerCache,
    dGi: Tensor,
    dGh: Tensor,
    B: number,
    T: number,
    G: number,
    inSize: number,
    needInput: boolean,
  ): Tensor | undefined {
    const e = this.engine;
    const k = e.k;
    const H = this.hiddenSize;
    const rows = T * B;
    if (inSize % 8 === 0) {
      k.gemm_tn(G, inSize, rows, 1, dGi.ptr, G, c.input.ptr, inSize, 1, p.weightIh.grad.ptr, inSize);
    } else {
      // An input width that is not a multiple of the GEMM's 8-column panels (W1's 52 features) leaves a ragged
      // panel in every row block; the transposed product inputᵀ·dGi [in, G] has G columns (full panels) and in
      // rows (4-row panels), so it runs faster even with the transpose-and-add after it (3.2 → 2.8 ms for W1 LSTM).
      const t = e.alloc(inSize * G);
      k.gemm_tn(inSize, G, rows, 1, c.input.ptr, inSize, dGi.ptr, G, 0, t, G);
      const tt = e.alloc(inSize * G);
      k.transpose(tt, t, inSize, G);
      k.add(p.weightIh.grad.ptr, p.weightIh.grad.ptr, tt, inSize * G);
    }
    // h_{-1} (slot 0 of hs) is zero, so step 0 adds nothing to dW_hh: sum over steps 1..T-1 only
    const stepH = B * H * 4;
    k.gemm_tn(G, H, rows - B, 1, dGh.ptr + B * G * 4, G, c.hs.ptr + stepH, H, 1, p.weightHh.grad.ptr, H);
    if (!needInput) return undefined;
    const dIn = Tensor.scratch(e, [T, B, inSize]);
    k.gemm_nn(rows, inSize, G, 1, dGi.ptr, G, p.weightIh.value.ptr, inSize, 0, dIn.ptr, inSize);
    return dIn;
  }
}

/** nn.LSTM(inputSize, hiddenSize, numLayers, batch_first=True, dropout). */
export function createLSTM(engine: Engine, inputSize: number, hiddenSize: number, numLayers: number, dropout: number, rng: Rng): Recurrent {
  return new Recurrent(engine, 'lstm', inputSize, hiddenSize, numLayers, dropout, rng);
}

/** nn.GRU(inputSize, hiddenSize, numLayers, batch_first=True, dropout). */
export function createGRU(engine: Engine, inputSize: number, hiddenSize: number, numLayers: number, dropout: number, rng: Rng): Recurrent {
  return new Recurrent(engine, 'gru', inputSize, hiddenSize, numLayers, dropout, rng);
}
