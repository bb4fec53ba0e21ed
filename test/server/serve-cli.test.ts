/** `klinecast serve` as a user runs it: migrates a fresh SQLite database, answers on the port it logs, stops on SIGTERM. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Json } from '../helpers/json.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));

test('klinecast serve starts on a fresh database, serves the API and exits cleanly on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-serve-'));
  const env = { ...process.env, KLINECAST_API_KEY: '', KLINECAST_REDIS_URL: '' };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '--port', '0', '--database', `sqlite:${join(dir, 'k.db')}`, '--output-dir', join(dir, 'out')],
    { env },
  );
  try {
    let log = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" line in 60 s:\n${log}`)), 60_000);
      child.stdout.on('data', (chunk) => {
        log += chunk;
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.stderr.on('data', (chunk) => (log += chunk));
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${log}`)));
    });
    const health = (await (await fetch(`${url}/health`)).json()) as Json;
    assert.equal(health.status, 'ok');
    assert.equal(health.database.dialect, 'sqlite');
    assert.equal(health.predictor, true);
    assert.equal(health.training, true);
    const stocks = (await (await fetch(`${url}/api/v1/stocks`)).json()) as Json;
    assert.deepEqual(stocks.items, [], 'the schema was migrated: an empty list, not an error');
    const refused = await fetch(`${url}/api/v1/training`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"symbol":"600519"}' });
    assert.equal(refused.status, 403);
    assert.match(log, /KLINECAST_API_KEY is not set/);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('klinecast serve refuses a bad port with a clear message', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '99999']);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /--port must be an integer 0-65535, got 99999/);
});
