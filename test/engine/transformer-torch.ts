/**
 * The Transformer tests' bridge to PyTorch: the request and file format of test/helpers/torch.ts (runTorch), served by
 * test/engine/ref_transformer.py, which adds the layernorm / mha / encoder_layer / transformer module specs to
 * test/helpers/torch_ref.py.
 */
import { fileURLToPath } from 'node:url';
import type { Parameter, Tensor } from '../../src/engine/runtime.js';
import { runTorch, type RefTensor } from '../helpers/torch.js';

const SCRIPT = fileURLToPath(new URL('./ref_transformer.py', import.meta.url));

export function runTorchTransformer(request: Record<string, unknown>, tensors: Record<string, RefTensor>): Record<string, RefTensor> {
  return runTorch(request, tensors, SCRIPT);
}

export interface GradReference {
  output: Float32Array;
  gradInput: Float32Array;
  /** keyed by state_dict name, in torch's named_parameters order */
  grads: Record<string, Float32Array>;
}

/** PyTorch's output, input gradient and parameter gradients in eval mode for upstream gradient dy (loss = Σ out·dy). */
export function torchGradients(module: Record<string, unknown>, params: Parameter[], input: Tensor, dy: Tensor): GradReference {
  const copy = (t: Tensor): RefTensor => ({ shape: [...t.shape], data: Float32Array.from(t.data()) });
  const tensors: Record<string, RefTensor> = { x: copy(input), y: copy(dy) };
  for (const p of params) tensors[`p.${p.name}`] = copy(p.value);
  const out = runTorchTransformer({ task: 'grad', module, mode: 'eval', loss: 'dot' }, tensors);
  const grads: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(out)) if (name.startsWith('grad.')) grads[name.slice(5)] = t.data;
  return { output: out.out!.data, gradInput: out.dx!.data, grads };
}
