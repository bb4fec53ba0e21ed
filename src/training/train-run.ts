/**
 * One training run from start to finish, as `klinecast train` runs it: load the bars, build the dataset, claim
 * out/{run}/ (or reopen it to resume), train, evaluate the best weights on the test segment, save the final model,
 * and register it. Statuses follow DESIGN.md §4: preparing → training → evaluating → completed, or failed / interrupted.
 * A new run and a resumed one differ only in how they get their config, bars and folder; the rest is one tail.
 */
import { basename, join, resolve } from 'node:path';
import { resolveDatabaseUrl, maskUrl } from '../data/db/url.js';
import { StockDataLoader } from '../data/loader.js';
import type { ExRightsEvent, KlineSeries, SeriesAdjustment } from '../data/types.js';
import { adjustSeries } from '../data/adjust.js';
import { changedCloseRanges, sliceSeries } from '../data/series.js';
import { buildDataset, buildUniverseDataset, type SkippedStock, type TrainingData } from '../features/index.js';
import type { CrossSectionResults, EvalResultsFile, Evaluation, IntervalResults, ScoreEvaluation, SignificanceResults } from '../evaluation/index.js';
import {
  RUN_FILES,
  TrainingManager,
  listCheckpointNames,
  loadRunModel,
  resolveRunRef,
  toModelConfigFile,
  type RegistryEntry,
  type RegistryMetrics,
  type TrainingArgsFile,
} from '../runs/index.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { readRunConfig, trainConfigHash, withDataSource, withRecordedData, withRecordedUniverse, withResolvedThreads, type TrainConfig } from './config.js';
import { Trainer, judgeScaled, predictWindows, type FitResult, type TrainerCallbacks } from './trainer.js';

export interface TrainingReport {
  runName: string;
  runDir: string;
  /** The stock of a single-stock run; null for a universal run. */
  symbol: string | null;
  /** The stocks a universal run trained on; null for a single-stock run. */
  stocks: number | null;
  /** A universal run's stocks left out, each with the reason (no bars, too short, no training window). */
  skipped: SkippedStock[];
  /** How a single-stock run's prices were adjusted (data.adjust) and the ex-rights days found; null unadjusted or universal. */
  adjustment: { mode: 'qfq' | 'hfq'; source: SeriesAdjustment['source']; exRights: ExRightsEvent[] } | null;
  modelType: TrainConfig['model']['modelType'];
  /**
   * What the network outputs (model/scaler.json target.kind): log_return, or a cross-sectional score
   * (cs_zscore_log_return, cs_rank_log_return) whose price, direction and skill figures are null.
   */
  target: string;
  /** The registry's config_hash of this run's config (trainConfigHash). */
  configHash: string;
  status: 'completed' | 'interrupted';
  stopReason: FitResult['stopReason'];
  interruptedBy: string | null;
  epochsTrained: number;
  bestEpoch: number | null;
  bestValLoss: number | null;
  /** Test metrics of the best weights; null when interrupted. */
  test: EvalResultsFile['test_metrics'] | null;
  baselines: EvalResultsFile['baselines'] | null;
  /** Diebold–Mariano against persistence and zero return, and direction against a coin; null when interrupted. */
  significance: SignificanceResults | null;
  /** The measured coverage of the test segment's 90% conformal interval; null without a validation segment. */
  interval: IntervalResults | null;
  /** A universal run's cross-sectional figures on the test segment (eval_results.json cross_section, without the daily series). */
  crossSection: Omit<CrossSectionResults, 'daily'> | null;
  parameters: number;
  /** Size of model/model.safetensors; null when interrupted. */
  modelBytes: number | null;
  checkpoints: number;
  trainSamples: number;
  valSamples: number;
  testSamples: number;
  seconds: number;
  /** With `register`: where the completed run was recorded in the model registry, or why it could not be. */
  registry: { registered: boolean; database: string; error: string | null } | null;
  /** About the data (a resume whose bars changed since the run began, or that cannot tell); also in logs/training.log. */
  warnings: string[];
}

export interface RunTrainingOptions {
  /** The resolved config (resolveTrainConfig) of a new run. Not given when resuming: the run's config.json is used. */
  config?: TrainConfig;
  /** Bars given directly (examples, tests, batch threads); otherwise they are loaded from the database. */
  series?: KlineSeries;
  /** The database to load from (unmasked); default: the configured one (KLINECAST_DATABASE_URL, DB_*, sqlite). */
  databaseUrl?: string;
  /** A run folder (or name inside outputDir) to continue from its newest checkpoint. */
  resume?: string;
  /** Where `resume` names its run; default out. */
  outputDir?: string;
  callbacks?: TrainerCallbacks[];
  /** Aborting it stops training after the current step, as Ctrl-C does: a last checkpoint, status interrupted. */
  signal?: AbortSignal;
  /**
   * Record the completed run in the model registry of the database its bars came from. A registry that cannot be
   * written costs a note in the report (`registry.error`), never the saved run.
   */
  register?: boolean;
  /** Told each data warning (see TrainingReport.warnings) as soon as it is known, before training starts. */
  onWarning?(message: string): void;
}

/** Loads one symbol's bars; a symbol without bars or with too few is a UserError that says what to do. */
export async function loadTrainingSeries(config: TrainConfig, databaseUrl?: string): Promise<KlineSeries> {
  const symbol = config.data.symbol;
  if (!symbol) throw new UserError('no symbol to train on: pass --symbol (a 6-digit code such as 600519)', 'bad_input');
  // Loaded here, not at the top: batch threads train series handed to them and never need the database drivers.
  const { openDatabase } = await import('../data/db/connection.js');
  const handle = await openDatabase(databaseUrl);
  try {
    const series = await new StockDataLoader(handle).loadSeries(symbol, config.data.startDate ?? undefined, config.data.endDate ?? undefined, {
      adjust: config.data.adjust,
    });
    if (series.dates.length === 0) {
      const range =
        config.data.startDate || config.data.endDate ? ` between ${config.data.startDate ?? 'the start'} and ${config.data.endDate ?? 'the end'}` : '';
      throw new UserError(
        `no bars for ${symbol}${range} in ${handle.url}; import data (klinecast data import) or create the demo market (klinecast data demo)`,
        'no_data',
      );
    }
    return series;
  } finally {
    await handle.close();
  }
}

function trainingArgs(config: TrainConfig, dataset: TrainingData, fit: FitResult): TrainingArgsFile {
  const t = config.training;
  return {
    epochs: t.epochs,
    batch_size: t.batchSize,
    learning_rate: t.learningRate,
    optimizer: t.optimizer,
    weight_decay: t.weightDecay,
    loss: t.loss,
    patience: t.patience,
    grad_clip: t.gradClip,
    scheduler: t.scheduler,
    seed: t.seed,
    metric_for_best_model: t.metricForBestModel,
    train_samples: dataset.train.size,
    val_samples: dataset.val.size,
    test_samples: dataset.test.size,
    best_val_loss: fit.bestValLoss,
    best_epoch: fit.bestEpoch,
    epochs_trained: fit.epochsTrained,
    global_step: fit.globalStep,
    stop_reason: fit.stopReason,
  };
}

/**
 * The database a saved run read from, when no --database is given: its recorded URL, or, when that URL had a password
 * (saved masked), the configured one if it is the same database; otherwise the user must name it.
 */
export function savedDatabaseUrl(config: TrainConfig): string | undefined {
  const recorded = config.data.database;
  if (!recorded) return undefined;
  if (!recorded.includes('***')) return recorded;
  const configured = resolveDatabaseUrl();
  if (maskUrl(configured) === recorded) return configured;
  throw new UserError(`this run read its bars from ${recorded}, whose password is not saved; pass --database with that URL`, 'bad_input');
}

/**
 * What a resume (or eval) says about the bars it reloaded: the date ranges whose closes differ from the recorded
 * checksums, or, for a run recorded without them, once, that such a change cannot be seen. Empty when all is the same.
 */
export function recordedDataWarnings(config: TrainConfig, series: Pick<KlineSeries, 'dates' | 'close' | 'adjustment'>): string[] {
  const { symbol, firstDate, lastDate, rows, closeChecksums } = config.data;
  if (!closeChecksums) {
    return [
      `the config.json of this run records no close checksums (written before klinecast kept them): bars of ${symbol} that changed inside ` +
        `${firstDate}..${lastDate} cannot be detected, only their count (${rows})`,
    ];
  }
  const ranges = changedCloseRanges(closeChecksums.blocks, series, closeChecksums.blockSize);
  return ranges.length ? [changedBarsWarning([{ symbol: symbol ?? series.dates[0], ranges }], closeChecksums.blockSize)] : [];
}

/** At most this many stocks are named in one warning about changed bars (a whole re-imported market would be thousands). */
const NAMED_STOCKS = 20;

function changedBarsWarning(changed: Array<{ symbol: string; ranges: Array<{ firstDate: string; lastDate: string }> }>, blockSize: number): string {
  const where = (ranges: Array<{ firstDate: string; lastDate: string }>) => ranges.map((r) => `between ${r.firstDate} and ${r.lastDate}`).join(', and ');
  const tail = ` (blocks of ${blockSize} trading days); the run continues on the bars the database holds now`;
  if (changed.length === 1) return `the bars of ${changed[0].symbol} changed since this run began: bars changed ${where(changed[0].ranges)}${tail}`;
  const named = changed.slice(0, NAMED_STOCKS).map((c) => `${c.symbol} ${where(c.ranges)}`);
  const more = changed.length > NAMED_STOCKS ? `; and ${changed.length - NAMED_STOCKS} more stock(s)` : '';
  return `the bars of ${changed.length} stocks changed since this run began: ${named.join('; ')}${more}${tail}`;
}

/**
 * The bars a saved run was trained on: its recorded range from the database. Resume and eval need identical data; a
 * different row count means the database changed and is refused, changed bars within the count are warned about.
 */
export async function loadRecordedSeries(config: TrainConfig, databaseUrl: string): Promise<KlineSeries> {
  const { rows, firstDate, lastDate } = config.data;
  const pinned: TrainConfig = { ...config, data: { ...config.data, startDate: firstDate ?? config.data.startDate, endDate: lastDate ?? config.data.endDate } };
  const series = await loadTrainingSeries(pinned, databaseUrl);
  if (rows !== null && series.dates.length !== rows) {
    throw new UserError(
      `the run was trained on ${rows} bars of ${config.data.symbol} (${firstDate}..${lastDate}), the database now has ${series.dates.length} in that range`,
      'data_changed',
    );
  }
  return series;
}

/**
 * A universal run's bars: its stocks (resolved from data.symbols and data.stockType, or, with `recorded`, exactly the
 * recorded universe, each pinned to its recorded range) streamed from the database in one query. Symbols without bars
 * come back in `missing`; a recorded stock whose row count changed is refused, naming it.
 */
export async function loadUniverseSeries(
  config: TrainConfig,
  databaseUrl: string,
  recorded: boolean,
): Promise<{ series: KlineSeries[]; missing: string[]; warnings: string[] }> {
  const [{ openDatabase }, { resolveUniverse }] = await Promise.all([import('../data/db/connection.js'), import('../data/universe.js')]);
  const handle = await openDatabase(databaseUrl);
  try {
    const pinned = recorded ? config.data.universe : null;
    const symbols = pinned ? pinned.map((m) => m.symbol) : await resolveUniverse(handle, config.data.symbols ?? 'all', config.data.stockType);
    const start = pinned ? pinned.reduce((d, m) => (m.firstDate < d ? m.firstDate : d), pinned[0].firstDate) : (config.data.startDate ?? undefined);
    const end = pinned ? pinned.reduce((d, m) => (m.lastDate > d ? m.lastDate : d), pinned[0].lastDate) : (config.data.endDate ?? undefined);
    const byRange = new Map(pinned?.map((m) => [m.symbol, m]));
    const series: KlineSeries[] = [];
    const changed: string[] = [];
    const changedBars: Array<{ symbol: string; ranges: Array<{ firstDate: string; lastDate: string }> }> = [];
    let blockSize = 0;
    let unchecked = 0;
    const loader = new StockDataLoader(handle);
    const adjust = config.data.adjust;
    for await (const loaded of loader.streamSeries({ symbols, start, end })) {
      const range = byRange.get(loaded.symbol);
      if (!range) {
        series.push(await loader.adjustRange(loaded, adjust));
        continue;
      }
      const from = loaded.dates.findIndex((d) => d >= range.firstDate);
      let to = loaded.dates.length;
      while (to > 0 && loaded.dates[to - 1] > range.lastDate) to--;
      // Adjusted over the stock's own recorded range, as training read it, so a qfq anchor is the same bar again.
      const own = await loader.adjustRange(sliceSeries(loaded, Math.max(0, from), to), adjust);
      if (own.dates.length !== range.rows) changed.push(`${loaded.symbol} (${range.rows} bars ${range.firstDate}..${range.lastDate}, now ${own.dates.length})`);
      else if (!range.closeChecksums) unchecked++;
      else {
        blockSize = range.closeChecksums.blockSize;
        const ranges = changedCloseRanges(range.closeChecksums.blocks, own, blockSize);
        if (ranges.length) changedBars.push({ symbol: loaded.symbol, ranges });
      }
      series.push(own);
    }
    if (changed.length) throw new UserError(`the run was trained on other bars than the database now holds: ${changed.join('; ')}`, 'data_changed');
    const seen = new Set(series.map((x) => x.symbol));
    const missing = symbols.filter((x) => !seen.has(x));
    if (pinned && missing.length) throw new UserError(`the run's stocks ${missing.join(', ')} have no bars in the database any more`, 'data_changed');
    const warnings: string[] = [];
    if (unchecked > 0) {
      warnings.push(
        `the config.json of this run records no close checksums for ${unchecked} of its stocks (written before klinecast kept them): ` +
          `their bars that changed inside the recorded ranges cannot be detected, only their counts`,
      );
    }
    if (changedBars.length) warnings.push(changedBarsWarning(changedBars, blockSize));
    return { series, missing, warnings };
  } finally {
    await handle.close();
  }
}

/** The universal dataset of a run's config (fresh, or pinned to its recorded universe), with what was left out and why. */
async function universeData(config: TrainConfig, databaseUrl: string, recorded: boolean) {
  const { series, missing, warnings } = await loadUniverseSeries(config, databaseUrl, recorded);
  const dataset = buildUniverseDataset(series, config.dataset);
  const skipped: SkippedStock[] = [...missing.map((symbol) => ({ symbol, reason: 'no bars in the database' })), ...dataset.skipped];
  return { dataset, skipped, series, warnings };
}

/** What a run needs before its loop starts: config, data and its folder, however the run began. */
interface PreparedRun {
  config: TrainConfig;
  dataset: TrainingData;
  /** The first line of logs/training.log about the data. */
  describe: string;
  stocks: number | null;
  skipped: SkippedStock[];
  manager: TrainingManager;
  adjustment: TrainingReport['adjustment'];
  /** The unmasked URL the bars came from; null when they were handed in. */
  databaseUrl: string | null;
  resumed: boolean;
  /** About the data, for the user and logs/training.log (a resume whose bars changed since the run began). */
  warnings: string[];
}

function adjustmentOf(series: KlineSeries): TrainingReport['adjustment'] {
  const a = series.adjustment;
  return a ? { mode: a.mode, source: a.source, exRights: a.exRights } : null;
}

/** "qfq from pre_close: 2 ex-rights days (2022-06-15 ×1.0213, 2023-05-10 ×1.5)", for the first line of training.log. */
function describeAdjustment(series: KlineSeries): string {
  const a = series.adjustment;
  if (!a) return 'prices as stored (adjust none)';
  const days = a.exRights.map((e) => `${e.date} ×${Number(e.step.toPrecision(5))}`);
  return `${a.mode} from ${a.source}: ${days.length} ex-rights day${days.length === 1 ? '' : 's'}${days.length ? ` (${days.slice(0, 8).join(', ')}${days.length > 8 ? ', …' : ''})` : ''}`;
}

function describeWindows(dataset: TrainingData): string {
  return `${dataset.featureNames.length} features, windows train/val/test ${dataset.train.size}/${dataset.val.size}/${dataset.test.size}`;
}

async function startRun(config: TrainConfig, options: RunTrainingOptions): Promise<PreparedRun> {
  // 'auto' becomes this machine's number here, so config.json, the config hash and a resume elsewhere all use it.
  config = withResolvedThreads(config);
  const databaseUrl = options.series ? null : resolveDatabaseUrl(options.databaseUrl);
  if (databaseUrl !== null) config = withDataSource(config, databaseUrl);
  let dataset: TrainingData;
  let describe: string;
  let members: string[] | null = null;
  let skipped: SkippedStock[] = [];
  let adjustment: TrainingReport['adjustment'] = null;
  if (config.data.symbols !== null) {
    if (databaseUrl === null) throw new Error('startRun: a universal run loads its stocks from a database');
    const universe = await universeData(config, databaseUrl, false);
    config = withRecordedUniverse(config, universe.dataset.universe, universe.series);
    dataset = universe.dataset;
    members = universe.dataset.members;
    skipped = universe.skipped;
    const left = skipped.length ? `; skipped ${skipped.map((x) => `${x.symbol} (${x.reason})`).join(', ')}` : '';
    describe = `universe of ${members.length} stocks, split at ${universe.dataset.boundaries.valStart ?? '-'} / ${universe.dataset.boundaries.testStart ?? '-'}, ${describeWindows(dataset)}${left}`;
  } else {
    // Bars handed in raw are adjusted here (from pre_close: there is no adj_factor table to read); loaded ones already are.
    const series = options.series ? adjustSeries(options.series, config.data.adjust) : await loadTrainingSeries(config, databaseUrl as string);
    if (config.data.symbol === null) config = { ...config, data: { ...config.data, symbol: series.symbol } };
    config = withRecordedData(config, series);
    adjustment = adjustmentOf(series);
    // Validate the data before any folder exists: a bad symbol or too short a history leaves nothing behind.
    dataset = buildDataset(series, config.dataset);
    describe = `${series.symbol}: ${series.dates.length} bars ${series.dates[0]}..${series.dates[series.dates.length - 1]}, ${describeAdjustment(series)}, ${describeWindows(dataset)}`;
  }
  const manager = TrainingManager.create({
    outputDir: config.output.outputDir,
    runName: config.output.runName ?? undefined,
    symbol: config.data.symbol,
    modelType: config.model.modelType,
    dataSource: config.data.database,
    config,
    saveTotalLimit: config.training.saveTotalLimit,
  });
  if (members !== null) manager.updateStatus('initialized', { universe: { stocks: members.length, symbols: members } });
  return { config, dataset, describe, stocks: members?.length ?? null, skipped, manager, adjustment, databaseUrl, resumed: false, warnings: [] };
}

/** The data a saved run was trained on, rebuilt: its recorded bars (one stock) or its recorded universe. */
async function recordedData(
  config: TrainConfig,
  databaseUrl: string | null,
  series?: KlineSeries,
): Promise<{ dataset: TrainingData; members: string[] | null; skipped: SkippedStock[]; adjustment: TrainingReport['adjustment']; warnings: string[] }> {
  if (config.data.universe) {
    if (databaseUrl === null) throw new Error('a universal run reloads its stocks from a database');
    const { dataset, skipped, warnings } = await universeData(config, databaseUrl, true);
    return { dataset, members: dataset.members, skipped, adjustment: null, warnings };
  }
  const bars = series ? adjustSeries(series, config.data.adjust) : await loadRecordedSeries(config, databaseUrl as string);
  return {
    dataset: buildDataset(bars, config.dataset),
    members: null,
    skipped: [],
    adjustment: adjustmentOf(bars),
    warnings: recordedDataWarnings(config, bars),
  };
}

async function resumeRun(ref: string, options: RunTrainingOptions): Promise<PreparedRun> {
  const runDir = resolveRunRef(ref, options.outputDir);
  const config = readRunConfig(runDir);
  const info = TrainingManager.loadRun(runDir);
  if (info.status === 'completed') throw new UserError(`run ${info.name} is already completed; nothing to resume`, 'run_completed');
  const databaseUrl = options.series ? null : (options.databaseUrl ?? savedDatabaseUrl(config) ?? resolveDatabaseUrl());
  const { dataset, members, skipped, adjustment, warnings } = await recordedData(config, databaseUrl, options.series);
  const manager = TrainingManager.open(runDir, { saveTotalLimit: config.training.saveTotalLimit });
  return {
    config,
    dataset,
    describe: describeWindows(dataset),
    stocks: members?.length ?? null,
    skipped,
    manager,
    adjustment,
    databaseUrl,
    resumed: true,
    warnings,
  };
}

function withoutDaily(cross: CrossSectionResults | undefined): Omit<CrossSectionResults, 'daily'> | null {
  if (!cross) return null;
  const { daily: _daily, ...summary } = cross;
  return summary;
}

/** What the registry and the batch summary keep of a training run: best validation loss, epochs and the test metrics. */
export function reportMetrics(report: TrainingReport): RegistryMetrics {
  const metrics: RegistryMetrics = { best_val_loss: report.bestValLoss, epochs: report.epochsTrained };
  for (const [k, v] of Object.entries(report.test ?? {})) if (typeof v === 'number' || v === null) metrics[k] = v;
  return metrics;
}

/** The model-registry row of a completed run, as every way of training one registers it. */
export function registryEntryOf(report: TrainingReport): Pick<RegistryEntry, 'runName' | 'symbol' | 'modelType' | 'configHash' | 'metrics' | 'path'> {
  return {
    runName: report.runName,
    symbol: report.symbol,
    modelType: report.modelType,
    configHash: report.configHash,
    metrics: reportMetrics(report),
    path: resolve(report.runDir),
  };
}

async function registerReport(report: TrainingReport, databaseUrl: string): Promise<TrainingReport['registry']> {
  const database = maskUrl(databaseUrl);
  try {
    const [{ withDatabase }, { registerCompleted }] = await Promise.all([import('../data/db/connection.js'), import('../runs/registry.js')]);
    await withDatabase(databaseUrl, (handle) => registerCompleted(handle, registryEntryOf(report)));
    return { registered: true, database, error: null };
  } catch (err) {
    return { registered: false, database, error: (err as Error).message };
  }
}

/** Trains one model and writes the whole run folder. Returns the summary `klinecast train` prints. */
export async function runTraining(options: RunTrainingOptions): Promise<TrainingReport> {
  const started = performance.now();
  if (!options.resume && !options.config) throw new Error('runTraining: a config is required for a new run');
  const { config, dataset, describe, stocks, skipped, manager, adjustment, databaseUrl, resumed, warnings } = options.resume
    ? await resumeRun(options.resume, options)
    : await startRun(options.config as TrainConfig, options);

  for (const warning of warnings) {
    manager.saveTrainingLog(`warning: ${warning}`);
    options.onWarning?.(warning);
  }

  let trainer: Trainer | undefined;
  try {
    manager.updateStatus('preparing');
    trainer = new Trainer(dataset, config, { manager, callbacks: options.callbacks, signal: options.signal });
    const checkpoint = resumed ? manager.latestCheckpoint() : null;
    if (checkpoint) {
      trainer.restore(checkpoint, manager.resumeBestFrom(checkpoint));
      manager.rewindTo(trainer.epochsCompleted);
      manager.saveTrainingLog(`resuming from ${manager.relative(checkpoint.path)} (epoch ${trainer.epochsCompleted} complete)`);
      manager.updateStatus('training', { resumed_from: manager.relative(checkpoint.path) });
    } else if (resumed) {
      manager.rewindTo(0);
      manager.saveTrainingLog('no readable checkpoint: training from the start');
      manager.updateStatus('training');
    } else {
      manager.saveTrainingLog(describe);
      manager.updateStatus('training');
    }

    const fit = await trainer.fit();
    const base = {
      runName: manager.runName,
      runDir: manager.runDir,
      symbol: dataset.symbol,
      stocks,
      skipped,
      adjustment,
      modelType: config.model.modelType,
      target: dataset.scalerBundle.target.kind,
      configHash: trainConfigHash(config),
      stopReason: fit.stopReason,
      interruptedBy: fit.interruptedBy,
      epochsTrained: fit.epochsTrained,
      bestEpoch: fit.bestEpoch,
      bestValLoss: fit.bestValLoss,
      parameters: trainer.parameterCount,
      trainSamples: dataset.train.size,
      valSamples: dataset.val.size,
      testSamples: dataset.test.size,
      registry: null,
      warnings,
    };
    if (fit.stopReason === 'interrupted') {
      manager.updateStatus('interrupted', { epochs_trained: fit.epochsTrained, interrupted_by: fit.interruptedBy });
      return {
        ...base,
        status: 'interrupted',
        test: null,
        baselines: null,
        significance: null,
        interval: null,
        crossSection: null,
        modelBytes: null,
        checkpoints: listCheckpointNames(manager.runDir).length,
        seconds: (performance.now() - started) / 1000,
      };
    }

    manager.updateStatus('evaluating', { epochs_trained: fit.epochsTrained, best_val_loss: fit.bestValLoss, stop_reason: fit.stopReason });
    trainer.loadWeights(trainer.bestStateDict(), 'best weights');
    const intervals = trainer.calibrate(dataset.val);
    const evaluation = trainer.judge(dataset.test, intervals);
    manager.saveEvaluationResults({ ...evaluation.results, best_epoch: fit.bestEpoch, model_type: config.model.modelType, symbol: dataset.symbol });
    manager.savePredictions({ ...evaluation.predictions, symbol: dataset.symbol });
    const modelConfig = toModelConfigFile(trainer.modelConfig, {
      featureNames: dataset.featureNames,
      seqLength: dataset.seqLength,
      horizon: dataset.horizon,
      target: dataset.scalerBundle.target.kind,
      stocks: trainer.modelConfig.stockEmbeddingDim > 0 ? [...(dataset.members ?? [])] : null,
    });
    manager.saveModel(trainer.weights(), modelConfig, trainingArgs(config, dataset, fit), dataset.scalerBundle, intervals);
    const t = evaluation.results.test_metrics;
    manager.saveTrainingLog(`test: mae=${t.mae} rmse=${t.rmse} direction=${t.direction_accuracy} skill vs persistence=${t.skill}`);
    manager.updateStatus('completed');
    const report: TrainingReport = {
      ...base,
      status: 'completed',
      test: evaluation.results.test_metrics,
      baselines: evaluation.results.baselines,
      significance: evaluation.results.significance ?? null,
      interval: evaluation.results.interval ?? null,
      crossSection: withoutDaily(evaluation.results.cross_section),
      modelBytes: manager.getSummary().modelBytes,
      checkpoints: listCheckpointNames(manager.runDir).length,
      seconds: (performance.now() - started) / 1000,
    };
    if (options.register && databaseUrl !== null) report.registry = await registerReport(report, databaseUrl);
    return report;
  } catch (err) {
    try {
      manager.updateStatus('failed', { error: err });
    } catch {
      // The disk may be full: the error that stopped training is the one to report, not this one.
    }
    throw err;
  } finally {
    trainer?.dispose();
  }
}

export interface RunEvaluation {
  runName: string;
  runDir: string;
  evaluation: Evaluation | ScoreEvaluation;
  /** The test MAE written when the run was trained, to compare with the fresh one. */
  previousMae: number | null;
  /** About the reloaded bars (see TrainingReport.warnings). */
  warnings: string[];
}

/**
 * `klinecast eval <run>`: rebuilds the run's dataset from the database (its recorded range), loads model/ and
 * scores it on the test segment again, rewriting results/. The features must still scale exactly as saved.
 */
export async function evaluateRun(ref: string, options: { outputDir?: string; databaseUrl?: string; series?: KlineSeries } = {}): Promise<RunEvaluation> {
  const runDir = resolveRunRef(ref, options.outputDir);
  const config = readRunConfig(runDir);
  const model = loadRunModel(runDir);
  const { dataset, warnings } = await recordedData(
    config,
    options.series ? null : (options.databaseUrl ?? savedDatabaseUrl(config) ?? resolveDatabaseUrl()),
    options.series,
  );
  if (JSON.stringify(model.bundle.featureScaler) !== JSON.stringify(dataset.scalerBundle.featureScaler)) {
    throw new UserError(
      `the rebuilt features of ${config.data.symbol} no longer scale as ${RUN_FILES.scaler} says: the data changed since training`,
      'data_changed',
    );
  }
  // The embedding rows are the members in training's order: another set of members would read other stocks' rows.
  const embedded = model.inputs.stocks ?? null;
  if (embedded && JSON.stringify(embedded) !== JSON.stringify(dataset.members ?? [])) {
    throw new UserError(
      `the rebuilt universe of run ${basename(runDir)} no longer has the stocks its embedding was trained on: the data changed since training`,
      'data_changed',
    );
  }
  const evaluation = judgeScaled(dataset.test, dataset.targetScaler, predictWindows(model.network, dataset.test), model.intervals, model.bundle.target.kind);
  const previous = readJson(join(runDir, RUN_FILES.evalResults));
  const previousMae = previous.ok ? ((previous.value as EvalResultsFile).test_metrics?.mae ?? null) : null;
  const manager = TrainingManager.open(runDir);
  manager.saveEvaluationResults({ ...evaluation.results, model_type: model.config.modelType, symbol: dataset.symbol, re_evaluated: true });
  manager.savePredictions({ ...evaluation.predictions, symbol: dataset.symbol });
  manager.saveTrainingLog(`re-evaluated on the test segment: mae=${evaluation.results.test_metrics.mae} (was ${previousMae})`);
  return { runName: manager.runName, runDir, evaluation, previousMae, warnings };
}
