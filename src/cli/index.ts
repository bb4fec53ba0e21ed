#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { describeDatabaseError, printable } from '../data/db/errors.js';
import { UserError } from '../util/errors.js';
import { KLINECAST_VERSION } from '../util/version.js';

type CommandModule = { register(program: Command): void };

/**
 * The whole CLI surface (DESIGN.md §6), by top-level command name. Modules load on demand: each pulls in its part of
 * the library (the server, the queue, the engine), and loading all of them would cost every call most of a second.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  quickstart: () => import('./commands/quickstart.js'),
  db: () => import('./commands/db.js'),
  data: () => import('./commands/data.js'),
  train: () => import('./commands/train.js'),
  eval: () => import('./commands/train.js'),
  predict: () => import('./commands/predict.js'),
  runs: () => import('./commands/runs.js'),
  backtest: () => import('./commands/backtest.js'),
  simulate: () => import('./commands/simulate.js'),
  predictions: () => import('./commands/predictions.js'),
  batch: () => import('./commands/batch.js'),
  worker: () => import('./commands/worker.js'),
  serve: () => import('./commands/serve.js'),
  bench: () => import('./commands/bench.js'),
};

/** The named command's module, or every module (in help order) for `--help`, `help` or an unknown command. */
async function commandModules(name: string | undefined): Promise<CommandModule[]> {
  const only = name !== undefined ? COMMANDS[name] : undefined;
  if (only) return [await only()];
  // train and eval share a module; an import yields the same namespace object, so the Set keeps it once.
  return [...new Set(await Promise.all(Object.values(COMMANDS).map((load) => load())))];
}

/** Stack traces for errors the user caused (bad input, the database) only when asked for. */
function verbose(argv: string[]): boolean {
  return argv.includes('--verbose') || process.env.KLINECAST_DEBUG === '1';
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('klinecast')
    .description('Train, manage and serve A-share price-forecasting models')
    .version(KLINECAST_VERSION)
    .option('--verbose', 'print stack traces with errors (also KLINECAST_DEBUG=1)')
    .exitOverride();
  // --verbose is accepted anywhere on the line; commands never see it.
  const args = argv.filter((a, i) => i < 2 || a !== '--verbose');
  for (const mod of await commandModules(args[2])) mod.register(program);
  try {
    await program.parseAsync(args);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    // The user's input or the user's database: one line naming what and the fix, exit 2.
    const known = err instanceof UserError ? err : describeDatabaseError(err);
    if (known) {
      console.error(`error: ${printable(known.message)}`);
      if (verbose(argv)) console.error((known === err ? known : (known.cause as Error)).stack ?? '');
      return 2;
    }
    throw err;
  }
}

/**
 * Exits only after stdout and stderr have handed everything to the OS: process.exit() drops whatever a pipe
 * has not taken yet (beyond its 64 KB buffer), which would cut a long `--json` report short. Exiting explicitly
 * (rather than waiting for the event loop to drain) keeps a stray pool or timer from hanging the CLI.
 */
async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
  process.exit(code);
}

main(process.argv).then(exitAfterFlush, (err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  return exitAfterFlush(1);
});
