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

main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  },
);
