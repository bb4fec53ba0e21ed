/** Shared by the optimizer, schedule and clipping tests: the PyTorch reference call and seeded test data. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REFERENCE_PYTHON } from '../helpers/env.js';

const SCRIPT = fileURLToPath(new URL('./ref_optim.py', import.meta.url));

/** Runs test/engine/ref_optim.py once for all cases (one torch start-up per test file). */
export function torchReference<T>(cases: Record<string, unknown>[]): T[] {
  const r = spawnSync(REFERENCE_PYTHON, [SCRIPT], { input: JSON.stringify({ cases }), encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`ref_optim.py failed (${r.status ?? String(r.error)}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T[];
}

/** Deterministic float32 values in about [-scale, scale] (an LCG, so tests need no RNG from the engine). */
export function seededValues(n: number, seed: number, scale = 1): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(Math.fround(((s / 2 ** 32) * 2 - 1) * scale));
  }
  return out;
}

/** Largest |a − b| / max(|b|, floor) over the elements. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-3): number {
  if (actual.length !== expected.length) throw new Error(`${actual.length} values vs ${expected.length} expected`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), floor);
    if (!(err <= worst)) worst = err;
  }
  return worst;
}
