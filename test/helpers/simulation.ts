/**
 * A tiny market in a test database and a universal run folder with forecasts for it, shared by the simulation tests
 * (runs, server, dashboard). Five days of March 2023: a main-board stock flat at 10.00, an *ST stock that opens at its
 * +5% limit on day 2, a STAR stock listed on day 1 that opens +20% on day 2 (no limit in its first five days), and the
 * CSI 300 index.
 */
import { writeBars, type KlineBar } from '../../src/data/index.js';
import { upsertStockInfo } from '../../src/data/writer.js';
import { DEFAULT_COSTS, DEFAULT_RULES } from '../../src/evaluation/trading/index.js';
import { TrainingManager } from '../../src/runs/index.js';
import type { SimulationRequest } from '../../src/runs/simulations.js';
import type { TestDatabase } from './db.js';
import { testBar } from './bars.js';

const DAYS = ['2023-03-01', '2023-03-02', '2023-03-03', '2023-03-06', '2023-03-07'];

function bars(symbol: string, previousClose: number, rows: Array<[open: number, close: number]>): KlineBar[] {
  let pre = previousClose;
  return rows.map(([open, close], i) => {
    const bar = testBar(symbol, DAYS[i], close, pre, { open, high: Math.max(open, close), low: Math.min(open, close) });
    pre = close;
    return bar;
  });
}

const info = (symbol: string, name: string, listDate: string | null) => ({
  symbol,
  name,
  exchange: 'SSE',
  market: null,
  stockType: null,
  industry: null,
  listDate,
  delistDate: null,
  isActive: true,
});

export const SIMULATION_REQUEST: SimulationRequest = {
  strategy: { kind: 'topk', topk: 2, nDrop: 1, riskDegree: 0.95 },
  dealPrice: 'open',
  cash: 100_000,
  benchmark: '000300',
  rules: DEFAULT_RULES,
  costs: DEFAULT_COSTS,
  name: 'topk_test',
};

/** Writes the bars and stock info into `tdb` and the run out/lstm_universal/ (results/predictions.json, metadata.json). */
export async function seedSimulationFixture(tdb: Pick<TestDatabase, 'handle' | 'dialect'>, out: string) {
  await writeBars(tdb.handle.db, tdb.dialect, [
    ...bars('600000', 10, [
      [10, 10],
      [10, 10],
      [10, 10],
      [10, 10],
      [10, 10],
    ]),
    // *ST: 10.50 is +5%, its limit-up (a main-board stock would have 11.00)
    ...bars('600004', 10, [
      [10, 10],
      [10.5, 10.5],
      [10.5, 10.5],
      [10.5, 10.5],
      [10.5, 10.5],
    ]),
    // STAR, listed 2023-03-01: +20% on its second day is no limit (the first five days have none)
    ...bars('688001', 50, [
      [50, 50],
      [60, 60],
      [60, 60],
      [60, 60],
      [60, 60],
    ]),
    ...bars('000300', 4000, [
      [4000, 4000],
      [4000, 4040],
      [4040, 4040],
      [4040, 3999.6],
      [3999.6, 3999.6],
    ]),
  ]);
  await upsertStockInfo(tdb.handle.db, tdb.dialect, [
    info('600000', '浦发银行', '1999-11-10'),
    info('600004', '*ST白云', '2003-04-28'),
    info('688001', '华兴源创', '2023-03-01'),
  ]);
  // A completed universal run, as TrainingManager writes one (no weights: the simulation reads only its forecasts).
  const manager = TrainingManager.create({ outputDir: out, runName: 'lstm_universal', symbol: null, modelType: 'lstm', config: { symbols: 'all' } });
  for (const status of ['preparing', 'training', 'evaluating', 'completed'] as const) manager.updateStatus(status);
  const run = manager.runDir;
  const scores: Record<string, number[]> = { '2023-03-01': [0.01, 0.03, 0.02], '2023-03-02': [0.01, 0.03, 0.02], '2023-03-03': [0.01, 0.03, 0.02] };
  const records = Object.entries(scores).flatMap(([date, s]) =>
    s.map((predicted_return, k) => ({
      symbol: ['600000', '600004', '688001'][k],
      date,
      step: 1,
      predicted_return,
      target_date: null,
      last_close: 1,
      actual_price: 1,
      predicted_price: 1,
      actual_return: 0,
    })),
  );
  manager.savePredictions({ generated_at: '2026-01-01T00:00:00Z', split: 'test', horizon: 1, n_samples: 9, return_type: 'log', records });

  return { run, records };
}
