import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs `klinecast ...` from source in `cwd`, with the database variables of the parent removed and `env` added. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['KLINECAST_DATABASE_URL', 'DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME']) delete env[k];
  Object.assign(env, options.env);
  return spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { cwd: options.cwd, env, encoding: 'utf8', timeout: 180_000 });
}
