import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../../util/atomic.js';
import { UserError } from '../../util/errors.js';

/**
 * The safetensors format (https://github.com/huggingface/safetensors), byte for byte as its reference writer emits it:
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON, space-padded to a multiple of 8 | tensor bytes, little-endian, C order
 *
 * The JSON maps each tensor name to {"dtype","shape","data_offsets":[begin,end]} (offsets into the byte buffer after the
 * header) and may hold "__metadata__", a map of string to string. The offsets tile the buffer with no hole or overlap.
 * Like the reference writer, tensors are laid out by descending dtype (8-byte types first, so every tensor stays
 * aligned to its element size) and then by name, which makes the output deterministic.
 */

export type DType = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** F16 and BF16 are kept as their raw 16-bit patterns; BOOL as one byte per element (0 or 1). */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

export interface NamedTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsContent {
  tensors: Record<string, NamedTensor>;
  metadata: Record<string, string>;
}

interface DTypeInfo {
  bytes: number;
  /** Position in the reference implementation's Dtype enum, which orders the on-disk layout. */
  rank: number;
  make(buffer: ArrayBuffer): TensorData;
  accepts(data: TensorData): boolean;
}

const DTYPES: Record<DType, DTypeInfo> = {
  BOOL: { bytes: 1, rank: 0, make: (b) => new Uint8Array(b), accepts: (d) => d instanceof Uint8Array },
  U8: { bytes: 1, rank: 1, make: (b) => new Uint8Array(b), accepts: (d) => d instanceof Uint8Array },
  I8: { bytes: 1, rank: 2, make: (b) => new Int8Array(b), accepts: (d) => d instanceof Int8Array },
  I16: { bytes: 2, rank: 5, make: (b) => new Int16Array(b), accepts: (d) => d instanceof Int16Array },
  F16: { bytes: 2, rank: 7, make: (b) => new Uint16Array(b), accepts: (d) => d instanceof Uint16Array },
  BF16: { bytes: 2, rank: 8, make: (b) => new Uint16Array(b), accepts: (d) => d instanceof Uint16Array },
  I32: { bytes: 4, rank: 9, make: (b) => new Int32Array(b), accepts: (d) => d instanceof Int32Array },
  F32: { bytes: 4, rank: 11, make: (b) => new Float32Array(b), accepts: (d) => d instanceof Float32Array },
  F64: { bytes: 8, rank: 12, make: (b) => new Float64Array(b), accepts: (d) => d instanceof Float64Array },
  I64: { bytes: 8, rank: 13, make: (b) => new BigInt64Array(b), accepts: (d) => d instanceof BigInt64Array },
};

/** The reference reader refuses headers above 100 MB; so do we, before allocating anything. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

function assertLittleEndianHost(): void {
  // Typed arrays use the host byte order; every platform Node 20 ships for is little-endian, but say so if not.
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, value);
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Checks that dtype, shape and data agree; `context` prefixes the error (the format being written). */
export function assertNamedTensor(context: string, name: string, t: NamedTensor): void {
  if (name === '__proto__') throw new UserError(`${context}: a tensor named "__proto__" is not supported`);
  if (!isDType(t.dtype)) throw new UserError(`${context}: tensor "${name}" has unsupported dtype ${String(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new UserError(`${context}: tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}`);
  }
  if (!DTYPES[t.dtype].accepts(t.data)) {
    throw new UserError(`${context}: tensor "${name}" is ${t.dtype} but its data is a ${t.data.constructor.name}`);
  }
  if (t.data.length !== elementCount(t.shape)) {
    throw new UserError(`${context}: tensor "${name}" has shape [${t.shape.join(', ')}] (${elementCount(t.shape)} elements) but ${t.data.length} values`);
  }
}

export function encodeSafetensors(tensors: Record<string, NamedTensor>, metadata?: Record<string, string>): Uint8Array {
  assertLittleEndianHost();
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === METADATA_KEY) throw new UserError(`safetensors: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    assertNamedTensor('safetensors', name, tensors[name]);
  }
  names.sort((a, b) => DTYPES[tensors[b].dtype].rank - DTYPES[tensors[a].dtype].rank || compareUtf8(a, b));

  // __metadata__ first, then tensors in layout order, as the reference. Objects are written by hand because
  // JSON.stringify would move integer-like keys ("0", "10") ahead of the others.
  const fields: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(compareUtf8);
    for (const key of keys) {
      if (typeof metadata[key] !== 'string') throw new UserError(`safetensors: metadata "${key}" must be a string`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:${jsonObject(keys.map((k) => [k, metadata[k]]))}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const end = offset + t.data.byteLength;
    fields.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = `{${fields.join(',')}}`;
  const jsonBytes = Buffer.from(json, 'utf8');
  const headerLength = Math.ceil(jsonBytes.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(jsonBytes, 8);
  out.fill(0x20, 8 + jsonBytes.length, 8 + headerLength);
  let cursor = 8 + headerLength;
  for (const name of names) {
    const bytes = bytesOf(tensors[name].data);
    out.set(bytes, cursor);
    cursor += bytes.length;
  }
  return out;
}

function jsonObject(pairs: [string, string][]): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/** Rust's str ordering (the reference sorts names with it) is byte order of UTF-8, not JS's UTF-16 order. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function fail(source: string, why: string): never {
  throw new UserError(`invalid safetensors file ${source}: ${why}`, 'bad_safetensors');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function decodeSafetensors(bytes: Uint8Array, source = '(buffer)'): SafetensorsContent {
  assertLittleEndianHost();
  if (bytes.length < 8) fail(source, `${bytes.length} bytes is too short for the 8-byte header length`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) fail(source, `header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    fail(source, `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail(source, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(source, 'header does not start with "{"');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(source, `header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) fail(source, 'header is not a JSON object');

  const metadata: Record<string, string> = {};
  if (METADATA_KEY in parsed) {
    const raw = parsed[METADATA_KEY];
    if (!isPlainObject(raw)) fail(source, `"${METADATA_KEY}" must be an object of strings`);
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value !== 'string') fail(source, `"${METADATA_KEY}.${key}" is ${JSON.stringify(value)}, not a string`);
      if (key === '__proto__') fail(source, 'a metadata key named "__proto__" is not supported');
      metadata[key] = value;
    }
  }

  const entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(parsed)) {
    if (name === METADATA_KEY) continue;
    if (name === '__proto__') fail(source, 'a tensor named "__proto__" is not supported');
    if (!isPlainObject(info)) fail(source, `tensor "${name}" is not an object`);
    const unknownKeys = Object.keys(info).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (unknownKeys.length > 0) fail(source, `tensor "${name}" has unknown field(s) ${unknownKeys.join(', ')}`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDType(dtype)) fail(source, `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(source, `tensor "${name}" has invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
      fail(source, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const count = elementCount(shape as number[]);
    const expected = count * DTYPES[dtype].bytes;
    if (!Number.isSafeInteger(expected)) fail(source, `tensor "${name}" shape ${JSON.stringify(shape)} overflows`);
    const [begin, end] = offsets as number[];
    if (end - begin !== expected) {
      fail(source, `tensor "${name}" is ${dtype} [${(shape as number[]).join(', ')}] = ${expected} bytes, but its data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of byOffset) {
    if (e.begin > cursor) fail(source, `hole in the data buffer at bytes [${cursor}, ${e.begin}) before tensor "${e.name}"`);
    if (e.begin < cursor) fail(source, `tensor "${e.name}" overlaps the previous tensor at byte ${e.begin}`);
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    fail(source, `tensors cover ${cursor} bytes but the data buffer after the header has ${dataLength}`);
  }

  const tensors: Record<string, NamedTensor> = {};
  for (const e of entries) {
    // A copy gives each tensor its own aligned buffer, whatever the alignment in the file. (Not bytes.slice(): on a
    // Node Buffer that is a view into a shared pool.)
    const own = new Uint8Array(e.end - e.begin);
    own.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: DTYPES[e.dtype].make(own.buffer) };
  }
  return { tensors, metadata };
}

/** Atomic: a crash mid-write leaves the previous file, never a torn one. */
export function writeSafetensors(path: string, tensors: Record<string, NamedTensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(path: string): SafetensorsContent {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UserError(`cannot read safetensors file ${path}: ${(err as Error).message}`, 'not_found');
  }
  return decodeSafetensors(bytes, path);
}
