/**
 * The walk-forward backtest (src/training/backtest.ts) on the synthetic demo market with a tiny LSTM: the fold plan
 * on the trading calendar, the output folder and its record shape, no look-ahead (bars changed after a date leave
 * every earlier forecast unchanged), resume after an interrupt equal to a straight run, a universal backtest's
 * cross-section, and the CLI on both database dialects.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { barsToSeries, generateDemoMarket, writeDemoMarket } from '../../src/data/index.js';
import type { KlineSeries } from '../../src/data/types.js';
import { parseForecasts } from '../../src/evaluation/trading/index.js';
import { claimRunDir, listBacktests, listRuns, type BacktestForecastsFile, type BacktestStateFile } from '../../src/runs/index.js';
import {
  planFolds,
  resolveTrainConfig,
  runBacktest,
  type BacktestReport,
  type BacktestResultsFile,
  type BacktestSettingsInput,
  type TrainConfig,
} from '../../src/training/index.js';
import { runCli } from '../data/run-cli.js';
import { startCli } from '../batch/cli-process.js';
import { createTestDatabase, forEachDialect } from '../helpers/db.js';

const market = generateDemoMarket({ stocks: 3, start: '2021-01-01', end: '2022-12-31', seed: 5 });
const SERIES: KlineSeries[] = market.stocks.map((_, i) => barsToSeries(market.bars(i)));
const STOCK = SERIES[0];
const TINY = {
  dataset: { seqLength: 10 },
  model: { modelType: 'lstm', hiddenSize: 8, numLayers: 1, headHiddenSize: 8 },
  training: { epochs: 2, batchSize: 64 },
};
const SETTINGS: BacktestSettingsInput = { start: '2022-09-01', retrain: 'monthly' };

const root = mkdtempSync(join(tmpdir(), 'klinecast-backtest-'));
after(() => rmSync(root, { recursive: true, force: true }));

function config(data: TrainConfig['data'] | Record<string, unknown> = { symbol: STOCK.symbol }): TrainConfig {
  return resolveTrainConfig({ overrides: { ...TINY, data, output: { outputDir: join(root, 'out') } } });
}

const read = <T>(dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
/** What the model said about each forecast: everything of a record but the actual outcome. */
const modelSide = (r: BacktestForecastsFile['records'][number]) => ({
  symbol: r.symbol,
  date: r.date,
  step: r.step,
  fold: r.fold,
  predicted_return: r.predicted_return,
  lower: r.lower,
  upper: r.upper,
});

describe('the fold plan', () => {
  const calendar = STOCK.dates;
  const dataset = config().dataset;

  test('monthly folds tile the period: each cut-off is the first trading day of its month, and is the fold’s first forecast day', () => {
    const { folds, start, end } = planFolds(calendar, { start: '2022-09-01', end: '2022-11-30', retrain: 'monthly', window: 'expanding' }, dataset);
    assert.equal(folds.length, 3);
    assert.equal(
      start,
      calendar.find((d) => d >= '2022-09-01'),
    );
    for (const f of folds) {
      const month = calendar.filter((d) => d.slice(0, 7) === f.forecast_start.slice(0, 7));
      assert.equal(f.train_end, f.forecast_start);
      assert.equal(f.forecast_start, month[0]);
      assert.equal(f.forecast_end, month[month.length - 1]);
      assert.equal(f.days, month.length);
      assert.equal(f.train_start, calendar[0]);
      assert.ok(f.train_start < f.val_start && f.val_start <= f.train_end);
    }
    assert.equal(end, folds[2].forecast_end);
  });

  test('rolling:N trains on the N days up to the cut-off; Nd folds are N trading days long', () => {
    const { folds } = planFolds(calendar, { start: '2022-09-01', end: null, retrain: '20d', window: 'rolling:200' }, dataset);
    for (const f of folds) {
      const cut = calendar.indexOf(f.train_end);
      assert.equal(f.train_start, calendar[cut - 199]);
    }
    assert.ok(folds.slice(0, -1).every((f) => f.days === 20));
    // The last day forecast is the last one that can be scored (horizon 1: the day before the last bar).
    assert.equal(folds[folds.length - 1].forecast_end, calendar[calendar.length - 2]);
  });

  test('a fold without room for a training and a validation window is refused, naming the fold and what to change', () => {
    assert.throws(
      () => planFolds(calendar, { start: calendar[70], end: null, retrain: 'monthly', window: 'expanding' }, dataset),
      /fold 1 \(cut-off .*\) trains on .*start later \(--start\)/,
    );
    assert.throws(() => planFolds(calendar, { start: '2030-01-01', end: null, retrain: 'monthly', window: 'expanding' }, dataset), /no day to forecast from/);
    const segments = {
      ...dataset,
      split: { type: 'segments' as const, train: ['2021-01-01', '2021-12-31'], valid: ['2022-01-01', '2022-03-31'], test: ['2022-04-01', '2022-12-31'] },
    };
    assert.throws(() => planFolds(calendar, { start: null, end: null, retrain: 'monthly', window: 'expanding' }, segments as never), /ratios/);
  });
});

describe('a single-stock backtest', () => {
  let straight: BacktestReport;
  const outputDir = join(root, 'single');

  test('writes config, state, folds, forecasts.json/csv (predictions.json records + fold), results and the log; runs list ignores it', async () => {
    straight = await runBacktest({ config: config(), settings: { ...SETTINGS, interval: 'aci', name: 'straight' }, series: [STOCK], outputDir });
    assert.equal(straight.status, 'completed');
    assert.equal(straight.foldsTotal, 4);
    const dir = straight.dir;
    assert.equal(dir, join(outputDir, 'backtests', 'straight'));
    const forecasts = read<BacktestForecastsFile>(dir, 'forecasts.json');
    const results = read<BacktestResultsFile>(dir, 'results.json');
    assert.equal(forecasts.split, 'walk_forward');
    assert.deepEqual(forecasts.interval, { method: 'aci', level: 0.9 });
    assert.equal(forecasts.records.length, results.overall.n_samples);
    for (const r of forecasts.records) {
      assert.deepEqual(Object.keys(r).sort(), [
        'actual_price',
        'actual_return',
        'date',
        'fold',
        'last_close',
        'lower',
        'predicted_price',
        'predicted_return',
        'step',
        'symbol',
        'target_date',
        'upper',
      ]);
      assert.equal(r.symbol, STOCK.symbol);
      const fold = results.folds[r.fold - 1];
      // Out of sample: made on one of its fold's days, about a day after everything the fold trained on.
      assert.ok(r.date >= fold.forecast_start && r.date <= fold.forecast_end, JSON.stringify(r));
      assert.ok((r.target_date as string) > fold.train_end);
      assert.ok(Math.abs(r.predicted_price - r.last_close * Math.exp(r.predicted_return)) < 1e-9);
      assert.ok(r.lower !== undefined && r.upper !== undefined && r.lower <= r.predicted_price && r.predicted_price <= r.upper);
    }
    // What `klinecast simulate` trades: every step-1 forecast of the file, read by its own parser.
    const traded = parseForecasts(forecasts, 'forecasts.json');
    assert.equal(traded.forecasts.length, forecasts.records.filter((r) => r.step === 1).length);
    assert.deepEqual(traded.symbols, [STOCK.symbol]);
    const dates = forecasts.records.map((r) => r.date);
    assert.deepEqual(dates, [...dates].sort());
    assert.equal(new Set(dates).size, dates.length, 'a day is forecast once');

    const csv = readFileSync(join(dir, 'forecasts.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'fold,symbol,date,step,target_date,last_close,actual_price,predicted_price,actual_return,predicted_return,lower,upper');
    assert.equal(csv.length, forecasts.records.length + 1);
    const first = forecasts.records[0];
    assert.equal(
      csv[1],
      [
        first.fold,
        first.symbol,
        first.date,
        first.step,
        first.target_date,
        first.last_close,
        first.actual_price,
        first.predicted_price,
        first.actual_return,
        first.predicted_return,
        first.lower,
        first.upper,
      ].join(','),
    );

    assert.equal(results.folds.length, 4);
    for (const f of results.folds) {
      assert.ok(f.n_samples > 0 && f.windows.train > 0 && f.windows.val > 0);
      assert.equal(typeof f.metrics.skill, 'number');
      assert.equal(f.significance?.vs_persistence.samples, f.n_samples);
      assert.ok(f.intervals.split_conformal && f.intervals.aci, 'both coverages per fold');
    }
    assert.equal(
      results.folds.reduce((n, f) => n + f.n_samples, 0),
      results.overall.n_samples,
    );
    assert.match(results.summary, /skill vs persistence .*persistence \(DM p = .*split-conformal interval covered .*ACI covered/);
    assert.equal(results.overall.intervals.aci?.method, 'aci');
    assert.equal(results.overall.intervals.split_conformal?.method, 'split_conformal');
    assert.equal(results.interval.aci_gamma, 0.005);
    assert.match(readFileSync(join(dir, 'logs/backtest.log'), 'utf8'), /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] backtest straight of/);

    assert.deepEqual(listRuns(outputDir), [], 'out/backtests is not a run');
    assert.equal(claimRunDir(outputDir, 'backtests').name, 'backtests_2', 'no run takes the reserved name');
    const [listed] = listBacktests(outputDir);
    assert.equal(listed.name, 'straight');
    assert.equal(listed.status, 'completed');
    assert.equal(listed.coverage, results.overall.intervals.aci?.coverage);
    // The same name again gets _2, never overwrites.
    const again = await runBacktest({ config: config(), settings: { ...SETTINGS, end: '2022-09-30', name: 'straight' }, series: [STOCK], outputDir });
    assert.equal(again.name, 'straight_2');
  });

  test('no look-ahead: bars changed from a day on leave every forecast made before that day unchanged', async () => {
    const forecasts = read<BacktestForecastsFile>(straight.dir, 'forecasts.json');
    const results = read<BacktestResultsFile>(straight.dir, 'results.json');
    // A day in the middle of fold 3's segment: folds 1-2 and the first half of fold 3 were made before it.
    const fold3 = forecasts.records.filter((r) => r.fold === 3);
    const cut = fold3[Math.floor(fold3.length / 2)].date;
    const from = STOCK.dates.indexOf(cut);
    const scaleAfter = (values: Float64Array, factor: number) => values.map((v, i) => (i >= from ? v * factor : v));
    const changed: KlineSeries = {
      ...STOCK,
      open: scaleAfter(STOCK.open, 1.3),
      high: scaleAfter(STOCK.high, 1.35),
      low: scaleAfter(STOCK.low, 1.25),
      close: scaleAfter(STOCK.close, 1.3),
      vol: scaleAfter(STOCK.vol, 3),
      amount: scaleAfter(STOCK.amount, 4),
      // A future that could have happened: the jump on the day is a price move (its pre_close is the day before's
      // close), not an ex-rights event that qfq would carry back onto every earlier bar (docs/BACKTESTING.md).
      preClose: STOCK.preClose.map((v, i) => (i > from ? v * 1.3 : v)),
    };
    const perturbed = await runBacktest({
      config: config(),
      settings: { ...SETTINGS, interval: 'conformal', name: 'perturbed' },
      series: [changed],
      outputDir: join(root, 'lookahead'),
    });
    const reference = await runBacktest({
      config: config(),
      settings: { ...SETTINGS, interval: 'conformal', name: 'reference' },
      series: [STOCK],
      outputDir: join(root, 'lookahead'),
    });
    const a = read<BacktestForecastsFile>(reference.dir, 'forecasts.json').records;
    const b = read<BacktestForecastsFile>(perturbed.dir, 'forecasts.json').records;
    assert.equal(a.length, b.length);
    const before = a.filter((r) => r.date < cut);
    assert.ok(before.length > forecasts.records.filter((r) => r.fold <= 2).length, 'the check covers part of fold 3');
    assert.deepEqual(b.filter((r) => r.date < cut).map(modelSide), before.map(modelSide));
    // The folds trained before the day calibrated on the same residuals; the change does reach the later ones.
    for (const fold of [1, 2, 3]) {
      const fa = read<{ calibration: unknown }>(reference.dir, `folds/fold-00${fold}.json`);
      const fb = read<{ calibration: unknown }>(perturbed.dir, `folds/fold-00${fold}.json`);
      assert.deepEqual(fb.calibration, fa.calibration, `fold ${fold}`);
    }
    const later = (records: typeof a) => records.filter((r) => r.fold === 4).map((r) => r.predicted_return);
    assert.notDeepEqual(later(b), later(a), 'the perturbation must change the folds trained after it, or this test proves nothing');
    assert.ok(results.folds[2].train_end < cut);
  });

  test('with --adjust hfq even an ex-rights event after a day leaves every earlier forecast unchanged (qfq would rescale them)', async () => {
    const cut = STOCK.dates[STOCK.dates.indexOf('2022-10-17')];
    const from = STOCK.dates.indexOf(cut);
    // A 10-for-10 bonus issue on the day: prices halve from it on while pre_close still says the day before's close.
    const halved = (values: Float64Array) => values.map((v, i) => (i >= from ? v / 2 : v));
    const split: KlineSeries = {
      ...STOCK,
      open: halved(STOCK.open),
      high: halved(STOCK.high),
      low: halved(STOCK.low),
      close: halved(STOCK.close),
      preClose: STOCK.preClose.map((v, i) => (i > from ? v / 2 : v)),
    };
    const hfq = resolveTrainConfig({ overrides: { ...TINY, data: { symbol: STOCK.symbol, adjust: 'hfq' } } });
    const run = (series: KlineSeries, name: string) =>
      runBacktest({ config: hfq, settings: { ...SETTINGS, end: '2022-10-31', name }, series: [series], outputDir: join(root, 'hfq') });
    const a = read<BacktestForecastsFile>((await run(STOCK, 'plain')).dir, 'forecasts.json').records;
    const b = read<BacktestForecastsFile>((await run(split, 'split')).dir, 'forecasts.json').records;
    const before = (records: typeof a) => records.filter((r) => r.date < cut).map(modelSide);
    assert.ok(before(a).length > 20);
    assert.deepEqual(before(b), before(a));
  });

  test('interrupted after two folds, then resumed: the finished folds are kept and forecasts.json equals the straight run', async () => {
    const controller = new AbortController();
    const outputDir2 = join(root, 'resume');
    const first = await runBacktest({
      config: config(),
      settings: { ...SETTINGS, interval: 'aci', name: 'resumed' },
      series: [STOCK],
      outputDir: outputDir2,
      signal: controller.signal,
      callbacks: { onFoldEnd: ({ done }) => (done === 2 ? controller.abort('SIGINT') : undefined) },
    });
    assert.equal(first.status, 'interrupted');
    assert.equal(first.interruptedBy, 'SIGINT');
    assert.equal(first.foldsDone, 2);
    const state = read<BacktestStateFile>(first.dir, 'state.json');
    assert.equal(state.status, 'interrupted');
    assert.deepEqual(state.folds_done, [1, 2]);
    assert.equal(listBacktests(outputDir2)[0].status, 'interrupted');

    const resumed = await runBacktest({ resume: 'resumed', outputDir: outputDir2, series: [STOCK] });
    assert.equal(resumed.status, 'completed');
    assert.equal(resumed.foldsComputed, 2, 'only the unfinished folds are trained');
    const records = (dir: string) => read<BacktestForecastsFile>(dir, 'forecasts.json').records;
    assert.deepEqual(records(resumed.dir), records(straight.dir));
    await assert.rejects(runBacktest({ resume: 'resumed', outputDir: outputDir2, series: [STOCK] }), /already completed/);
    // Other bars than those it started with are refused.
    const other = { ...STOCK, close: STOCK.close.map((c, i) => (i === 5 ? c * 1.01 : c)) };
    const third = await runBacktest({
      config: config(),
      settings: { ...SETTINGS, name: 'changed' },
      series: [STOCK],
      outputDir: outputDir2,
      signal: AbortSignal.abort('SIGTERM'),
    });
    assert.equal(third.status, 'interrupted');
    await assert.rejects(runBacktest({ resume: 'changed', outputDir: outputDir2, series: [other] }), /not those it started with/);
  });
});

test('a universal backtest: one model over the stocks per fold, every record names its stock, with the cross-section', async () => {
  const symbols = SERIES.map((s) => s.symbol);
  const report = await runBacktest({
    config: config({ symbols }),
    settings: { start: '2022-10-01', retrain: 'quarterly', name: 'universal' },
    series: SERIES,
    outputDir: join(root, 'universal'),
  });
  assert.equal(report.status, 'completed');
  const results = read<BacktestResultsFile>(report.dir, 'results.json');
  assert.equal(results.stocks, 3);
  assert.equal(results.symbol, null);
  assert.equal(results.folds.length, 1);
  assert.equal(results.folds[0].stocks, 3);
  assert.equal(results.overall.cross_section?.n_stocks, 3);
  // Each stock's coverage, recomputed from its records.
  assert.deepEqual(
    results.overall.per_stock?.map((s) => s.symbol),
    [...symbols].sort(),
  );
  for (const s of results.overall.per_stock ?? []) {
    const own = read<BacktestForecastsFile>(report.dir, 'forecasts.json').records.filter((r) => r.symbol === s.symbol);
    assert.equal(s.samples, own.length);
    assert.equal(
      s.split_conformal_coverage,
      own.filter((r) => r.actual_price >= (r.lower as number) && r.actual_price <= (r.upper as number)).length / own.length,
    );
  }
  assert.ok(results.folds[0].cross_section && !('daily' in results.folds[0].cross_section));
  const records = read<BacktestForecastsFile>(report.dir, 'forecasts.json').records;
  assert.deepEqual([...new Set(records.map((r) => r.symbol))].sort(), [...symbols].sort());
  for (let i = 1; i < records.length; i++)
    assert.ok(records[i - 1].date < records[i].date || (records[i - 1].date === records[i].date && records[i - 1].symbol < records[i].symbol));
});

forEachDialect('klinecast backtest from the database, backtest list, and bad flags naming themselves', async (tdb) => {
  await writeDemoMarket(tdb.handle, generateDemoMarket({ stocks: 1, start: '2021-01-01', end: '2022-12-31', seed: 5 }));
  const symbol = SERIES[0].symbol;
  const out = join(tdb.dir, 'out');
  const tiny = ['--seq-length', '10', '--hidden-size', '8', '--num-layers', '1', '--head-hidden-size', '8', '--epochs', '1', '--batch-size', '64'];
  const run = runCli(['backtest', '--database', tdb.url, '--symbol', symbol, '--start', '2022-11-01', '--output-dir', out, '--json', ...tiny]);
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as BacktestReport;
  assert.equal(report.status, 'completed');
  assert.equal(report.foldsTotal, 2);
  assert.match(report.name, new RegExp(`^backtest_${symbol}_\\d{8}_\\d{6}$`));
  assert.equal(report.results?.interval.method, 'split_conformal');

  const list = runCli(['backtest', 'list', '--output-dir', out]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${report.name}\\s+completed\\s+${symbol}`));
  // runs list names the backtest in its own section under the runs, never as a (corrupt) run.
  const runs = runCli(['runs', 'list', '--output-dir', out]);
  assert.doesNotMatch(runs.stderr, /backtests|corrupt/);
  const [runsPart, backtestsPart] = runs.stdout.split(/^Backtests in /m);
  assert.doesNotMatch(runsPart, /backtests|corrupt/);
  assert.match(backtestsPart ?? '', new RegExp(`^${report.name}\\s+completed\\s+${symbol}`, 'm'));

  if (tdb.dialect === 'sqlite') {
    // --run: a saved run's stock, features and hyper-parameters, with flags on top.
    const train = runCli([
      'train',
      '--database',
      tdb.url,
      '--symbol',
      symbol,
      '--output-dir',
      out,
      '--run-name',
      'base',
      '--no-progress',
      ...tiny,
      '--model',
      'gru',
    ]);
    assert.equal(train.status, 0, train.stderr);
    const fromRun = runCli(['backtest', '--database', tdb.url, '--run', 'base', '--start', '2022-12-01', '--epochs', '2', '--output-dir', out, '--json']);
    assert.equal(fromRun.status, 0, fromRun.stderr);
    const bt = JSON.parse(fromRun.stdout) as BacktestReport;
    const saved = read<{ train: TrainConfig }>(bt.dir, 'config.json').train;
    assert.deepEqual(
      [saved.data.symbol, saved.model.modelType, saved.model.hiddenSize, saved.dataset.seqLength, saved.training.epochs],
      [symbol, 'gru', 8, 10, 2],
    );
    assert.match(bt.name, new RegExp(`^backtest_${symbol}_`));
  }

  const bad = runCli(['backtest', '--database', tdb.url, '--symbol', symbol, '--retrain', 'weekly', '--output-dir', out]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--retrain: must be monthly, quarterly or Nd/);
  const resumeWithFlags = runCli(['backtest', '--resume', report.name, '--epochs', '3', '--output-dir', out]);
  assert.equal(resumeWithFlags.status, 2);
  assert.match(resumeWithFlags.stderr, /drop --epochs/);
  const done = runCli(['backtest', '--database', tdb.url, '--resume', report.name, '--output-dir', out]);
  assert.equal(done.status, 2);
  assert.match(done.stderr, /already completed/);
});

test(
  'SIGKILL mid-backtest, then --resume: the crashed backtest shows as crashed and ends with the straight run’s forecasts',
  { timeout: 300_000 },
  async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      await writeDemoMarket(tdb.handle, generateDemoMarket({ stocks: 1, start: '2021-01-01', end: '2022-12-31', seed: 5 }));
      const out = join(tdb.dir, 'out');
      // Folds of a few seconds each, so the kill lands between the first finished fold and the last.
      const args = (name: string) => [
        'backtest',
        '--database',
        tdb.url,
        '--symbol',
        SERIES[0].symbol,
        '--start',
        '2022-09-01',
        '--seq-length',
        '20',
        '--hidden-size',
        '32',
        '--num-layers',
        '1',
        '--epochs',
        '40',
        '--patience',
        '0',
        '--batch-size',
        '16',
        '--interval',
        'aci',
        '--name',
        name,
        '--output-dir',
        out,
        '--no-progress',
      ];
      const straight = runCli([...args('straight'), '--json']);
      assert.equal(straight.status, 0, straight.stderr);

      const child = startCli(args('killed'));
      const statePath = join(out, 'backtests', 'killed', 'state.json');
      for (;;) {
        const state = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as BacktestStateFile) : null;
        if (state && state.folds_done.length >= 1) break;
        if (child.child.exitCode !== null) assert.fail(`the backtest ended before a fold finished: ${child.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.child.kill('SIGKILL');
      assert.equal(await child.exited, 'SIGKILL');
      const killed = JSON.parse(readFileSync(statePath, 'utf8')) as BacktestStateFile;
      assert.equal(killed.status, 'running');
      assert.ok(killed.folds_done.length < killed.folds_total, 'the kill must land before the last fold, or resume is not exercised');
      const [listed] = listBacktests(out).filter((b) => b.name === 'killed');
      assert.equal(listed.status, 'crashed');

      const resumed = runCli(['backtest', '--resume', 'killed', '--output-dir', out, '--json']);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.equal((JSON.parse(resumed.stdout) as BacktestReport).foldsComputed, killed.folds_total - killed.folds_done.length);
      const records = (name: string) => read<BacktestForecastsFile>(join(out, 'backtests', name), 'forecasts.json').records;
      assert.deepEqual(records('killed'), records('straight'));
    } finally {
      await tdb.cleanup();
    }
  },
);
