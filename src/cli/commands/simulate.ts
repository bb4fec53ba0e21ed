/**
 * `klinecast simulate --forecasts <run or backtest> --strategy topk|long-flat`: trades the forecasts under A-share rules
 * and saves the simulation beside them (docs/TRADING.md). Thin over src/runs/simulations.ts; the simulation's options
 * come from the table in ../simulate-flags.ts, which `backtest --simulate` shares.
 */
import type { Command } from 'commander';
import { withDatabase } from '../../data/index.js';
import { DEFAULT_OUTPUT_DIR } from '../../runs/index.js';
import { resolveForecastSource, runSimulationFor, writeSimulation } from '../../runs/simulations.js';
import { printJson } from '../output.js';
import { addSimulationFlags, printSimulationSummary, simulationRequestOf, strategyKindOf, type SimulationFlags } from '../simulate-flags.js';

interface SimulateFlags extends SimulationFlags {
  forecasts: string;
  strategy: string;
  symbol?: string;
  start?: string;
  end?: string;
  name?: string;
  json?: boolean;
  outputDir: string;
  database?: string;
}

export function register(program: Command): void {
  const command = program
    .command('simulate')
    .description('trade forecasts under A-share rules (T+1, lots, price limits, suspensions, costs) and save the equity curve, trades and figures')
    .requiredOption(
      '--forecasts <ref>',
      'a run (name or folder: its results/predictions.json), a backtest (name in <output>/backtests/ or folder: forecasts.json), or a forecasts file',
    )
    .option('--strategy <name>', 'topk (many stocks, Qlib TopkDropout) | long-flat (one stock)', 'topk')
    .option('--symbol <code>', "long-flat: the stock (default: the forecasts' only one)")
    .option('--start <date>', 'first trade day (default: the day after the first forecast)')
    .option('--end <date>', 'last trade day (default: the day after the last forecast)')
    .option('--name <name>', 'the simulation folder (default {strategy}_{YYYYMMDD_HHMMSS})')
    .option('--json', "print simulation.json's settings and summary as JSON")
    .option('--output-dir <dir>', 'folder holding the runs (and backtests/)', DEFAULT_OUTPUT_DIR)
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)');
  addSimulationFlags(command).action(async (opts: SimulateFlags) => {
    const request = simulationRequestOf(strategyKindOf('strategy', opts.strategy), opts, opts);
    const source = resolveForecastSource(opts.forecasts, opts.outputDir);
    const file = await withDatabase(opts.database, (database) => runSimulationFor(database, source, request));
    const dir = writeSimulation(source, file);
    if (opts.json) printJson({ dir, name: file.name, source: file.source, settings: file.settings, forecasts: file.forecasts, summary: file.summary });
    else printSimulationSummary(file, dir);
  });
}
