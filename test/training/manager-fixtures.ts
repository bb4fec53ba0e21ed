/** Shared by the training tests: fake weights and a complete run written through the public TrainingManager API. */
import type { NamedTensor } from '../../src/engine/io/index.js';
import { evaluateForecasts } from '../../src/evaluation/index.js';
import { TrainingManager, type ModelConfigFile, type TrainingArgsFile, type TrainerStateInput } from '../../src/runs/index.js';

export function fakeWeights(seed: number): Record<string, NamedTensor> {
  const fill = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7 + i * 0.37 + k));
  return {
    'rnn.weight_ih_l0': { dtype: 'F32', shape: [16, 3], data: fill(48, 1) },
    'rnn.bias_ih_l0': { dtype: 'F32', shape: [16], data: fill(16, 2) },
    'fc.0.weight': { dtype: 'F32', shape: [2, 4], data: fill(8, 3) },
    'fc.0.bias': { dtype: 'F32', shape: [2], data: fill(2, 4) },
  };
}

export function fakeOptimizer(seed: number): Record<string, NamedTensor> {
  return {
    'exp_avg.fc.0.bias': { dtype: 'F32', shape: [2], data: Float32Array.of(seed, -seed) },
    step: { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(seed * 10)) },
  };
}

export function trainerState(epoch: number, best: number | null): TrainerStateInput {
  return {
    global_step: epoch * 10,
    best_metric: best,
    metric_for_best_model: 'val_loss',
    greater_is_better: false,
    early_stopping: { patience: 10, best_metric: best, epochs_without_improvement: 0 },
    scheduler: { type: 'reduce_on_plateau', last_epoch: epoch, lr: 0.001 },
  };
}

export const MODEL_CONFIG: ModelConfigFile = {
  model_type: 'lstm',
  input_size: 3,
  hidden_size: 4,
  num_layers: 1,
  dropout: 0,
  output_size: 2,
  head_hidden_size: 2,
  feature_names: ['close', 'vol', 'rsi_6'],
  seq_length: 5,
  horizon: 1,
  target: 'log_return',
};

/** val losses per epoch: best at epoch 2, then no improvement. */
export const VAL_LOSSES = [0.9, 0.5, 0.6, 0.7, 0.8];

/** A completed run with 5 epochs, save_total_limit 2, a final model and evaluation results. */
export function writeCompletedRun(
  outputDir: string,
  options: { symbol?: string; modelType?: string; runName?: string; maeScale?: number } = {},
): TrainingManager {
  const manager = TrainingManager.create({
    outputDir,
    symbol: options.symbol ?? '600000',
    modelType: options.modelType ?? 'lstm',
    runName: options.runName,
    dataSource: 'sqlite:data/test.db',
    saveTotalLimit: 2,
    config: { symbol: options.symbol ?? '600000', model: options.modelType ?? 'lstm', seed: 42, epochs: 5, lr: 0.001, batch_size: 32 },
  });
  manager.updateStatus('preparing');
  manager.updateStatus('training');
  let best = Infinity;
  VAL_LOSSES.forEach((val, i) => {
    const epoch = i + 1;
    manager.logMetrics(epoch, { train_loss: 1 / epoch, val_loss: val, lr: 0.001 }, 'train');
    const isBest = val < best;
    if (isBest) best = val;
    manager.saveCheckpoint({
      weights: fakeWeights(epoch),
      optimizerState: fakeOptimizer(epoch),
      optimizerMetadata: { betas: '0.9,0.999' },
      trainerState: trainerState(epoch, best),
      rngState: { seed: 42, state: [String(epoch), '12345678901234567890'] },
      epoch,
      metrics: { train_loss: 1 / epoch, val_loss: val },
      isBest,
    });
    manager.heartbeat();
  });
  manager.saveModel(
    { stateDict: () => fakeWeights(2) },
    MODEL_CONFIG,
    {
      epochs: 5,
      batch_size: 32,
      learning_rate: 0.001,
      optimizer: 'adam',
      loss: 'mse',
      train_samples: 100,
      val_samples: 20,
      test_samples: 3,
      best_val_loss: 0.5,
      epochs_trained: 5,
    } satisfies TrainingArgsFile,
    { type: 'standard', mean: [1, 2, 3], scale: [1, 1, 1] },
  );
  manager.updateStatus('evaluating');
  const scale = options.maeScale ?? 1;
  const { results, predictions } = evaluateForecasts({
    dates: ['2024-01-02', '2024-01-03', '2024-01-04'],
    lastClose: [10, 10.5, 10.2],
    actualReturns: [0.02, -0.01, 0.03],
    predictedReturns: [0.01 * scale, -0.005 * scale, 0.01 * scale],
  });
  manager.saveEvaluationResults(results);
  manager.savePredictions(predictions);
  manager.updateStatus('completed');
  return manager;
}

/**
 * Every file of a completed run folder (DESIGN.md §4), sorted, for the given checkpoint folders besides best/;
 * `intervals`: a run trained with a validation segment also has its conformal calibration, model/intervals.json.
 */
export function runLayout(checkpoints: string[], options: { intervals?: boolean } = {}): string[] {
  return [
    ...['best', ...checkpoints].flatMap((c) =>
      ['model.safetensors', 'optimizer.safetensors', 'rng_state.json', 'trainer_state.json'].map((f) => `checkpoints/${c}/${f}`),
    ),
    'config.json',
    'logs/metrics.json',
    'logs/training.log',
    'metadata.json',
    'model/config.json',
    ...(options.intervals ? ['model/intervals.json'] : []),
    'model/model.safetensors',
    'model/pytorch_model.bin',
    'model/scaler.json',
    'model/training_args.json',
    'results/eval_results.json',
    'results/predictions.json',
  ].sort();
}
