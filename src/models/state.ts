import type { Parameter } from '../engine/runtime.js';
import type { Network } from './network.js';

export interface StateTensor {
  shape: number[];
  data: Float32Array;
}

/** A copy of every parameter, keyed by its PyTorch state_dict name, in state_dict order. */
export function stateDict(network: Network): Record<string, StateTensor> {
  const dict: Record<string, StateTensor> = {};
  for (const p of network.parameters()) dict[p.name] = { shape: [...p.value.shape], data: Float32Array.from(p.value.data()) };
  return dict;
}

/**
 * Strict load: every parameter must be present with its exact shape, and no unknown name may be left over,
 * so a checkpoint of another architecture fails loudly instead of loading half its weights.
 */
export function loadStateDict(network: Network, dict: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>): void {
  const params = new Map<string, Parameter>(network.parameters().map((p) => [p.name, p]));
  const missing = [...params.keys()].filter((name) => !(name in dict));
  const unexpected = Object.keys(dict).filter((name) => !params.has(name));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`missing ${missing.join(', ')}`);
    if (unexpected.length > 0) parts.push(`unexpected ${unexpected.join(', ')}`);
    throw new Error(`state_dict does not match the ${network.config.modelType} model: ${parts.join('; ')}`);
  }
  for (const [name, p] of params) {
    const t = dict[name];
    const want = p.value.shape;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`state_dict: ${name} has shape [${t.shape}], the model expects [${want}]`);
    }
    if (t.data.length !== p.value.size) throw new Error(`state_dict: ${name} holds ${t.data.length} values for shape [${want}]`);
  }
  for (const [name, p] of params) p.value.set(dict[name].data);
}

/** Sets every parameter gradient to zero (before accumulating a new step's gradients). */
export function zeroGrad(network: Network): void {
  for (const p of network.parameters()) network.engine.k.fill(p.grad.ptr, p.grad.size, 0);
}
