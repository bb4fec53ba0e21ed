import { readFileSync } from 'node:fs';

function readPackageVersion(): string {
  try {
    // src/util/ and dist/util/ both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The installed klinecast's version, from its package.json: what metadata.json, the CLI and the API report. */
export const KLINECAST_VERSION = readPackageVersion();
