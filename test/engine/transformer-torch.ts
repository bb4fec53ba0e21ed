/**
 * The Transformer tests' bridge to PyTorch: the request and file format of test/helpers/torch.ts (runTorch), served by
 * test/engine/ref_transformer.py, which adds the layernorm / mha / encoder_layer / transformer module specs to
 * test/helpers/torch_ref.py.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NamedTensor, readSafetensors, writeSafetensors } from '../../src/engine/io/index.js';
import type { Parameter, Tensor } from '../../src/engine/runtime.js';
import { REFERENCE_PYTHON } from '../helpers/env.js';
import type { RefTensor } from '../helpers/torch.js';

const SCRIPT = fileURLToPath(new URL('./ref_transformer.py', import.meta.url));

export function runTorchTransformer(request: Record<string, unknown>, tensors: Record<string, RefTensor>): Record<string, RefTensor> {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-torch-'));
  try {
    const named: Record<string, NamedTensor> = {};
    for (const [name, t] of Object.entries(tensors)) named[name] = { dtype: 'F32', shape: t.shape, data: t.data };
    writeSafetensors(join(dir, 'inputs.safetensors'), named, { request: JSON.stringify(request) });
    const run = spawnSync(REFERENCE_PYTHON, [SCRIPT, dir], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`ref_transformer.py failed (${run.status}): ${run.stderr}`);
    const out: Record<string, RefTensor> = {};
    for (const [name, t] of Object.entries(readSafetensors(join(dir, 'outputs.safetensors')).tensors)) {
      out[name] = { shape: t.shape, data: t.data as Float32Array };
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
