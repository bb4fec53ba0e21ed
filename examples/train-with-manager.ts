/**
 * The seed's example flow (train_with_manager.py), step by step on klinecast's programmatic API, on the demo market:
 * data → dataset → a run folder → training with checkpoints → evaluation → the final model → listing runs.
 * `klinecast train` does the same in one call (runTraining); this file shows the pieces.
 *
 *   npx tsx examples/train-with-manager.ts [--database sqlite:data/klinecast.db] [--output-dir out] [--epochs 5]
 */
import { parseArgs } from 'node:util';
import { DEMO_DEFAULTS, StockDataLoader, generateDemoMarket, migrate, withDatabase, writeDemoMarket } from '../src/data/index.js';
import { buildDataset } from '../src/features/index.js';
import { TrainingManager, toModelConfigFile } from '../src/runs/index.js';
import { Trainer, resolveTrainConfig } from '../src/training/index.js';

const { values: args } = parseArgs({
  options: {
    database: { type: 'string', default: 'sqlite:data/klinecast.db' },
    'output-dir': { type: 'string', default: 'out' },
    epochs: { type: 'string', default: '5' },
  },
});

// 1. Data: the demo market when the database holds no bars yet, then one stock's daily K-lines.
const series = await withDatabase(
  args.database,
  async (handle) => {
    await migrate(handle);
    const loader = new StockDataLoader(handle);
    if ((await loader.listSymbols()).length === 0) await writeDemoMarket(handle, generateDemoMarket(DEMO_DEFAULTS));
    const [symbol] = await loader.listSymbols();
    return loader.loadSeries(symbol);
  },
  { createDatabase: true },
);
console.log(`1. loaded ${series.dates.length} bars of ${series.symbol} (${series.dates[0]} .. ${series.dates.at(-1)})`);

// 2. Config: seed defaults, made small so the example finishes in seconds.
const config = resolveTrainConfig({
  overrides: {
    data: { symbol: series.symbol, database: args.database },
    dataset: { seqLength: 30 },
    model: { modelType: 'lstm', hiddenSize: 32, numLayers: 2 },
    training: { epochs: Number(args.epochs), batchSize: 32, patience: 3 },
    output: { outputDir: args['output-dir'] },
  },
});

// 3. Dataset: features, train-only scalers, windows and next-day log-return targets.
const dataset = buildDataset(series, config.dataset);
console.log(`2. dataset: ${dataset.featureNames.length} features, windows train/val/test ${dataset.train.size}/${dataset.val.size}/${dataset.test.size}`);

// 4. The run folder out/{symbol}_{model}_{timestamp}/ with config.json and metadata.json.
const manager = TrainingManager.create({
  outputDir: config.output.outputDir,
  symbol: series.symbol,
  modelType: config.model.modelType,
  dataSource: config.data.database,
  config: { ...config, data: { ...config.data, firstDate: series.dates[0], lastDate: series.dates.at(-1), rows: series.dates.length } },
  saveTotalLimit: config.training.saveTotalLimit,
});
console.log(`3. run ${manager.runName} in ${manager.runDir}`);

// 5. Train: the Trainer logs metrics, heartbeats and checkpoints through the manager; a callback prints each epoch.
manager.updateStatus('training');
const trainer = new Trainer(dataset, config, {
  manager,
  callbacks: [
    { onEpochEnd: (e) => console.log(`   epoch ${e.epoch}: train ${e.trainLoss.toFixed(5)}  val ${e.valLoss?.toFixed(5)}${e.isBest ? '  (best)' : ''}`) },
  ],
});
const fit = await trainer.fit();
console.log(`4. trained ${fit.epochsTrained} epochs (${fit.stopReason}), best epoch ${fit.bestEpoch}, best checkpoint ${manager.getBestCheckpointPath()}`);

// 6. Evaluate the best weights on the test segment against the persistence baseline.
manager.updateStatus('evaluating');
trainer.loadWeights(trainer.bestStateDict());
const { results, predictions } = trainer.evaluate(dataset.test);
manager.saveEvaluationResults(results);
manager.savePredictions(predictions);
const t = results.test_metrics;
console.log(`5. test MAE ${t.mae?.toFixed(4)} vs persistence ${results.baselines.persistence.mae?.toFixed(4)}, skill ${((t.skill ?? 0) * 100).toFixed(2)}%`);

// 7. The final model: safetensors + pytorch_model.bin + config/training_args/scaler JSON.
manager.saveModel(
  trainer.weights(),
  toModelConfigFile(trainer.modelConfig, { featureNames: dataset.featureNames, seqLength: dataset.seqLength, horizon: dataset.horizon, target: 'log_return' }),
  {
    epochs: config.training.epochs,
    batch_size: config.training.batchSize,
    learning_rate: config.training.learningRate,
    optimizer: config.training.optimizer,
    loss: config.training.loss,
    train_samples: dataset.train.size,
    val_samples: dataset.val.size,
    test_samples: dataset.test.size,
    best_val_loss: fit.bestValLoss,
    epochs_trained: fit.epochsTrained,
  },
  dataset.scalerBundle,
);
manager.updateStatus('completed');
console.log(`6. model saved in ${manager.getModelPath()}`);

// 8. What the run store sees: this run's summary and every run in the folder.
const summary = manager.getSummary();
console.log(`7. ${summary.name}: ${summary.status}`);
for (const run of TrainingManager.listRuns(config.output.outputDir)) console.log(`   ${run.name}  ${run.status}`);
