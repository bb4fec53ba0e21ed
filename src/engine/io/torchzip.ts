import { basename, extname } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { UserError } from '../../util/errors.js';
import { assertNamedTensor, type DType, type NamedTensor } from './safetensors.js';

/**
 * PyTorch's zip checkpoint format (what `torch.save(state_dict, path)` writes since 1.6), so `torch.load` reads our
 * `model/pytorch_model.bin` as an OrderedDict of tensors:
 *
 *   <archive>/data.pkl     pickle (protocol 2) of OrderedDict{name: _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}
 *                          where each storage is a persistent id ('storage', torch.<T>Storage, '<key>', 'cpu', numel)
 *   <archive>/byteorder    "little" (read by newer PyTorch; 1.13 ignores it)
 *   <archive>/data/<key>   the raw little-endian bytes of storage <key>
 *   <archive>/version      "3\n"
 *
 * The zip is uncompressed (stored). As PyTorch does, every entry's data starts on a 64-byte boundary, padded with an
 * extra field of id "FB" filled with 'Z', so readers can map tensors straight from the file.
 */

const STORAGE_TYPE: Record<DType, string> = {
  F32: 'FloatStorage',
  F64: 'DoubleStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};

const FORMAT_VERSION = '3\n';
const ALIGNMENT = 64;

/** Tensors are written in the record's key order, which becomes the OrderedDict order torch.load returns. */
export function encodeTorchStateDict(tensors: Record<string, NamedTensor>, archiveName = 'archive'): Uint8Array {
  if (!/^[A-Za-z0-9_.-]+$/.test(archiveName)) throw new UserError(`torch checkpoint: invalid archive name "${archiveName}"`);
  const names = Object.keys(tensors);
  const pickle = new Pickler();
  pickle.global('collections', 'OrderedDict');
  pickle.emptyTuple();
  pickle.reduce();
  pickle.mark();
  names.forEach((name, index) => {
    const t = tensors[name];
    assertNamedTensor('torch checkpoint', name, t);
    const numel = t.data.length;
    pickle.unicode(name);
    pickle.global('torch._utils', '_rebuild_tensor_v2');
    pickle.mark(); // the arguments of _rebuild_tensor_v2
    pickle.mark(); // the persistent id of the storage
    pickle.unicode('storage');
    pickle.global('torch', STORAGE_TYPE[t.dtype]);
    pickle.unicode(String(index));
    pickle.unicode('cpu');
    pickle.int(numel);
    pickle.tuple();
    pickle.binpersid();
    pickle.int(0); // storage offset
    pickle.intTuple(t.shape);
    pickle.intTuple(contiguousStrides(t.shape));
    pickle.bool(false); // requires_grad
    pickle.global('collections', 'OrderedDict'); // backward hooks: an empty OrderedDict
    pickle.emptyTuple();
    pickle.reduce();
    pickle.tuple();
    pickle.reduce();
  });
  pickle.setItems();
  pickle.stop();

  const zip = new StoredZipWriter();
  zip.add(`${archiveName}/data.pkl`, pickle.bytes());
  zip.add(`${archiveName}/byteorder`, Buffer.from('little'));
  names.forEach((name, index) => {
    const data = tensors[name].data;
    zip.add(`${archiveName}/data/${index}`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  });
  zip.add(`${archiveName}/version`, Buffer.from(FORMAT_VERSION));
  return zip.finish();
}

/** Atomic write; the archive folder is named after the file, as torch.save names it ("pytorch_model/..."). */
export function writeTorchStateDict(path: string, tensors: Record<string, NamedTensor>): void {
  const stem = basename(path, extname(path)).replace(/[^A-Za-z0-9_.-]/g, '_') || 'archive';
  writeFileAtomic(path, encodeTorchStateDict(tensors, stem));
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= Math.max(shape[i], 1);
  }
  return strides;
}

/** The handful of pickle protocol-2 opcodes a state_dict needs (see Python's Lib/pickletools.py for their meaning). */
class Pickler {
  private chunks: Buffer[] = [Buffer.from([0x80, 2])]; // PROTO 2

  private op(...bytes: number[]): void {
    this.chunks.push(Buffer.from(bytes));
  }

  global(module: string, name: string): void {
    this.chunks.push(Buffer.from(`c${module}\n${name}\n`, 'utf8')); // GLOBAL
  }

  unicode(text: string): void {
    const utf8 = Buffer.from(text, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = 0x58; // BINUNICODE
    head.writeUInt32LE(utf8.length, 1);
    this.chunks.push(head, utf8);
  }

  int(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`pickle: ${value} is not a non-negative integer`);
    if (value < 0x100) return this.op(0x4b, value); // BININT1
    if (value < 0x10000) return this.op(0x4d, value & 0xff, value >> 8); // BININT2
    if (value < 0x80000000) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(value, 1);
      this.chunks.push(b);
      return;
    }
    // LONG1: little-endian two's complement; 8 bytes hold any safe integer with its sign bit clear.
    const b = Buffer.alloc(10);
    b[0] = 0x8a;
    b[1] = 8;
    b.writeBigInt64LE(BigInt(value), 2);
    this.chunks.push(b);
  }

  intTuple(values: readonly number[]): void {
    if (values.length === 0) return this.emptyTuple();
    if (values.length > 3) this.mark();
    for (const v of values) this.int(v);
    if (values.length === 1)
      this.op(0x85); // TUPLE1
    else if (values.length === 2)
      this.op(0x86); // TUPLE2
    else if (values.length === 3)
      this.op(0x87); // TUPLE3
    else this.tuple();
  }

  bool(value: boolean): void {
    this.op(value ? 0x88 : 0x89); // NEWTRUE / NEWFALSE
  }

  mark(): void {
    this.op(0x28); // MARK
  }

  tuple(): void {
    this.op(0x74); // TUPLE (from the last MARK)
  }

  emptyTuple(): void {
    this.op(0x29); // EMPTY_TUPLE
  }

  reduce(): void {
    this.op(0x52); // REDUCE
  }

  binpersid(): void {
    this.op(0x51); // BINPERSID
  }

  setItems(): void {
    this.op(0x75); // SETITEMS
  }

  stop(): void {
    this.op(0x2e); // STOP
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309 / ITU-T V.42, polynomial 0xEDB88320), as the zip format requires for every entry. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A minimal zip writer: stored entries only, sizes known up front (no data descriptors), no zip64. */
class StoredZipWriter {
  private chunks: Uint8Array[] = [];
  private offset = 0;
  private central: Buffer[] = [];
  private entries = 0;

  add(name: string, data: Uint8Array): void {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    // Padding field: 'FB', u16 length, then 'Z's, sized so the data after this header starts on a 64-byte boundary.
    const unpadded = this.offset + 30 + nameBytes.length + 4;
    const pad = (ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT;
    const extra = Buffer.alloc(4 + pad, 'Z');
    extra.write('FB', 0, 'latin1');
    extra.writeUInt16LE(pad, 2);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); // local file header signature
    local.writeUInt16LE(20, 4); // version needed to extract (2.0)
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // compression: stored
    local.writeUInt16LE(0, 10); // modification time (fixed, so output is deterministic)
    local.writeUInt16LE(0x21, 12); // modification date 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18); // compressed size
    local.writeUInt32LE(data.length, 22); // uncompressed size
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0); // central directory header signature
    header.writeUInt16LE(20, 4); // version made by
    header.writeUInt16LE(20, 6); // version needed to extract
    header.writeUInt16LE(0, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(0x21, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(data.length, 20);
    header.writeUInt32LE(data.length, 24);
    header.writeUInt16LE(nameBytes.length, 28);
    // extra length, comment length, disk number, internal and external attributes stay 0
    this.checkLimit(this.offset);
    header.writeUInt32LE(this.offset, 42); // offset of the local header
    this.central.push(header, nameBytes);

    this.chunks.push(local, nameBytes, extra, data);
    this.offset += local.length + nameBytes.length + extra.length + data.length;
    this.entries++;
  }

  private checkLimit(value: number): void {
    if (value > 0xffffffff || this.entries >= 0xffff) {
      throw new UserError('torch checkpoint: more than 4 GiB or 65535 tensors needs zip64, which this writer does not produce');
    }
  }

  finish(): Uint8Array {
    const centralSize = this.central.reduce((n, b) => n + b.length, 0);
    this.checkLimit(this.offset + centralSize);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0); // end of central directory signature
    end.writeUInt16LE(this.entries, 8); // entries on this disk
    end.writeUInt16LE(this.entries, 10); // entries in total
    end.writeUInt32LE(centralSize, 12);
    end.writeUInt32LE(this.offset, 16); // where the central directory starts
    return Buffer.concat([...this.chunks, ...this.central, end]);
  }
}
