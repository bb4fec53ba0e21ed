/**
 * How a batch shares the cores (issue 14): training.threads 'auto' of a batch's config becomes each job's share,
 * workers × threads ≤ cores, before the config is hashed; a resumed batch keeps the number it started with; the
 * queue's jobs, trained elsewhere, get one thread; a number given is kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainKind } from '../../src/batch/index.js';
import { autoThreads, batchConfig, parseTrainConfig, type TrainConfig } from '../../src/training/index.js';

const config = (threads?: number) => batchConfig(parseTrainConfig({ training: { batchSize: 64, ...(threads ? { threads } : {}) } }));
const share = (c: TrainConfig, runsAtOnce: number, recorded: unknown = null) =>
  (trainKind(c).shareCores!(c, runsAtOnce, recorded) as TrainConfig).training.threads;

test("a batch's threads 'auto' is each worker's share of the cores; a resume keeps the recorded number; the queue's is 1", () => {
  assert.equal(config().training.threads, 'auto');
  assert.equal(share(config(), 1), autoThreads(64, 1));
  assert.equal(share(config(), 2), autoThreads(64, 2));
  assert.equal(share(config(), 3, { training: { threads: 2 } }), 2, 'resumed: the number the batch started with');
  assert.equal(share(config(), Number.POSITIVE_INFINITY), 1, 'queue jobs run on machines unknown here');
  assert.equal(share(config(3), 8), 3, '--threads 3 is kept');
});
