/**
 * A fixed-size pool of worker threads that each run one job at a time. A thread that dies (process.exit in
 * the thread, an uncaught throw, running out of memory) fails only the job it was running, and the pool
 * starts a fresh thread in its place, so one bad stock can never stop a batch.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { KlineSeries } from '../data/types.js';
import type { JobOutput, JobRef, ProgressDetail } from './job.js';
import { packSeries, type PackedSeries } from './transfer.js';

export interface ThreadRequest {
  id: number;
  series: PackedSeries;
  config: unknown;
}

/** Asks the thread to stop the job with this id (its signal is aborted). */
export interface ThreadCancel {
  cancel: number;
}

export type ThreadReply =
  | { type: 'progress'; id: number; fraction: number; note?: string; detail?: ProgressDetail }
  | { type: 'done'; id: number; output: JobOutput }
  | { type: 'failed'; id: number; error: string; stack?: string };

export interface PoolTask {
  series: KlineSeries;
  /** the job's complete config (JobKind.configFor) */
  config: unknown;
  onProgress?(fraction: number, note?: string, detail?: ProgressDetail): void;
  /** called when a thread takes the job (it may wait in the pool's queue before that) */
  onStart?(): void;
  /** cancels the job: a waiting job is dropped (JobCancelledError), a running one has its signal aborted in the thread */
  signal?: AbortSignal;
}

/** The job threw: its message is the reason recorded for the stock. */
export class JobFailedError extends Error {
  constructor(
    message: string,
    readonly jobStack?: string,
  ) {
    super(message);
    this.name = 'JobFailedError';
  }
}

/** The job was cancelled before a thread took it. */
export class JobCancelledError extends Error {
  constructor(symbol: string) {
    super(`the job for ${symbol} was cancelled before it started`);
    this.name = 'JobCancelledError';
  }
}

/** The thread running the job died; the job is failed and the thread replaced. */
export class WorkerCrashedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerCrashedError';
  }
}

export interface PoolOptions {
  size: number;
  job: JobRef;
  /** per-thread heap limits; a thread over them dies with ERR_WORKER_OUT_OF_MEMORY and is replaced */
  resourceLimits?: ResourceLimits;
}

interface Pending {
  id: number;
  task: PoolTask;
  resolve(output: JobOutput): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  current: Pending | null;
  lastError: Error | null;
}

/**
 * The thread entry: thread.js once built. Under tsx (tests, benchmarks, `node --import tsx`) a worker thread does
 * not inherit the TypeScript loader, so a two-line bootstrap registers tsx in the thread before importing thread.ts.
 */
function threadEntry(): { entry: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { entry: new URL('./thread.js', import.meta.url), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const thread = new URL('./thread.ts', import.meta.url).href;
  return { entry: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(thread)}); });`, eval: true };
}
const THREAD = threadEntry();

export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closing = false;
  /** threads started to replace dead ones, for reports and tests */
  replacedThreads = 0;

  constructor(private readonly options: PoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`pool size must be a positive integer, got ${options.size}`);
    for (let i = 0; i < options.size; i++) this.spawn();
  }

  get size(): number {
    return this.options.size;
  }

  /** Jobs waiting for a free thread plus jobs running. */
  get load(): number {
    let running = 0;
    for (const s of this.slots) if (s.current) running++;
    return running + this.queue.length;
  }

  run(task: PoolTask): Promise<JobOutput> {
    if (this.closing) return Promise.reject(new Error('worker pool is closed'));
    if (task.signal?.aborted) return Promise.reject(new JobCancelledError(task.series.symbol));
    return new Promise<JobOutput>((resolve, reject) => {
      const pending: Pending = { id: this.nextId++, task, resolve, reject };
      this.queue.push(pending);
      task.signal?.addEventListener('abort', () => this.cancel(pending), { once: true });
      this.dispatch();
    });
  }

  /** Stops every thread; jobs still queued or running are rejected. */
  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('worker pool closed before the job ran'));
    await Promise.all([...this.slots].map((s) => s.worker.terminate()));
  }

  private cancel(pending: Pending): void {
    const waiting = this.queue.indexOf(pending);
    if (waiting >= 0) {
      this.queue.splice(waiting, 1);
      pending.reject(new JobCancelledError(pending.task.series.symbol));
      return;
    }
    for (const slot of this.slots) {
      if (slot.current === pending) slot.worker.postMessage({ cancel: pending.id } satisfies ThreadCancel);
    }
  }

  private spawn(): void {
    const worker = new Worker(THREAD.entry, { eval: THREAD.eval, workerData: { job: this.options.job }, resourceLimits: this.options.resourceLimits });
    const slot: Slot = { worker, current: null, lastError: null };
    this.slots.add(slot);
    worker.on('message', (reply: ThreadReply) => this.onReply(slot, reply));
    worker.on('error', (err) => {
      slot.lastError = err;
    });
    worker.on('exit', (code) => this.onExit(slot, code));
    // Idle threads must not keep a finished CLI process alive.
    worker.unref();
    this.dispatch();
  }

  private onReply(slot: Slot, reply: ThreadReply): void {
    const pending = slot.current;
    if (!pending || pending.id !== reply.id) return;
    if (reply.type === 'progress') {
      pending.task.onProgress?.(reply.fraction, reply.note, reply.detail);
      return;
    }
    slot.current = null;
    if (reply.type === 'done') pending.resolve(reply.output);
    else pending.reject(new JobFailedError(reply.error, reply.stack));
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    this.slots.delete(slot);
    const pending = slot.current;
    slot.current = null;
    if (pending) {
      const cause = slot.lastError
        ? `${(slot.lastError as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out of memory: ' : ''}${slot.lastError.message}`
        : `exit code ${code}`;
      pending.reject(new WorkerCrashedError(`worker thread died while training ${pending.task.series.symbol} (${cause})`));
    }
    if (!this.closing) {
      this.replacedThreads++;
      this.spawn();
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (slot.current) continue;
      const pending = this.queue.shift()!;
      slot.current = pending;
      slot.lastError = null;
      // Keep the thread referenced while it works, so the process waits for the result.
      slot.worker.ref();
      const { packed, transfer } = packSeries(pending.task.series);
      const request: ThreadRequest = {
        id: pending.id,
        series: packed,
        config: pending.task.config,
      };
      slot.worker.postMessage(request, transfer);
      pending.task.onStart?.();
    }
    for (const slot of this.slots) if (!slot.current) slot.worker.unref();
  }
}
