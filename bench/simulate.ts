/**
 * The trading simulation on 5 years × 500 synthetic stocks (a seeded random walk with ±10% limits, 1% of days
 * suspended, a forecast for every stock every day): TopkDropout 50 / n_drop 5 under every rule, with the second,
 * cost-free run the summary needs. The clock covers building the market and the signals and both runs; generating the
 * synthetic bars happens before it starts. Target: under 5 s. Run: npm run bench:simulate
 */
import { cpus, loadavg } from 'node:os';
import { SeededRandom, ruleTradingDays } from '../src/data/index.js';
import { DEFAULT_SIMULATION, buildMarket, simulate, type MarketStockInput, type SignalInput } from '../src/evaluation/trading/index.js';

const STOCKS = 500;
const dates = ruleTradingDays('2019-01-02', '2023-12-29');
const rng = new SeededRandom(17);
const stocks: MarketStockInput[] = [];
const forecasts: SignalInput[] = [];
for (let k = 0; k < STOCKS; k++) {
  const symbol = String(600000 + k).padStart(6, '0');
  let close = 5 + rng.uniform() * 45;
  const bars: MarketStockInput['bars'] = [];
  for (const date of dates) {
    if (rng.uniform() < 0.01) continue; // suspended
    const pre = close;
    const move = Math.max(-0.1, Math.min(0.1, rng.normal() * 0.025));
    close = Math.round(pre * (1 + move) * 100) / 100;
    const open = Math.round(pre * (1 + Math.max(-0.1, Math.min(0.1, move * rng.uniform()))) * 100) / 100;
    bars.push({ date, open, close, preClose: pre, vol: 1000, limitStatus: null });
    forecasts.push({ symbol, date, score: move * 0.1 + rng.normal() * 0.01 });
  }
  stocks.push({ symbol, bars });
}

const closes = new Float64Array(dates.length).fill(NaN);
let level = 4000;
for (let d = 0; d < dates.length; d++) closes[d] = level *= 1 + rng.normal() * 0.012;

const runs: number[] = [];
let trades = 0;
let days = 0;
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  const market = buildMarket(stocks);
  const out = simulate(
    market,
    forecasts,
    { kind: 'topk', topk: 50, nDrop: 5, riskDegree: 0.95 },
    { ...DEFAULT_SIMULATION, cash: 10_000_000 },
    { name: 'index', closes },
  );
  runs.push(performance.now() - t0);
  trades = out.record.trades.length;
  days = out.summary.trading_days;
}
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), node ${process.version}, load ${loadavg()[0].toFixed(2)}`);
console.log(
  `${STOCKS} stocks × ${dates.length} days (${forecasts.length} forecasts): ${days} trade days, ${trades} trades, topk 50 / n_drop 5, two runs (with and without costs)`,
);
console.log(`simulate: first ${(runs[0] / 1000).toFixed(2)} s, best ${(Math.min(...runs) / 1000).toFixed(2)} s of ${runs.length} (target < 5 s)`);
