import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listForecasts } from '../../src/data/index.js';
import { PredictionEngine } from '../../src/prediction/index.js';
import { HORIZON, createMarket, trainTinyRun, type Fixture } from './fixture.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
let fx: Fixture;

before(async () => {
  fx = await createMarket();
  await trainTinyRun(fx, fx.symbols[0], 'cli_run');
});

after(async () => {
  await fx?.close();
});

function klinecast(...args: string[]) {
  return klinecastOn(...args, '--output-dir', fx.outputDir);
}

/** A command with the fixture's database only (`predictions list` and `reconcile` read no run folder). */
function klinecastOn(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args, '--database', fx.url], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('klinecast predict --json prints the engine forecast (best run chosen without --run) and writes nothing into the runs', async () => {
  const before = readdirSync(fx.outputDir, { recursive: true }).sort();
  const r = klinecast('predict', '--symbol', fx.symbols[0], '--days', '2', '--end-date', '2024-09-27', '--samples', '30', '--json');
  assert.equal(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout);
  const expected = await new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir }).predict(fx.symbols[0], {
    days: 2,
    endDate: '2024-09-27',
    samples: 30,
  });
  assert.deepEqual(printed, expected);
  assert.equal(printed.run, 'cli_run');
  assert.deepEqual(readdirSync(fx.outputDir, { recursive: true }).sort(), before);
});

test('klinecast predict: a table for people, and days beyond the horizon exit 2 naming it', () => {
  const table = klinecast('predict', '--symbol', fx.symbols[0], '--run', 'cli_run', '--end', '2024-09-27');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /base 2024-09-27 close/);
  assert.match(table.stdout, /2024-09-30 .*\n2024-10-08 .*\n2024-10-09 /);
  assert.match(table.stdout, /90% split-conformal interval \(calibrated on the run's validation residuals/);
  const mc = klinecast('predict', '--symbol', fx.symbols[0], '--run', 'cli_run', '--end', '2024-09-27', '--interval', 'mc-dropout');
  assert.match(mc.stdout, /90% MC-dropout band \(100 samples, seed 42\): the model's own spread, not a calibrated interval/);
  const bad = klinecast('predict', '--symbol', fx.symbols[0], '--run', 'cli_run', '--interval', 'bootstrap');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--interval must be one of conformal, mc-dropout, none/);
  const tooFar = klinecast('predict', '--symbol', fx.symbols[0], '--run', 'cli_run', '--days', String(HORIZON + 2));
  assert.equal(tooFar.code, 2);
  assert.match(tooFar.stderr, new RegExp(`error: run cli_run predicts ${HORIZON} trading days ahead \\(its horizon\\); ${HORIZON + 2} days were asked`));
});

test('klinecast predict records its forecast in the ledger (not with --no-record); predictions list, score and reconcile read it', async () => {
  const quiet = klinecast('predict', '--symbol', fx.symbols[0], '--run', 'cli_run', '--end-date', '2024-09-20', '--no-record');
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal((await listForecasts(fx.handle, { since: '2024-09-20' })).filter((r) => r.baseDate === '2024-09-20').length, 0);

  const recorded = klinecast('predict', '--symbol', fx.symbols[0], '--run', 'cli_run', '--end-date', '2024-09-20', '--json');
  assert.equal(recorded.code, 0, recorded.stderr);
  const forecast = JSON.parse(recorded.stdout);
  const listed = klinecastOn('predictions', 'list', '--run', 'cli_run', '--symbol', fx.symbols[0], '--since', '2024-09-20', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const rows = (
    JSON.parse(listed.stdout) as Array<{ baseDate: string; step: number; source: string; live: boolean; actualClose: number | null; predictedPrice: number }>
  ).filter((r) => r.baseDate === '2024-09-20');
  assert.equal(rows.length, HORIZON);
  for (const r of rows) {
    assert.equal(r.source, 'cli');
    // The days after 2024-09-20 are in the database already: a forecast from the past is reconciled as it is recorded,
    // and marked as made with hindsight.
    assert.equal(typeof r.actualClose, 'number');
    assert.equal(r.live, false);
    assert.ok(Math.abs(r.predictedPrice - forecast.predictions[r.step - 1].price) < 1e-9 * r.predictedPrice);
  }

  const score = klinecast('predictions', 'score', '--run', 'cli_run', '--json');
  assert.equal(score.code, 0, score.stderr);
  const [run] = JSON.parse(score.stdout).runs;
  assert.equal(run.run, 'cli_run');
  // Every forecast of this file starts from a past day: all hindsight, none scored live.
  assert.equal(run.live.n, 0);
  assert.ok(run.hindsight >= HORIZON);
  assert.ok(run.test !== null && run.test.n > 0);
  const table = klinecast('predictions', 'score');
  assert.match(table.stdout, /cli_run +live \(0 pending, \d+ hindsight\)/);
  assert.match(table.stdout, /\n +test +\d+ /);

  const reconcile = klinecastOn('predictions', 'reconcile', '--json');
  assert.equal(reconcile.code, 0, reconcile.stderr);
  assert.equal(JSON.parse(reconcile.stdout).reconciled, 0, 'everything recorded was reconciled already');
  const bad = klinecastOn('predictions', 'list', '--since', 'someday');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since "someday" is not a date/);
});
