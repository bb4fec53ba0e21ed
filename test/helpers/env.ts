/**
 * Service-backed tests read their URL from the environment (.ci/run sets all of them).
 * Without a URL they skip with a visible message; with one they must run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

function announceSkip(what: string, variable: string): string {
  const message = `SKIPPED: ${what} tests need ${variable} (set by .ci/run)`;
  console.warn(`\n*** ${message} ***\n`);
  return message;
}

/** The MariaDB/MySQL URL for tests, or a skip message. Use as `test(name, { skip: mysql.skip }, ...)`. */
export const mysql = {
  url: process.env.KLINECAST_TEST_MYSQL_URL,
  get skip(): string | false {
    return this.url ? false : announceSkip('MySQL', 'KLINECAST_TEST_MYSQL_URL');
  },
};

export const redis = {
  url: process.env.KLINECAST_TEST_REDIS_URL,
  get skip(): string | false {
    return this.url ? false : announceSkip('Redis', 'KLINECAST_TEST_REDIS_URL');
  },
};

/** The reference Python interpreter: Debian's, which has python3-torch and python3-pandas. */
export const REFERENCE_PYTHON = '/usr/bin/python3';

function pythonHas(module: string): boolean {
  return spawnSync(REFERENCE_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Skip message for a reference-library test, false when it can run.
 * When .ci/run sets KLINECAST_REQUIRE_<MODULE>=1, a missing module fails instead of skipping.
 */
export function referenceSkip(module: 'torch' | 'pandas'): string | false {
  if (pythonHas(module)) return false;
  const required = process.env[`KLINECAST_REQUIRE_${module.toUpperCase()}`] === '1';
  if (required) throw new Error(`${REFERENCE_PYTHON} has no ${module}, but KLINECAST_REQUIRE_${module.toUpperCase()}=1 (apt-get install python3-${module})`);
  return announceSkip(`${module} reference`, `${REFERENCE_PYTHON} with ${module} (apt-get install python3-${module})`);
}

/**
 * The real A-share CSVs, read in place and never copied into the repo: ../shared/data/ashare/ beside the checkout,
 * or the folder KLINECAST_ASHARE_DIR names.
 */
export const ASHARE_DIR = process.env.KLINECAST_ASHARE_DIR
  ? join(resolve(process.env.KLINECAST_ASHARE_DIR), '/')
  : new URL('../../../shared/data/ashare/', import.meta.url).pathname;

let ashareSkip: string | false | undefined;

/**
 * Tests on the real data: `test(name, { skip: ashare.skip }, ...)`. Without the folder (a checkout with no sibling
 * shared/) they skip with a visible message; when .ci/run sets KLINECAST_REQUIRE_ASHARE=1 a missing folder fails.
 */
export const ashare = {
  get available(): boolean {
    return existsSync(join(ASHARE_DIR, '600519.csv'));
  },
  get skip(): string | false {
    if (ashareSkip !== undefined) return ashareSkip;
    if (this.available) return (ashareSkip = false);
    if (process.env.KLINECAST_REQUIRE_ASHARE === '1') {
      throw new Error(`the real A-share data is missing from ${ASHARE_DIR}, but KLINECAST_REQUIRE_ASHARE=1 (see ../shared/data/ashare/SOURCES.md)`);
    }
    const message = `SKIPPED: real-data tests need the A-share CSVs in ${ASHARE_DIR} (../shared/data/ashare/, or KLINECAST_ASHARE_DIR)`;
    console.warn(`\n*** ${message} ***\n`);
    return (ashareSkip = message);
  },
};
