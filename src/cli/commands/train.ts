/**
 * `klinecast train` and `klinecast eval <run>`: thin over src/training's runTraining / evaluateRun. This file maps
 * flags onto TrainConfig fields (one table, so every hyper-parameter has exactly one flag) and prints the summary.
 */
import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';
import type { EvalResultsFile } from '../../evaluation/index.js';
import { isScoreTarget } from '../../features/index.js';
import { evaluateRun, resolveTrainConfig, runTraining, type TrainingReport } from '../../training/index.js';
import { withTrainingControls } from '../training.js';
import { fmt, formatBytes, formatDuration, printJson, printTable } from '../output.js';
import { FLAGS, addTrainingFlags, camel, describePath, flagOverrides } from '../train-flags.js';

/** A universal run's headline: how well it ranks the stocks of each test day, and whether that earns a spread. */
export function printCrossSection(c: NonNullable<TrainingReport['crossSection']>): void {
  const ic = (s: typeof c.ic) => `${fmt(s.mean) ?? '-'} (ICIR ${fmt(s.icir, 3) ?? '-'}, t ${fmt(s.t_stat, 2) ?? '-'}, ${s.days} days)`;
  console.log(`\ncross-section of ${c.n_stocks} stocks over ${c.n_dates} test days (next-day forecasts):`);
  console.log(`  rank IC  ${ic(c.rank_ic)}`);
  console.log(`  IC       ${ic(c.ic)}`);
  const q = c.quintile_spread;
  console.log(`  top − bottom quintile: ${fmt(q.mean_daily, 5) ?? '-'} a day (log return), ${fmt(q.annualised, 4) ?? '-'} a year, before costs`);
  const p = c.per_stock;
  console.log(
    `  per-stock skill vs persistence: median ${fmt(p.median_skill) ?? '-'}, worst ${fmt(p.worst_skill) ?? '-'} (${p.worst_symbol ?? '-'}), ${p.share_above_zero === null ? '-' : `${(p.share_above_zero * 100).toFixed(0)}%`} of stocks above 0`,
  );
}

/** For a run on cross-sectional targets: why its price figures are blank. */
function printScoreNote(target: string): void {
  if (!isScoreTarget(target)) return;
  console.log(`\noutputs are cross-sectional scores (${target}): they rank the stocks of a day; price, direction and skill figures do not apply`);
}

/** The test segment: model against persistence, whether the difference is more than luck, and the interval measured. */
function printTestResults(r: Pick<EvalResultsFile, 'test_metrics' | 'baselines' | 'significance' | 'interval'>): void {
  const t = r.test_metrics;
  const p = r.baselines.persistence;
  console.log('');
  printTable(
    ['test set', 'MAE', 'RMSE', 'MAPE %', 'R²', 'direction', 'IC', 'rank IC'],
    [
      ['model', fmt(t.mae), fmt(t.rmse), fmt(t.mape), fmt(t.r2), fmt(t.direction_accuracy), fmt(t.ic), fmt(t.rank_ic)],
      ['persistence', fmt(p.mae), fmt(p.rmse), fmt(p.mape), fmt(p.r2), null, null, null],
    ],
  );
  console.log(`\nskill vs persistence: ${t.skill === null ? '-' : `${(t.skill * 100).toFixed(2)}%`} (1 − MAE / MAE of "tomorrow = today"; > 0 beats it)`);
  const sig = r.significance;
  if (sig) {
    const d = sig.direction;
    console.log(
      `next day: ${sig.summary}; direction ${d.accuracy === null ? '-' : `${(d.accuracy * 100).toFixed(1)}%`} of ${d.samples} (binomial p = ${d.p_value === null ? '-' : d.p_value.toFixed(3)})`,
    );
  }
  const i = r.interval;
  if (i) {
    console.log(
      `${Math.round(i.level * 100)}% ${i.method === 'split_conformal' ? 'split-conformal' : i.method} interval: covered ${(i.coverage * 100).toFixed(1)}% of ${i.samples} test forecasts, mean width ${(i.mean_relative_width * 100).toFixed(2)}% of the price`,
    );
  }
}

function printReport(report: TrainingReport): void {
  console.log('');
  console.log(
    `run        ${report.runName} (${report.status}${report.status === 'completed' ? `, ${report.stopReason.replace('_', ' ')}` : ` by ${report.interruptedBy}`})`,
  );
  console.log(`folder     ${report.runDir}`);
  if (report.stocks !== null) console.log(`stocks     ${report.stocks} (a universal model: one network over all of them)`);
  for (const s of report.skipped) console.log(`skipped    ${s.symbol}: ${s.reason}`);
  console.log(`epochs     ${report.epochsTrained} trained, best epoch ${report.bestEpoch ?? '-'}, best val loss ${fmt(report.bestValLoss, 6) ?? '-'}`);
  console.log(`samples    train ${report.trainSamples}, val ${report.valSamples}, test ${report.testSamples}`);
  console.log(
    `model      ${report.parameters.toLocaleString('en-US')} parameters${report.modelBytes !== null ? `, ${formatBytes(report.modelBytes)} (model.safetensors)` : ''}`,
  );
  console.log(`checkpoints ${report.checkpoints} (+ best/)   time ${formatDuration(report.seconds)}`);
  if (report.crossSection) printCrossSection(report.crossSection);
  printScoreNote(report.target);
  if (report.test && report.baselines) {
    printTestResults({
      test_metrics: report.test,
      baselines: report.baselines,
      significance: report.significance ?? undefined,
      interval: report.interval ?? undefined,
    });
  } else {
    console.log(`\nresume with: klinecast train --resume ${report.runDir}`);
  }
}

interface TrainOptions extends Record<string, unknown> {
  config?: string;
  resume?: string;
  database?: string;
  json?: boolean;
  progress?: boolean;
  register?: boolean;
}

/** The registry line: where the completed run was recorded, or why it is saved but not registered. */
export function printRegistration(report: TrainingReport): void {
  const r = report.registry;
  if (!r) return;
  if (r.registered) console.error(`registered ${report.runName} in the model registry of ${r.database}`);
  else
    console.error(
      `warning: ${report.runName} is saved but not registered in the model registry of ${r.database}: ${r.error} (\`klinecast db migrate\` creates the table)`,
    );
}

export function register(program: Command): void {
  const train = program
    .command('train')
    .description('train one model on one stock from the database and write out/{run}/ (checkpoints, final model, test evaluation)')
    .option('--config <file.json>', 'a (partial) TrainConfig JSON file; flags override it')
    .option('--resume <run>', "continue out/<run> from its newest checkpoint (uses the run's saved config)")
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress line on stderr')
    .option('--no-register', "don't record the completed run in the database's model registry");
  addTrainingFlags(train);
  train.action(async (opts: TrainOptions) => {
    let report: TrainingReport;
    if (opts.resume) {
      const extra = FLAGS.filter((f) => opts[camel(f.flag)] !== undefined && f.flag !== 'output-dir').map((f) => `--${f.flag}`);
      if (extra.length > 0 || opts.config) {
        throw new UserError(`--resume continues the run with its saved config.json; drop ${[...extra, ...(opts.config ? ['--config'] : [])].join(', ')}`);
      }
      report = await withTrainingControls(opts.progress !== false, (controls) =>
        runTraining({
          resume: opts.resume,
          outputDir: opts.outputDir as string | undefined,
          databaseUrl: opts.database,
          register: opts.register !== false,
          onWarning: (message) => console.error(`warning: ${message}`),
          ...controls,
        }),
      );
    } else {
      const config = resolveTrainConfig({ file: opts.config, overrides: flagOverrides(opts), describePath });
      if (!config.data.symbol && !config.data.symbols) {
        throw new UserError(
          '--symbol (a code such as 600519 or 600519.SH) or --symbols (a universal model: all, a list or @file) is required, or data.symbol / data.symbols in --config',
        );
      }
      report = await withTrainingControls(opts.progress !== false, (controls) =>
        runTraining({ config, databaseUrl: opts.database, register: opts.register !== false, ...controls }),
      );
    }
    printRegistration(report);
    if (opts.json) printJson(report);
    else printReport(report);
    // 130 = "terminated by Ctrl-C", as shells report it; the checkpoint is written.
    if (report.status === 'interrupted') process.exitCode = 130;
  });

  program
    .command('eval <run>')
    .description("re-evaluate a run's final model on its test segment (data reloaded from the database) and rewrite results/")
    .option('--output-dir <dir>', 'folder holding the runs', 'out')
    .option('--database <url>', 'database to reload the bars from (default: the configured one)')
    .option('--json', 'print the evaluation as JSON')
    .action(async (run: string, opts: { outputDir: string; database?: string; json?: boolean }) => {
      const result = await evaluateRun(run, { outputDir: opts.outputDir, databaseUrl: opts.database });
      for (const warning of result.warnings) console.error(`warning: ${warning}`);
      const r = result.evaluation.results;
      if (opts.json) {
        printJson({ run: result.runName, dir: result.runDir, previous_mae: result.previousMae, ...r });
        return;
      }
      console.log(`run ${result.runName}: ${r.n_samples} test ${r.cross_section ? 'samples' : 'days'}, horizon ${r.horizon}`);
      if (r.cross_section) printCrossSection(r.cross_section);
      if (typeof r.target === 'string') printScoreNote(r.target);
      printTestResults(r);
      console.log(`MAE at training time: ${fmt(result.previousMae) ?? '-'}`);
      console.log(`wrote ${result.runDir}/results/eval_results.json and predictions.json`);
    });
}
