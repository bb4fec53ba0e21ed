/**
 * Service-backed tests read their URL from the environment (.ci/run sets all of them).
 * Without a URL they skip with a visible message; with one they must run.
 */
import { spawnSync } from 'node:child_process';

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

/** The real A-share CSVs, read in place and never copied into the repo. */
export const ASHARE_DIR = new URL('../../../shared/data/ashare/', import.meta.url).pathname;
