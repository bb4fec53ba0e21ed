/**
 * training.threads in the Trainer: N = 1 is the plain single-thread loop bit for bit; N = 2 is deterministic and
 * resumes bit-exactly from a mid-epoch checkpoint; a checkpoint refuses another thread count; 'auto' is resolved to
 * the machine's share of cores and recorded as a number.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Adam, clipGradNorm } from '../../src/engine/optim/index.js';
import { Rng } from '../../src/engine/rng.js';
import { Engine } from '../../src/engine/runtime.js';
import { buildDataset } from '../../src/features/index.js';
import { createNetwork, stateDict, trainStep } from '../../src/models/index.js';
import { TrainingManager } from '../../src/runs/index.js';
import { Trainer, autoThreads, parseTrainConfig, readRunConfig, runTraining, trainConfigHash } from '../../src/training/index.js';
import { readAshare } from '../helpers/ashare.js';
import { ashare } from '../helpers/env.js';
import { tailSeries } from './train-child.js';

const root = mkdtempSync(join(tmpdir(), 'klinecast-threads-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Read only when the real data is there; the tests that use it skip visibly otherwise.
const series = ashare.available ? tailSeries(readAshare('000001'), 300) : (undefined as never);
const cfg = (threads: number, epochs = 2) =>
  parseTrainConfig({
    dataset: { seqLength: 10 },
    model: { hiddenSize: 8, numLayers: 2, headHiddenSize: 8, dropout: 0.3 },
    training: { epochs, batchSize: 16, patience: 0, threads },
  });
const dataset = ashare.available ? buildDataset(series, cfg(1).dataset) : (undefined as never);

function weightsOf(trainer: Trainer): Record<string, unknown> {
  return Object.fromEntries(Object.entries(trainer.weights()).map(([k, t]) => [k, t.data]));
}

test('threads = 1 is the plain single-thread loop (shuffle, trainStep, clip, Adam) bit for bit', { skip: ashare.skip }, async () => {
  const config = cfg(1);
  const trainer = new Trainer(dataset, config);
  await trainer.fit();
  // the same loop by hand
  const rng = new Rng(config.training.seed);
  const net = createNetwork(trainer.modelConfig, Engine.create(), rng);
  const opt = new Adam(net.parameters(), { lr: config.training.learningRate });
  const train = dataset.train;
  const B = config.training.batchSize;
  for (let epoch = 0; epoch < config.training.epochs; epoch++) {
    const order = Int32Array.from({ length: train.size }, (_, i) => i);
    rng.shuffle(order);
    for (let b = 0; b < train.size; b += B) {
      const idx = order.subarray(b, Math.min(train.size, b + B));
      const x = train.gatherX(idx, new Float32Array(idx.length * train.seqLength * train.numFeatures));
      const y = train.gatherY(idx, new Float32Array(idx.length * train.horizon));
      trainStep(net, 'mse', x, y, idx.length);
      clipGradNorm(net.parameters(), config.training.gradClip);
      opt.step();
    }
  }
  const byHand = Object.fromEntries(Object.entries(stateDict(net)).map(([k, t]) => [k, t.data]));
  assert.deepEqual(weightsOf(trainer), byHand);
});

test('threads = 2 twice gives bit-identical weights (dropout on), which differ from one thread', { skip: ashare.skip }, async () => {
  const a = new Trainer(dataset, cfg(2));
  const b = new Trainer(dataset, cfg(2));
  const ra = await a.fit();
  const rb = await b.fit();
  assert.deepEqual(rb, ra);
  assert.deepEqual(weightsOf(b), weightsOf(a));
  const one = new Trainer(dataset, cfg(1));
  await one.fit();
  assert.notDeepEqual(weightsOf(one), weightsOf(a));
});

test(
  'threads = 2: an interrupt mid-epoch and a resume give the uninterrupted run bit for bit; another thread count is refused',
  { skip: ashare.skip },
  async () => {
    const config = cfg(2, 3);
    const full = new Trainer(dataset, config);
    const fullResult = await full.fit();

    const manager = TrainingManager.create({ outputDir: join(root, 'resume'), modelType: 'lstm', symbol: series.symbol });
    const abort = new AbortController();
    const stopAt = Math.ceil(dataset.train.size / 16) + 2; // in the middle of epoch 2
    const first = new Trainer(dataset, config, {
      manager,
      signal: abort.signal,
      callbacks: [{ onStepEnd: (s) => void (s.globalStep === stopAt && abort.abort('SIGINT')) }],
    });
    assert.equal((await first.fit()).stopReason, 'interrupted');

    const checkpoint = manager.latestCheckpoint()!;
    assert.equal((checkpoint.rngState as { threads?: number }).threads, 2, 'rng_state.json records the thread count');
    assert.throws(() => new Trainer(dataset, cfg(1, 3), { manager }).restore(checkpoint), /trained on 2 thread\(s\).*resuming it with 1/);

    const resumed = new Trainer(dataset, config, { manager });
    resumed.restore(checkpoint, manager.getBestCheckpointPath());
    const result = await resumed.fit();
    assert.equal(result.globalStep, fullResult.globalStep);
    assert.equal(result.bestValLoss, fullResult.bestValLoss);
    assert.deepEqual(weightsOf(resumed), weightsOf(full));
  },
);

test("threads 'auto': the run's share of the cores, one thread per 16 rows of a batch, at least 1", () => {
  assert.equal(parseTrainConfig({}).training.threads, 'auto');
  assert.equal(autoThreads(32, 1, 2), 2);
  assert.equal(autoThreads(32, 2, 2), 1, 'two batch workers on two cores: one thread each');
  assert.equal(autoThreads(32, 3, 2), 1);
  assert.equal(autoThreads(16, 1, 16), 1, 'a batch of 16 is one slice');
  assert.equal(autoThreads(256, 1, 16), 16);
  assert.equal(autoThreads(64, 3, 16), 4, 'floor(16 / 3) = 5 cores, but 64 rows make 4 slices');
  assert.equal(autoThreads(4096, 1, 512), 64);
});

test("runTraining records 'auto' as the number it used; a config.json without threads (older runs) reads as 1", { skip: ashare.skip }, async () => {
  const config = parseTrainConfig({
    dataset: { seqLength: 10 },
    model: { hiddenSize: 8, numLayers: 1, headHiddenSize: 8 },
    training: { epochs: 1, batchSize: 32 },
    output: { outputDir: join(root, 'auto'), runName: 'auto' },
  });
  const report = await runTraining({ config, series });
  const saved = readRunConfig(report.runDir);
  assert.equal(saved.training.threads, autoThreads(32));
  assert.equal(report.configHash, trainConfigHash(saved), 'the hash covers the recorded number, not auto');

  const path = join(report.runDir, 'config.json');
  const file = JSON.parse(readFileSync(path, 'utf8')) as { training: Record<string, unknown> };
  delete file.training.threads;
  writeFileSync(path, JSON.stringify(file));
  assert.equal(readRunConfig(report.runDir).training.threads, 1);
});
