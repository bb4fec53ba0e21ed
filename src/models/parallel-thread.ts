/**
 * One worker thread of DataParallel (parallel.ts): builds its replica, reports ready, then waits on the control
 * array for steps: load the shared weights, train its slice (index + 1), write its gradients and loss sum, mark the
 * step done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { adoptEngineKernels, engineVariant } from '../engine/runtime.js';
import { CMD, CTRL, SliceRunner, type ThreadData } from './parallel.js';

const d = workerData as ThreadData;
adoptEngineKernels(d.kernels);
const port = parentPort!;
const ctrl = new Int32Array(d.ctrl);
const weights = new Float32Array(d.weights);
const grads = new Float32Array(d.grads);
const x = new Float32Array(d.x);
const y = new Float32Array(d.y);
const stocks = new Int32Array(d.stocks);
const metaU32 = new Uint32Array(d.meta, 0, 8);
const metaF64 = new Float64Array(d.meta, 32, 1);
const runner = new SliceRunner(d.config, d.loss);
const stride = d.stride;
port.postMessage({ type: 'ready', variant: engineVariant(), size: runner.size });

// 0, not a load: the main thread may post its first step between 'ready' and here.
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.gen, seen);
  const gen = Atomics.load(ctrl, CTRL.gen);
  if (gen === seen) continue;
  seen = gen;
  if (Atomics.load(ctrl, CTRL.cmd) === CMD.exit) break;
  let status = 0;
  const count = metaU32[0];
  if (count > 0) {
    try {
      const state = [metaU32[2], metaU32[3], metaU32[4], metaU32[5]] as [number, number, number, number];
      const n = count * d.config.outputSize;
      const rows = d.config.stockEmbeddingDim > 0 ? stocks.subarray(0, count) : undefined;
      metaF64[0] = runner.run(weights, x.subarray(0, count * stride), y.subarray(0, n), count, metaU32[1], { algorithm: 'xoshiro128**', state }, grads, rows);
    } catch (err) {
      port.postMessage({ type: 'error', message: (err as Error).message });
      status = 1;
    }
  }
  Atomics.store(ctrl, CTRL.done + d.workers + d.index, status);
  Atomics.store(ctrl, CTRL.done + d.index, gen);
  Atomics.notify(ctrl, CTRL.done + d.index);
}
runner.release();
port.close();
