/**
 * The training flags on the command line: the one table (src/training/flags.ts) turned into commander options and
 * parsed into a config layer, so `train`, `batch` and the API's training route take the same fields.
 */
import type { Command } from 'commander';
import { SHARED_FLAGS, TRAINING_FLAGS, configLayer, describeFieldPath, type TrainingFieldKind, type TrainingFlag } from '../training/flags.js';
import { UserError } from '../util/errors.js';
import { parseSymbolsFlag } from './output.js';

export { SHARED_FLAGS };
/** Every training flag (train takes them all). */
export const FLAGS = TRAINING_FLAGS;

export const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function convert(flag: string, kind: TrainingFieldKind, raw: string): unknown {
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

/** The config layer the flags give (only flags actually passed). */
export function flagOverrides(opts: Record<string, unknown>, flags: readonly TrainingFlag[] = FLAGS): Record<string, unknown> {
  return configLayer(
    opts,
    flags,
    (f) => camel(f.flag),
    (f, raw) => convert(f.flag, f.kind, String(raw)),
  );
}

/** "training.learningRate" → "training.learningRate (--lr)", so an error names the flag the user typed. */
export function describePath(path: string): string {
  return describeFieldPath(path, FLAGS, (f) => `--${f.flag}`);
}

/** Adds `flags` to a command, each with its help text. */
export function addTrainingFlags(command: Command, flags: readonly TrainingFlag[] = FLAGS): Command {
  for (const f of flags) command.option(`--${f.flag} <${f.kind === 'string' ? 'value' : f.kind}>`, f.help);
  return command;
}
