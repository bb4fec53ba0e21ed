/**
 * A universal run on cross-sectionally normalised targets (--target-norm rank) end to end: it trains, records its
 * target, is judged by what stays valid for scores (IC, Rank IC, the cross-section) with every price-unit figure
 * null, writes scores instead of predicted prices, and predict refuses to turn its scores into prices.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { EvalResultsFile, ScorePredictionsFile } from '../../src/evaluation/index.js';
import { PredictionEngine } from '../../src/prediction/index.js';
import { parseTrainConfig, type TrainingReport } from '../../src/training/index.js';
import { UserError } from '../../src/util/errors.js';
import { createMarket, trainTinyUniversalRun, type Fixture } from '../prediction/fixture.js';
import { runCli } from '../data/run-cli.js';

let fx: Fixture;
let report: TrainingReport;

before(async () => {
  fx = await createMarket();
  report = await trainTinyUniversalRun(fx, 'ranked', { dataset: { targetNorm: 'rank' } });
});
after(async () => fx?.close());

test('the run records its score target and is judged by correlations and the cross-section, price figures null', () => {
  assert.equal(report.status, 'completed');
  const dir = report.runDir;
  const scaler = JSON.parse(readFileSync(join(dir, 'model/scaler.json'), 'utf8'));
  assert.equal(scaler.target.kind, 'cs_rank_log_return');
  assert.equal(JSON.parse(readFileSync(join(dir, 'model/config.json'), 'utf8')).target, 'cs_rank_log_return');
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).dataset.targetNorm, 'rank');
  assert.ok(!existsSync(join(dir, 'model/intervals.json')), 'no interval around a score');

  const results = JSON.parse(readFileSync(join(dir, 'results/eval_results.json'), 'utf8')) as EvalResultsFile;
  assert.equal(results.target, 'cs_rank_log_return');
  assert.match(String(results.predictions_are), /^scores/);
  const t = results.test_metrics;
  for (const key of ['mae', 'rmse', 'mape', 'r2', 'direction_accuracy', 'return_mae', 'return_rmse', 'skill', 'return_skill'] as const)
    assert.equal(t[key], null, key);
  assert.equal(typeof t.ic, 'number');
  assert.equal(typeof t.rank_ic, 'number');
  assert.equal(results.significance, undefined);
  assert.equal(results.interval, undefined);
  // The price baselines are facts of the data and stay.
  assert.equal(typeof results.baselines.persistence.mae, 'number');
  const cross = results.cross_section!;
  assert.equal(typeof cross.rank_ic.mean, 'number');
  assert.ok(cross.rank_ic.days > 0);
  assert.equal(typeof cross.quintile_spread.mean_daily, 'number');
  assert.equal(cross.per_stock.median_skill, null);
  assert.equal(cross.pooled.mae, null);
  assert.equal(cross.pooled.skill, null);
  assert.equal(report.test?.mae, null);

  const predictions = JSON.parse(readFileSync(join(dir, 'results/predictions.json'), 'utf8')) as ScorePredictionsFile;
  assert.equal(predictions.target, 'cs_rank_log_return');
  assert.ok(predictions.records.length > 0);
  for (const r of predictions.records) {
    assert.equal(r.predicted_price, null);
    assert.equal(r.predicted_return, null);
    assert.equal(typeof r.score, 'number');
    assert.equal(typeof r.actual_return, 'number');
  }
});

test('predict of one stock refuses to forecast prices from scores, naming the target', async () => {
  const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
  await assert.rejects(
    () => engine.predict(fx.symbols[0], { run: 'ranked', samples: 0 }),
    (err: unknown) => err instanceof UserError && err.code === 'scores_only' && /cs_rank_log_return.*not returns/.test(err.message),
  );
});

test('predict --symbols all ranks the market by score, with no return, price or interval', async () => {
  const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
  const ranking = await engine.rank('ranked', 'all', { samples: 0 });
  assert.equal(ranking.target, 'cs_rank_log_return');
  assert.equal(ranking.ranked, fx.symbols.length);
  assert.equal(ranking.interval, null);
  for (const e of ranking.entries) {
    assert.equal(typeof e.score, 'number');
    assert.deepEqual([e.return, e.price, e.lower, e.upper], [null, null, null, null]);
  }
  for (let i = 1; i < ranking.entries.length; i++) assert.ok(ranking.entries[i - 1].score! >= ranking.entries[i].score!);
  // A stock's score does not depend on which other stocks are ranked with it.
  const top = await engine.rank('ranked', [ranking.entries[0].symbol], { samples: 0 });
  assert.equal(top.entries[0].score, ranking.entries[0].score);
  const csv = runCli(['predict', '--run', 'ranked', '--symbols', 'all', '--csv', '--database', fx.url, '--output-dir', fx.outputDir]);
  assert.equal(csv.status, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'rank,symbol,base_date,base_close,score');
  assert.equal(lines.length, 1 + fx.symbols.length);
  assert.equal(Number(lines[1].split(',')[4]), ranking.entries[0].score);
});

test('--target-norm and --stock-embedding-dim need a universal run, and a bad norm is named with its flag', () => {
  assert.throws(
    () => parseTrainConfig({ data: { symbol: '600519' }, dataset: { targetNorm: 'zscore' } }),
    (err: unknown) => err instanceof UserError && /dataset\.targetNorm .*needs a universal run/.test(err.message),
  );
  assert.throws(
    () => parseTrainConfig({ data: { symbol: '600519' }, model: { stockEmbeddingDim: 8 } }),
    (err: unknown) => err instanceof UserError && /model\.stockEmbeddingDim .*universal run/.test(err.message),
  );
  const bad = runCli(['train', '--database', fx.url, '--symbols', 'all', '--target-norm', 'median', '--output-dir', join(fx.root, 'bad')]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /dataset\.targetNorm \(--target-norm\)/);
  assert.ok(!existsSync(join(fx.root, 'bad')));
});
