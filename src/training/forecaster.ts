/**
 * A Darts-like surface for one forecaster: fit / predict / save / load / backtest. It is thin on purpose: fit is the
 * Trainer (in memory) or runTraining (a full out/{run}/ folder), predict is one forward pass on the saved scaler's
 * input window, backtest is the calendar walk-forward of `klinecast backtest` in memory.
 *
 *   const f = new Forecaster({ model: { modelType: 'gru' }, training: { epochs: 20 } });
 *   await f.fit(series);                        // or f.fit(series, { outputDir: 'out' }) for a run folder
 *   f.predict(series);                          // next-day (…horizon) log returns and prices
 *   f.save('models/600519-gru'); Forecaster.load('models/600519-gru');
 *   await f.backtest(series, { start: '2024-01-01', retrain: 'monthly' });
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IsoDate, KlineSeries } from '../data/types.js';
import { buildDataset, buildInferenceInput, reconstructPrices, type Scaler, type ScalerBundle } from '../features/index.js';
import { predict, type Network } from '../models/index.js';
import { MODEL_FILES, RUN_FILES, loadModelFolder, toModelConfigFile, writeModelFolder } from '../runs/index.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { walkForward, type BacktestSettingsInput, type WalkForwardResult } from './backtest.js';
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
   * Walk-forward backtest on the trading calendar, in memory: the same folds, training and forecasts as
   * `klinecast backtest` (src/training/backtest.ts, docs/BACKTESTING.md) without the out/backtests/ folder.
   */
  async backtest(series: KlineSeries, settings: BacktestSettingsInput = {}, options: { callbacks?: TrainerCallbacks[] } = {}): Promise<WalkForwardResult> {
    const config: TrainConfig = { ...this.config, data: { ...this.config.data, symbol: series.symbol, symbols: null } };
    return walkForward([series], config, settings, { trainerCallbacks: options.callbacks });
  }
}
