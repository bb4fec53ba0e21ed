import type { ModelConfig } from './config.js';

/**
 * Nominal FLOPs of one training sample (window of `seqLength` steps): 3 × the forward pass's matrix-multiply FLOPs
 * (forward, plus the input- and weight-gradient products of backward, each as large as the forward), counting a
 * multiply-add as 2. Elementwise work (gates, softmax, layernorm, optimizer) is not counted, as is usual for
 * "effective GFLOP/s". Forward GEMM FLOPs per sample:
 *   LSTM/GRU (G = 4 or 3 gates): Σ_layers 2·T·G·H·(in_l + H)       with in_0 = inputSize, in_l = H
 *   Transformer (d = d_model, ff = dim_feedforward): 2·T·F·d + L·(2·T·d·3d + 4·T²·d + 2·T·d² + 4·T·d·ff)
 *   head: 2·(H·headHidden + headHidden·outputSize)
 */
export function trainingFlopsPerSample(config: ModelConfig, seqLength: number): number {
  const T = seqLength;
  const { inputSize: F, hiddenSize: H, numLayers: L, headHiddenSize, outputSize } = config;
  const head = 2 * (H * headHiddenSize + headHiddenSize * outputSize);
  let body = 0;
  if (config.modelType === 'transformer') {
    const ff = config.dimFeedforward;
    body = 2 * T * F * H + L * (2 * T * H * 3 * H + 4 * T * T * H + 2 * T * H * H + 4 * T * H * ff);
  } else {
    const G = config.modelType === 'lstm' ? 4 : 3;
    for (let l = 0; l < L; l++) body += 2 * T * G * H * ((l === 0 ? F : H) + H);
  }
  return 3 * (body + head);
}
