/**
 * Where a batch keeps its own bookkeeping (DESIGN.md §4): out/batches/{batch_name}/ holds batch_progress.json,
 * batch_summary.json and batch.log, while the runs it trains go to out/{run}/ like every other run. This file names,
 * finds and lists those folders; names from users and the network are checked, and folders are read only where
 * their realpath stays inside out/batches/.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BATCHES_DIR, checkFolderName, containedDir, runTimestamp } from '../runs/index.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { isRecord } from '../util/values.js';
import type { BatchSummary } from './local.js';
import { PROGRESS_FILE, SUMMARY_FILE, countStatuses, type BatchProgress, type StockStatus } from './progress.js';

/** batch_{YYYYMMDD_HHMMSS}, in local time like run names. */
export function defaultBatchName(date = new Date()): string {
  return `batch_${runTimestamp(date)}`;
}

export function validateBatchName(name: string): string {
  return checkFolderName(name, 'batch name', 'bad_batch_name');
}

/** out/batches/ of an output folder. */
export function batchesRoot(outputDir: string): string {
  return join(resolve(outputDir), BATCHES_DIR);
}

/** The folder batch `name` uses (it may not exist yet). */
export function batchDirFor(outputDir: string, name: string): string {
  return join(batchesRoot(outputDir), validateBatchName(name));
}

/** The folder of an existing batch, a real folder inside out/batches/ (no link); otherwise batch_not_found. */
export function existingBatchDirFor(outputDir: string, name: string): string {
  validateBatchName(name);
  const root = batchesRoot(outputDir);
  const dir = containedDir(resolve(outputDir), BATCHES_DIR) === null ? null : containedDir(root, name);
  if (dir === null) throw new UserError(`no batch named ${name}`, 'batch_not_found');
  return dir;
}

export interface BatchFolder {
  name: string;
  dir: string;
  /** null when batch_progress.json is missing or unreadable (then `problem` says why) */
  progress: BatchProgress | null;
  /** batch_summary.json, written when an invocation of the batch finished */
  summary: BatchSummary | null;
  /** true when the summary covers the latest progress: nothing was recorded after it was written */
  finished: boolean;
  counts: Record<StockStatus, number> | null;
  problem: string | null;
}

/** Reads one batch folder; never throws on damaged files (they are reported in `problem`). */
export function readBatchFolder(dir: string, name: string): BatchFolder {
  const progressRead = readJson(join(dir, PROGRESS_FILE), { within: dir });
  const summaryRead = readJson(join(dir, SUMMARY_FILE), { within: dir });
  const progress =
    progressRead.ok && isRecord(progressRead.value) && progressRead.value.version === 1 && isRecord(progressRead.value.stocks)
      ? (progressRead.value as unknown as BatchProgress)
      : null;
  const summary =
    summaryRead.ok && isRecord(summaryRead.value) && Array.isArray(summaryRead.value.stocks) ? (summaryRead.value as unknown as BatchSummary) : null;
  const problems: string[] = [];
  if (!progress) problems.push(progressRead.ok ? `${PROGRESS_FILE} is not a batch progress file` : progressRead.reason);
  if (!summary && !summaryRead.ok && !summaryRead.missing) problems.push(summaryRead.reason);
  const finished = summary !== null && (progress === null || (summary.finishedAt ?? '') >= (progress.updatedAt ?? ''));
  return {
    name,
    dir,
    progress,
    summary,
    finished,
    counts: progress ? countStatuses(progress) : (summary?.counts ?? null),
    problem: problems.length ? problems.join('; ') : null,
  };
}

/** Every batch folder of out/batches/, newest first (by when the batch was started). Links are skipped. */
export function listBatches(outputDir: string): BatchFolder[] {
  const root = batchesRoot(outputDir);
  if (containedDir(resolve(outputDir), BATCHES_DIR) === null) return [];
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => readBatchFolder(join(root, e.name), e.name))
    .sort((a, b) => (b.progress?.createdAt ?? '').localeCompare(a.progress?.createdAt ?? '') || b.name.localeCompare(a.name));
}

/** The batch `--resume` continues without a name: the one started last that has a progress file. */
export function latestBatch(outputDir: string): BatchFolder | null {
  return listBatches(outputDir).find((b) => b.progress !== null) ?? null;
}
