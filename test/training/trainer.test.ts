/**
 * The Trainer and TrainConfig in process: config precedence and errors, early stopping and best tracking checked
 * against the logged history, the best weights reproducing the best validation loss, determinism, and the
 * Darts-like Forecaster (fit / predict / save / load / backtest).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildDataset } from '../../src/features/index.js';
import { readSafetensors } from '../../src/engine/io/index.js';
import { Forecaster, Trainer, mergeConfig, parseTrainConfig, resolveTrainConfig, type EpochSummary } from '../../src/training/index.js';
import { TrainingManager } from '../../src/runs/index.js';
import { readAshare } from '../helpers/ashare.js';
import { ashare } from '../helpers/env.js';
import { tailSeries } from './train-child.js';

const root = mkdtempSync(join(tmpdir(), 'klinecast-trainer-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Read only when the real data is there; the tests that use it skip visibly otherwise.
const series = ashare.available ? tailSeries(readAshare('000001'), 450) : (undefined as never);
const SMALL = { dataset: { seqLength: 10 }, model: { hiddenSize: 8, numLayers: 1, headHiddenSize: 8 } };

test('TrainConfig: seed defaults; defaults < file < flags; every bad field named, unknown fields refused', () => {
  const d = parseTrainConfig({});
  assert.deepEqual(
    [
      d.dataset.seqLength,
      d.model.modelType,
      d.model.hiddenSize,
      d.model.numLayers,
      d.model.dropout,
      d.training.batchSize,
      d.training.learningRate,
      d.training.patience,
      d.training.epochs,
    ],
    [60, 'lstm', 128, 2, 0.2, 32, 1e-3, 10, 50],
  );
  const file = join(root, 'cfg.json');
  writeFileSync(file, JSON.stringify({ training: { epochs: 7, batchSize: 16 }, model: { modelType: 'gru', hiddenSize: 64 } }));
  const c = resolveTrainConfig({ file, overrides: { training: { epochs: 9 }, data: { database: 'mysql://u:pw@h:3306/db' } } });
  assert.equal(c.training.epochs, 9); // flag beats file
  assert.equal(c.training.batchSize, 16); // file beats default
  assert.equal(c.model.modelType, 'gru');
  assert.equal(c.model.numLayers, 2); // default kept inside a partially given object
  assert.equal(c.data.database, 'mysql://u:***@h:3306/db');
  assert.throws(
    () => parseTrainConfig({ training: { learningRate: -1, batchSize: 2.5 } }),
    (err: Error) => /training\.learningRate: Too small/.test(err.message) && /training\.batchSize: .*expected int/.test(err.message),
  );
  assert.throws(() => parseTrainConfig({ training: { epochz: 3 } }), /training: unknown field\(s\) epochz/);
  // a schedule's parameters must belong to that schedule, or a typo'd schedule would silently ignore them
  assert.throws(() => parseTrainConfig({ training: { scheduler: { type: 'plateau', stepSize: 3 } } }), /training\.scheduler: unknown field\(s\) stepSize/);
  assert.throws(() => parseTrainConfig({ training: { scheduler: { factor: 0.3 } } }), /training\.scheduler\.type: /);
  assert.equal(parseTrainConfig({ training: { epochs: 12, scheduler: { type: 'cosine' } } }).training.scheduler.type, 'cosine');
  assert.throws(() => parseTrainConfig({ model: { modelType: 'transformer', hiddenSize: 30, numHeads: 4 } }), /divisible by model\.numHeads/);
  assert.throws(() => resolveTrainConfig({ file: join(root, 'missing.json') }), /cannot read config file/);
  writeFileSync(file, '{ nope');
  assert.throws(() => resolveTrainConfig({ file }), /is not valid JSON/);
  assert.deepEqual(mergeConfig({ a: { b: 1, c: [1, 2] } }, { a: { c: [3] }, d: undefined }), { a: { b: 1, c: [3] } });
});

test("early stopping stops exactly `patience` epochs after the best one; the kept weights are the best epoch's", { skip: ashare.skip }, async () => {
  const config = parseTrainConfig({ ...SMALL, training: { epochs: 40, patience: 2, learningRate: 0.02, batchSize: 16 } });
  const dataset = buildDataset(series, config.dataset);
  const trainer = new Trainer(dataset, config);
  const epochs: EpochSummary[] = [];
  const result = await new Trainer(dataset, config, { callbacks: [{ onEpochEnd: (s) => void epochs.push(s) }] }).fit();
  assert.equal(result.stopReason, 'early_stopping', `ran ${result.epochsTrained} epochs`);
  const losses = epochs.map((e) => e.valLoss as number);
  const bestIndex = losses.indexOf(Math.min(...losses));
  assert.equal(result.bestEpoch, bestIndex + 1);
  assert.equal(result.bestValLoss, losses[bestIndex]);
  assert.equal(result.epochsTrained, result.bestEpoch! + 2);
  // and a trainer restarted with the same seed reproduces the loop bit for bit
  const again = await trainer.fit();
  assert.deepEqual(again, result);
  trainer.loadWeights(trainer.bestStateDict());
  const pred = trainer.predictScaled(dataset.val);
  let sum = 0;
  for (let i = 0; i < pred.length; i++) sum += (pred[i] - dataset.val.y[i]) ** 2;
  assert.equal(sum / pred.length, result.bestValLoss);
});

test('schedules change the lr as torch would: step halves it every 2 epochs; clipping off and adamw run', { skip: ashare.skip }, async () => {
  const config = parseTrainConfig({
    ...SMALL,
    training: { epochs: 5, patience: 0, gradClip: 0, optimizer: 'adamw', weightDecay: 0.01, scheduler: { type: 'step', stepSize: 2, gamma: 0.5 } },
  });
  const lrs: number[] = [];
  await new Trainer(buildDataset(series, config.dataset), config, { callbacks: [{ onEpochEnd: (s) => void lrs.push(s.lr) }] }).fit();
  assert.deepEqual(lrs, [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4]);
});

test('Forecaster: fit → predict → save → load gives the same forecast; a run-folder fit loads back; transformer trains', { skip: ashare.skip }, async () => {
  const f = new Forecaster({ ...SMALL, dataset: { seqLength: 10, horizon: 2 }, training: { epochs: 2 } });
  assert.throws(() => f.predict(series), /not fitted/);
  await f.fit(series);
  const forecast = f.predict(series);
  assert.equal(forecast.asOf, series.dates.at(-1));
  assert.equal(forecast.steps.length, 2);
  for (const s of forecast.steps) assert.ok(Math.abs(s.price - forecast.lastClose * Math.exp(s.return)) < 1e-9);
  const dir = f.save(join(root, 'saved'));
  assert.deepEqual(Forecaster.load(dir).predict(series), forecast);
  const asOf = f.predict(series, { asOf: series.dates[400] });
  assert.equal(asOf.asOf, series.dates[400]);

  const t = new Forecaster({
    ...SMALL,
    model: { modelType: 'transformer', hiddenSize: 8, numHeads: 2, dimFeedforward: 16, numLayers: 1 },
    training: { epochs: 1 },
  });
  await t.fit(series, { outputDir: join(root, 'runs'), runName: 'tf' });
  const loaded = Forecaster.load(join(root, 'runs', 'tf'));
  assert.deepEqual(loaded.predict(series), t.predict(series));
  assert.equal(loaded.config.model.modelType, 'transformer');
  assert.equal(JSON.parse(readFileSync(join(root, 'runs', 'tf', 'metadata.json'), 'utf8')).status, 'completed');
});

test(
  'Forecaster.backtest: the calendar walk-forward in memory, forecast days tile forward, pooled skill against persistence',
  { skip: ashare.skip },
  async () => {
    const f = new Forecaster({ ...SMALL, training: { epochs: 2 } });
    const bt = await f.backtest(series, { start: series.dates[330], retrain: '40d' });
    assert.equal(bt.folds.length, 3);
    for (let i = 1; i < bt.folds.length; i++)
      assert.equal(series.dates.indexOf(bt.folds[i].forecast_start), series.dates.indexOf(bt.folds[i - 1].forecast_end) + 1);
    const overall = bt.results.overall;
    assert.equal(
      overall.n_samples,
      bt.results.folds.reduce((n, x) => n + x.n_samples, 0),
    );
    assert.equal(bt.forecasts.length, overall.n_samples);
    const skill = 1 - (overall.metrics.mae as number) / (overall.baselines.persistence.mae as number);
    assert.ok(Math.abs(skill - (overall.metrics.skill as number)) < 1e-12);
  },
);

test(
  'a checkpoint written when early stopping ended the loop resumes as finished (a crash before the final model does not train on)',
  { skip: ashare.skip },
  async () => {
    const config = parseTrainConfig({ ...SMALL, training: { epochs: 40, patience: 2, learningRate: 0.02, batchSize: 16 } });
    const dataset = buildDataset(series, config.dataset);
    const manager = TrainingManager.create({ outputDir: join(root, 'early'), modelType: 'lstm', symbol: series.symbol });
    const first = await new Trainer(dataset, config, { manager }).fit();
    assert.equal(first.stopReason, 'early_stopping');
    const resumed = new Trainer(dataset, config, { manager });
    resumed.restore(manager.latestCheckpoint()!, manager.getBestCheckpointPath());
    const again = await resumed.fit();
    assert.deepEqual(again, first);
    assert.deepEqual(resumed.bestStateDict(), readSafetensors(join(manager.runDir, 'checkpoints/best/model.safetensors')).tensors);
  },
);
