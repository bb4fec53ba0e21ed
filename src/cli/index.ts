#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import * as batchCommand from './commands/batch.js';
import * as dataCommand from './commands/data.js';
import * as dbCommand from './commands/db.js';
import * as quickstartCommand from './commands/quickstart.js';
import * as predictCommand from './commands/predict.js';
import * as runsCommand from './commands/runs.js';
import * as serveCommand from './commands/serve.js';
import * as trainCommand from './commands/train.js';
import * as workerCommand from './commands/worker.js';

// Each command module exports `register(program)`; this list is the whole CLI surface (DESIGN.md §6).
const commandModules: Array<{ register(program: Command): void }> = [quickstartCommand, dbCommand, dataCommand, trainCommand, predictCommand, runsCommand, batchCommand, workerCommand, serveCommand];

function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));
  return pkg.version as string;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('klinecast')
    .description('Train, manage and serve A-share price-forecasting models')
    .version(version())
    .exitOverride();
  for (const mod of commandModules) mod.register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UserError) {
      console.error(`error: ${err.message}`);
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
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  return exitAfterFlush(1);
});
