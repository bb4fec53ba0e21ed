// Shared steps of the layer/model parity tests: random weights and inputs on our side, the same through
// safetensors into torch.nn, then outputs and every gradient compared.
import type { Layer } from '../../src/engine/layer.js';
import { Rng } from '../../src/engine/rng.js';
import { type Engine, Tensor } from '../../src/engine/runtime.js';
import { assertClose, runTorch, type RefTensor } from '../helpers/torch.js';

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

/**
 * Forward x through `layer`, backward with upstream gradient dy (the "dot" loss Σ out⊙dy on the torch side),
 * and compare out, dx (unless skipped) and every parameter gradient with torch.
 */
export function checkLayerParity(
  engine: Engine, layer: Layer, spec: Record<string, unknown>, xShape: number[], rng: Rng, options: { inputGrad?: boolean; training?: boolean } = {},
): void {
  engine.resetArena();
  for (const p of layer.parameters()) p.grad.data().fill(0);
  layer.setTraining(options.training ?? false);
  const x = Tensor.scratch(engine, xShape);
  x.set(randomArray(rng, x.size));
  const xData = Float32Array.from(x.data());
  const out = layer.forward(x);
  const outData = Float32Array.from(out.data());
  const dy = Tensor.scratch(engine, out.shape);
  dy.set(randomArray(rng, dy.size));
  const dyData = Float32Array.from(dy.data());
  const dx = layer.backward(dy);
  const ref = runTorch(
    { task: 'grad', module: spec, mode: 'eval', loss: 'dot' },
    { ...paramInputs(layer), x: { shape: xShape, data: xData }, y: { shape: [...out.shape], data: dyData } },
  );
  assertClose('forward output', outData, ref.out.data);
  if (options.inputGrad ?? true) assertClose('input gradient', dx.data(), ref.dx.data);
  for (const p of layer.parameters()) assertClose(`gradient of ${p.name}`, p.grad.data(), ref[`grad.${p.name}`].data);
  engine.resetArena();
}
