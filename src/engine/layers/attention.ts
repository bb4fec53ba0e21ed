import type { Layer } from '../layer.js';
import { type Engine, type Parameter, Tensor, createParameter } from '../runtime.js';
import type { Rng } from '../rng.js';

/**
 * nn.MultiheadAttention(d, heads, dropout, batch_first=True) used as self-attention (query = key = value = x), with
 * PyTorch's packed parameters: in_proj_weight [3d, d] (rows q, k, v), in_proj_bias [3d], out_proj.weight [d, d],
 * out_proj.bias [d]. Scores are scaled by 1/sqrt(head_dim); dropout applies to the attention weights in training.
 *
 * forwardLast(x) returns only the last position's output [B, 1, d]: the keys and values still cover every position,
 * but the query, the output projection and everything after it shrink to one row per sequence. The model's final
 * encoder layer uses this because only the last time step reaches the head.
 */
export class MultiheadAttention implements Layer {
  readonly inProjWeight: Parameter;
  readonly inProjBias: Parameter;
  readonly outProjWeight: Parameter;
  readonly outProjBias: Parameter;
  readonly headDim: number;
  private training = true;
  private cache:
    | { x: Tensor; q: number; ldq: number; kv: number; ldkv: number; tq: number; ctx: number; probs: number; mask: number; dropped: number }
    | undefined;

  constructor(
    private readonly engine: Engine,
    readonly dModel: number,
    readonly numHeads: number,
    readonly dropout: number,
    private readonly rng: Rng,
  ) {
    if (dModel % numHeads !== 0) throw new Error(`MultiheadAttention: d_model ${dModel} is not divisible by ${numHeads} heads`);
    this.headDim = dModel / numHeads;
    this.inProjWeight = createParameter(engine, 'in_proj_weight', [3 * dModel, dModel]);
    this.inProjBias = createParameter(engine, 'in_proj_bias', [3 * dModel]);
    this.outProjWeight = createParameter(engine, 'out_proj.weight', [dModel, dModel]);
    this.outProjBias = createParameter(engine, 'out_proj.bias', [dModel]);
    // PyTorch's initialisation: xavier_uniform_ for the packed projection, kaiming_uniform_(a=√5) = U(±1/√d) for
    // out_proj (a Linear), zero biases
    const inBound = Math.sqrt(6 / (dModel + 3 * dModel));
    const outBound = 1 / Math.sqrt(dModel);
    this.inProjWeight.value.set(Array.from({ length: 3 * dModel * dModel }, () => rng.uniform(-inBound, inBound)));
    this.outProjWeight.value.set(Array.from({ length: dModel * dModel }, () => rng.uniform(-outBound, outBound)));
  }

  parameters(): Parameter[] {
    return [this.inProjWeight, this.inProjBias, this.outProjWeight, this.outProjBias];
  }

  setTraining(training: boolean): void {
    this.training = training;
  }

  forward(x: Tensor): Tensor {
    return this.run(x, false);
  }

  forwardLast(x: Tensor): Tensor {
    return this.run(x, true);
  }

  private run(x: Tensor, lastOnly: boolean): Tensor {
    const [B, T, d] = x.shape as [number, number, number];
    if (x.shape.length !== 3 || d !== this.dModel) throw new Error(`MultiheadAttention(${this.dModel}): input shape [${x.shape}]`);
    const e = this.engine;
    const k = e.k;
    const H = this.numHeads;
    const hd = this.headDim;
    const W = this.inProjWeight.value.ptr;
    const bias = this.inProjBias.value.ptr;
    const rows = B * T;
    let q: number, ldq: number, kv: number, ldkv: number, tq: number;
    if (lastOnly) {
      // queries from the last row of each sequence (A rows T*d apart), keys and values from rows d..3d of the weight
      tq = 1;
      ldq = d;
      q = e.alloc(B * d);
      k.gemm_nt_bias(B, d, d, x.ptr + (T - 1) * d * 4, T * d, W, d, bias, q, d);
      ldkv = 2 * d;
      kv = e.alloc(rows * 2 * d);
      k.gemm_nt_bias(rows, 2 * d, d, x.ptr, d, W + d * d * 4, d, bias + d * 4, kv, 2 * d);
    } else {
      tq = T;
      ldq = 3 * d;
      ldkv = 3 * d;
      q = e.alloc(rows * 3 * d);
      kv = q + d * 4;
      k.gemm_nt_bias(rows, 3 * d, d, x.ptr, d, W, d, bias, q, 3 * d);
    }
    const plane = B * H * tq * T;
    const probs = e.alloc(plane);
    let mask = 0;
    let dropped = 0;
    if (this.training && this.dropout > 0) {
      mask = e.alloc(plane);
      dropped = e.alloc(plane);
      this.rng.fillDropoutMask(e.f32(mask, plane), this.dropout);
    }
    const ctx = e.alloc(B * tq * d);
    const mark = e.arenaMark();
    const scratch = e.alloc(hd * T);
    k.attention_forward(q, ldq, kv, kv + d * 4, ldkv, ctx, d, probs, mask, dropped, B, H, tq, T, hd, 1 / Math.sqrt(hd), scratch);
    e.resetArena(mark);
    const y = Tensor.scratch(e, [B, tq, d]);
    k.gemm_nt_bias(B * tq, d, d, ctx, d, this.outProjWeight.value.ptr, d, this.outProjBias.value.ptr, y.ptr, d);
    this.cache = { x, q, ldq, kv, ldkv, tq, ctx, probs, mask, dropped };
    return y;
  }

  backward(dy: Tensor): Tensor {
    const c = this.cache;
    if (!c) throw new Error('MultiheadAttention.backward before forward');
    this.cache = undefined;
    const e = this.engine;
    const k = e.k;
    const [B, T, d] = c.x.shape as [number, number, number];
    const H = this.numHeads;
    const hd = this.headDim;
    const rows = B * T;
    const qRows = B * c.tq;
    // output projection
    k.gemm_tn(d, d, qRows, 1, dy.ptr, d, c.ctx, d, 1, this.outProjWeight.grad.ptr, d);
    k.col_sum_acc(this.outProjBias.grad.ptr, dy.ptr, qRows, d);
    const dctx = e.alloc(qRows * d);
    k.gemm_nn(qRows, d, d, 1, dy.ptr, d, this.outProjWeight.value.ptr, d, 0, dctx, d);
    // attention
    const dq = e.alloc(qRows * c.ldq);
    const dkv = c.tq === T ? dq + d * 4 : e.alloc(rows * c.ldkv);
    const mark = e.arenaMark();
    const scratch = e.alloc(hd * T + 3 * c.tq * T);
    k.attention_backward(
      c.q,
      c.ldq,
      c.kv,
      c.kv + d * 4,
      c.ldkv,
      dctx,
      d,
      c.probs,
      c.mask,
      c.dropped,
      dq,
      dkv,
      dkv + d * 4,
      B,
      H,
      c.tq,
      T,
      hd,
      1 / Math.sqrt(hd),
      scratch,
    );
    e.resetArena(mark);
    // input projection
    const W = this.inProjWeight.value.ptr;
    const dW = this.inProjWeight.grad.ptr;
    const db = this.inProjBias.grad.ptr;
    const dx = Tensor.scratch(e, c.x.shape);
    // The key bias adds q·b_k to every score of a row, which softmax ignores: its exact gradient is zero. Summing dK
    // would only accumulate roundoff, which Adam (dividing by its own tiny magnitude) turns into lr-sized random
    // steps, so its gradient is kept as is instead (the column sums below cover it and are undone).
    const keyBiasGrad = e.alloc(d);
    k.copy(keyBiasGrad, db + d * 4, d);
    if (c.tq === T) {
      k.gemm_tn(3 * d, d, rows, 1, dq, 3 * d, c.x.ptr, d, 1, dW, d);
      k.col_sum_acc(db, dq, rows, 3 * d);
      k.gemm_nn(rows, d, 3 * d, 1, dq, 3 * d, W, d, 0, dx.ptr, d);
    } else {
      const xLast = c.x.ptr + (T - 1) * d * 4;
      k.gemm_tn(2 * d, d, rows, 1, dkv, 2 * d, c.x.ptr, d, 1, dW + d * d * 4, d);
      k.col_sum_acc(db + d * 4, dkv, rows, 2 * d);
      k.gemm_nn(rows, d, 2 * d, 1, dkv, 2 * d, W + d * d * 4, d, 0, dx.ptr, d);
      k.gemm_tn(d, d, B, 1, dq, d, xLast, T * d, 1, dW, d);
      k.col_sum_acc(db, dq, B, d);
      k.gemm_nn(B, d, d, 1, dq, d, W, d, 1, dx.ptr + (T - 1) * d * 4, T * d);
    }
    k.copy(db + d * 4, keyBiasGrad, d);
    return dx;
  }
}
