import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors, type NamedTensor } from '../../src/engine/io/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';

const REF_SCRIPT = fileURLToPath(new URL('./ref_safetensors.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'klinecast-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** numpy is all the independent reader needs; Debian's python3 has it whenever it has torch. */
const numpySkip =
  spawnSync(REFERENCE_PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0
    ? false
    : `SKIPPED: ${REFERENCE_PYTHON} has no numpy for the independent safetensors reader`;
if (numpySkip && process.env.KLINECAST_REQUIRE_TORCH === '1') throw new Error(numpySkip);

function python(args: string[]): string {
  const r = spawnSync(REFERENCE_PYTHON, [REF_SCRIPT, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reference script failed: ${r.stderr}`);
  return r.stdout;
}

function sample(): Record<string, NamedTensor> {
  return {
    'rnn.weight_ih_l0': { dtype: 'F32', shape: [2, 3], data: Float32Array.from([0.5, -1.25, 3e-8, 1e30, -0, 7]) },
    'head.0.bias': { dtype: 'F64', shape: [3], data: Float64Array.from([Math.PI, -2.5, 1e-300]) },
    step: { dtype: 'I64', shape: [], data: BigInt64Array.from([9007199254740993n]) },
    counts: { dtype: 'I32', shape: [4], data: Int32Array.from([1, -2, 2147483647, -2147483648]) },
    mask: { dtype: 'U8', shape: [1, 5], data: Uint8Array.from([0, 1, 255, 3, 4]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  };
}

test('round trip keeps names, dtypes, shapes, values and metadata', () => {
  const tensors = sample();
  const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors, { format: 'pt', note: 'A股 ✓' }));
  assert.deepEqual(metadata, { format: 'pt', note: 'A股 ✓' });
  assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    assert.equal(back[name].dtype, t.dtype, name);
    assert.deepEqual(back[name].shape, t.shape, name);
    assert.equal(back[name].data.constructor, t.data.constructor, name);
    assert.deepEqual(Array.from(back[name].data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>), name);
  }
  assert.ok(Object.is(back['rnn.weight_ih_l0'].data[4], -0), 'negative zero survives bit-exactly');
});

test("bytes equal the reference implementation's own serialization tests", () => {
  // Expected bytes are those asserted in huggingface/safetensors safetensors/src/tensor.rs (test_serialization,
  // test_serialization_forced_alignement, test_empty).
  const f = Float32Array.from([0, 1, 2, 3, 4, 5]);
  const json1 = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  const got1 = encodeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: f } });
  assert.deepEqual(Buffer.from(got1), Buffer.concat([u64(64), Buffer.from(json1), Buffer.from(f.buffer)]));

  const json2 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
  const got2 = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: f } });
  assert.deepEqual(Buffer.from(got2), Buffer.concat([u64(72), Buffer.from(json2), Buffer.from(f.buffer)]));

  assert.deepEqual(Buffer.from(encodeSafetensors({})), Buffer.concat([u64(8), Buffer.from('{}      ')]));
  assert.deepEqual(Buffer.from(encodeSafetensors({}, { framework: 'pt' })), Buffer.concat([u64(40), Buffer.from('{"__metadata__":{"framework":"pt"}}     ')]));
});

test('layout: metadata first, then descending dtype and name; offsets tile the buffer; header padded to 8', () => {
  const bytes = encodeSafetensors(sample(), { b: '2', a: '1', '10': 'x', '9': 'y' });
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  assert.match(text, /^\{"__metadata__":\{"10":"x","9":"y","a":"1","b":"2"\},/);
  assert.equal(text.trimEnd().length, text.replace(/ +$/, '').length);
  const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const order = Object.keys(header).filter((k) => k !== '__metadata__');
  // I64 then F64 (8-byte) before F32, I32 (4-byte) before U8: the reference's Dtype enum order, descending.
  assert.deepEqual(order, ['step', 'head.0.bias', 'empty', 'rnn.weight_ih_l0', 'counts', 'mask']);
  let cursor = 0;
  for (const name of order) {
    assert.equal(header[name].data_offsets[0], cursor, name);
    assert.equal((8 + n + cursor) % { I64: 8, F64: 8, F32: 4, I32: 4, U8: 1 }[header[name].dtype]!, 0, `${name} aligned`);
    cursor = header[name].data_offsets[1];
  }
  assert.equal(8 + n + cursor, bytes.length);
  assert.deepEqual(encodeSafetensors(sample()), encodeSafetensors(Object.fromEntries(Object.entries(sample()).reverse())), 'deterministic');
});

test('encoder refuses inconsistent tensors', () => {
  const bad = (t: NamedTensor) => () => encodeSafetensors({ x: t });
  assert.throws(bad({ dtype: 'F32', shape: [3], data: new Float32Array(2) }), /shape \[3\] \(3 elements\) but 2 values/);
  assert.throws(bad({ dtype: 'F64', shape: [2], data: new Float32Array(2) }), /is F64 but its data is a Float32Array/);
  assert.throws(bad({ dtype: 'F32', shape: [-1], data: new Float32Array(0) }), /invalid shape/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) } }), /reserved/);
  assert.throws(() => encodeSafetensors({}, { a: 1 as unknown as string }), /metadata "a" must be a string/);
});

test('encoder reads typed-array views at their offset (e.g. engine memory)', () => {
  const memory = Float32Array.from([9, 9, 1, 2, 3, 9]);
  const { tensors } = decodeSafetensors(encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: memory.subarray(2, 5) } }));
  assert.deepEqual(Array.from(tensors.w.data as Float32Array), [1, 2, 3]);
});

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function file(header: string | object, data: Buffer = Buffer.alloc(0), declared?: bigint): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declared ?? BigInt(Buffer.byteLength(text)));
  return Buffer.concat([len, Buffer.from(text), data]);
}

test('reader rejects malformed files with a reason', () => {
  const t = (info: object) => ({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...info } });
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', Buffer.from([1, 2, 3]), /too short/],
    ['huge header', file({}, undefined, 200_000_000n), /exceeds the 100000000-byte limit/],
    ['u64 overflow', file({}, undefined, 0xffffffffffffffffn), /exceeds/],
    ['header past end', file({}, undefined, 64n), /runs past the end/],
    ['not utf-8', Buffer.concat([u64(8), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 32, 32, 32, 32])]), /not valid UTF-8/],
    ['not json', file('{"x": '), /not valid JSON/],
    ['not an object', file('[1,2]'), /does not start with "\{"/],
    ['metadata not strings', file({ __metadata__: { epoch: 3 } }), /"__metadata__.epoch" is 3, not a string/],
    ['metadata not object', file({ __metadata__: 'x' }), /must be an object of strings/],
    ['bad dtype', file(t({ dtype: 'F8' }), Buffer.alloc(8)), /unsupported dtype "F8"/],
    ['bad shape', file(t({ shape: [2.5] }), Buffer.alloc(8)), /invalid shape/],
    ['negative dim', file(t({ shape: [-2] }), Buffer.alloc(8)), /invalid shape/],
    ['bad offsets', file(t({ data_offsets: [8, 0] }), Buffer.alloc(8)), /invalid data_offsets/],
    ['size mismatch', file(t({ data_offsets: [0, 12] }), Buffer.alloc(12)), /= 8 bytes, but its data_offsets span 12/],
    ['unknown field', file(t({ extra: 1 }), Buffer.alloc(8)), /unknown field\(s\) extra/],
    ['trailing bytes', file(t({}), Buffer.alloc(12)), /cover 8 bytes but the data buffer after the header has 12/],
    ['truncated data', file(t({}), Buffer.alloc(4)), /cover 8 bytes but the data buffer after the header has 4/],
    [
      'hole',
      file({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, b: { dtype: 'U8', shape: [2], data_offsets: [4, 6] } }, Buffer.alloc(6)),
      /hole in the data buffer at bytes \[2, 4\) before tensor "b"/,
    ],
    [
      'overlap',
      file({ a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, Buffer.alloc(4)),
      /tensor "b" overlaps the previous tensor at byte 2/,
    ],
    ['tensor not object', file({ x: 3 }), /tensor "x" is not an object/],
  ];
  for (const [what, bytes, message] of cases) {
    assert.throws(
      () => decodeSafetensors(bytes),
      (err: Error) => {
        assert.equal(err.name, 'UserError', what);
        assert.match(err.message, /^invalid safetensors file/, what);
        assert.match(err.message, message, what);
        return true;
      },
    );
  }
});

test('writeSafetensors/readSafetensors go through the file system; read errors name the path', () => {
  const path = join(dir, 'model.safetensors');
  writeSafetensors(path, sample(), { format: 'pt' });
  const { tensors, metadata } = readSafetensors(path);
  assert.equal(metadata.format, 'pt');
  assert.deepEqual(Array.from(tensors['head.0.bias'].data as Float64Array), [Math.PI, -2.5, 1e-300]);
  writeFileSync(join(dir, 'bad.safetensors'), Buffer.from('garbage!'));
  assert.throws(() => readSafetensors(join(dir, 'bad.safetensors')), /invalid safetensors file .*bad\.safetensors/);
  assert.throws(() => readSafetensors(join(dir, 'missing.safetensors')), /cannot read safetensors file .*missing\.safetensors/);
});

test('files we write load in Python with an independent parser (numpy, and torch.frombuffer when present)', { skip: numpySkip }, () => {
  const path = join(dir, 'py.safetensors');
  writeSafetensors(path, sample(), { format: 'pt' });
  const out = JSON.parse(python(['read', path])) as {
    metadata: Record<string, string>;
    tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
    torch_checked: boolean;
  };
  assert.deepEqual(out.metadata, { format: 'pt' });
  assert.equal(out.torch_checked, referenceSkip('torch') === false, 'torch.frombuffer check ran whenever torch exists');
  for (const [name, t] of Object.entries(sample())) {
    assert.equal(out.tensors[name].dtype, t.dtype, name);
    assert.deepEqual(out.tensors[name].shape, t.shape, name);
    if (t.dtype === 'I64') continue; // JSON numbers cannot carry 2^53 + 1; checked below as text
    assert.deepEqual(
      out.tensors[name].values,
      Array.from(t.data as ArrayLike<number>).map((v) => (Object.is(v, -0) ? -0 : v)),
      name,
    );
  }
  assert.match(python(['read', path]), /"step": \{"dtype": "I64", "shape": \[\], "values": \[9007199254740993\]/);
});

test('files written by an independent Python writer load here', { skip: numpySkip }, () => {
  const spec = join(dir, 'spec.json');
  const path = join(dir, 'from-py.safetensors');
  writeFileSync(
    spec,
    JSON.stringify({
      metadata: { framework: 'pt' },
      tensors: {
        b: { dtype: 'U8', shape: [3], values: [1, 2, 3] },
        a: { dtype: 'F32', shape: [2, 2], values: [1.5, -2, 0.25, 8] },
        c: { dtype: 'F64', shape: [1], values: [0.1] },
      },
    }),
  );
  python(['write', spec, path]);
  const { tensors, metadata } = decodeSafetensors(readFileSync(path));
  assert.deepEqual(metadata, { framework: 'pt' });
  assert.deepEqual(Array.from(tensors.a.data as Float32Array), [1.5, -2, 0.25, 8]);
  assert.deepEqual(tensors.a.shape, [2, 2]);
  assert.deepEqual(Array.from(tensors.b.data as Uint8Array), [1, 2, 3]);
  assert.deepEqual(Array.from(tensors.c.data as Float64Array), [0.1]);
});
