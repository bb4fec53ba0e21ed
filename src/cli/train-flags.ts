/**
 * The training flags, one table for every command that trains (`train`, `batch`, and through it the queue):
 * flag → TrainConfig path, so every hyper-parameter has exactly one flag, and an error about a field names it.
 */
import type { Command } from 'commander';
import { UserError } from '../util/errors.js';
import { parseSymbolsFlag } from './output.js';

type Kind = 'int' | 'number' | 'string' | 'list' | 'split' | 'symbols' | 'threads';

/** flag → config path. The flag's own name is what an error about that field mentions. */
interface TrainingFlag {
  flag: string;
  path: string;
  kind: Kind;
  help: string;
  /** `run`: what one `train` run is about (its stock or universe, its folder); `batch` defines its own for these. */
  scope?: 'run';
}

/** flag → config path, for every hyper-parameter: train, batch and the queue take exactly these. */
export const FLAGS: TrainingFlag[] = [
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
  { flag: 'model', path: 'model.modelType', kind: 'string', help: 'lstm | gru | transformer (default lstm)' },
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
  },
  { flag: 'run-name', path: 'output.runName', kind: 'string', help: 'custom run folder name (default {symbol}_{model}_{YYYYMMDD_HHMMSS})', scope: 'run' },
  { flag: 'output-dir', path: 'output.outputDir', kind: 'string', help: 'folder holding runs (default out)', scope: 'run' },
];

export const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function convert(flag: string, kind: Kind, raw: string): unknown {
  switch (kind) {
    case 'string':
      return raw;
    case 'symbols':
      return parseSymbolsFlag(raw, flag);
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'split': {
      const parts = raw.split(',').map(Number);
      if (parts.length !== 3 || parts.some((v) => !Number.isFinite(v)))
        throw new UserError(`--${flag} must be three ratios train,val,test such as 0.7,0.15,0.15, got "${raw}"`);
      return { type: 'ratio', train: parts[0], val: parts[1], test: parts[2] };
    }
    case 'threads':
      if (raw.trim() === 'auto') return 'auto';
      if (!/^\s*\d+\s*$/.test(raw)) throw new UserError(`--${flag} must be a whole number of threads or auto, got "${raw}"`);
      return Number(raw);
    case 'int':
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new UserError(`--${flag} must be a number, got "${raw}"`);
      if (kind === 'int' && !Number.isInteger(value)) throw new UserError(`--${flag} must be a whole number, got "${raw}"`);
      return value;
    }
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]] = value;
}

/** The config layer the flags give (only flags actually passed). */
export function flagOverrides(opts: Record<string, unknown>, flags: readonly TrainingFlag[] = FLAGS): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  for (const f of flags) {
    const raw = opts[camel(f.flag)];
    if (raw === undefined) continue;
    setPath(overrides, f.path, convert(f.flag, f.kind, String(raw)));
  }
  return overrides;
}

/** "training.learningRate" → "training.learningRate (--lr)", so an error names the flag the user typed. */
export function describePath(path: string): string {
  const f = FLAGS.find((x) => x.path === path || (x.path.startsWith(`${path}.`) && x.path.endsWith('.type')));
  return f ? `${path} (--${f.flag})` : path;
}

/** The flags `batch` shares with `train`: every hyper-parameter, the data range and the model type. */
export const SHARED_FLAGS = FLAGS.filter((f) => f.scope !== 'run');

/** Adds `flags` to a command, each with its help text. */
export function addTrainingFlags(command: Command, flags: readonly TrainingFlag[] = FLAGS): Command {
  for (const f of flags) command.option(`--${f.flag} <${f.kind === 'string' ? 'value' : f.kind}>`, f.help);
  return command;
}
