/**
 * `klinecast predictions list | score | reconcile`: the prediction ledger (ai_predictions). Every forecast of
 * `predict` and of the API is recorded there; once the target day's bar is imported it gets its actual close, and
 * `score` sets each run's live figures beside its test segment's. Thin over src/data/ledger.ts and src/prediction/ledger.ts.
 */
import type { Command } from 'commander';
import { listForecasts, migrate, reconcileForecasts, requireIsoDate, requireSymbol, withDatabase, type LedgerFilter } from '../../data/index.js';
import { scoreLedger, type LedgerFigures, type RunScore } from '../../prediction/index.js';
import { DEFAULT_OUTPUT_DIR } from '../../runs/index.js';
import { fmt, pct, printJson, printTable, wholeNumberFlag, type Cell } from '../output.js';
import { withDatabaseOptions, type DatabaseOptions } from './db.js';

interface FilterFlags extends DatabaseOptions {
  run?: string;
  symbol?: string;
  since?: string;
}

function filterOf(opts: FilterFlags): LedgerFilter {
  return {
    run: opts.run,
    symbol: opts.symbol === undefined ? undefined : requireSymbol(opts.symbol),
    since: opts.since === undefined ? undefined : requireIsoDate(opts.since, '--since'),
  };
}

function withFilterOptions(cmd: Command): Command {
  return withDatabaseOptions(
    cmd
      .option('--run <name>', 'only this run')
      .option('--symbol <code>', 'only this stock: 600519, 600519.SH or sh600519')
      .option('--since <date>', 'only forecasts whose base date is on or after this day (YYYY-MM-DD)'),
  );
}

const signed = (v: number | null, digits = 3): Cell => (v === null ? null : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`);

function figureCells(f: LedgerFigures | null): Cell[] {
  return f === null
    ? [null, null, null, null, null]
    : [f.n, fmt(f.mae), signed(f.skill === null ? null : f.skill * 100, 2), pct(f.directionAccuracy), pct(f.coverage)];
}

function printScore(runs: RunScore[]): void {
  if (runs.length === 0) {
    console.log('no recorded forecasts match (klinecast predict records them; klinecast predictions reconcile scores them)');
    return;
  }
  // Two rows per run, live over test: the columns line up, so a drift reads straight down.
  printTable(
    ['run', 'segment', 'n', 'MAE', 'skill %', 'direction', 'coverage'],
    runs.flatMap((r) => [
      [r.run, `live (${r.pending} pending${r.hindsight ? `, ${r.hindsight} hindsight` : ''})`, ...figureCells(r.live)],
      ['', 'test', ...figureCells(r.test)],
      ...r.steps.flatMap((s) => [
        ['', `  step ${s.step} live`, ...figureCells(s.live)],
        ['', `  step ${s.step} test`, ...figureCells(s.test)],
      ]),
    ]),
  );
  console.log(
    "skill = 1 − MAE / MAE of persistence (the base day's close), live on the reconciled forecasts, test on the run's test segment " +
      '(results/eval_results.json); coverage: share of actual closes inside the forecast interval. A later step has larger errors on both: ' +
      'with several steps recorded, compare them step by step',
  );
  for (const r of runs) {
    if (r.live.n > 0 && r.live.skill !== null && r.live.skill <= 0)
      console.log(`${r.run}: live, it does not beat persistence (skill ${(r.live.skill * 100).toFixed(2)}% over ${r.live.n} forecast day(s))`);
    if (r.hindsight)
      console.log(`${r.run}: ${r.hindsight} forecast day(s) were recorded after their bar was in (a past --end-date): counted as hindsight, left out of live`);
    if (r.test === null) console.log(`${r.run}: no results/eval_results.json in the output folder, so no test figures to compare`);
  }
}

export function register(program: Command): void {
  const predictions = program
    .command('predictions')
    .description('the prediction ledger: every recorded forecast, scored once the day arrives (list | score | reconcile)');

  withFilterOptions(predictions.command('list').description('recorded forecasts, newest base date first, with the actual close once known'))
    .option('--limit <n>', 'at most this many rows', '100')
    .action(async (opts: FilterFlags & { limit: string }) => {
      const limit = wholeNumberFlag('limit', opts.limit, 1);
      const rows = await withDatabase(opts.database, (handle) => listForecasts(handle, filterOf(opts), limit));
      if (opts.json) return printJson(rows);
      printTable(
        ['run', 'symbol', 'base date', 'target date', 'step', 'base close', 'predicted', 'lower', 'upper', 'actual', 'error', 'in band', 'source', 'live'],
        rows.map((r) => [
          r.run,
          r.symbol,
          r.baseDate,
          r.targetDate,
          r.step,
          r.baseClose,
          fmt(r.predictedPrice, 3),
          fmt(r.lower, 3),
          fmt(r.upper, 3),
          r.actualClose,
          signed(r.error),
          r.inInterval === null ? null : r.inInterval ? 'yes' : 'no',
          r.source,
          r.live === null ? null : r.live ? 'yes' : 'hindsight',
        ]),
      );
      if (rows.length === limit) console.log(`(first ${limit} rows; --limit shows more)`);
    });

  withFilterOptions(
    predictions
      .command('score')
      .description("each run's live MAE, skill against persistence, direction accuracy and interval coverage beside its test segment's"),
  )
    .option('--output-dir <dir>', 'folder holding the runs (for their test figures)', DEFAULT_OUTPUT_DIR)
    .action(async (opts: FilterFlags & { outputDir: string }) => {
      const score = await withDatabase(opts.database, (handle) => scoreLedger(handle, filterOf(opts), opts.outputDir));
      if (opts.json) return printJson(score);
      printScore(score.runs);
    });

  withFilterOptions(
    predictions.command('reconcile').description("give recorded forecasts whose target day's bar is now in the database their actual close and error"),
  ).action(async (opts: FilterFlags) => {
    const result = await withDatabase(opts.database, async (handle) => {
      // The ledger table may not exist yet in a database from before it.
      await migrate(handle);
      return reconcileForecasts(handle, filterOf(opts));
    });
    if (opts.json) return printJson(result);
    console.log(`${result.reconciled} of ${result.pending} unreconciled forecast day(s) now have their actual close`);
  });
}
