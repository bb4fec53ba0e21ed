/**
 * Tests on the real data in ../shared/data/ashare/ skip with a visible message when it is absent (a checkout without
 * the sibling shared/ folder), and fail when KLINECAST_REQUIRE_ASHARE=1, as .ci/run sets it (issue 11).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

function runCalendarTests(env: Record<string, string>) {
  const environment: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete environment.NODE_TEST_CONTEXT; // a fresh runner, not a child of this one
  delete environment.KLINECAST_TEST_MYSQL_URL; // the SQLite variants are enough here
  return spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/data/calendar.test.ts'], {
    env: environment,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

test('without the real data its tests skip visibly and the rest pass; with KLINECAST_REQUIRE_ASHARE=1 they fail', { timeout: 240_000 }, () => {
  const empty = mkdtempSync(join(tmpdir(), 'klinecast-no-ashare-'));
  try {
    const skipped = runCalendarTests({ KLINECAST_ASHARE_DIR: empty, KLINECAST_REQUIRE_ASHARE: '0' });
    const output = skipped.stdout + skipped.stderr;
    assert.equal(skipped.status, 0, output);
    assert.match(output, /SKIPPED: real-data tests need the A-share CSVs in .*klinecast-no-ashare-/);
    assert.match(output, /the rule reproduces the real trading calendar .* # SKIPPED: real-data tests need/);
    assert.match(output, /ℹ fail 0\b/);
    assert.doesNotMatch(output, /ENOENT/);

    const required = runCalendarTests({ KLINECAST_ASHARE_DIR: empty, KLINECAST_REQUIRE_ASHARE: '1' });
    assert.notEqual(required.status, 0);
    assert.match(required.stdout + required.stderr, /the real A-share data is missing from .*KLINECAST_REQUIRE_ASHARE=1/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
