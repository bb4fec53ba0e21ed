/**
 * The prediction engine behind the HTTP API's Predictor port (./ports.ts): the server has already
 * validated the symbol, chosen the run and read the last bar date, so this only forecasts and renames fields
 * to the API's snake_case.
 */
import type { Forecast, PredictionEngine } from '../prediction/index.js';
import type { Forecast as ApiForecast } from '../wire/index.js';
import type { Predictor } from './ports.js';

export function toApiForecast(f: Forecast): ApiForecast {
  return {
    symbol: f.symbol,
    run: f.run,
    base_date: f.baseDate,
    base_close: f.baseClose,
    adjust: f.adjust,
    horizon: f.horizon,
    interval_level: f.level,
    interval_method: f.interval,
    trend: f.trend,
    predictions: f.predictions.map((d) => ({ date: d.date, price: d.price, return: d.return, lower: d.lower, upper: d.upper })),
    ...(f.warnings.length ? { warnings: f.warnings } : {}),
  };
}

/** A Predictor for the server; `samples`/`level`/`seed` fix the interval every API forecast carries. */
export function createPredictor(engine: PredictionEngine, defaults: { samples?: number; level?: number; seed?: number } = {}): Predictor {
  return {
    async predict(symbol, options) {
      const forecast = await engine.predict(symbol, { ...defaults, days: options.days, run: options.run, endDate: options.endDate });
      return toApiForecast(forecast);
    },
    async rank(run, options) {
      const r = await engine.rank(run, 'all', { ...defaults, endDate: options.endDate, top: options.top });
      return {
        run: r.run ?? run,
        target: r.target,
        requested: r.requested,
        ranked: r.ranked,
        interval_level: r.level,
        interval_method: r.interval,
        items: r.entries.map((e) => ({
          rank: e.rank,
          symbol: e.symbol,
          base_date: e.baseDate,
          base_close: e.baseClose,
          return: e.return,
          price: e.price,
          lower: e.lower,
          upper: e.upper,
          score: e.score,
        })),
        failures: r.failures.map((f) => ({ symbol: f.symbol, code: f.code, message: f.message })),
      };
    },
  };
}
