/**
 * Data-parallel training steps on N threads (issue 14, part 1). The calling thread trains slice 0 on the main network
 * itself; each of N − 1 worker threads (node:worker_threads) holds its own Engine and a replica of the network and
 * trains one of slices 1 … N − 1. Per step the batch is split into N fixed contiguous slices; each runs forward and
 * backward with the loss gradient scaled by the whole batch's element count; the calling thread then adds the
 * workers' slice gradients in slice order (0 + 1, + 2, …) into the main network's `grad`s, and the caller clips and
 * runs its one optimizer step on the main network, whose weights are copied to the replicas before the next step.
 * Slice 0 on the calling thread spares one thread hand-off and one copy of weights and gradients per step, and keeps
 * the calling thread, otherwise idle during the step, at work.
 *
 * Weights, slices and gradients travel through SharedArrayBuffers (wasm memories are not shared: every Engine is its
 * own non-shared instance), and the threads are driven by Atomics (wait / notify on a control array).
 *
 * Dropout: slice i of a step draws its masks from its own Rng, whose state is derived from 4 words the caller's Rng
 * yields at that step (sliceRngStates). So the result depends on (seed, step, slice) and N, never on thread timing.
 *
 * Without SharedArrayBuffer / Atomics.waitAsync, or when a worker cannot start, slices 1 … N − 1 run one after another
 * on this thread too (mode 'serial'): the same arithmetic in the same order, so the weights are bit-identical to N
 * threads, only slower; a one-line notice says so.
 */
import { Worker } from 'node:worker_threads';
import type { LossKind } from '../engine/loss.js';
import { Rng, type RngState } from '../engine/rng.js';
import { Engine, Tensor, engineKernels, engineVariant, type EngineVariant } from '../engine/runtime.js';
import type { ModelConfig } from './config.js';
import type { Network } from './network.js';
import { createNetwork } from './registry.js';
import { zeroGrad } from './state.js';
import { trainStepSlice } from './step.js';

/** Control array: [0] generation of the current command, [1] the command, [2 + k] generation worker k finished, [2 + W + k] its status (W workers). */
export const CTRL = { gen: 0, cmd: 1, done: 2 } as const;
export const CMD = { step: 1, exit: 2 } as const;

/** Rows [start, end) of `count` that slice `i` of `threads` trains on: fixed, contiguous, sizes differing by at most one. */
export function sliceBounds(i: number, count: number, threads: number): [number, number] {
  return [Math.floor((i * count) / threads), Math.floor(((i + 1) * count) / threads)];
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The dropout Rng states of one step's slices: 4 words drawn from `rng` (always 4, whatever N), each slice's state
 * mixed from them and its index. A checkpoint's rng state therefore fixes every later step's masks.
 */
export function sliceRngStates(rng: Rng, threads: number): RngState[] {
  const base = [rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()];
  return Array.from({ length: threads }, (_, i) => {
    const state = base.map((w, j) => mix32((w ^ mix32((Math.imul(i * 4 + j + 1, 0x9e3779b9) >>> 0) ^ 0x5bd1e995)) >>> 0)) as RngState['state'];
    if (state.every((w) => w === 0)) state[0] = 1;
    return { algorithm: 'xoshiro128**', state };
  });
}

/** A network replica that trains one slice: weights in, gradients out (used by each worker thread and by 'serial'). */
export class SliceRunner {
  readonly engine: Engine;
  readonly rng = new Rng(0);
  readonly network: Network;
  readonly size: number;

  constructor(
    config: ModelConfig,
    private readonly loss: LossKind,
  ) {
    this.engine = Engine.create();
    this.network = createNetwork(config, this.engine, this.rng); // the init is overwritten by every step's weights
    this.size = parameterCount(this.network);
  }

  /**
   * Loads `weights`, trains rows x/y (and their stock-embedding rows `stocks`, for a model with one) of a batch of
   * `batchCount` with the slice's dropout state; gradients into `grads`.
   */
  run(
    weights: Float32Array,
    x: Float32Array,
    y: Float32Array,
    count: number,
    batchCount: number,
    rngState: RngState,
    grads: Float32Array,
    stocks?: Int32Array,
  ): number {
    let off = 0;
    for (const p of this.network.parameters()) {
      p.value.set(weights.subarray(off, off + p.value.size));
      off += p.value.size;
    }
    this.rng.setState(rngState);
    const sum = trainStepSlice(this.network, this.loss, x, y, count, batchCount, stocks);
    off = 0;
    for (const p of this.network.parameters()) {
      grads.set(p.grad.data(), off);
      off += p.grad.size;
    }
    return sum;
  }

  release(): void {
    this.engine.release();
  }
}

function parameterCount(network: Network): number {
  return network.parameters().reduce((n, p) => n + p.value.size, 0);
}

export interface DataParallelOptions {
  threads: number;
  /** The main network: its weights are what the replicas train, its `grad`s receive the summed gradients. */
  network: Network;
  loss: LossKind;
  /** The largest batch a step will be given, and the window length: they size the shared slice buffers. */
  maxBatch: number;
  seqLength: number;
  /** Force a mode (tests); default 'threads' where available. */
  mode?: 'threads' | 'serial';
  /** Where the one-line fallback notice goes (default console.warn). */
  onNotice?: (line: string) => void;
}

/** The thread entry: parallel-thread.js once built; under tsx the thread registers tsx before importing the .ts. */
function threadEntry(): { entry: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { entry: new URL('./parallel-thread.js', import.meta.url), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const thread = new URL('./parallel-thread.ts', import.meta.url).href;
  return { entry: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(thread)}); });`, eval: true };
}

/** What one worker thread is given (workerData). */
export interface ThreadData {
  /** the worker's index k (it trains slice k + 1) and the number of workers W = N − 1 */
  index: number;
  workers: number;
  config: ModelConfig;
  loss: LossKind;
  /** floats per window in x (T × F) */
  stride: number;
  ctrl: SharedArrayBuffer;
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  x: SharedArrayBuffer;
  y: SharedArrayBuffer;
  /** i32 [slice rows]: the stock-embedding rows of the slice's windows (unused without an embedding) */
  stocks: SharedArrayBuffer;
  /** u32 [count, batchCount, rng s0..s3], then f64 loss sum at byte 32 */
  meta: SharedArrayBuffer;
  /** the calling thread's compiled kernels (engineKernels), shared rather than compiled again */
  kernels: { module: WebAssembly.Module; variant: EngineVariant };
}

interface Slot {
  grads: Float32Array;
  x: Float32Array;
  y: Float32Array;
  stocks: Int32Array;
  metaU32: Uint32Array;
  metaF64: Float64Array;
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
/** Atomics.waitAsync (V8 has it since Node 16; TypeScript's lib only from es2024). */
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/** Why N threads cannot run here, or undefined. */
export function threadsUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  if (typeof waitAsync !== 'function') return 'Atomics.waitAsync is not available';
  return undefined;
}

export class DataParallel {
  readonly threads: number;
  private readonly network: Network;
  private readonly size: number;
  private readonly stride: number;
  private readonly outputSize: number;
  private readonly weights: Float32Array;
  /** slots[k]: slice k + 1, trained by worker thread k (or, in 'serial', by serialRunner) */
  private readonly slots: Slot[];
  private readonly ctrl: Int32Array;
  private workers: Worker[] = [];
  private serialRunner: SliceRunner | null = null;
  private gen = 0;
  private closing = false;
  private failure: Promise<never> = new Promise<never>(() => {});
  private errors: string[] = [];
  /**
   * Steps since resetStats(); the calling thread's milliseconds in them copying weights/slices in and summing
   * gradients (overheadMs), and waiting for the workers after its own slice (waitMs: imbalance plus hand-off).
   */
  readonly stats = { steps: 0, overheadMs: 0, waitMs: 0 };

  private constructor(
    private readonly options: DataParallelOptions,
    public mode: 'threads' | 'serial',
  ) {
    this.threads = options.threads;
    this.network = options.network;
    this.size = parameterCount(this.network);
    const { inputSize, outputSize } = this.network.config;
    this.outputSize = outputSize;
    this.stride = options.seqLength * inputSize;
    const maxSlice = Math.ceil(options.maxBatch / this.threads);
    const Shared = mode === 'threads' ? SharedArrayBuffer : ArrayBuffer;
    const workers = this.threads - 1;
    this.weights = new Float32Array(new Shared(this.size * 4));
    this.ctrl = new Int32Array(new Shared(4 * (2 + 2 * workers)));
    this.slots = Array.from({ length: workers }, () => {
      const meta = new Shared(48);
      return {
        grads: new Float32Array(new Shared(this.size * 4)),
        x: new Float32Array(new Shared(Math.max(1, maxSlice * this.stride) * 4)),
        y: new Float32Array(new Shared(Math.max(1, maxSlice * outputSize) * 4)),
        stocks: new Int32Array(new Shared(Math.max(1, maxSlice) * 4)),
        metaU32: new Uint32Array(meta, 0, 8),
        metaF64: new Float64Array(meta, 32, 1),
      };
    });
  }

  /** Starts N worker threads (or the serial fallback, with its notice) and waits until each holds its replica. */
  static async start(options: DataParallelOptions): Promise<DataParallel> {
    if (!(Number.isInteger(options.threads) && options.threads >= 2)) throw new Error(`DataParallel: threads must be an integer ≥ 2, got ${options.threads}`);
    const notice = options.onNotice ?? ((line: string) => console.warn(line));
    const why = options.mode === 'serial' ? undefined : threadsUnavailable();
    if (options.mode !== 'serial' && !why) {
      const dp = new DataParallel(options, 'threads');
      try {
        await dp.spawn();
        return dp;
      } catch (err) {
        await dp.close();
        notice(
          `threads: ${options.threads} threads could not start (${(err as Error).message}); training their ${options.threads} slices on one thread, same results`,
        );
        return DataParallel.serial(options);
      }
    }
    if (why) notice(`threads: ${why}; training the ${options.threads} slices on one thread, same results`);
    return DataParallel.serial(options);
  }

  private static serial(options: DataParallelOptions): DataParallel {
    const dp = new DataParallel(options, 'serial');
    dp.serialRunner = new SliceRunner(options.network.config, options.loss);
    return dp;
  }

  private async spawn(): Promise<void> {
    const { entry, eval: isEval } = threadEntry();
    let fail: (err: Error) => void = () => {};
    this.failure = new Promise<never>((_, reject) => (fail = reject));
    this.failure.catch(() => {}); // observed where it matters (ready, step)
    const ready = this.slots.map((slot, index) => {
      const data: ThreadData = {
        index,
        workers: this.slots.length,
        config: this.network.config,
        loss: this.options.loss,
        stride: this.stride,
        ctrl: this.ctrl.buffer as SharedArrayBuffer,
        weights: this.weights.buffer as SharedArrayBuffer,
        grads: slot.grads.buffer as SharedArrayBuffer,
        x: slot.x.buffer as SharedArrayBuffer,
        y: slot.y.buffer as SharedArrayBuffer,
        stocks: slot.stocks.buffer as SharedArrayBuffer,
        meta: slot.metaU32.buffer as SharedArrayBuffer,
        kernels: engineKernels(),
      };
      const worker = new Worker(entry, { eval: isEval, workerData: data });
      this.workers.push(worker);
      worker.on('error', (err) => fail(new Error(`worker thread ${index} failed: ${err.message}`)));
      worker.on('exit', (code) => {
        if (!this.closing) fail(new Error(`worker thread ${index} exited (code ${code})`));
      });
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: { type: string; message?: string; variant?: string; size?: number }) => {
          if (m.type === 'error') this.errors[index] = m.message ?? 'unknown error';
          if (m.type !== 'ready') return;
          if (m.variant !== engineVariant()) reject(new Error(`worker thread ${index} runs the ${m.variant} kernels, this thread ${engineVariant()}`));
          else if (m.size !== this.size) reject(new Error(`worker thread ${index} built ${m.size} parameters, expected ${this.size}`));
          else resolve();
        });
      });
    });
    await Promise.race([Promise.all(ready), this.failure]);
  }

  /**
   * One step's gradients: splits x [count, T, F] / y [count, out] into N slices, trains slice 0 on the main network
   * here and the others on the workers' replicas, each with the dropout state derived from `rng`, and leaves
   * Σ slice gradients (slice order) in the main network's `grad`s. `rng` must be the Rng the main network was created
   * with: slice 0 draws its masks from it (set to slice 0's state, then put back). Returns the batch's mean loss. The
   * caller clips and steps its optimizer, as after trainStep. `stocks` [count]: the windows' stock-embedding rows, for
   * a model with a stock embedding.
   */
  async step(rng: Rng, x: Float32Array, y: Float32Array, count: number, stocks?: Int32Array): Promise<number> {
    const t0 = performance.now();
    const states = sliceRngStates(rng, this.threads);
    const after = rng.getState();
    const params = this.network.parameters();
    let off = 0;
    for (const p of params) {
      this.weights.set(p.value.data(), off);
      off += p.value.size;
    }
    const out = this.outputSize;
    const live: number[] = [];
    this.slots.forEach((slot, k) => {
      const [s, e] = sliceBounds(k + 1, count, this.threads);
      slot.metaU32[0] = e - s;
      slot.metaU32[1] = count;
      slot.metaU32.set(states[k + 1].state, 2);
      if (e > s) {
        slot.x.set(x.subarray(s * this.stride, e * this.stride));
        slot.y.set(y.subarray(s * out, e * out));
        if (stocks) slot.stocks.set(stocks.subarray(s, e));
        live.push(k);
      }
    });
    const gen = ++this.gen;
    if (this.mode === 'threads') {
      Atomics.store(this.ctrl, CTRL.cmd, CMD.step);
      Atomics.store(this.ctrl, CTRL.gen, gen);
      Atomics.notify(this.ctrl, CTRL.gen);
    }
    let overhead = performance.now() - t0;

    // Slice 0, here, while the workers train theirs.
    const rows0 = sliceBounds(0, count, this.threads)[1];
    let lossSum = 0;
    if (rows0 > 0) {
      rng.setState(states[0]);
      try {
        lossSum = trainStepSlice(
          this.network,
          this.options.loss,
          x.subarray(0, rows0 * this.stride),
          y.subarray(0, rows0 * out),
          rows0,
          count,
          stocks?.subarray(0, rows0),
        );
      } finally {
        rng.setState(after);
      }
    }

    const waitFrom = performance.now();
    if (this.mode === 'serial') {
      const r = this.serialRunner!;
      for (const k of live) {
        const slot = this.slots[k];
        const n = slot.metaU32[0];
        const rows = stocks ? slot.stocks.subarray(0, n) : undefined;
        slot.metaF64[0] = r.run(this.weights, slot.x.subarray(0, n * this.stride), slot.y.subarray(0, n * out), n, count, states[k + 1], slot.grads, rows);
      }
    } else {
      const workers = this.slots.length;
      for (let k = 0; k < workers; k++) await this.waitDone(k, gen);
      for (let k = 0; k < workers; k++) {
        if (Atomics.load(this.ctrl, CTRL.done + workers + k) !== 0) {
          await new Promise((r) => setImmediate(r)); // the error message is posted before the status
          throw new Error(`worker thread ${k} (slice ${k + 1}): ${this.errors[k] ?? 'step failed'}`);
        }
      }
    }
    const t1 = performance.now();
    this.stats.waitMs += t1 - waitFrom;
    // Σ in slice order onto slice 0's gradients, by the engine's f32x4 add (IEEE float32, so the bits do not depend on
    // where the sum runs) after one copy of the slice into this engine's scratch memory. An empty slice 0 (count < N)
    // starts from the first live slice instead.
    let first = rows0 > 0;
    if (!first && live.length === 0) zeroGrad(this.network);
    const e = this.network.engine;
    e.resetArena();
    try {
      const incoming = live.length > 0 ? Tensor.scratch(e, [this.size]) : null;
      for (const k of live) {
        const g = this.slots[k].grads;
        incoming!.set(g);
        off = 0;
        for (const p of params) {
          if (first) e.k.add(p.grad.ptr, p.grad.ptr, incoming!.ptr + off * 4, p.grad.size);
          else p.grad.set(g.subarray(off, off + p.grad.size));
          off += p.grad.size;
        }
        first = true;
        lossSum += this.slots[k].metaF64[0];
      }
    } finally {
      e.resetArena();
    }
    this.stats.steps++;
    overhead += performance.now() - t1;
    this.stats.overheadMs += overhead;
    return lossSum / (count * out);
  }

  resetStats(): void {
    this.stats.steps = 0;
    this.stats.overheadMs = 0;
    this.stats.waitMs = 0;
  }

  private async waitDone(i: number, gen: number): Promise<void> {
    const index = CTRL.done + i;
    for (;;) {
      const seen = Atomics.load(this.ctrl, index);
      if (seen === gen) return;
      const r = waitAsync!(this.ctrl, index, seen);
      if (r.async) await Promise.race([r.value, this.failure]);
    }
  }

  /** Stops the worker threads (the serial fallback returns its engine). Safe to call twice. */
  async close(): Promise<void> {
    this.closing = true;
    this.serialRunner?.release();
    this.serialRunner = null;
    const workers = this.workers;
    this.workers = [];
    if (workers.length === 0) return;
    const exited = workers.map((w) => new Promise<void>((resolve) => (w.threadId < 0 ? resolve() : w.once('exit', () => resolve()))));
    Atomics.store(this.ctrl, CTRL.cmd, CMD.exit);
    Atomics.store(this.ctrl, CTRL.gen, ++this.gen);
    Atomics.notify(this.ctrl, CTRL.gen);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 2000).unref());
    if ((await Promise.race([Promise.all(exited), timeout])) === 'timeout') await Promise.all(workers.map((w) => w.terminate()));
  }
}
