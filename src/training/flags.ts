/**
 * The training fields, one table for everything that trains: the CLI's `train` and `batch` (and through batch the
 * queue), and the API's POST /api/v1/training. Each entry is a flag name → TrainConfig path, so every
 * hyper-parameter has exactly one flag and one API field (the flag in snake_case), and an error about a field names it.
 * The CLI parses the flags (src/cli/train-flags.ts); the server builds its request schema from the same entries.
 */
export type TrainingFieldKind = 'int' | 'number' | 'string' | 'list' | 'split' | 'symbols' | 'threads';

/** flag → config path. The flag's own name is what an error about that field mentions. */
export interface TrainingFlag {
  flag: string;
  path: string;
  kind: TrainingFieldKind;
  help: string;
  /** `run`: what one `train` run is about (its stock or universe, its folder); `batch` defines its own for these. */
  scope?: 'run';
  /** The API's name for the field when it is not the flag in snake_case (model_type was shipped before the table). */
  api?: string;
  /** Not a field of API requests: where runs go and how many threads a job uses are the server's choice. */
  cliOnly?: boolean;
}

/** flag → config path, for every hyper-parameter: train, batch, the queue and the API take exactly these. */
export const TRAINING_FLAGS: readonly TrainingFlag[] = [
  { flag: 'symbol', path: 'data.symbol', kind: 'string', help: 'stock code: 600519, 600519.SH or sh600519', scope: 'run' },
  {
    flag: 'symbols',
    path: 'data.symbols',
    kind: 'symbols',
    help: 'a universal model over many stocks: all | CODE,CODE | @file (codes separated by commas or blanks)',
    scope: 'run',
  },
  {
    flag: 'stock-type',
    path: 'data.stockType',
    kind: 'string',
    help: 'with --symbols: only stocks of this board (stock_basic_info.stock_type, e.g. 主板)',
    scope: 'run',
  },
  { flag: 'start', path: 'data.startDate', kind: 'string', help: 'first trading date to load (YYYY-MM-DD)' },
  { flag: 'end', path: 'data.endDate', kind: 'string', help: 'last trading date to load (YYYY-MM-DD)' },
  {
    flag: 'adjust',
    path: 'data.adjust',
    kind: 'string',
    help: 'price adjustment: qfq (前复权) | hfq (后复权) | none; from adj_factor, else pre_close (default qfq)',
  },
  { flag: 'model', path: 'model.modelType', kind: 'string', help: 'lstm | gru | transformer (default lstm)', api: 'model_type' },
  { flag: 'seq-length', path: 'dataset.seqLength', kind: 'int', help: 'days in one input window (default 60)' },
  { flag: 'horizon', path: 'dataset.horizon', kind: 'int', help: 'days predicted directly (default 1)' },
  { flag: 'features', path: 'dataset.features', kind: 'list', help: 'comma-separated feature names (default: the 50-feature set)' },
  { flag: 'split', path: 'dataset.split', kind: 'split', help: 'train,val,test ratios (default 0.7,0.15,0.15)' },
  { flag: 'hidden-size', path: 'model.hiddenSize', kind: 'int', help: 'LSTM/GRU hidden size or Transformer d_model (default 128)' },
  { flag: 'num-layers', path: 'model.numLayers', kind: 'int', help: 'stacked layers (default 2)' },
  { flag: 'dropout', path: 'model.dropout', kind: 'number', help: 'dropout (default 0.2)' },
  { flag: 'head-hidden-size', path: 'model.headHiddenSize', kind: 'int', help: 'hidden units of the MLP head (default 64)' },
  { flag: 'num-heads', path: 'model.numHeads', kind: 'int', help: 'Transformer attention heads (default 4)' },
  { flag: 'dim-feedforward', path: 'model.dimFeedforward', kind: 'int', help: 'Transformer feed-forward size (default 512)' },
  {
    flag: 'stock-embedding-dim',
    path: 'model.stockEmbeddingDim',
    kind: 'int',
    help: 'with --symbols: a learned stock embedding of this width added to every step, 0 = off (default 0)',
  },
  {
    flag: 'target-norm',
    path: 'dataset.targetNorm',
    kind: 'string',
    help: 'with --symbols: the target per date across stocks: none | zscore | rank (then predictions are scores, not returns; default none)',
  },
  { flag: 'epochs', path: 'training.epochs', kind: 'int', help: 'maximum epochs (default 50)' },
  { flag: 'batch-size', path: 'training.batchSize', kind: 'int', help: 'windows per step (default 32)' },
  { flag: 'lr', path: 'training.learningRate', kind: 'number', help: 'learning rate (default 1e-3)' },
  { flag: 'optimizer', path: 'training.optimizer', kind: 'string', help: 'adam | adamw (default adam)' },
  { flag: 'weight-decay', path: 'training.weightDecay', kind: 'number', help: 'weight decay (default 0)' },
  { flag: 'loss', path: 'training.loss', kind: 'string', help: 'mse | huber | mae (default mse)' },
  { flag: 'patience', path: 'training.patience', kind: 'int', help: 'early-stopping patience in epochs, 0 = off (default 10)' },
  { flag: 'grad-clip', path: 'training.gradClip', kind: 'number', help: 'max gradient norm, 0 = off (default 1.0)' },
  { flag: 'scheduler', path: 'training.scheduler.type', kind: 'string', help: 'none | plateau | step | cosine (default none)' },
  { flag: 'scheduler-factor', path: 'training.scheduler.factor', kind: 'number', help: 'plateau: lr factor (default 0.5)' },
  { flag: 'scheduler-patience', path: 'training.scheduler.patience', kind: 'int', help: 'plateau: epochs to wait (default 5)' },
  { flag: 'step-size', path: 'training.scheduler.stepSize', kind: 'int', help: 'step: epochs between decays (default 10)' },
  { flag: 'gamma', path: 'training.scheduler.gamma', kind: 'number', help: 'step: decay factor (default 0.5)' },
  { flag: 't-max', path: 'training.scheduler.tMax', kind: 'int', help: 'cosine: period in epochs (default: epochs)' },
  { flag: 'eta-min', path: 'training.scheduler.etaMin', kind: 'number', help: 'cosine: minimum lr (default 0)' },
  { flag: 'checkpoint-interval', path: 'training.checkpointInterval', kind: 'int', help: 'checkpoint every N epochs (default 1)' },
  { flag: 'save-total-limit', path: 'training.saveTotalLimit', kind: 'int', help: 'checkpoints kept, best/ always kept (default 3)' },
  { flag: 'metric-for-best-model', path: 'training.metricForBestModel', kind: 'string', help: 'val_loss | train_loss (default val_loss)' },
  { flag: 'seed', path: 'training.seed', kind: 'int', help: 'random seed (default 42)' },
  {
    flag: 'threads',
    path: 'training.threads',
    kind: 'threads',
    help: "threads per run, each training a slice of every batch: N or auto (default auto: the run's share of the cores, one per 16 rows of a batch)",
    cliOnly: true,
  },
  { flag: 'run-name', path: 'output.runName', kind: 'string', help: 'custom run folder name (default {symbol}_{model}_{YYYYMMDD_HHMMSS})', scope: 'run' },
  { flag: 'output-dir', path: 'output.outputDir', kind: 'string', help: 'folder holding runs (default out)', scope: 'run', cliOnly: true },
];

/** The API's field name of a flag: snake_case, or its own shipped name. */
export function apiFieldOf(f: TrainingFlag): string {
  return f.api ?? f.flag.replace(/-/g, '_');
}

/** The flags `batch` shares with `train`: every hyper-parameter, the data range and the model type. */
export const SHARED_FLAGS: readonly TrainingFlag[] = TRAINING_FLAGS.filter((f) => f.scope !== 'run');

/** The fields of POST /api/v1/training: every flag except those about the server's folders and threads. */
export const API_FLAGS: readonly TrainingFlag[] = TRAINING_FLAGS.filter((f) => !f.cliOnly);

/** The config layer `values` give, keyed by `nameOf(flag)`: only entries present, each converted by `convert`. */
export function configLayer(
  values: Record<string, unknown>,
  flags: readonly TrainingFlag[],
  nameOf: (f: TrainingFlag) => string,
  convert: (f: TrainingFlag, value: unknown) => unknown = (_, value) => value,
): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  for (const f of flags) {
    const value = values[nameOf(f)];
    if (value === undefined) continue;
    const keys = f.path.split('.');
    let node = layer;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]] = convert(f, value);
  }
  return layer;
}

/** "training.learningRate" → "training.learningRate (lr)", naming the field as `nameOf` spells it (--lr on the CLI). */
export function describeFieldPath(path: string, flags: readonly TrainingFlag[], nameOf: (f: TrainingFlag) => string): string {
  const f = flags.find((x) => x.path === path || (x.path.startsWith(`${path}.`) && x.path.endsWith('.type')));
  return f ? `${path} (${nameOf(f)})` : path;
}
