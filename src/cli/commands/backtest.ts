/**
 * `klinecast backtest` (a walk-forward into out/backtests/{name}/) and `klinecast backtest list`: thin over
 * src/training's runBacktest and src/runs' listBacktests. The hyper-parameters are train's flags from the one table;
 * --start/--end here bound the forecast period (the bars loaded are the whole history up to the end).
 */
import type { Command } from 'commander';
import { withDatabase } from '../../data/index.js';
import { listBacktests, resolveRunRef, type BacktestInfo } from '../../runs/index.js';
import { resolveForecastSource, runSimulationFor, writeSimulation, type SimulationFile } from '../../runs/simulations.js';
import {
  backtestConfigOfRun,
  mergeConfig,
  parseBacktestSettings,
  resolveTrainConfig,
  runBacktest,
  type BacktestReport,
  type BacktestResultsFile,
} from '../../training/index.js';
import { UserError } from '../../util/errors.js';
import { ProgressLine, fmt, formatDuration, numberFlag, pct, printJson, printTable, shortDate } from '../output.js';
import { addSimulationFlags, printSimulationSummary, simulationRequestOf, strategyKindOf, type SimulationFlags } from '../simulate-flags.js';
import { abortOnSignals } from '../training.js';
import { FLAGS, addTrainingFlags, camel, describePath, flagOverrides } from '../train-flags.js';

/**
 * Train's flags a backtest takes: all but the data range (--start/--end are the forecast period here), the run name
 * (--name names the backtest) and the checkpoint flags (folds train in memory; resume works per fold).
 */
const BACKTEST_TRAINING_FLAGS = FLAGS.filter((f) => !['start', 'end', 'run-name', 'checkpoint-interval', 'save-total-limit'].includes(f.flag));

/** Backtest setting → its flag, so an error names what the user typed. */
const SETTING_FLAGS: Record<string, string> = {
  name: 'name',
  start: 'start',
  end: 'end',
  retrain: 'retrain',
  window: 'window',
  interval: 'interval',
  level: 'level',
  aciGamma: 'aci-gamma',
};

interface BacktestOptions extends Record<string, unknown> {
  config?: string;
  resume?: string;
  database?: string;
  json?: boolean;
  progress?: boolean;
  name?: string;
  start?: string;
  end?: string;
  retrain?: string;
  window?: string;
  interval?: string;
  level?: string;
  aciGamma?: string;
  historyStart?: string;
  run?: string;
  simulate?: string;
}

const p3 = (v: number | null | undefined) => (v === null || v === undefined ? null : v < 0.001 ? v.toExponential(1) : v.toFixed(3));

function printResults(report: BacktestReport, r: BacktestResultsFile): void {
  const aci = r.interval.method === 'aci';
  const headers = ['fold', 'trained to', 'forecast days', 'samples', 'epochs', 'skill', 'DM p', 'direction', 'SC cover'];
  if (aci) headers.push('ACI cover');
  if (r.stocks !== null) headers.push('rank IC');
  printTable(
    headers,
    r.folds.map((f) => {
      const row = [
        f.fold,
        f.train_end,
        `${f.forecast_start}..${f.forecast_end}`,
        f.n_samples,
        f.epochs_trained,
        pct(f.metrics.skill),
        p3(f.significance?.vs_persistence.p_value),
        pct(f.metrics.direction_accuracy),
        pct(f.intervals.split_conformal?.coverage),
      ];
      if (aci) row.push(pct(f.intervals.aci?.coverage));
      if (r.stocks !== null) row.push(fmt(f.cross_section?.rank_ic.mean));
      return row;
    }),
  );
  const o = r.overall;
  console.log('');
  console.log(`backtest   ${report.name} (${report.foldsTotal} folds, ${report.foldsComputed} computed now, ${formatDuration(report.seconds)})`);
  console.log(`folder     ${report.dir}`);
  console.log(
    `overall    ${o.n_samples} forecasts: MAE ${fmt(o.metrics.mae) ?? '-'} vs persistence ${fmt(o.baselines.persistence.mae) ?? '-'}, skill ${pct(o.metrics.skill) ?? '-'}, direction ${pct(o.metrics.direction_accuracy) ?? '-'}`,
  );
  if (o.significance) {
    const d = o.significance.direction;
    console.log(`next day   ${o.significance.summary}; direction ${pct(d.accuracy) ?? '-'} of ${d.samples} (binomial p = ${p3(d.p_value) ?? '-'})`);
  }
  const level = `${Math.round(r.interval.level * 100)}%`;
  const line = (label: string, i: BacktestResultsFile['overall']['intervals']['aci']) =>
    i && console.log(`${label} ${level} interval covered ${pct(i.coverage)} of ${i.samples}, mean width ${pct(i.mean_relative_width)} of the price`);
  line('split-conformal', o.intervals.split_conformal);
  line(`ACI (γ ${r.interval.aci_gamma})`, o.intervals.aci);
  if (o.cross_section) {
    const c = o.cross_section;
    console.log(`cross-section of ${c.n_stocks} stocks: rank IC ${fmt(c.rank_ic.mean) ?? '-'} (t ${fmt(c.rank_ic.t_stat, 2) ?? '-'}, ${c.rank_ic.days} days)`);
  }
}

/** A progress line over the folds, redrawn at every epoch. */
function foldProgress() {
  let line: ProgressLine | null = null;
  let current = { fold: 0, total: 0, done: 0 };
  return {
    callbacks: {
      onFoldStart: ({ plan, total, done }: { plan: { fold: number; train_end: string }; total: number; done: number }) => {
        line ??= new ProgressLine('backtest', total);
        current = { fold: plan.fold, total, done };
        line.update(done, `fold ${plan.fold} (to ${plan.train_end}) training`);
      },
      onFoldEnd: ({ done, total }: { done: number; total: number }) => {
        line?.update(done, `of ${total} folds`);
        if (done === total) line?.finish();
      },
    },
    trainer: {
      onEpochEnd: (e: { epoch: number; epochs: number }) => line?.update(current.done, `fold ${current.fold} epoch ${e.epoch}/${e.epochs}`),
    },
    finish: () => line?.finish(),
  };
}

export function register(program: Command): void {
  const backtest = program
    .command('backtest')
    .description('walk-forward backtest: retrain on the trading calendar, forecast every day out of sample, write out/backtests/{name}/')
    .option('--config <file.json>', 'a (partial) TrainConfig JSON file; flags override it')
    .option('--run <run>', "start from a saved run's config (stock or universe, features, model, training); flags override it")
    .option('--resume <name>', 'continue out/backtests/<name> at its next unfinished fold (uses its saved config.json)')
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .option('--start <date>', "first forecast day YYYY-MM-DD (default: where a train run's test segment would start)")
    .option('--end <date>', 'last forecast day YYYY-MM-DD (default: the last day that can be scored)')
    .option('--history-start <date>', 'first bar to load and train on, YYYY-MM-DD (data.startDate; default: the first in the database)')
    .option('--retrain <when>', 'a new fold (retrain) each: monthly | quarterly | Nd (every N trading days) (default monthly)')
    .option('--window <kind>', 'training span of each fold: expanding | rolling:N (the N trading days up to the cut-off) (default expanding)')
    .option('--interval <method>', 'interval on the forecasts: conformal (split, per fold) | aci (adaptive) | none (default conformal)')
    .option('--level <p>', 'interval level (default 0.9)')
    .option('--aci-gamma <g>', "ACI's step γ (default 0.005)")
    .option('--name <name>', 'backtest folder name (default backtest_{symbol or model}_{YYYYMMDD_HHMMSS})')
    .option('--json', 'print the report (with results.json) as JSON')
    .option('--no-progress', 'no progress line on stderr')
    .option(
      '--simulate <strategy>',
      "after the last fold, trade the forecasts (topk | long-flat) as klinecast simulate does, with its --topk … --transfer-fee options, into the backtest's simulations/",
    );
  addTrainingFlags(backtest, BACKTEST_TRAINING_FLAGS);
  addSimulationFlags(backtest);
  backtest.action(async (opts: BacktestOptions) => {
    // Checked before any fold trains, so a bad simulation option costs nothing.
    const simulation = opts.simulate === undefined ? null : simulationRequestOf(strategyKindOf('simulate', opts.simulate), opts as unknown as SimulationFlags);
    const signals = abortOnSignals('finishing the current training step; the finished folds are kept');
    const progress = opts.progress !== false && !opts.json ? foldProgress() : null;
    const controls = {
      signal: signals.signal,
      callbacks: progress?.callbacks,
      trainerCallbacks: progress ? [progress.trainer] : [],
      outputDir: opts.outputDir as string | undefined,
      databaseUrl: opts.database,
    };
    let report: BacktestReport;
    try {
      if (opts.resume) {
        const extra = [...BACKTEST_TRAINING_FLAGS.map((f) => f.flag), ...Object.values(SETTING_FLAGS), 'config', 'history-start', 'run']
          .filter((f) => f !== 'output-dir' && opts[camel(f)] !== undefined)
          .map((f) => `--${f}`);
        if (extra.length) throw new UserError(`--resume continues the backtest with its saved config.json; drop ${extra.join(', ')}`);
        report = await runBacktest({ resume: opts.resume, ...controls });
      } else {
        if (opts.run && opts.config) throw new UserError('--run and --config both give the config to start from: choose one');
        const fromRun = opts.run ? backtestConfigOfRun(resolveRunRef(opts.run, (opts.outputDir as string | undefined) ?? 'out')) : {};
        const overrides = mergeConfig(fromRun, flagOverrides(opts, BACKTEST_TRAINING_FLAGS));
        if (opts.historyStart !== undefined) overrides.data = { ...(overrides.data as object), startDate: opts.historyStart };
        const config = resolveTrainConfig({
          file: opts.config,
          overrides,
          describePath: (path) => (path === 'data.startDate' ? `${path} (--history-start)` : describePath(path)),
        });
        if (!config.data.symbol && !config.data.symbols) {
          throw new UserError(
            '--symbol (one stock) or --symbols (a universal model: all, a list or @file) is required, or data.symbol / data.symbols in --config',
          );
        }
        const settings = parseBacktestSettings(
          {
            name: opts.name,
            start: opts.start,
            end: opts.end,
            retrain: opts.retrain,
            window: opts.window,
            interval: opts.interval,
            level: opts.level === undefined ? undefined : numberFlag('level', opts.level),
            aciGamma: opts.aciGamma === undefined ? undefined : numberFlag('aci-gamma', opts.aciGamma),
          },
          (path) => (SETTING_FLAGS[path] ? `--${SETTING_FLAGS[path]}` : path),
        );
        report = await runBacktest({ config, settings, ...controls });
      }
    } finally {
      progress?.finish();
      signals.dispose();
    }
    // The same step as `klinecast simulate --forecasts <this backtest>`, saved into its simulations/ folder.
    let simulated: { dir: string; file: SimulationFile } | null = null;
    if (simulation && report.status === 'completed') {
      const source = resolveForecastSource(report.dir);
      const file = await withDatabase(opts.database, (database) => runSimulationFor(database, source, simulation));
      simulated = { dir: writeSimulation(source, file), file };
    }
    if (opts.json) {
      const s = simulated && { dir: simulated.dir, name: simulated.file.name, settings: simulated.file.settings, summary: simulated.file.summary };
      printJson(simulation ? { ...report, simulation: s } : report);
    } else if (report.results) {
      printResults(report, report.results);
      if (simulated) {
        console.log('');
        printSimulationSummary(simulated.file, simulated.dir);
      }
    } else
      console.log(
        `\nbacktest ${report.name} interrupted (${report.interruptedBy}) after ${report.foldsDone} of ${report.foldsTotal} folds; resume with: klinecast backtest --resume ${report.name}${simulation ? ` --simulate ${opts.simulate}` : ''}`,
      );
    if (report.status === 'interrupted') process.exitCode = 130;
  });

  backtest
    .command('list')
    .description('list the backtests of out/backtests/, newest first')
    .option('--json', 'print the list as JSON')
    .action((_opts: unknown, command: Command) => {
      // --output-dir is the parent's flag (train's table): commander hands it to `backtest`, not to `list`.
      const opts = command.optsWithGlobals<{ outputDir?: string; json?: boolean }>();
      const outputDir = opts.outputDir ?? 'out';
      const items = listBacktests(outputDir);
      if (opts.json) {
        printJson(items);
        return;
      }
      if (items.length === 0) {
        console.log(`no backtests in ${outputDir}/backtests (klinecast backtest --symbol CODE starts one)`);
        return;
      }
      printBacktestTable(items);
    });
}

/** The backtest table of `backtest list`, also printed under `runs list`. */
export function printBacktestTable(items: BacktestInfo[]): void {
  printTable(
    ['name', 'status', 'stock(s)', 'model', 'created', 'period', 'retrain', 'folds', 'skill', 'coverage'],
    items.map((b) => [
      b.name,
      b.status,
      b.symbol ?? (b.stocks !== null ? `${b.stocks} stocks` : null),
      b.modelType,
      shortDate(b.createdAt),
      b.start && b.end ? `${b.start}..${b.end}` : null,
      b.retrain,
      `${b.foldsDone}/${b.foldsTotal ?? '?'}`,
      pct(b.skill),
      pct(b.coverage),
    ]),
  );
}
