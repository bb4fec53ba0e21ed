/**
 * A Darts-like surface for one forecaster: fit / predict / save / load / backtest. It is thin on purpose: fit is the
 * Trainer (in memory) or runTraining (a full out/{run}/ folder), predict is one forward pass on the saved scaler's
 * input window, backtest is the Trainer on each walk-forward fold.
 *
 *   const f = new Forecaster({ model: { modelType: 'gru' }, training: { epochs: 20 } });
 *   await f.fit(series);                        // or f.fit(series, { outputDir: 'out' }) for a run folder
 *   f.predict(series);                          // next-day (…horizon) log returns and prices
 *   f.save('models/600519-gru'); Forecaster.load('models/600519-gru');
 *   await f.backtest(series, { trainSize: 500, valSize: 100, testSize: 60 });
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IsoDate, KlineSeries } from '../data/types.js';
import { evaluateForecasts, type BaselineMetrics, type ModelMetrics } from '../evaluation/index.js';
import {
  buildDataset,
  buildInferenceInput,
  buildWalkForward,
  reconstructPrices,
  type Scaler,
  type ScalerBundle,
  type WalkForwardInput,
} from '../features/index.js';
import { predict, type Network } from '../models/index.js';
import { MODEL_FILES, RUN_FILES, loadModelFolder, toModelConfigFile, writeModelFolder } from '../runs/index.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { parseTrainConfig, readRunConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import { runTraining, type TrainingReport } from './train-run.js';
import { Trainer, networkWeights, type FitResult, type TrainerCallbacks } from './trainer.js';

export interface ForecastStep {
  step: number;
  /** Predicted log return from the last close. */
  return: number;
  price: number;
}

export interface PointForecast {
  symbol: string;
  /** The last bar the forecast is made after. */
  asOf: IsoDate;
  lastClose: number;
  steps: ForecastStep[];
}

export interface BacktestFold {
  fold: number;
  trainStart: IsoDate;
  testStart: IsoDate;
  testEnd: IsoDate;
  samples: number;
  epochsTrained: number;
  metrics: ModelMetrics;
  baselines: BaselineMetrics;
}

export interface BacktestResult {
  folds: BacktestFold[];
  /** Every fold's test days pooled: model against persistence on the same days. */
  overall: { samples: number; metrics: ModelMetrics; baselines: BaselineMetrics };
}

interface Fitted {
  network: Network;
  bundle: ScalerBundle;
  targetScaler: Scaler;
}

export class Forecaster {
  readonly config: TrainConfig;
  private fitted: Fitted | null = null;
  /** What the last fit() reported: the run summary when it wrote a run folder, else the loop's result. */
  lastFit: TrainingReport | FitResult | null = null;

  constructor(config: TrainConfigInput | TrainConfig = {}) {
    this.config = parseTrainConfig(config);
  }

  get isFitted(): boolean {
    return this.fitted !== null;
  }

  /**
   * Trains on one symbol's bars and keeps the best epoch's weights. With `outputDir` it is a complete run
   * (checkpoints, evaluation, model/) exactly as `klinecast train` writes it.
   */
  async fit(series: KlineSeries, options: { outputDir?: string; runName?: string; callbacks?: TrainerCallbacks[]; signal?: AbortSignal } = {}): Promise<this> {
    const config: TrainConfig = { ...this.config, data: { ...this.config.data, symbol: series.symbol } };
    if (options.outputDir) {
      const report = await runTraining({
        config: { ...config, output: { outputDir: options.outputDir, runName: options.runName ?? config.output.runName } },
        series,
        callbacks: options.callbacks,
        signal: options.signal,
      });
      this.lastFit = report;
      this.fitted = Forecaster.load(report.runDir).fitted;
      return this;
    }
    const dataset = buildDataset(series, config.dataset);
    const trainer = new Trainer(dataset, config, { callbacks: options.callbacks, signal: options.signal });
    this.lastFit = await trainer.fit();
    trainer.loadWeights(trainer.bestStateDict());
    this.fitted = { network: trainer.network, bundle: dataset.scalerBundle, targetScaler: dataset.targetScaler };
    return this;
  }

  private requireFitted(): Fitted {
    if (!this.fitted) throw new UserError('this forecaster is not fitted: call fit() or Forecaster.load() first', 'not_fitted');
    return this.fitted;
  }

  /** The next `horizon` days after the last bar (or after `asOf`): log returns and prices close·exp(r). */
  predict(series: KlineSeries, options: { asOf?: IsoDate } = {}): PointForecast {
    const { network, bundle, targetScaler } = this.requireFitted();
    const input = buildInferenceInput(series, bundle, options.asOf);
    const { returns, prices } = reconstructPrices(predict(network, input.x, 1), input.lastClose, targetScaler);
    return {
      symbol: series.symbol,
      asOf: input.lastDate,
      lastClose: input.lastClose,
      steps: returns.map((r, k) => ({ step: k + 1, return: r, price: prices[k] })),
    };
  }

  /**
   * Writes a model folder (writeModelFolder: model.safetensors, pytorch_model.bin, config.json, scaler.json) with this
   * forecaster's train_config.json. An existing folder is replaced only when it is a model folder itself.
   */
  save(dir: string): string {
    const { network, bundle } = this.requireFitted();
    if (existsSync(dir) && !existsSync(join(dir, MODEL_FILES.config)) && readdirSync(dir).length > 0) {
      throw new UserError(`cannot save a model into ${dir}: it is a folder with other files; choose a new or empty folder`, 'bad_input');
    }
    const modelConfig = toModelConfigFile(network.config, {
      featureNames: bundle.featureNames,
      seqLength: bundle.seqLength,
      horizon: bundle.horizon,
      target: bundle.target.kind,
    });
    writeModelFolder(dir, { weights: networkWeights(network), modelConfig, scaler: bundle, trainConfig: this.config });
    return dir;
  }

  /** Loads a saved model folder, or a run folder (its model/ and config.json), through the one loader (loadModelFolder). */
  static load(path: string): Forecaster {
    const isRun = existsSync(join(path, RUN_FILES.modelConfig));
    const dir = isRun ? join(path, RUN_FILES.modelDir) : path;
    if (!existsSync(join(dir, MODEL_FILES.config))) throw new UserError(`cannot load a forecaster from ${path}: no ${MODEL_FILES.config}`, 'not_found');
    const loaded = loadModelFolder(dir, { name: path });
    let trainConfig: TrainConfigInput | TrainConfig;
    if (isRun) {
      trainConfig = readRunConfig(path);
    } else {
      const saved = readJson(join(dir, MODEL_FILES.trainConfig));
      const { inputSize: _in, outputSize: _out, ...architecture } = loaded.config;
      trainConfig = saved.ok
        ? (saved.value as TrainConfigInput)
        : { model: architecture, dataset: { seqLength: loaded.bundle.seqLength, horizon: loaded.bundle.horizon, features: loaded.bundle.featureNames } };
    }
    const forecaster = new Forecaster(trainConfig);
    forecaster.fitted = { network: loaded.network, bundle: loaded.bundle, targetScaler: loaded.targetScaler };
    return forecaster;
  }

  /**
   * Walk-forward backtest (buildWalkForward): a fresh model per fold, trained on the fold's training segment with
   * early stopping on its validation segment, scored on its test segment against persistence. Scalers are fit per
   * fold on its own training rows, so no fold sees its future.
   */
  async backtest(series: KlineSeries, walkForward: WalkForwardInput, options: { callbacks?: TrainerCallbacks[] } = {}): Promise<BacktestResult> {
    const config: TrainConfig = { ...this.config, data: { ...this.config.data, symbol: series.symbol } };
    const folds: BacktestFold[] = [];
    const pooled = { dates: [] as IsoDate[], lastClose: [] as number[], actual: [] as number[], predicted: [] as number[] };
    const datasets = buildWalkForward(series, config.dataset, walkForward);
    for (let i = 0; i < datasets.length; i++) {
      const dataset = datasets[i];
      const trainer = new Trainer(dataset, config, { callbacks: options.callbacks });
      const fit = await trainer.fit();
      trainer.loadWeights(trainer.bestStateDict());
      const { results, predictions } = trainer.evaluate(dataset.test);
      const test = dataset.test;
      folds.push({
        fold: i + 1,
        trainStart: dataset.dates[dataset.segments.train.start],
        testStart: test.endDates[0],
        testEnd: test.endDates[test.size - 1],
        samples: test.size,
        epochsTrained: fit.epochsTrained,
        metrics: results.test_metrics,
        baselines: results.baselines,
      });
      for (const r of predictions.records) {
        pooled.dates.push(r.date);
        pooled.lastClose.push(r.last_close);
        pooled.actual.push(r.actual_return);
        pooled.predicted.push(r.predicted_return);
      }
    }
    const h = config.dataset.horizon;
    const { results } = evaluateForecasts({
      dates: pooled.dates.filter((_, k) => k % h === 0),
      lastClose: pooled.lastClose.filter((_, k) => k % h === 0),
      actualReturns: pooled.actual,
      predictedReturns: pooled.predicted,
      split: 'walk_forward_test',
    });
    return { folds, overall: { samples: results.n_samples, metrics: results.test_metrics, baselines: results.baselines } };
  }
}
