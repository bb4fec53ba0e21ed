import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PredictionEngine } from '../../src/prediction/index.js';
import type { PredictionsFile } from '../../src/evaluation/index.js';
import { dialects } from '../helpers/db.js';
import { HORIZON, createMarket, trainTinyRun } from './fixture.js';

// The same forecast on both dialects: MySQL's DECIMAL prices and DATE strings must reach the features unchanged,
// and the batch path (one streamed query for many symbols) must read what the single-symbol path reads.
for (const { dialect, skip } of dialects()) {
  test(`predict agrees with results/predictions.json, and a batch with single calls [${dialect}]`, { skip, timeout: 120_000 }, async () => {
    const fx = await createMarket(dialect);
    try {
      const [symbol] = fx.symbols;
      await trainTinyRun(fx, symbol, 'run');
      const saved: PredictionsFile = JSON.parse(readFileSync(join(fx.outputDir, 'run', 'results', 'predictions.json'), 'utf8'));
      const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
      const date = saved.records[Math.floor(saved.records.length / 2)].date;
      const f = await engine.predict(symbol, { run: 'run', endDate: date, samples: 0 });
      const records = saved.records.filter((r) => r.date === date).sort((a, b) => a.step - b.step);
      assert.equal(records.length, HORIZON);
      records.forEach((r, k) => {
        assert.ok(Math.abs(f.predictions[k].price - r.predicted_price) <= 1e-9 * r.predicted_price, `${f.predictions[k].price} vs ${r.predicted_price}`);
        assert.equal(f.predictions[k].date, r.target_date);
      });
      const request = { run: 'run', samples: 10, allowOtherSymbol: true };
      const batch = await engine.predictMany(fx.symbols, request);
      assert.equal(batch.failures.length, 0);
      for (const one of batch.forecasts) assert.deepEqual(one, await engine.predict(one.symbol, request));
    } finally {
      await fx.close();
    }
  });
}
