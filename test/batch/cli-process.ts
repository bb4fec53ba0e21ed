/** `klinecast` from source as a child process the test can watch and kill (spawnSync cannot be SIGKILLed halfway). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Training flags that keep a CLI train or batch to a second per stock: one epoch of a tiny model, no progress bar. */
export const TINY_TRAIN_FLAGS = [
  '--epochs',
  '1',
  '--seq-length',
  '10',
  '--hidden-size',
  '8',
  '--num-layers',
  '1',
  '--head-hidden-size',
  '8',
  '--batch-size',
  '64',
  '--no-progress',
];

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  /** resolves once stdout+stderr match `pattern` */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function startCli(args: string[], env: Record<string, string> = {}, options: { cwd?: string } = {}): CliProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['KLINECAST_DATABASE_URL', 'DB_HOST', 'DB_NAME']) if (!(k in env)) delete childEnv[k];
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { env: childEnv, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (d) => {
    out += d;
    for (const w of watchers) w();
  });
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of watchers) w();
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(out + err)) {
            watchers.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        watchers.add(check);
        void exited.then(() => {
          if (watchers.has(check)) {
            check();
            if (watchers.has(check)) {
              watchers.delete(check);
              clearTimeout(timer);
              reject(new Error(`process exited before ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
            }
          }
        });
        check();
      });
    },
  };
}

/** Runs to the end and returns the exit code and output. */
export async function runCliToEnd(
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string } = {},
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = startCli(args, env, options);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
