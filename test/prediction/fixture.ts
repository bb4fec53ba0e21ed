/**
 * A seeded demo market in a temporary SQLite file and tiny runs trained on it by `runTraining` (the same call as
 * `klinecast train`), so prediction tests check against real run folders and real results/predictions.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemoMarket, migrate, openDatabase, writeDemoMarket, type DatabaseHandle } from '../../src/data/index.js';
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

export async function createMarket(): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'klinecast-predict-'));
  const url = `sqlite:${join(root, 'market.db')}`;
  const handle = await openDatabase(url);
  await migrate(handle);
  const market = generateDemoMarket({ ...DEMO });
  await writeDemoMarket(handle, market);
  return {
    root,
    url,
    outputDir: join(root, 'out'),
    handle,
    symbols: market.stocks.map((s) => s.symbol),
    async close() {
      await handle.close();
      rmSync(root, { recursive: true, force: true });
    },
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
