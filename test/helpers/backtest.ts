/**
 * A tiny universal walk-forward backtest on the synthetic demo market, shared by the API and dashboard tests: three
 * stocks, a one-layer LSTM of hidden size 8 over 10 days, 1 epoch a fold, monthly folds from 2022-10-01 (three), ACI
 * on the records (so both split-conformal and ACI coverage are measured). With a database, its bars go there too,
 * so the backtest can be simulated.
 */
import { join } from 'node:path';
import { barsToSeries, generateDemoMarket, writeDemoMarket } from '../../src/data/index.js';
import type { DatabaseHandle } from '../../src/data/db/connection.js';
import { resolveTrainConfig, runBacktest, type BacktestReport } from '../../src/training/index.js';

export const TINY_BACKTEST_MARKET = { stocks: 3, start: '2021-06-01', end: '2022-12-31', seed: 7 } as const;

export async function writeTinyBacktest(outputDir: string, options: { name?: string; database?: DatabaseHandle } = {}): Promise<BacktestReport> {
  const market = generateDemoMarket(TINY_BACKTEST_MARKET);
  if (options.database) await writeDemoMarket(options.database, market);
  const series = market.stocks.map((_, i) => barsToSeries(market.bars(i)));
  const config = resolveTrainConfig({
    overrides: {
      data: { symbols: series.map((s) => s.symbol) },
      dataset: { seqLength: 10 },
      model: { modelType: 'lstm', hiddenSize: 8, numLayers: 1, headHiddenSize: 8 },
      training: { epochs: 1, batchSize: 64 },
      output: { outputDir: join(outputDir) },
    },
  });
  return runBacktest({ config, settings: { start: '2022-10-01', retrain: 'monthly', interval: 'aci', name: options.name ?? 'bt_tiny' }, series, outputDir });
}
