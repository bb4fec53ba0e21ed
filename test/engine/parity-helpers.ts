// Shared steps of the layer/model parity tests: random weights and inputs on our side, the same through safetensors
// into torch.nn, then outputs and every gradient compared. A file computes all its cases on our side first, then
// asks PyTorch for all references in one interpreter start-up (importing torch costs more than the math).
import type { Layer } from '../../src/engine/layer.js';
import type { Rng } from '../../src/engine/rng.js';
import { type Engine, Tensor } from '../../src/engine/runtime.js';
import { assertClose, runTorchBatch, type RefTensor, type TorchJob } from '../helpers/torch.js';

export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-scale, scale);
  return a;
}

/** Parameters as torch_ref.py's inputs: p.<name>. */
export function paramInputs(layer: Layer): Record<string, RefTensor> {
  const out: Record<string, RefTensor> = {};
  for (const p of layer.parameters()) out[`p.${p.name}`] = { shape: [...p.value.shape], data: Float32Array.from(p.value.data()) };
  return out;
}

/** Our results for one case, copied out of engine memory, and the job that asks torch for the same. */
export interface ParityCase {
  job: TorchJob;
  out: Float32Array;
  loss?: number;
  dx?: Float32Array;
  grads: Record<string, Float32Array>;
}

export function gradsOf(layer: Layer): Record<string, Float32Array> {
  return Object.fromEntries(layer.parameters().map((p) => [p.name, Float32Array.from(p.grad.data())]));
}

/**
 * Forward x through `layer` in eval mode, backward with a random upstream gradient dy (the "dot" loss Σ out⊙dy on the
 * torch side), and keep out, dx and every parameter gradient.
 */
export function layerCase(engine: Engine, layer: Layer, spec: Record<string, unknown>, xShape: number[], rng: Rng): ParityCase {
  engine.resetArena();
  for (const p of layer.parameters()) p.grad.data().fill(0);
  layer.setTraining(false);
  const x = Tensor.scratch(engine, xShape);
  x.set(randomArray(rng, x.size));
  const xData = Float32Array.from(x.data());
  const out = layer.forward(x);
  const outData = Float32Array.from(out.data());
  const dy = Tensor.scratch(engine, out.shape);
  dy.set(randomArray(rng, dy.size));
  const dyData = Float32Array.from(dy.data());
  const dx = Float32Array.from(layer.backward(dy).data());
  const job = {
    request: { task: 'grad', module: spec, mode: 'eval', loss: 'dot' },
    tensors: { ...paramInputs(layer), x: { shape: xShape, data: xData }, y: { shape: [...out.shape], data: dyData } },
  };
  const result = { job, out: outData, dx, grads: gradsOf(layer) };
  engine.resetArena();
  return result;
}

/** Output, loss, dx and gradients within the parity tolerance; parameter names must equal torch's exactly. */
export function compareCase(c: ParityCase, ref: Record<string, RefTensor>): void {
  assertClose('forward output', c.out, ref.out.data);
  if (c.loss !== undefined) assertClose('loss', [c.loss], ref.loss.data);
  if (c.dx) assertClose('input gradient', c.dx, ref.dx.data);
  const torchNames = Object.keys(ref)
    .filter((n) => n.startsWith('grad.'))
    .map((n) => n.slice(5))
    .sort();
  const ours = Object.keys(c.grads).sort();
  if (JSON.stringify(ours) !== JSON.stringify(torchNames)) throw new Error(`parameter names differ: ours ${ours}, torch ${torchNames}`);
  for (const [name, g] of Object.entries(c.grads)) assertClose(`gradient of ${name}`, g, ref[`grad.${name}`].data);
}

/** Runs every job of a file in one torch process, on first use only (so a skipped file never starts Python). */
export function lazyReferences(jobs: () => TorchJob[]): () => Record<string, RefTensor>[] {
  let cached: Record<string, RefTensor>[] | undefined;
  return () => (cached ??= runTorchBatch(jobs()));
}
