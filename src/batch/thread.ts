/**
 * Entry of one pool worker thread. It loads the job function once (and with it its own engine: a wasm
 * instance per thread), then runs one job at a time as the pool sends them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { JobFunction, JobRef } from './job.js';
import type { ThreadCancel, ThreadReply, ThreadRequest } from './pool.js';
import { unpackSeries } from './transfer.js';

const port = parentPort;
if (!port) throw new Error('src/batch/thread.ts runs only as a worker thread');

const { job } = workerData as { job: JobRef };
const loaded = (await import(job.module)) as Record<string, unknown>;
const run = loaded[job.export];
if (typeof run !== 'function') throw new Error(`job module ${job.module} has no exported function "${job.export}"`);
const jobFunction = run as JobFunction;

function reply(message: ThreadReply): void {
  port!.postMessage(message);
}

const running = new Map<number, AbortController>();

port.on('message', async (message: ThreadRequest | ThreadCancel) => {
  if ('cancel' in message) {
    running.get(message.cancel)?.abort('cancelled');
    return;
  }
  const request = message;
  const controller = new AbortController();
  running.set(request.id, controller);
  let lastReport = 0;
  try {
    const output = await jobFunction({
      signal: controller.signal,
      series: unpackSeries(request.series),
      config: request.config,
      onProgress(fraction, note, detail) {
        // Progress is for people: a few updates a second are plenty and keep the port quiet.
        const now = Date.now();
        if (now - lastReport < 200 && fraction < 1) return;
        lastReport = now;
        reply({ type: 'progress', id: request.id, fraction, note, detail });
      },
    });
    reply({ type: 'done', id: request.id, output });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply({ type: 'failed', id: request.id, error: e.message, stack: e.stack });
  } finally {
    running.delete(request.id);
  }
});
