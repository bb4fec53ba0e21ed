/**
 * The model registry: one row per trained run in the `model_registry` table (src/data migration
 * 003_model_registry), so runs trained by many machines into many folders are visible in one place.
 * Registering is an upsert on run_name, so registering the same run twice leaves one row.
 */
import { hostname } from 'node:os';
import { upsert } from '../data/db/upsert.js';
import { sqlNow } from '../data/db/url.js';
import type { DatabaseHandle } from '../data/db/connection.js';
import type { Db, Dialect, ModelRegistryTable } from '../data/db/schema.js';

export type RegistryStatus = 'completed' | 'failed';

/** The headline figures of a run (best_val_loss, mae, skill…), stored as JSON in the metrics column. */
export type RegistryMetrics = Record<string, number | null>;

export interface RegistryEntry {
  runName: string;
  symbol: string | null;
  modelType: string;
  configHash: string;
  status: RegistryStatus;
  metrics: RegistryMetrics | null;
  /** absolute path of the run folder on `host` (or on shared storage) */
  path: string;
  host: string;
  /** 'YYYY-MM-DD HH:MM:SS' UTC */
  createdAt: string;
  finishedAt: string | null;
}

export interface RegistryFilter {
  symbol?: string;
  modelType?: string;
  status?: RegistryStatus[];
  configHash?: string;
  host?: string;
  /** newest first; at most this many */
  limit?: number;
}

type RegistryRow = Omit<ModelRegistryTable, 'id'>;

const REGISTRY_COLUMNS = ['run_name', 'symbol', 'model_type', 'config_hash', 'status', 'metrics', 'path', 'host', 'created_at', 'finished_at'] as const;

function toRow(e: RegistryEntry): RegistryRow {
  return {
    run_name: e.runName,
    symbol: e.symbol,
    model_type: e.modelType,
    config_hash: e.configHash,
    status: e.status,
    metrics: e.metrics ? JSON.stringify(e.metrics) : null,
    path: e.path,
    host: e.host,
    created_at: e.createdAt,
    finished_at: e.finishedAt,
  };
}

function fromRow(r: RegistryRow): RegistryEntry {
  let metrics: RegistryMetrics | null = null;
  if (r.metrics) {
    try {
      metrics = JSON.parse(r.metrics) as RegistryMetrics;
    } catch {
      metrics = null;
    }
  }
  return {
    runName: r.run_name,
    symbol: r.symbol,
    modelType: r.model_type,
    configHash: r.config_hash,
    status: r.status as RegistryStatus,
    metrics,
    path: r.path,
    host: r.host,
    createdAt: String(r.created_at),
    finishedAt: r.finished_at === null ? null : String(r.finished_at),
  };
}

/** Fills host and timestamps for a run finished here and now. */
export function localEntry(
  entry: Omit<RegistryEntry, 'host' | 'createdAt' | 'finishedAt'> & Partial<Pick<RegistryEntry, 'createdAt' | 'finishedAt'>>,
): RegistryEntry {
  const now = sqlNow();
  return { host: hostname(), createdAt: now, finishedAt: now, ...entry };
}

/** ISO-8601 as the registry's 'YYYY-MM-DD HH:MM:SS' UTC. */
export function registryTime(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 19).replace('T', ' ') : null;
}

/** Registers a run that completed on this host just now: how batch, queue workers, train and API jobs all record theirs. */
export async function registerCompleted(
  handle: Pick<DatabaseHandle, 'db' | 'dialect'>,
  run: Pick<RegistryEntry, 'runName' | 'symbol' | 'modelType' | 'configHash' | 'metrics' | 'path'>,
): Promise<void> {
  await registerRun(handle.db, handle.dialect, localEntry({ ...run, status: 'completed' }));
}

export async function registerRun(db: Db, dialect: Dialect, entry: RegistryEntry): Promise<void> {
  // created_at stays as first registered; every other column follows the newest registration.
  const update = REGISTRY_COLUMNS.filter((c) => c !== 'run_name' && c !== 'created_at');
  await upsert(db, dialect, 'model_registry', [toRow(entry)], ['run_name'], update);
}

export async function listRegistry(db: Db, filter: RegistryFilter = {}): Promise<RegistryEntry[]> {
  let q = db.selectFrom('model_registry').select(REGISTRY_COLUMNS);
  if (filter.symbol) q = q.where('symbol', '=', filter.symbol);
  if (filter.modelType) q = q.where('model_type', '=', filter.modelType);
  if (filter.status && filter.status.length) q = q.where('status', 'in', filter.status);
  if (filter.configHash) q = q.where('config_hash', '=', filter.configHash);
  if (filter.host) q = q.where('host', '=', filter.host);
  q = q.orderBy('created_at', 'desc').orderBy('run_name');
  if (filter.limit !== undefined) q = q.limit(filter.limit);
  return (await q.execute()).map(fromRow);
}

/** The completed run of (symbol, config), if any machine already trained it: a retried queue job reuses it instead of training twice. */
export async function findCompleted(db: Db, symbol: string, configHashValue: string): Promise<RegistryEntry | null> {
  const row = await db
    .selectFrom('model_registry')
    .select(REGISTRY_COLUMNS)
    .where('symbol', '=', symbol)
    .where('config_hash', '=', configHashValue)
    .where('status', '=', 'completed')
    .orderBy('created_at')
    .executeTakeFirst();
  return row ? fromRow(row) : null;
}
