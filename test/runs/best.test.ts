/**
 * Issue 15 part 2, the one best-run rule (src/runs/select.ts rankRuns, docs/PREDICTION.md "Best run"): runs of one
 * symbol are compared on the test days they share, re-scored from results/predictions.json; too few shared days fall
 * back to skill vs persistence; a universal run counts for a symbol by that symbol's own records; across symbols
 * only scale-free metrics are allowed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { evaluateForecasts } from '../../src/evaluation/index.js';
import { MIN_SHARED_DAYS, TrainingManager, listRuns, planPrune, rankRuns, rankedRuns, runMetric, type RunInfo } from '../../src/runs/index.js';
import { UserError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'klinecast-best-'));
const out = join(root, 'out');
after(() => rmSync(root, { recursive: true, force: true }));

/** 300 trading days: volatile (3% moves) up to day 239, calm (0.5%) from day 240 on, signs from a fixed pattern. */
const N = 300;
const dates = Array.from({ length: N }, (_, i) => new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10));
const actualReturn = Array.from({ length: N }, (_, i) => (i < 240 ? 0.03 : 0.005) * (Math.sin(i * 1.7) >= 0 ? 1 : -1));
const close: number[] = [10];
for (let i = 1; i < N; i++) close.push(close[i - 1] * Math.exp(actualReturn[i - 1]));

/**
 * A completed run tested on days [from, to) whose forecast is `factor` × the actual return: factor 0.1 moves the right
 * way a little (error 0.9 of persistence's, skill ≈ +0.1), factor −0.3 the wrong way (error 1.3×, skill ≈ −0.3).
 */
function writeRun(name: string, symbol: string | null, from: number, to: number, factor: number | Record<string, number>): void {
  const symbols = typeof factor === 'number' ? [symbol!] : Object.keys(factor);
  const rows = symbols.flatMap((s) => Array.from({ length: to - from }, (_, k) => ({ s, i: from + k })));
  const f = (s: string) => (typeof factor === 'number' ? factor : factor[s]);
  const manager = TrainingManager.create({ outputDir: out, runName: name, symbol, modelType: 'lstm', config: { name } });
  manager.updateStatus('training');
  const { results, predictions } = evaluateForecasts({
    dates: rows.map((r) => dates[r.i]),
    lastClose: rows.map((r) => close[r.i]),
    actualReturns: rows.map((r) => [actualReturn[r.i]]),
    predictedReturns: rows.map((r) => [actualReturn[r.i] * f(r.s)]),
    symbols: symbol === null ? rows.map((r) => r.s) : undefined,
  });
  manager.saveEvaluationResults(results);
  manager.savePredictions(predictions);
  manager.updateStatus('completed');
}

let runs: RunInfo[];
const byName = (name: string) => runs.find((r) => r.name === name)!;

before(() => {
  // The case for 000001: "from 2015" tested on the calm last 60 days, a little worse than persistence there;
  // "full history" tested on the last 150 days (90 of them volatile), a little better than persistence throughout.
  writeRun('from-2015', '000001', 240, 300, -0.3);
  writeRun('full-history', '000001', 150, 300, 0.1);
  // 000002: two runs whose test days overlap by 5 (< MIN_SHARED_DAYS): compared by skill on their own days.
  writeRun('early', '000002', 0, 50, 0.05);
  writeRun('late', '000002', 245, 300, 0.2);
  // A universal run tested on 000003 and 000001 over days 200–299: on 000001 better than either single-stock run.
  writeRun('universal', null, 200, 300, { '000001': 0.5, '000003': -0.2 });
  writeRun('only-000003', '000003', 200, 300, 0.1);
  runs = listRuns(out);
});

test('the issue case: the run with the lower MAE on its own (calmer) segment loses on the shared test days', () => {
  // What the old rule saw: raw test MAE favours from-2015, on a different segment.
  const noUniversal = runs.filter((r) => r.name !== 'universal');
  assert.ok(runMetric(byName('from-2015'), 'mae')! < runMetric(byName('full-history'), 'mae')!, 'raw MAE prefers from-2015');
  assert.ok(runMetric(byName('from-2015'), 'skill')! < 0 && runMetric(byName('full-history'), 'skill')! > 0);
  const ranking = rankRuns(noUniversal, 'mae', { symbol: '000001' });
  assert.equal(ranking.basis, 'shared_days');
  assert.equal(ranking.sharedDays, 60);
  assert.deepEqual(
    ranking.runs.map((r) => r.run.name),
    ['full-history', 'from-2015'],
  );
  // Re-scored on the shared days by hand: |actual − predicted| with predicted = close·exp(f·r).
  const maeOn = (factor: number) => {
    let s = 0;
    for (let i = 240; i < 300; i++) s += Math.abs(close[i] * Math.exp(actualReturn[i]) - close[i] * Math.exp(factor * actualReturn[i]));
    return s / 60;
  };
  assert.ok(Math.abs(ranking.runs[0].value! - maeOn(0.1)) < 1e-12);
  assert.ok(Math.abs(ranking.runs[1].value! - maeOn(-0.3)) < 1e-12);
  assert.equal(ranking.runs[0].days, 60);
  // Skill on shared days ranks the same way (persistence's error is the same for both there).
  assert.deepEqual(
    rankRuns(noUniversal, 'skill', { symbol: '000001' }).runs.map((r) => r.run.name),
    ['full-history', 'from-2015'],
  );
});

test('a universal run is chosen for a symbol when it is better on that symbol’s own test days', () => {
  const ranking = rankRuns(runs, 'mae', { symbol: '000001' });
  assert.equal(ranking.basis, 'shared_days');
  assert.equal(ranking.sharedDays, 60, 'universal 200–299 ∩ full-history 150–299 ∩ from-2015 240–299');
  assert.equal(ranking.runs[0].run.name, 'universal');
  // For 000003 the universal run's own records there are worse than the single-stock run's.
  assert.deepEqual(
    rankedRuns(runs, 'mae', { symbol: '000003' }).map((r) => r.name),
    ['only-000003', 'universal'],
  );
  // For a stock it has no test records of, the universal run is no candidate.
  assert.deepEqual(
    rankedRuns(runs, 'mae', { symbol: '000002' }).map((r) => r.name),
    ['late', 'early'],
  );
});

test(`fewer than ${MIN_SHARED_DAYS} shared test days: ranked by skill vs persistence on each run's own days`, () => {
  const ranking = rankRuns(runs, 'mae', { symbol: '000002' });
  assert.equal(ranking.sharedDays, 0);
  assert.equal(ranking.basis, 'skill');
  assert.equal(ranking.rankedBy, 'skill');
  // early has the larger raw MAE (volatile days) and late the larger skill: skill decides.
  assert.ok(runMetric(byName('early'), 'mae')! > runMetric(byName('late'), 'mae')!);
  assert.ok(runMetric(byName('late'), 'skill')! > runMetric(byName('early'), 'skill')!);
  assert.deepEqual(
    ranking.runs.map((r) => r.run.name),
    ['late', 'early'],
  );
  assert.match(ranking.explanation, /share only 0 test days/);
});

test('across symbols only scale-free metrics: mae is refused with a clear message, skill ranks every run', () => {
  assert.throws(
    () => rankRuns(runs, 'mae'),
    (err: Error) => err instanceof UserError && /mae is in price units.*name a symbol \(--symbol.*skill, direction_accuracy, ic, rank_ic/.test(err.message),
  );
  const bySkill = rankRuns(runs, 'skill');
  assert.equal(bySkill.basis, 'own');
  const skills = bySkill.runs.map((r) => r.value!);
  assert.deepEqual(
    skills,
    [...skills].sort((a, b) => b - a),
  );

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'runs', 'best', ...args, '--output-dir', out], { encoding: 'utf8' });
  const refused = cli('--metric', 'mae');
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /mae is in price units, which differ between stocks and test segments: name a symbol \(--symbol/);
  const best = cli('--symbol', '000001', '--json');
  assert.equal(best.status, 0, best.stderr);
  const parsed = JSON.parse(best.stdout) as { name: string; basis: string; shared_days: number; rule: string };
  assert.equal(parsed.name, 'universal');
  assert.equal(parsed.basis, 'shared_days');
  assert.equal(parsed.shared_days, 60);
  const text = cli('--symbol', '000002');
  assert.match(text.stdout, /^late {2}skill /m);
  assert.match(text.stdout, /rule: 000002: the runs share only 0 test days \(fewer than 20\), so by skill/);
});

test('prune --keep-best-by keeps the run the rule chooses for each symbol, not the lowest raw MAE', () => {
  const plan = planPrune(runs, { statuses: ['completed'], keepBestBy: 'mae' });
  const kept = Object.fromEntries(plan.keep.map((k) => [k.run.name, k.why]));
  assert.equal(kept.universal, 'best run of 000001');
  assert.equal(kept.late, 'best run of 000002');
  assert.equal(kept['only-000003'], 'best run of 000003');
  assert.deepEqual(plan.remove.map((r) => r.run.name).sort(), ['early', 'from-2015', 'full-history']);
});
