/**
 * The bridge to PyTorch for parity tests: tensors go to test/helpers/torch_ref.py as a safetensors file in a temp
 * directory (the request rides in __metadata__), and the results come back the same way. Synchronous on purpose:
 * a parity test is a straight line "build → run both → compare".
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors, type NamedTensor } from '../../src/engine/io/index.js';
import { REFERENCE_PYTHON } from './env.js';

const SCRIPT = fileURLToPath(new URL('./torch_ref.py', import.meta.url));

export interface RefTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Runs one request through a reference script: torch_ref.py by default, or another script that speaks the same
 * request and file format (e.g. test/engine/ref_transformer.py, which adds module types to torch_ref.py).
 */
export function runTorch(request: Record<string, unknown>, tensors: Record<string, RefTensor>, script: string = SCRIPT): Record<string, RefTensor> {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-torch-'));
  try {
    const named: Record<string, NamedTensor> = {};
    for (const [name, t] of Object.entries(tensors)) named[name] = { dtype: 'F32', shape: t.shape, data: t.data };
    writeSafetensors(join(dir, 'inputs.safetensors'), named, { request: JSON.stringify(request) });
    const run = spawnSync(REFERENCE_PYTHON, [script, dir], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${basename(script)} failed (${run.status}): ${run.stderr}`);
    const out: Record<string, RefTensor> = {};
    for (const [name, t] of Object.entries(readSafetensors(join(dir, 'outputs.safetensors')).tensors)) {
      out[name] = { shape: t.shape, data: t.data as Float32Array };
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TorchJob {
  request: Record<string, unknown>;
  tensors: Record<string, RefTensor>;
}

/** Several requests in one interpreter start-up (importing torch dominates a small reference's run time). */
export function runTorchBatch(jobs: TorchJob[]): Record<string, RefTensor>[] {
  const tensors: Record<string, RefTensor> = {};
  jobs.forEach((job, i) => {
    for (const [name, t] of Object.entries(job.tensors)) tensors[`${i}/${name}`] = t;
  });
  const out = runTorch({ task: 'batch', requests: jobs.map((j) => j.request) }, tensors);
  return jobs.map((_, i) => {
    const prefix = `${i}/`;
    return Object.fromEntries(
      Object.entries(out)
        .filter(([name]) => name.startsWith(prefix))
        .map(([name, t]) => [name.slice(prefix.length), t]),
    );
  });
}

/**
 * Elementwise |a − b| ≤ rtol·|b| + atol, reporting the worst element. The defaults are the engine's parity contract:
 * 1e-4 relative, 1e-5 absolute near zero.
 */
export function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4, atol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values vs ${expected.length} expected`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (rtol * Math.abs(expected[i]) + atol);
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(`${what}: element ${worst} is ${actual[worst]}, PyTorch says ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}
