import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
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
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args, '--output-dir', fx.outputDir, '--database', fx.url], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('klinecast predict --json prints the engine forecast (best run chosen without --run) and writes nothing', async () => {
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
