/**
 * `klinecast quickstart` (what `npm start` runs): on the embedded default it creates the SQLite database,
 * fills it with the demo market when it holds no bars, and shows what is there. It is a list of steps so
 * the training, evaluation and prediction steps join the same flow.
 */
import type { Command } from 'commander';
import { DEMO_DEFAULTS, generateDemoMarket, migrate, summariseDatabase, withDatabase, writeDemoMarket, type DatabaseHandle } from '../../data/index.js';
import { evaluateRun, resolveTrainConfig, runTraining, type TrainingReport } from '../../training/index.js';
import { withTrainingControls } from '../training.js';
import { UserError } from '../../util/errors.js';
import { ProgressLine, printJson, printTable } from '../output.js';
import { withDatabaseOptions, type DatabaseOptions } from './db.js';

export interface QuickstartContext {
  handle: DatabaseHandle;
  options: DatabaseOptions;
  /** each step's result under its name: the JSON output, and what later steps read */
  results: Record<string, unknown>;
  /** a line for people (stderr under --json, so stdout stays machine-readable) */
  say(message: string): void;
}

export interface QuickstartStep {
  name: string;
  run(ctx: QuickstartContext): Promise<unknown>;
}

export async function runQuickstart(options: DatabaseOptions): Promise<Record<string, unknown>> {
  const steps: QuickstartStep[] = [
    {
      name: 'migrate',
      async run({ handle, say }) {
        const result = await migrate(handle);
        say(`database ${handle.url}: ${result.applied.length ? `created ${result.applied.join(', ')}` : 'schema up to date'}`);
        return result;
      },
    },
    {
      name: 'demo',
      async run({ handle, say }) {
        const existing = await handle.db.selectFrom('stock_kline_data').select('symbol').limit(1).executeTakeFirst();
        if (existing) {
          say('database already holds bars: demo market not needed');
          return { generated: false };
        }
        const market = generateDemoMarket(DEMO_DEFAULTS);
        const progress = new ProgressLine('demo market', market.stocks.length);
        const result = await writeDemoMarket(handle, market, { onStock: (done) => progress.update(done) });
        progress.finish();
        say(
          `demo market: ${result.stocks} stocks × ${result.tradingDays} trading days (${result.start} .. ${result.end}, seed ${result.seed}), ${result.inserted} bars`,
        );
        return { generated: true, ...result };
      },
    },
    {
      name: 'summary',
      async run({ handle, options }) {
        const summary = await summariseDatabase(handle);
        if (!options.json) {
          console.log('');
          printTable(
            ['symbol', 'name', 'board', 'industry', 'bars', 'first', 'last', 'last close'],
            summary.perStock.map((s) => [s.symbol, s.name, s.stockType, s.industry, s.bars, s.first, s.last, s.lastClose.toFixed(2)]),
          );
          console.log(
            `\n${summary.stocks} stocks, ${summary.bars} bars, ${summary.first ?? '-'} .. ${summary.last ?? '-'}, ${summary.tradingDays} trading days in the calendar (${summary.database})`,
          );
          console.log('next: `klinecast data check` audits the data; `klinecast data import <csv|dir>` adds tushare/akshare/baostock exports');
        }
        return summary;
      },
    },
    {
      name: 'train',
      async run({ options, results, say }) {
        // The stock with the longest history, and a short config: done in seconds on the demo market.
        const { perStock } = results.summary as Awaited<ReturnType<typeof summariseDatabase>>;
        const symbol = [...perStock].sort((a, b) => b.bars - a.bars)[0]?.symbol;
        if (!symbol) throw new UserError('the database holds no stock to train on');
        const config = resolveTrainConfig({
          overrides: {
            data: { symbol },
            dataset: { seqLength: 30 },
            model: { modelType: 'lstm', hiddenSize: 32, numLayers: 2 },
            training: { epochs: 8, batchSize: 32, patience: 3 },
          },
        });
        say(`\ntraining a small LSTM on ${symbol} (seq 30, hidden 32, ≤ 8 epochs; \`klinecast train --symbol ${symbol}\` runs the full seed defaults)`);
        const report = await withTrainingControls(true, (controls) => runTraining({ config, databaseUrl: options.database, register: true, ...controls }));
        if (report.status !== 'completed') throw new UserError(`training ${report.status}; resume it with: klinecast train --resume ${report.runDir}`);
        if (!report.registry?.registered) throw new UserError(`${report.runName} is saved but could not be registered: ${report.registry?.error}`);
        const a = report.adjustment;
        if (a)
          say(
            `prices ${a.mode} (from ${a.source}, --adjust): ${a.exRights.length} ex-rights day(s) ${a.exRights.map((e) => `${e.date} ×${e.step.toFixed(4)}`).join(', ')}; ` +
              'their dividend drops are not returns in the features or targets',
          );
        say(
          `run ${report.runName}: ${report.epochsTrained} epochs, best val loss ${report.bestValLoss?.toFixed(5)}, ${report.parameters} parameters; registered in the model registry`,
        );
        return report;
      },
    },
    {
      name: 'evaluate',
      async run({ options, results, say }) {
        const report = results.train as TrainingReport;
        const { evaluation } = await evaluateRun(report.runDir, { databaseUrl: options.database });
        const t = evaluation.results.test_metrics;
        const p = evaluation.results.baselines.persistence;
        say(
          `test set (${evaluation.results.n_samples} days): MAE ${t.mae?.toFixed(4)} vs persistence ${p.mae?.toFixed(4)}, skill ${((t.skill ?? 0) * 100).toFixed(2)}%, direction ${((t.direction_accuracy ?? 0) * 100).toFixed(1)}%`,
        );
        const { significance, interval } = evaluation.results;
        if (significance) say(`  the next-day forecasts: ${significance.summary}`);
        if (interval)
          say(`  the ${Math.round(interval.level * 100)}% conformal interval covered ${(interval.coverage * 100).toFixed(1)}% of the test forecasts`);
        say(`\neverything is in ${report.runDir}/`);
        say('  config.json, metadata.json        the resolved config and the run status');
        say('  model/                            model.safetensors, pytorch_model.bin (torch.load), config.json, scaler.json');
        say('  checkpoints/                      checkpoint-N/ and best/ (resume with klinecast train --resume <run>)');
        say('  logs/metrics.json, training.log   loss per epoch, the log');
        say('  results/                          eval_results.json, predictions.json');
        say(
          `next: klinecast runs show ${report.runName} · klinecast predict --symbol ${report.runName.split('_')[0]} --run ${report.runName} · klinecast serve`,
        );
        return evaluation.results;
      },
    },
  ];

  return withDatabase(
    options.database,
    async (handle) => {
      const ctx: QuickstartContext = {
        handle,
        options,
        results: {},
        say: (message) => (options.json ? console.error(message) : console.log(message)),
      };
      for (const step of steps) ctx.results[step.name] = await step.run(ctx);
      return ctx.results;
    },
    { createDatabase: true },
  );
}

export function register(program: Command): void {
  withDatabaseOptions(
    program.command('quickstart').description('create the database (embedded SQLite by default), fill it with the demo market if empty, and summarise it'),
  ).action(async (opts: DatabaseOptions) => {
    const results = await runQuickstart(opts);
    if (opts.json) printJson(results);
  });
}
