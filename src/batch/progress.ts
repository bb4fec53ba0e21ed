/**
 * The batch's memory across crashes: `batch_progress.json` in the batch folder (out/batches/{name}/), rewritten
 * atomically after every stock, so a SIGKILL at any instant leaves the last finished stock recorded and the file
 * parseable. Beside it: batch_summary.json when an invocation finishes, and batch.log.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BATCH_PROGRESS_FILE } from '../runs/names.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import type { JobMetrics } from './job.js';

export type StockStatus = 'pending' | 'completed' | 'failed' | 'skipped';

export interface StockProgress {
  status: StockStatus;
  runName: string | null;
  path: string | null;
  metrics: JobMetrics | null;
  /** why it was skipped or failed */
  reason: string | null;
  attempts: number;
  finishedAt: string | null;
  /** seconds the last attempt spent in its thread */
  seconds: number | null;
}

export interface BatchProgress {
  version: 1;
  modelType: string;
  configHash: string;
  config: unknown;
  /** run names are `{symbol}_{model}_{stamp}`, fixed when the batch starts so that a resume finds the same folders */
  stamp: string;
  createdAt: string;
  updatedAt: string;
  stocks: Record<string, StockProgress>;
}

export const PROGRESS_FILE = BATCH_PROGRESS_FILE;
export const SUMMARY_FILE = 'batch_summary.json';
export const LOG_FILE = 'batch.log';

export function progressPath(batchDir: string): string {
  return join(batchDir, PROGRESS_FILE);
}

export function readProgress(batchDir: string): BatchProgress | null {
  const path = progressPath(batchDir);
  if (!existsSync(path)) return null;
  let value: BatchProgress;
  try {
    value = JSON.parse(readFileSync(path, 'utf8')) as BatchProgress;
  } catch (err) {
    throw new UserError(`cannot read the batch progress file ${path}: ${(err as Error).message}`);
  }
  if (value.version !== 1 || typeof value.stocks !== 'object' || typeof value.configHash !== 'string') {
    throw new UserError(`${path} is not a klinecast batch progress file (version ${String(value.version)})`);
  }
  return value;
}

export function writeProgress(batchDir: string, progress: BatchProgress): void {
  progress.updatedAt = new Date().toISOString();
  writeJsonAtomic(progressPath(batchDir), progress);
}

export function emptyStock(): StockProgress {
  return { status: 'pending', runName: null, path: null, metrics: null, reason: null, attempts: 0, finishedAt: null, seconds: null };
}

export function countStatuses(progress: BatchProgress, symbols?: Iterable<string>): Record<StockStatus, number> {
  const counts: Record<StockStatus, number> = { pending: 0, completed: 0, failed: 0, skipped: 0 };
  for (const s of symbols ?? Object.keys(progress.stocks)) counts[progress.stocks[s]?.status ?? 'pending']++;
  return counts;
}
