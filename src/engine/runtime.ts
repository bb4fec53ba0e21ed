import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

/**
 * The engine's memory model. One WebAssembly instance owns one linear memory, split in two regions:
 *
 *   [heap_base .. persistentTop)  parameters, gradients, optimizer state: allocated once, live forever
 *   [persistentTop .. arenaTop)   activations and temporaries of the current step: a bump arena, reset per step
 *
 * Persistent allocations are only allowed while the arena is empty (model and optimizer construction),
 * which keeps both regions a simple bump pointer with no fragmentation.
 * Every instance is independent, so each worker thread creates its own Engine.
 */

const WASM_PATH = fileURLToPath(new URL('../../build/engine.wasm', import.meta.url));
/** The same kernels built with relaxed SIMD: fused multiply-add in the GEMM micro-kernel, ~1.7× its throughput. */
const WASM_FMA_PATH = fileURLToPath(new URL('../../build/engine-fma.wasm', import.meta.url));
const PAGE_BYTES = 65536;
const ALIGN = 64;
/** wasm32 can address 4 GiB; stop earlier with a clear message instead of an opaque RangeError. */
const MAX_BYTES = 2 * 1024 ** 3;

export type KernelFn = (...args: number[]) => number;
export type KernelExports = { memory: WebAssembly.Memory; heap_base(): number } & Record<string, KernelFn>;

export type EngineVariant = 'fma' | 'baseline';

let compiled: { module: WebAssembly.Module; variant: EngineVariant } | undefined;

/**
 * Picks the kernel binary once per process: the relaxed-SIMD build when this V8 accepts it (Node 22 does by default;
 * Node 20 after enabling its relaxed-SIMD flag, which only adds wasm opcodes), else the baseline build.
 * KLINECAST_ENGINE_FMA=0 forces the baseline. The choice is fixed per machine and runtime, so results stay
 * reproducible there; across the two builds they differ only in float rounding.
 */
function wasmModule(): { module: WebAssembly.Module; variant: EngineVariant } {
  if (!compiled) {
    const fma = process.env.KLINECAST_ENGINE_FMA === '0' ? undefined : readOptional(WASM_FMA_PATH);
    if (fma && !WebAssembly.validate(fma)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (fma && WebAssembly.validate(fma)) {
      compiled = { module: new WebAssembly.Module(fma), variant: 'fma' };
    } else {
      const bytes = readOptional(WASM_PATH);
      if (!bytes) throw new Error(`engine kernels not built: ${WASM_PATH} is missing (run \`npm run build\`)`);
      compiled = { module: new WebAssembly.Module(bytes), variant: 'baseline' };
    }
  }
  return compiled;
}

function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * This thread's compiled kernels, for a worker thread to adopt (adoptEngineKernels): a WebAssembly.Module crosses
 * threads with its compiled code shared, tier-ups included, so a worker neither compiles the kernels again nor runs
 * its first steps on the unoptimised tier.
 */
export function engineKernels(): { module: WebAssembly.Module; variant: EngineVariant } {
  return wasmModule();
}

/** Uses kernels another thread compiled (engineKernels there); call before this thread's first Engine. */
export function adoptEngineKernels(kernels: { module: WebAssembly.Module; variant: EngineVariant }): void {
  compiled ??= kernels;
}

/** Which kernel build this process runs (see wasmModule). */
export function engineVariant(): EngineVariant {
  return wasmModule().variant;
}

export class EngineMemoryError extends Error {
  constructor(requestedBytes: number) {
    super(
      `engine out of memory: this model and batch need more than ${(MAX_BYTES / 1024 ** 2).toFixed(0)} MB of working memory ` +
        `(requested ${(requestedBytes / 1024 ** 2).toFixed(1)} MB more); reduce batch size, sequence length or hidden size`,
    );
    this.name = 'EngineMemoryError';
  }
}

/** Engines handed back by release(), per thread (module state is per isolate). */
const released: Engine[] = [];

export class Engine {
  readonly k: KernelExports;
  private persistentTop: number;
  private arenaTop: number;

  private constructor(instance: WebAssembly.Instance) {
    this.k = instance.exports as unknown as KernelExports;
    this.persistentTop = this.k.heap_base();
    this.arenaTop = this.persistentTop;
  }

  static create(): Engine {
    const reused = released.pop();
    if (reused) return reused;
    const instance = new WebAssembly.Instance(wasmModule().module, { env: { abort: engineAbort } });
    return new Engine(instance);
  }

  /**
   * Hands the engine back for the next Engine.create() in this thread, memory and all. A batch thread trains
   * stock after stock; without this every run would allocate (and the GC later sweep) a fresh linear memory of
   * tens of MB, and those external-memory collections are what kept two busy threads from scaling.
   * The caller must not touch any tensor of this engine afterwards.
   */
  release(): void {
    this.persistentTop = this.k.heap_base();
    this.arenaTop = this.persistentTop;
    if (!released.includes(this)) released.push(this);
  }

  get memory(): WebAssembly.Memory {
    return this.k.memory;
  }

  /** Bytes in use: persistent plus current arena. */
  get bytesInUse(): number {
    return this.arenaTop - this.k.heap_base();
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > MAX_BYTES) throw new EngineMemoryError(end - this.arenaTop);
    const grow = Math.max(Math.ceil((end - have) / PAGE_BYTES), Math.ceil(have / PAGE_BYTES / 4));
    this.memory.grow(Math.min(grow, Math.ceil((MAX_BYTES - have) / PAGE_BYTES)));
  }

  /** Zero-filled float32 storage that lives as long as the engine. Byte offset returned. */
  allocPersistent(count: number): number {
    if (this.arenaTop !== this.persistentTop) {
      throw new Error('engine: persistent allocation while the step arena is in use; allocate parameters before the first step');
    }
    const ptr = this.persistentTop;
    const end = align(ptr + count * 4);
    this.ensure(end);
    new Float32Array(this.memory.buffer, ptr, count).fill(0);
    this.persistentTop = end;
    this.arenaTop = end;
    return ptr;
  }

  /** Uninitialised float32 scratch storage, valid until the next resetArena(). */
  alloc(count: number): number {
    const ptr = this.arenaTop;
    const end = align(ptr + count * 4);
    this.ensure(end);
    this.arenaTop = end;
    return ptr;
  }

  /** Like alloc, but zero-filled (for accumulators). */
  allocZeroed(count: number): number {
    const ptr = this.alloc(count);
    this.f32(ptr, count).fill(0);
    return ptr;
  }

  /** Frees every arena allocation made since `mark` (default: the whole arena). */
  resetArena(mark: number = this.persistentTop): void {
    this.arenaTop = mark;
  }

  arenaMark(): number {
    return this.arenaTop;
  }

  /** A fresh view: views must not be cached across allocations, because growing memory detaches them. */
  f32(ptr: number, count: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, count);
  }
}

/** Arithmetic, not `& ~63`: a bitwise mask truncates to 32 bits and would wrap an oversized request into a small one. */
function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function engineAbort(_msg: number, _file: number, line: number, column: number): never {
  throw new Error(`engine kernel aborted at ${line}:${column}`);
}

/** A float32 tensor in engine memory: a byte offset plus a row-major shape. */
export class Tensor {
  readonly size: number;
  constructor(
    readonly engine: Engine,
    readonly ptr: number,
    readonly shape: readonly number[],
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  static persistent(engine: Engine, shape: readonly number[]): Tensor {
    return new Tensor(engine, engine.allocPersistent(shape.reduce((a, b) => a * b, 1)), shape);
  }

  static scratch(engine: Engine, shape: readonly number[]): Tensor {
    return new Tensor(engine, engine.alloc(shape.reduce((a, b) => a * b, 1)), shape);
  }

  /** A fresh view of the data (see Engine.f32 for why it is never cached). */
  data(): Float32Array {
    return this.engine.f32(this.ptr, this.size);
  }

  set(values: ArrayLike<number>): void {
    if (values.length !== this.size) throw new Error(`tensor size ${this.size} != ${values.length}`);
    this.data().set(values);
  }
}

/** A trainable tensor with its gradient, named as in PyTorch's state_dict (e.g. "rnn.weight_ih_l0"). */
export interface Parameter {
  readonly name: string;
  readonly value: Tensor;
  readonly grad: Tensor;
}

export function createParameter(engine: Engine, name: string, shape: readonly number[]): Parameter {
  return { name, value: Tensor.persistent(engine, shape), grad: Tensor.persistent(engine, shape) };
}
