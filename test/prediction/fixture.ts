/**
 * A seeded demo market in a temporary SQLite file and tiny runs trained on it by `runTraining` (the same call as
 * `klinecast train`), so prediction tests check against real run folders and real results/predictions.json.
 */
import { join } from 'node:path';
import { generateDemoMarket, writeDemoMarket, type DatabaseHandle, type Dialect } from '../../src/data/index.js';
import { createTestDatabase } from '../helpers/db.js';
import { parseTrainConfig, runTraining, type TrainConfigInput, type TrainingReport } from '../../src/training/index.js';

export const DEMO = { stocks: 3, start: '2021-01-01', end: '2024-12-31', seed: 7 } as const;
export const HORIZON = 3;

export interface Fixture {
  root: string;
  url: string;
  outputDir: string;
  handle: DatabaseHandle;
  symbols: string[];
  close(): Promise<void>;
}

/** The demo market in a fresh database of the dialect (SQLite temp file, or a scratch MySQL database). */
export async function createMarket(dialect: Dialect = 'sqlite'): Promise<Fixture> {
  const tdb = await createTestDatabase(dialect);
  const market = generateDemoMarket({ ...DEMO });
  await writeDemoMarket(tdb.handle, market);
  return {
    root: tdb.dir,
    url: tdb.url,
    outputDir: join(tdb.dir, 'out'),
    handle: tdb.handle,
    symbols: market.stocks.map((s) => s.symbol),
    close: () => tdb.cleanup(),
  };
}

/** A small LSTM (dropout 0.2, so MC dropout has something to sample) trained for a couple of epochs. */
export async function trainTinyRun(fx: Fixture, symbol: string, runName: string, overrides: TrainConfigInput = {}): Promise<TrainingReport> {
  const config = parseTrainConfig({
    data: { symbol, ...overrides.data },
    dataset: { seqLength: 20, horizon: HORIZON, ...overrides.dataset },
    model: { modelType: 'lstm', hiddenSize: 8, numLayers: 1, headHiddenSize: 8, dropout: 0.2, ...overrides.model },
    training: { epochs: 2, batchSize: 64, seed: 1, ...overrides.training },
    output: { outputDir: fx.outputDir, runName },
  });
  return runTraining({ config, databaseUrl: fx.url });
}

/** The same tiny LSTM as one universal model over every stock of the demo market (data.symbols: all). */
export async function trainTinyUniversalRun(fx: Fixture, runName: string, overrides: TrainConfigInput = {}): Promise<TrainingReport> {
  const config = parseTrainConfig({
    data: { symbols: 'all', ...overrides.data },
    dataset: { seqLength: 20, horizon: 1, ...overrides.dataset },
    model: { modelType: 'lstm', hiddenSize: 8, numLayers: 1, headHiddenSize: 8, dropout: 0.2, ...overrides.model },
    training: { epochs: 2, batchSize: 64, seed: 1 },
    output: { outputDir: fx.outputDir, runName },
  });
  return runTraining({ config, databaseUrl: fx.url });
}
