/** `klinecast batch` takes the same hyper-parameter flags as `klinecast train`, from the one table in src/cli/train-flags.ts. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FLAGS, SHARED_FLAGS } from '../../src/cli/train-flags.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const klinecast = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });

test('batch --help lists every training flag except those about one run, as train --help does', () => {
  const batch = klinecast('batch', '--help').stdout;
  const train = klinecast('train', '--help').stdout;
  for (const f of FLAGS) assert.ok(train.includes(`--${f.flag} `), `train lacks --${f.flag}`);
  for (const f of SHARED_FLAGS) assert.ok(batch.includes(`--${f.flag} `), `batch lacks --${f.flag}`);
  for (const flag of ['--symbol ', '--run-name ']) assert.ok(!batch.includes(flag), `batch should not take ${flag}`);
  assert.deepEqual(
    FLAGS.filter((f) => !SHARED_FLAGS.includes(f)).map((f) => f.flag),
    ['symbol', 'symbols', 'stock-type', 'run-name', 'output-dir'],
  );
});

test('a bad hyper-parameter flag of batch is named in the error, as in train', () => {
  for (const args of [
    ['batch', '--epochs', '0'],
    ['train', '--symbol', '600519', '--epochs', '0'],
  ]) {
    const out = klinecast(...args, '--database', 'sqlite::memory:');
    assert.notEqual(out.status, 0);
    assert.match(out.stderr, /training\.epochs \(--epochs\): Too small/, `${args[0]}: ${out.stderr}`);
  }
});

test('one spelling of the date range across commands: --start/--end (predict keeps --end-date as a hidden alias)', () => {
  for (const command of ['train', 'batch', 'predict']) {
    const help = klinecast(command, '--help').stdout;
    assert.match(help, /--end <date>|--end <value>/, `${command} --help`);
    assert.doesNotMatch(help, /--end-date/, `${command} --help`);
  }
});
