/**
 * Shared by the server tests: a throwaway MariaDB database holding real bars of a few stocks, fixture run folders
 * written through the public TrainingManager API, and a real server listening on loopback.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { seriesToBars, sliceSeries, writeBars, type DatabaseHandle, type KlineBar } from '../../src/data/index.js';
import { upsertStockInfo } from '../../src/data/writer.js';
import {
  createServer,
  type Forecast,
  type PredictOptions,
  type Predictor,
  type ServerOptions,
  type TrainingJob,
  type TrainingJobs,
} from '../../src/server/index.js';
import type { TrainConfig } from '../../src/training/config.js';
import { UserError } from '../../src/util/errors.js';
import { readAshare } from '../helpers/ashare.js';
import { createTestDatabase as createScratchDatabase } from '../helpers/db.js';
import { writeCompletedRun } from '../training/manager-fixtures.js';
import type { Json } from '../helpers/json.js';

export const STOCKS = [
  { symbol: '600519', name: '贵州茅台', stockType: '主板', exchange: 'SSE', market: 'SH', industry: '白酒' },
  { symbol: '000001', name: '平安银行', stockType: '主板', exchange: 'SZSE', market: 'SZ', industry: '银行' },
  { symbol: '300750', name: '宁德时代', stockType: '创业板', exchange: 'SZSE', market: 'SZ', industry: '电池' },
] as const;

/** Bars per stock: the last ~2 years keep setup under a second. */
export const BARS_PER_STOCK = 500;

export interface TestDatabase {
  handle: DatabaseHandle;
  drop(): Promise<void>;
}

function barsOf(symbol: string): KlineBar[] {
  const s = readAshare(symbol);
  return seriesToBars(sliceSeries(s, Math.max(0, s.dates.length - BARS_PER_STOCK)));
}

/** A scratch MariaDB database (the shared test helper's) holding the real bars and info of STOCKS; drop() removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const tdb = await createScratchDatabase('mysql');
  const { handle } = tdb;
  await handle.db.transaction().execute(async (trx) => {
    for (const stock of STOCKS) await writeBars(trx, handle.dialect, barsOf(stock.symbol));
    await upsertStockInfo(
      trx,
      handle.dialect,
      STOCKS.map((s) => ({
        symbol: s.symbol,
        name: s.name,
        exchange: s.exchange,
        market: s.market,
        stockType: s.stockType,
        industry: s.industry,
        listDate: null,
        delistDate: null,
        isActive: true,
      })),
    );
  });
  return { handle, drop: () => tdb.cleanup() };
}

export interface FixtureRuns {
  outputDir: string;
  /** Completed runs: two of 600519 (the second with the lower MAE), one of 000001. */
  completed: string[];
  bestFor600519: string;
  cleanup(): void;
}

/** An output folder with completed runs written by TrainingManager, a corrupt folder and a file outside it. */
export function writeFixtureRuns(): FixtureRuns {
  const root = mkdtempSync(join(tmpdir(), 'klinecast-server-'));
  const outputDir = join(root, 'out');
  const a = writeCompletedRun(outputDir, { symbol: '600519', runName: '600519_lstm_fixture', maeScale: 1 }).runName;
  const b = writeCompletedRun(outputDir, { symbol: '600519', modelType: 'gru', runName: '600519_gru_fixture', maeScale: 1.8 }).runName;
  const c = writeCompletedRun(outputDir, { symbol: '000001', runName: '000001_lstm_fixture' }).runName;
  // A run folder without its metadata.json (config.json and logs/ only): listed as corrupt, not a run to serve.
  mkdirSync(join(outputDir, 'half_created', 'logs'), { recursive: true });
  writeFileSync(join(outputDir, 'half_created', 'config.json'), '{}');
  // A secret beside out/: path traversal attempts aim at it.
  writeFileSync(join(root, 'secret.json'), '{"secret": true}\n');
  return { outputDir, completed: [a, b, c], bestFor600519: b, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** The MySQL test database and the fixture runs a server test file shares; `dispose` once its servers are closed. */
export interface FixtureData {
  db: TestDatabase;
  runs: FixtureRuns;
  dispose(): Promise<void>;
}

export async function createFixtureData(): Promise<FixtureData> {
  const db = await createTestDatabase();
  const runs = writeFixtureRuns();
  return {
    db,
    runs,
    async dispose() {
      await db.drop();
      runs.cleanup();
    },
  };
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const app = await createServer({ webDir: null, ...options });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, close: () => app.close() };
}

/** A server whose predictor and training jobs only record what they are asked, with no rate limit and no cached run list. */
export function startRecordingServer(options: ServerOptions): Promise<RunningServer> {
  return startServer({ predictor: new RecordingPredictor(5), trainingJobs: new RecordingTrainingJobs(), rateLimit: false, runListTtlMs: 0, ...options });
}

/** fetch + JSON, returning status, headers and body. */
export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Json }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // non-JSON (HTML, assets)
  }
  return { status: res.status, headers: res.headers, body };
}

// ---------------------------------------------------------------------------------------------------------------
// Test doubles of the two pluggable services. They stand in for the PredictionEngine and the Trainer so the routes'
// own behaviour (run choice, cache, auth, error mapping) is tested; they compute nothing.

export class RecordingPredictor implements Predictor {
  readonly calls: Array<{ symbol: string } & PredictOptions> = [];
  constructor(private readonly horizon = 5) {}

  async predict(symbol: string, options: PredictOptions): Promise<Forecast> {
    this.calls.push({ symbol, ...options });
    const days = options.days ?? this.horizon;
    if (days > this.horizon) throw new UserError(`days ${options.days} exceeds the run's horizon ${this.horizon}`, 'horizon_exceeded');
    const base = 100;
    const predictions = Array.from({ length: days }, (_, i) => ({
      date: `2099-01-${String(i + 1).padStart(2, '0')}`,
      price: base * Math.exp(0.01 * (i + 1)),
      return: 0.01 * (i + 1),
      lower: base * Math.exp(0.01 * (i + 1) - 0.02),
      upper: base * Math.exp(0.01 * (i + 1) + 0.02),
    }));
    return {
      symbol,
      run: options.run,
      base_date: options.endDate,
      base_close: base,
      horizon: this.horizon,
      interval_level: 0.9,
      interval_method: 'conformal',
      trend: 'up',
      predictions,
    };
  }
}

export class RecordingTrainingJobs implements TrainingJobs {
  readonly configs: TrainConfig[] = [];
  private readonly jobs = new Map<string, TrainingJob>();

  async start(config: TrainConfig): Promise<TrainingJob> {
    this.configs.push(config);
    const id = `job-${this.jobs.size + 1}`;
    const job: TrainingJob = {
      id,
      state: 'queued',
      symbol: config.data.symbol,
      model_type: config.model.modelType,
      run_name: null,
      progress: null,
      error: null,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
    };
    this.jobs.set(id, job);
    return job;
  }

  async get(id: string): Promise<TrainingJob | null> {
    return this.jobs.get(id) ?? null;
  }

  async cancel(id: string): Promise<TrainingJob | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    job.state = 'cancelled';
    job.finished_at = new Date().toISOString();
    return job;
  }
}
