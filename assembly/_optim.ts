// Optimizer kernels. Pointers are byte offsets, counts are f32 elements. Gradient-norm clipping needs no kernel of
// its own: it is sum_sq and scale from _elementwise.ts.

/**
 * One fused Adam/AdamW step over n parameters, in torch.optim's order of operations (single-tensor path, 1.13):
 *
 *   g = grad + l2·p                      Adam's weight_decay (L2 folded into the gradient); 0 for AdamW
 *   p = p·decay                          AdamW's decoupled weight decay, decay = 1 − lr·wd; 1 for Adam
 *   m = m·β1 + (1−β1)·g                  exp_avg
 *   v = v·β2 + ((1−β2)·g)·g              exp_avg_sq (addcmul)
 *   p = p + (−stepSize·m) / (√v / bc2Sqrt + eps)    stepSize = lr / (1 − β1^t), bc2Sqrt = √(1 − β2^t)
 *
 * The bias corrections are computed once per step in float64 by the caller, as Python does. grad is left untouched.
 */
export function adam_step(
  param: usize,
  grad: usize,
  expAvg: usize,
  expAvgSq: usize,
  n: i32,
  l2: f32,
  decay: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  negStepSize: f32,
  bc2Sqrt: f32,
  eps: f32,
): void {
  const vl2 = f32x4.splat(l2);
  const vdecay = f32x4.splat(decay);
  const vb1 = f32x4.splat(beta1);
  const v1b1 = f32x4.splat(oneMinusBeta1);
  const vb2 = f32x4.splat(beta2);
  const v1b2 = f32x4.splat(oneMinusBeta2);
  const vstep = f32x4.splat(negStepSize);
  const vbc2 = f32x4.splat(bc2Sqrt);
  const veps = f32x4.splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let p = v128.load(param + o);
    const g = f32x4.add(v128.load(grad + o), f32x4.mul(p, vl2));
    p = f32x4.mul(p, vdecay);
    const m = f32x4.add(f32x4.mul(v128.load(expAvg + o), vb1), f32x4.mul(g, v1b1));
    const v = f32x4.add(f32x4.mul(v128.load(expAvgSq + o), vb2), f32x4.mul(f32x4.mul(v1b2, g), g));
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(v), vbc2), veps);
    v128.store(expAvg + o, m);
    v128.store(expAvgSq + o, v);
    v128.store(param + o, f32x4.add(p, f32x4.div(f32x4.mul(vstep, m), denom)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let p = load<f32>(param + o);
    const g = load<f32>(grad + o) + p * l2;
    p = p * decay;
    const m = load<f32>(expAvg + o) * beta1 + g * oneMinusBeta1;
    const v = load<f32>(expAvgSq + o) * beta2 + oneMinusBeta2 * g * g;
    const denom = sqrt<f32>(v) / bc2Sqrt + eps;
    store<f32>(expAvg + o, m);
    store<f32>(expAvgSq + o, v);
    store<f32>(param + o, p + (negStepSize * m) / denom);
  }
}
