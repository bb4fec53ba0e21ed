/**
 * The ledger table on both dialects without a model: migrations create it once, and a user's own `ai_predictions` in
 * the original project's shape is completed with klinecast's nullable columns and key, never refused, its rows kept;
 * recording fills the legacy columns too, a repeat updates, and reconciling takes the close of the target day's bar.
 */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { listForecasts, migrate, recordForecasts, reconcileForecasts, writeBars, type Dialect, type KlineBar, type LedgerForecast } from '../../src/data/index.js';
import { forEachDialect, type TestDatabase } from '../helpers/db.js';
import { testBar } from '../helpers/bars.js';

/** The original Python project's table, as its users have it: an id, the stock, the day forecast, a price. */
function legacyDdl(dialect: Dialect): string {
  return dialect === 'mysql'
    ? 'create table ai_predictions (id int auto_increment primary key, stock_code varchar(10) not null, predict_date date not null, ' +
        'predicted_price decimal(10,2), created_at datetime default current_timestamp) engine=InnoDB default charset=utf8mb4'
    : 'create table ai_predictions (id integer primary key autoincrement, stock_code text not null, predict_date text not null, ' +
        'predicted_price real, created_at text default current_timestamp)';
}

const FORECAST: LedgerForecast = {
  run: '600519_lstm_20240101_000000',
  symbol: '600519',
  baseDate: '2024-03-01',
  targetDate: '2024-03-04',
  step: 1,
  baseClose: 1700,
  predictedPrice: 1712.5,
  predictedReturn: Math.log(1712.5 / 1700),
  lower: 1690,
  upper: 1730,
  intervalMethod: 'conformal',
  intervalLevel: 0.9,
  source: 'cli',
};

const bar = (tradeDate: string, close: number): KlineBar => testBar('600519', tradeDate, close, 1700, { limitStatus: 0 });

async function rawRows(tdb: TestDatabase): Promise<Array<Record<string, unknown>>> {
  const { rows } = await sql<Record<string, unknown>>`select * from ai_predictions order by id`.execute(tdb.handle.db);
  return rows;
}

forEachDialect(
  "a user's legacy ai_predictions is completed, never refused, and its rows are kept",
  async (tdb) => {
    const { handle, dialect } = tdb;
    await sql.raw(legacyDdl(dialect)).execute(handle.db);
    await sql.raw("insert into ai_predictions (stock_code, predict_date, predicted_price) values ('000001', '2021-06-01', 15.37)").execute(handle.db);

    const first = await migrate(handle);
    assert.deepEqual(first.warnings, []);
    const columns = (await handle.db.introspection.getTables()).find((t) => t.name === 'ai_predictions')!.columns;
    for (const c of ['run_name', 'base_date', 'target_date', 'step', 'actual_close', 'error', 'in_interval']) {
      const column = columns.find((x) => x.name === c);
      assert.ok(column, `${c} added`);
      assert.equal(column.isNullable, true, `${c} is nullable in a user's table`);
    }
    // Idempotent: a second migrate adds nothing to the ledger.
    const second = await migrate(handle);
    assert.deepEqual(
      second.statements.filter((s) => /ai_predictions/.test(s)),
      [],
    );

    await recordForecasts(handle, [FORECAST]);
    await recordForecasts(handle, [{ ...FORECAST, predictedPrice: 1720, source: 'api' }]);
    const raw = await rawRows(tdb);
    assert.equal(raw.length, 2, 'the legacy row and one klinecast row');
    assert.equal(raw[0].stock_code, '000001');
    assert.equal(Number(raw[0].predicted_price), 15.37);
    assert.equal(raw[0].run_name, null);
    // The legacy spellings are filled beside klinecast's, so the original project's tools read the row.
    assert.equal(raw[1].stock_code, '600519');
    assert.equal(raw[1].predict_date, '2024-03-04');
    assert.equal(Number(raw[1].predicted_price), 1720);

    // Legacy rows have no run: they are not listed or scored.
    const listed = await listForecasts(handle);
    assert.deepEqual(
      listed.map((r) => [r.run, r.symbol, r.targetDate, r.predictedPrice, r.source]),
      [[FORECAST.run, '600519', '2024-03-04', 1720, 'api']],
    );

    await handle.db.transaction().execute((trx) => writeBars(trx, handle.dialect, [bar('2024-03-04', 1735.5)]));
    assert.deepEqual(await reconcileForecasts(handle), { pending: 1, reconciled: 1 });
    const [row] = await listForecasts(handle);
    assert.equal(row.actualClose, 1735.5);
    assert.ok(Math.abs(row.error! - (1720 - 1735.5)) < 1e-9);
    assert.ok(Math.abs(row.absError! - 15.5) < 1e-9);
    assert.ok(Math.abs(row.actualReturn! - Math.log(1735.5 / 1700)) < 1e-12);
    assert.equal(row.inInterval, false, '1735.5 is above the upper bound 1730');
    assert.deepEqual(await reconcileForecasts(handle), { pending: 0, reconciled: 0 }, 'reconciled rows are left alone');
  },
  { migrate: false },
);

forEachDialect("klinecast's own ledger: created by migrate, filtered by run, symbol and since", async (tdb) => {
  const { handle } = tdb;
  const rows: LedgerForecast[] = [
    FORECAST,
    { ...FORECAST, step: 2, targetDate: '2024-03-05' },
    { ...FORECAST, run: 'other', symbol: '000001', baseDate: '2024-02-01', targetDate: '2024-02-02' },
  ];
  await recordForecasts(handle, rows);
  await recordForecasts(handle, rows);
  assert.equal((await listForecasts(handle)).length, 3);
  assert.deepEqual(
    (await listForecasts(handle, { run: FORECAST.run })).map((r) => r.step),
    [1, 2],
  );
  assert.deepEqual(
    (await listForecasts(handle, { symbol: '000001' })).map((r) => r.run),
    ['other'],
  );
  assert.deepEqual(
    (await listForecasts(handle, { since: '2024-02-15' })).map((r) => r.targetDate),
    ['2024-03-04', '2024-03-05'],
  );
  assert.equal((await listForecasts(handle, {}, 1)).length, 1);
  assert.ok((await listForecasts(handle)).every((r) => r.live === true), 'no bar of any target day yet: all live');

  // A forecast recorded once its day's bar is in (a past end date) is hindsight, reconciled at once; a live row stays live.
  await handle.db.transaction().execute((trx) => writeBars(trx, handle.dialect, [bar('2024-03-04', 1705)]));
  await recordForecasts(handle, [{ ...FORECAST, run: 'late' }, FORECAST]);
  const [late] = await listForecasts(handle, { run: 'late' });
  assert.deepEqual([late.live, late.actualClose], [false, 1705]);
  const again = (await listForecasts(handle, { run: FORECAST.run })).find((r) => r.step === 1)!;
  assert.deepEqual([again.live, again.actualClose], [true, 1705]);
  // A second row for the same key is refused by the table itself, not only avoided by the upsert.
  await assert.rejects(
    handle.db
      .insertInto('ai_predictions')
      .values({
        run_name: FORECAST.run,
        symbol: '600519',
        base_date: FORECAST.baseDate,
        target_date: FORECAST.targetDate,
        step: 1,
        base_close: 1,
        predicted_price: 1,
        predicted_return: 0,
        source: 'cli',
        created_at: '2024-03-01 00:00:00',
        updated_at: '2024-03-01 00:00:00',
      } as never)
      .execute(),
  );
});

forEachDialect(
  "a legacy ai_predictions with a NOT NULL column klinecast cannot fill: migrate warns, never refuses, and recording throws for the caller to warn",
  async (tdb) => {
    const { handle, dialect } = tdb;
    const text = dialect === 'mysql' ? 'varchar(32)' : 'text';
    await sql.raw(`create table ai_predictions (stock_code ${text} not null, model_version ${text} not null)`).execute(handle.db);
    const result = await migrate(handle);
    assert.equal(result.warnings.length, 1, result.warnings.join('\n'));
    assert.match(result.warnings[0], /ai_predictions\.model_version is NOT NULL without a default/);
    await assert.rejects(recordForecasts(handle, [FORECAST]));
    assert.deepEqual(await listForecasts(handle), []);
  },
  { migrate: false },
);
