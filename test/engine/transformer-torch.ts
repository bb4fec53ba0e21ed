/**
 * Bridge to test/engine/ref_transformer.py: our weights, input and upstream gradient go to PyTorch through a
 * safetensors file, and PyTorch's output, input gradient and parameter gradients come back the same way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NamedTensor, readSafetensors, writeSafetensors } from '../../src/engine/io/index.js';
import type { Parameter, Tensor } from '../../src/engine/runtime.js';
import { REFERENCE_PYTHON } from '../helpers/env.js';

const SCRIPT = fileURLToPath(new URL('./ref_transformer.py', import.meta.url));

export interface TorchResult {
  output: Float32Array;
  gradInput: Float32Array;
  /** keyed by state_dict name */
  grads: Record<string, Float32Array>;
}

export function torchReference(
  kind: 'layernorm' | 'mha' | 'encoder_layer' | 'model',
  config: Record<string, number>,
  params: Parameter[],
  input: Tensor,
  gradOutput: Tensor,
): TorchResult {
  const f32 = (t: Tensor): NamedTensor => ({ dtype: 'F32', shape: [...t.shape], data: t.data().slice() });
  const tensors: Record<string, NamedTensor> = { input: f32(input), grad_output: f32(gradOutput) };
  for (const p of params) tensors[`param.${p.name}`] = f32(p.value);
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-torch-'));
  try {
    writeSafetensors(join(dir, 'in.safetensors'), tensors, { kind, config: JSON.stringify(config) });
    const run = spawnSync(REFERENCE_PYTHON, [SCRIPT, join(dir, 'in.safetensors'), join(dir, 'out.safetensors')], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`ref_transformer.py failed: ${run.stderr}`);
    const out = readSafetensors(join(dir, 'out.safetensors')).tensors;
    const grads: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(out)) if (name.startsWith('grad.')) grads[name.slice(5)] = t.data as Float32Array;
    return { output: out.output!.data as Float32Array, gradInput: out.grad_input!.data as Float32Array, grads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
