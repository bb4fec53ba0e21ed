import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeTorchStateDict, writeTorchStateDict, type NamedTensor } from '../../src/engine/io/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';

const REF_SCRIPT = fileURLToPath(new URL('./ref_torchzip.py', import.meta.url));
const torchSkip = referenceSkip('torch');
const dir = mkdtempSync(join(tmpdir(), 'klinecast-tz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Loaded {
  type: string;
  keys: string[];
  tensors: Record<string, { dtype: string; shape: number[]; stride: number[]; requires_grad: boolean; values: number[] }>;
  weights_only_equal: boolean;
  crc_ok: boolean;
  aligned: boolean;
  entries: string[];
  linear_loaded: number[] | null;
}

function torchLoad(path: string): Loaded & { text: string } {
  const r = spawnSync(REFERENCE_PYTHON, [REF_SCRIPT, path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`torch.load failed (${r.status ?? r.error}): ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as Loaded), text: r.stdout };
}

function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 10 ** ((s % 7) - 3);
  }
  return out;
}

const TORCH_DTYPE: Record<string, string> = { F32: 'torch.float32', F64: 'torch.float64', I64: 'torch.int64', I32: 'torch.int32', U8: 'torch.uint8' };

test('torch.load reads our state_dict: same keys in order, dtypes, shapes, contiguous strides and exact values', { skip: torchSkip }, () => {
  const tensors: Record<string, NamedTensor> = {
    'rnn.weight_ih_l0': { dtype: 'F32', shape: [8, 5], data: randomF32(40, 1) },
    'rnn.bias_ih_l0': { dtype: 'F32', shape: [8], data: randomF32(8, 2) },
    'head.0.weight': { dtype: 'F64', shape: [2, 3, 4, 1], data: Float64Array.from({ length: 24 }, (_, i) => Math.sqrt(i) - 2) },
    num_batches_tracked: { dtype: 'I64', shape: [], data: BigInt64Array.from([-9007199254740993n]) },
    index: { dtype: 'I32', shape: [3], data: Int32Array.from([-1, 0, 2147483647]) },
    mask: { dtype: 'U8', shape: [2, 0, 3], data: new Uint8Array(0) },
    big: { dtype: 'F32', shape: [300, 300], data: randomF32(90_000, 3) }, // numel above BININT2's range
  };
  const path = join(dir, 'pytorch_model.bin');
  writeTorchStateDict(path, tensors);
  const loaded = torchLoad(path);
  assert.equal(loaded.type, 'collections.OrderedDict');
  assert.deepEqual(loaded.keys, Object.keys(tensors));
  assert.ok(loaded.weights_only_equal, 'torch.load(weights_only=True) gives the same tensors');
  assert.ok(loaded.crc_ok, 'every entry passes its CRC-32');
  assert.ok(loaded.aligned, 'every entry is stored and starts on a 64-byte boundary');
  assert.equal(loaded.entries[0], 'pytorch_model/data.pkl');
  assert.ok(loaded.entries.includes('pytorch_model/version'));
  for (const [name, t] of Object.entries(tensors)) {
    const got = loaded.tensors[name];
    assert.equal(got.dtype, TORCH_DTYPE[t.dtype], name);
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.requires_grad, false, name);
    const expectedStride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * Math.max(b, 1), 1));
    assert.deepEqual(got.stride, expectedStride, name);
    if (t.dtype === 'I64') continue;
    assert.deepEqual(got.values, Array.from(t.data as ArrayLike<number>), name);
  }
  // 2^53 + 1 does not survive JSON as a number; the raw JSON text carries it exactly.
  assert.match(
    loaded.text,
    /"num_batches_tracked": \{"dtype": "torch.int64", "shape": \[\], "stride": \[\], "requires_grad": false, "values": \[-9007199254740993\]/,
  );
});

test('a Linear state_dict loads into torch.nn.Linear with strict=True and computes with our weights', { skip: torchSkip }, () => {
  const weight = Float32Array.from([0.5, -1, 2, 0.25, 0.125, -3]);
  const bias = Float32Array.from([1, -1]);
  const path = join(dir, 'linear.bin');
  writeTorchStateDict(path, { weight: { dtype: 'F32', shape: [2, 3], data: weight }, bias: { dtype: 'F32', shape: [2], data: bias } });
  assert.deepEqual(torchLoad(path).linear_loaded, [0.5 - 1 + 2 + 1, 0.25 + 0.125 - 3 - 1]);
});

test('output is deterministic and refuses inconsistent tensors', () => {
  const t: Record<string, NamedTensor> = { w: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } };
  const a = encodeTorchStateDict({ ...t });
  assert.deepEqual(a, encodeTorchStateDict({ ...t }));
  assert.deepEqual(Buffer.from(a.subarray(0, 4)), Buffer.from('PK\x03\x04', 'latin1'));
  writeTorchStateDict(join(dir, 'det.bin'), { ...t });
  assert.equal(readFileSync(join(dir, 'det.bin')).length > 0, true);
  assert.throws(() => encodeTorchStateDict({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /torch checkpoint: tensor "w" has shape \[3\]/);
  assert.throws(() => encodeTorchStateDict({ w: { dtype: 'I64', shape: [1], data: new Float32Array(1) } }), /is I64 but its data is a Float32Array/);
});
