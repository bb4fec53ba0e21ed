import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeSafetensors } from '../../src/engine/io/index.js';
import {
  TrainingManager,
  fromModelConfigFile,
  listFiles,
  toModelConfigFile,
  runDirFor,
  validateRunName,
  type RunMetadata,
  type TrainerState,
} from '../../src/runs/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';
import { fakeWeights, runLayout, writeCompletedRun } from './manager-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'klinecast-manager-'));
after(() => rmSync(root, { recursive: true, force: true }));

const readJsonFile = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

test('a completed run has exactly the DESIGN.md §4 layout, and every JSON file parses', () => {
  const out = join(root, 'layout');
  const manager = writeCompletedRun(out);
  assert.match(manager.runName, /^600000_lstm_\d{8}_\d{6}$/);
  const files = listFiles(manager.runDir).map((f) => f.path);
  assert.deepEqual(files, runLayout(['checkpoint-2', 'checkpoint-5']));
  for (const f of files.filter((p) => p.endsWith('.json'))) readJsonFile(join(manager.runDir, f));

  const meta = readJsonFile(join(manager.runDir, 'metadata.json')) as RunMetadata;
  for (const key of [
    'run_name',
    'stock_symbol',
    'model_type',
    'data_source',
    'status',
    'created_at',
    'updated_at',
    'started_at',
    'finished_at',
    'heartbeat_at',
    'host',
    'pid',
    'klinecast_version',
    'eval_metrics',
    'error',
  ]) {
    assert.ok(key in meta, `metadata.json has ${key}`);
  }
  assert.equal(meta.status, 'completed');
  assert.equal(meta.stock_symbol, '600000');
  assert.equal(meta.klinecast_version, readJsonFile('package.json').version);
  assert.equal(meta.pid, process.pid);
  assert.equal(meta.error, null);
  assert.ok(meta.started_at && meta.finished_at && meta.finished_at >= meta.started_at);
  assert.equal(typeof meta.eval_metrics?.skill, 'number');
  assert.equal(meta.best_val_loss, 0.5);

  const log = readFileSync(join(manager.runDir, 'logs/training.log'), 'utf8').trimEnd().split('\n');
  for (const line of log) assert.match(line, /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] /);
  const metrics = readJsonFile(join(manager.runDir, 'logs/metrics.json'));
  assert.equal(metrics.length, 5);
  assert.deepEqual(Object.keys(metrics[0]), ['epoch', 'phase', 'timestamp', 'train_loss', 'val_loss', 'lr']);

  const state = readJsonFile(join(manager.runDir, 'checkpoints/checkpoint-5/trainer_state.json')) as TrainerState;
  assert.equal(state.epoch, 5);
  assert.equal(state.best_model_checkpoint, 'checkpoints/checkpoint-2');
  assert.equal(state.log_history.length, 5);
  assert.equal(state.early_stopping.patience, 10);

  const summary = manager.getSummary();
  assert.equal(summary.status, 'completed');
  assert.equal(summary.bestValLoss, 0.5);
  assert.equal(manager.getModelPath(), join(manager.runDir, 'model'));
  assert.equal(manager.getBestCheckpointPath(), join(manager.runDir, 'checkpoints/best'));
});

test('rotation keeps save_total_limit checkpoints, the newest, and the one best/ came from', () => {
  const manager = TrainingManager.open(writeCompletedRun(join(root, 'rotation')).runDir);
  // best stays at checkpoint-2 while later epochs come and go
  manager.saveTotalLimit = 1;
  for (const epoch of [6, 7]) {
    manager.saveCheckpoint({
      weights: fakeWeights(epoch),
      optimizerState: {},
      trainerState: {
        global_step: epoch,
        best_metric: 0.5,
        metric_for_best_model: 'val_loss',
        greater_is_better: false,
        early_stopping: { patience: 3, best_metric: 0.5, epochs_without_improvement: epoch - 2 },
        scheduler: null,
      },
      rngState: null,
      epoch,
      metrics: { val_loss: 1 },
      isBest: false,
    });
  }
  const names = listFiles(join(manager.runDir, 'checkpoints')).map((f) => f.path.split('/')[0]);
  assert.deepEqual([...new Set(names)], ['best', 'checkpoint-2', 'checkpoint-7']);
  const best = decodeSafetensors(readFileSync(join(manager.runDir, 'checkpoints/best/model.safetensors')));
  assert.deepEqual(Array.from(best.tensors['fc.0.bias'].data as Float32Array), Array.from(fakeWeights(2)['fc.0.bias'].data as Float32Array));
  // best/ is a copy of the checkpoint's files, not hard links: damage to one is not damage to the other (issue 12 #8)
  assert.notEqual(
    statSync(join(manager.runDir, 'checkpoints/best/model.safetensors')).ino,
    statSync(join(manager.runDir, 'checkpoints/checkpoint-2/model.safetensors')).ino,
  );
  assert.equal(statSync(join(manager.runDir, 'checkpoints/best/model.safetensors')).nlink, 1);
});

test('latestCheckpoint reads back weights, optimizer, trainer state and RNG state exactly', () => {
  const manager = TrainingManager.open(writeCompletedRun(join(root, 'resume')).runDir);
  const ck = manager.latestCheckpoint();
  assert.ok(ck);
  assert.equal(ck.epoch, 5);
  assert.deepEqual(ck.weights['rnn.weight_ih_l0'].data, fakeWeights(5)['rnn.weight_ih_l0'].data);
  assert.deepEqual(ck.optimizerState.step.data, BigInt64Array.of(50n));
  assert.equal(ck.optimizerMetadata.betas, '0.9,0.999');
  assert.deepEqual(ck.rngState, { seed: 42, state: ['5', '12345678901234567890'] });
  assert.equal(ck.trainerState.scheduler?.type, 'reduce_on_plateau');
  manager.rewindTo(3);
  assert.deepEqual(
    manager.getMetricsHistory().map((r) => r.epoch),
    [1, 2, 3],
  );
  manager.logMetrics(3, { train_loss: 0.1 }, 'train');
  assert.deepEqual(
    manager.getMetricsHistory().map((r) => [r.epoch, r.train_loss]),
    [
      [1, 1],
      [2, 0.5],
      [3, 0.1],
    ],
  );
});

test('model/pytorch_model.bin loads with torch.load and equals model.safetensors', { skip: referenceSkip('torch') }, () => {
  const manager = writeCompletedRun(join(root, 'torch'));
  const script = `
import json, sys, torch
sd = torch.load(sys.argv[1] + '/pytorch_model.bin', weights_only=True) if 'weights_only' in torch.load.__code__.co_varnames else torch.load(sys.argv[1] + '/pytorch_model.bin')
print(json.dumps({k: v.flatten().tolist() for k, v in sd.items()}))
`;
  const run = spawnSync(REFERENCE_PYTHON, ['-c', script, manager.getModelPath()], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const loaded = JSON.parse(run.stdout) as Record<string, number[]>;
  const st = decodeSafetensors(readFileSync(join(manager.getModelPath(), 'model.safetensors')));
  assert.deepEqual(Object.keys(loaded).sort(), Object.keys(st.tensors).sort());
  for (const [name, values] of Object.entries(loaded)) assert.deepEqual(values, Array.from(st.tensors[name].data as Float32Array), name);
  assert.equal(st.metadata.format, 'pt');
});

test('names: default patterns, collisions get _2/_3, unsafe names are refused', () => {
  const out = join(root, 'names');
  const now = new Date(2024, 0, 2, 3, 4, 5);
  const a = TrainingManager.create({ outputDir: out, symbol: '000001', modelType: 'gru', now });
  const b = TrainingManager.create({ outputDir: out, symbol: '000001', modelType: 'gru', now });
  const c = TrainingManager.create({ outputDir: out, modelType: 'transformer', now });
  const d = TrainingManager.create({ outputDir: out, modelType: 'gru', runName: '000001_gru_20240102_030405' });
  assert.deepEqual(
    [a.runName, b.runName, c.runName, d.runName],
    ['000001_gru_20240102_030405', '000001_gru_20240102_030405_2', 'transformer_20240102_030405', '000001_gru_20240102_030405_3'],
  );
  for (const bad of ['../x', 'a/b', '.hidden', '..', '', 'a b', 'x'.repeat(200), '/etc']) {
    assert.throws(() => validateRunName(bad), /invalid run name/, bad);
    assert.throws(() => TrainingManager.create({ outputDir: out, modelType: 'lstm', runName: bad }), /invalid run name/);
  }
  assert.throws(() => runDirFor(out, '..'), /invalid run name/);
});

test('updateStatus records the error of a failed run and the finish time', () => {
  const manager = TrainingManager.create({ outputDir: join(root, 'failed'), modelType: 'lstm' });
  manager.updateStatus('training');
  manager.updateStatus('failed', { error: new RangeError('loss became NaN at epoch 3') });
  const meta = readJsonFile(join(manager.runDir, 'metadata.json')) as RunMetadata;
  assert.equal(meta.status, 'failed');
  assert.equal(meta.error, 'RangeError: loss became NaN at epoch 3');
  assert.ok(meta.finished_at);
  assert.match(readFileSync(join(manager.runDir, 'logs/training.log'), 'utf8'), /RangeError: loss became NaN[\s\S]*at /);
  assert.throws(() => manager.updateStatus('crashed' as never), /unknown run status/);
});

test('open() refuses a run whose process is alive, and takes over a crashed one', () => {
  const manager = TrainingManager.create({ outputDir: join(root, 'busy'), modelType: 'lstm' });
  manager.updateStatus('training');
  const meta = readJsonFile(join(manager.runDir, 'metadata.json'));
  const path = join(manager.runDir, 'metadata.json');
  // the parent process of this test is alive on this host: the run is busy
  rmSync(path);
  // forge the metadata another process would have left (a plain write, as that process would have done)
  const write = (m: object) => writeFileSync(path, JSON.stringify(m));
  write({ ...meta, pid: process.ppid });
  assert.throws(() => TrainingManager.open(manager.runDir), /still training/);
  write({ ...meta, pid: 2 ** 22 + 12345 });
  assert.equal(TrainingManager.loadRun(manager.runDir).status, 'crashed');
  const reopened = TrainingManager.open(manager.runDir);
  assert.equal(reopened.getMetadata().pid, process.pid);
});

test('model/config.json round-trips the engine ModelConfig in snake_case and names a bad field', () => {
  const config = {
    modelType: 'transformer' as const,
    inputSize: 52,
    hiddenSize: 128,
    numLayers: 2,
    dropout: 0.2,
    outputSize: 3,
    headHiddenSize: 64,
    numHeads: 4,
    dimFeedforward: 512,
    stockEmbeddingDim: 0,
    numStocks: 0,
  };
  const inputs = { featureNames: ['close', 'ma_5'], seqLength: 60, horizon: 3, target: 'log_return', stocks: null };
  const file = toModelConfigFile(config, inputs);
  assert.equal(file.hidden_size, 128);
  assert.equal(file.dim_feedforward, 512);
  assert.ok(!('stock_embedding_dim' in file) && !('stocks' in file), 'a model without a stock embedding writes no embedding fields');
  assert.deepEqual(fromModelConfigFile(JSON.parse(JSON.stringify(file))), { config, inputs });
  // With a stock embedding: its width, the stock count and the stocks in row order (row 0 is the unknown stock).
  const embedded = { ...config, stockEmbeddingDim: 8, numStocks: 2 };
  const embeddedInputs = { ...inputs, stocks: ['000001', '600519'] };
  const embeddedFile = toModelConfigFile(embedded, embeddedInputs);
  assert.equal(embeddedFile.stock_embedding_dim, 8);
  assert.deepEqual(embeddedFile.stocks, ['000001', '600519']);
  assert.deepEqual(fromModelConfigFile(JSON.parse(JSON.stringify(embeddedFile))), { config: embedded, inputs: embeddedInputs });
  assert.throws(() => fromModelConfigFile({ ...embeddedFile, stocks: ['000001'] }), /stocks must list the 2 embedded stocks/);
  assert.throws(() => fromModelConfigFile({ ...file, hidden_size: -1 }), /hidden_size/);
  assert.throws(() => fromModelConfigFile({ ...file, seq_length: 0 }), /seq_length/);
});
