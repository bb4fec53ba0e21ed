/**
 * The prediction ledger end to end, on both dialects: a forecast made on day D is recorded (one row per step), the bar
 * of D+1 arrives through `data import`'s library path and the row gets its actual close and error; forecasting again
 * updates the rows and leaves no duplicate.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { StockDataLoader, importCsvFiles, listForecasts, type KlineBar } from '../../src/data/index.js';
import { PredictionEngine } from '../../src/prediction/index.js';
import { dialects } from '../helpers/db.js';
import { HORIZON, createMarket, trainTinyRun } from './fixture.js';

/** One bar as a tushare `daily` export (ts_code, YYYYMMDD), the most common file users import. */
function tushareCsv(bar: KlineBar): string {
  const suffix = bar.symbol.startsWith('6') ? 'SH' : 'SZ';
  return [
    'ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount',
    [
      `${bar.symbol}.${suffix}`,
      bar.tradeDate.replace(/-/g, ''),
      bar.open,
      bar.high,
      bar.low,
      bar.close,
      bar.preClose,
      bar.change,
      bar.pctChg,
      bar.vol,
      bar.amount,
    ].join(','),
  ].join('\n');
}

for (const { dialect, skip } of dialects()) {
  test(`forecast on D, import D+1: the ledger row gets its actual close; a repeat updates it [${dialect}]`, { skip, timeout: 180_000 }, async () => {
    const fx = await createMarket(dialect);
    try {
      const [symbol] = fx.symbols;
      const loader = new StockDataLoader(fx.handle);
      const bars = await loader.loadKline(symbol);
      const next = bars.at(-1)!;
      const day = bars.at(-2)!;
      // The market as it stood on the evening of D: the bar of D+1 is not in yet (the calendar already knows the day).
      await fx.handle.db.deleteFrom('stock_kline_data').where('trade_date', '=', next.tradeDate).execute();
      await trainTinyRun(fx, symbol, 'run');

      const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir, record: 'cli' });
      const forecast = await engine.predict(symbol, { run: 'run' });
      assert.equal(forecast.baseDate, day.tradeDate);
      assert.equal(forecast.predictions[0].date, next.tradeDate);
      let rows = await listForecasts(fx.handle, { run: 'run', symbol });
      assert.equal(rows.length, HORIZON);
      for (const [k, r] of [...rows].sort((a, b) => a.step - b.step).entries()) {
        const d = forecast.predictions[k];
        assert.deepEqual(
          [r.baseDate, r.targetDate, r.step, r.source, r.intervalMethod, r.intervalLevel, r.actualClose, r.error],
          [day.tradeDate, d.date, k + 1, 'cli', forecast.interval, forecast.level, null, null],
        );
        assert.ok(Math.abs(r.predictedPrice - d.price) <= 1e-9 * d.price);
        assert.ok(Math.abs(r.predictedReturn - d.return) <= 1e-12);
        assert.ok(Math.abs(r.lower! - d.lower!) <= 1e-9 * d.price && Math.abs(r.upper! - d.upper!) <= 1e-9 * d.price);
        assert.equal(r.baseClose, forecast.baseClose);
        assert.equal(r.live, true, 'recorded before its day: a live forecast');
      }

      const csv = join(fx.root, 'next.csv');
      writeFileSync(csv, tushareCsv(next));
      const report = await importCsvFiles(fx.handle, [csv]);
      assert.equal(report.totals.inserted, 1);
      assert.deepEqual(report.ledger, { pending: HORIZON, reconciled: 1 });

      rows = await listForecasts(fx.handle, { run: 'run', symbol });
      const first = rows.find((r) => r.step === 1)!;
      const predicted = forecast.predictions[0];
      assert.equal(first.actualClose, next.close);
      assert.ok(Math.abs(first.error! - (predicted.price - next.close)) < 1e-9);
      assert.ok(Math.abs(first.absError! - Math.abs(predicted.price - next.close)) < 1e-9);
      assert.ok(Math.abs(first.actualReturn! - Math.log(next.close / forecast.baseClose)) < 1e-12);
      assert.equal(first.inInterval, predicted.lower! <= next.close && next.close <= predicted.upper!);
      assert.ok(first.reconciledAt !== null);
      // The later steps' days have no bar yet.
      assert.deepEqual(
        rows.filter((r) => r.step > 1).map((r) => r.actualClose),
        Array(HORIZON - 1).fill(null),
      );

      // The same forecast again (the evening of D, from another process): updated in place, never a second row.
      const again = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir, record: 'api' });
      await again.predict(symbol, { run: 'run', endDate: day.tradeDate, level: 0.8 });
      const { rows: counted } = await sql<{ n: number }>`select count(*) as n from ai_predictions`.execute(fx.handle.db);
      assert.equal(Number(counted[0].n), HORIZON);
      rows = await listForecasts(fx.handle, { run: 'run', symbol });
      assert.equal(rows.length, HORIZON);
      for (const r of rows) {
        assert.equal(r.source, 'api');
        assert.equal(r.intervalLevel, 0.8);
        assert.ok(r.updatedAt >= r.createdAt);
        // First recorded before its day, so still live: a repeat after the fact does not turn it into hindsight.
        assert.equal(r.live, true);
      }
      // Its actual close is known already, so the repeat is reconciled at once, against its new interval.
      const repeated = rows.find((r) => r.step === 1)!;
      assert.equal(repeated.actualClose, next.close);
      assert.equal(repeated.inInterval, repeated.lower! <= next.close && next.close <= repeated.upper!);

      // Without `record` (the CLI's --no-record) a forecast from the new last bar writes nothing.
      const quiet = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
      assert.equal((await quiet.predict(symbol, { run: 'run' })).baseDate, next.tradeDate);
      assert.equal((await listForecasts(fx.handle, {})).length, HORIZON);

      // A ledger that cannot be written costs no forecast: it is told once, and every forecast still comes back.
      await fx.handle.db.schema.dropTable('ai_predictions').execute();
      const told: string[] = [];
      const broken = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir, record: 'cli', onRecordError: (m) => told.push(m) });
      const one = await broken.predict(symbol, { run: 'run' });
      const two = await broken.predict(symbol, { run: 'run', endDate: day.tradeDate });
      assert.equal(one.predictions.length, HORIZON);
      assert.equal(two.baseDate, day.tradeDate);
      assert.equal(told.length, 1, told.join('\n'));
      assert.match(told[0], /ai_predictions/);
      assert.match(told[0], /klinecast db migrate/);
    } finally {
      await fx.close();
    }
  });
}
