/**
 * Covariates for a universal model: the board as a one-hot from the code (board_main, board_chinext, board_star,
 * board_bse), constant along a stock's rows, and usable as features of a universal dataset.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barsToSeries, generateDemoMarket } from '../../src/data/index.js';
import { DEFAULT_FEATURES, buildUniverseDataset, computeFeatureFrame } from '../../src/features/index.js';
import type { KlineSeries } from '../../src/data/index.js';

const BOARDS = ['board_main', 'board_chinext', 'board_star', 'board_bse'];

/** A demo stock's bars under another code. */
function asSymbol(series: KlineSeries, symbol: string): KlineSeries {
  return { ...series, symbol } as KlineSeries;
}

test('the board one-hot follows the code: 600519 and 002594 main, 300750 ChiNext, 688981 STAR, 830799 BSE, the index 399001 none', () => {
  const market = generateDemoMarket({ stocks: 1, start: '2022-01-01', end: '2022-03-31', seed: 1 });
  const base = barsToSeries(market.bars(0));
  const cases: Array<[string, number[]]> = [
    ['600519', [1, 0, 0, 0]],
    ['002594', [1, 0, 0, 0]],
    ['300750', [0, 1, 0, 0]],
    ['688981', [0, 0, 1, 0]],
    ['830799', [0, 0, 0, 1]],
    ['399001', [0, 0, 0, 0]], // the SZSE component index: no board
  ];
  for (const [symbol, expected] of cases) {
    const frame = computeFeatureFrame(asSymbol(base, symbol), BOARDS);
    for (let r = 0; r < frame.rows; r++) assert.deepEqual(Array.from(frame.values.subarray(r * 4, r * 4 + 4)), expected, `${symbol} row ${r}`);
  }
  assert.ok(!BOARDS.some((b) => DEFAULT_FEATURES.includes(b)), 'covariates are asked for by name, not in the default set');
});

test('a universal dataset over stocks of two boards trains with the board columns, scaled on the pooled training rows', () => {
  const market = generateDemoMarket({ stocks: 4, start: '2021-01-01', end: '2022-12-31', seed: 5 });
  const symbols = ['600000', '600004', '300001', '300002'];
  const series = market.stocks.map((_, i) => asSymbol(barsToSeries(market.bars(i)), symbols[i]));
  const dataset = buildUniverseDataset(series, { seqLength: 10, features: ['log_return', 'board_main', 'board_chinext'] });
  assert.deepEqual(dataset.members, [...symbols].sort());
  const state = dataset.featureScaler.toJSON();
  // Half the pooled training rows are main board: mean about 0.5, and the two one-hot columns mirror each other.
  assert.ok(Math.abs(state.center[1] - 0.5) < 0.05, `center ${state.center[1]}`);
  assert.ok(Math.abs(state.center[1] + state.center[2] - 1) < 1e-9);
  const first = dataset.train.window(0);
  const last = dataset.train.window(dataset.train.size - 1);
  assert.notEqual(first[1], last[1], 'a ChiNext window and a main-board window differ in the board column');
});
