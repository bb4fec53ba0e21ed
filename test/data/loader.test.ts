import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importCsvFiles, recordTradingDates, StockDataLoader } from '../../src/data/index.js';
import { UserError } from '../../src/util/errors.js';
import { forEachDialect } from '../helpers/db.js';

const HEADER = 'symbol,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount,turnover_rate,pe,limit_status\n';
// Newest-first on purpose; 2024-01-04 is missing (a suspension); a zero volume and a zero pct_chg; NULL pe.
const ROWS =
  '300001,2024-01-08,10.0,10.0,10.0,10.0,10.0,0,0,0,0,0,,0\n' +
  '300001,2024-01-05,9.5,10.1,9.4,10.0,9.5,0.5,5.2632,1500,1480.5,1.25,30.5,1\n' +
  '300001,2024-01-03,9.0,9.6,8.9,9.5,9.0,0.5,5.5556,1200,1130,1.0,29,0\n' +
  '300001,2024-01-02,9.2,9.3,8.8,9.0,9.2,-0.2,-2.1739,1000,900,0.8,28,-1\n' +
  '600001,2024-01-02,5.0,5.1,4.9,5.05,5.0,0.05,1,100,50.5,,,\n';

async function seed(handle: Parameters<typeof importCsvFiles>[0], dir: string) {
  const file = join(dir, 'bars.csv');
  writeFileSync(file, HEADER + ROWS);
  const report = await importCsvFiles(handle, [file]);
  assert.deepEqual(report.issues, []);
  // The market traded on 2024-01-04 even though 300001 did not.
  await recordTradingDates(handle.db, ['2024-01-04']);
  return new StockDataLoader(handle);
}

forEachDialect('loadKline: inclusive ranges, date order, numbers as numbers, zero is zero and NULL is null', async ({ handle, dir }) => {
  const loader = await seed(handle, dir);
  const all = await loader.loadKline('300001');
  assert.deepEqual(all.map((b) => b.tradeDate), ['2024-01-02', '2024-01-03', '2024-01-05', '2024-01-08']);
  assert.deepEqual((await loader.loadKline('300001', '2024-01-03', '2024-01-05')).map((b) => b.tradeDate), ['2024-01-03', '2024-01-05']);
  assert.deepEqual((await loader.loadKline('300001', '2024-01-05')).map((b) => b.tradeDate), ['2024-01-05', '2024-01-08']);
  assert.deepEqual((await loader.loadKline('300001', undefined, '2024-01-02')).map((b) => b.tradeDate), ['2024-01-02']);
  assert.deepEqual(await loader.loadKline('300001', '2024-01-06', '2024-01-07'), []);
  const flat = all[3];
  assert.deepEqual([flat.vol, flat.amount, flat.change, flat.pctChg, flat.turnoverRate, flat.limitStatus], [0, 0, 0, 0, 0, 0]);
  assert.equal(flat.pe, null);
  assert.equal(all[2].limitStatus, 1);
  assert.equal(all[0].limitStatus, -1);
  assert.equal(all[2].amount, 1480.5);
  assert.equal(typeof all[2].close, 'number');
  const other = await loader.loadKline('600001');
  assert.deepEqual([other[0].turnoverRate, other[0].limitStatus], [null, null]);
});

forEachDialect('loadSeries, date range, latest date, stock info and active stocks by board', async ({ handle, dir }) => {
  const loader = await seed(handle, dir);
  const s = await loader.loadSeries('300001', '2024-01-03');
  assert.deepEqual(s.dates, ['2024-01-03', '2024-01-05', '2024-01-08']);
  assert.deepEqual([...s.close], [9.5, 10, 10]);
  assert.deepEqual([...s.vol], [1200, 1500, 0]);
  assert.ok(s.turnoverRate instanceof Float64Array);
  const nullTurnover = await loader.loadSeries('600001');
  assert.ok(Number.isNaN(nullTurnover.turnoverRate[0]), 'NULL becomes NaN in a series');

  assert.deepEqual(await loader.getDateRange('300001'), { start: '2024-01-02', end: '2024-01-08', count: 4 });
  assert.equal(await loader.getDateRange('000002'), null);
  assert.equal(await loader.getLatestTradeDate('600001'), '2024-01-02');
  assert.equal(await loader.getLatestTradeDate(), '2024-01-08');
  assert.equal(await loader.getLatestTradeDate('000002'), null);
  assert.deepEqual(await loader.listSymbols(), ['300001', '600001']);

  assert.deepEqual((await loader.getAllActiveStocks()).map((i) => i.symbol), ['300001', '600001']);
  assert.deepEqual((await loader.getAllActiveStocks('创业板')).map((i) => i.symbol), ['300001']);
  assert.deepEqual((await loader.getAllActiveStocks('科创板')), []);
  await handle.db.updateTable('stock_basic_info').set({ is_active: 0 }).where('symbol', '=', '600001').execute();
  assert.deepEqual((await loader.getAllActiveStocks()).map((i) => i.symbol), ['300001']);
  const info = await loader.loadStockInfo('300001');
  assert.deepEqual(info, {
    symbol: '300001', name: '300001', exchange: 'SZSE', market: 'SZ', stockType: '创业板', industry: null, listDate: null, delistDate: null, isActive: true,
  });
  assert.equal(await loader.loadStockInfo('000002'), null);
});

forEachDialect('validateCompleteness finds the trading days a stock is missing against the calendar', async ({ handle, dir }) => {
  const loader = await seed(handle, dir);
  const r = await loader.validateCompleteness('300001');
  assert.deepEqual([r.start, r.end, r.expected, r.present, r.missing, r.complete], ['2024-01-02', '2024-01-08', 5, 4, ['2024-01-04'], false]);
  assert.equal(r.coverage, 0.8);
  // Beyond the stored calendar the weekday/holiday rule applies: 2024-01-09 and -10 are weekdays.
  const beyond = await loader.validateCompleteness('300001', '2024-01-05', '2024-01-10');
  assert.deepEqual(beyond.missing, ['2024-01-09', '2024-01-10']);
  const full = await loader.validateCompleteness('300001', '2024-01-05', '2024-01-08');
  assert.ok(full.complete);
});

forEachDialect('streamSeries: ordered by symbol, filtered, stoppable early, and other queries run while it streams', async ({ handle, dir }) => {
  const loader = await seed(handle, dir);
  const all = [];
  for await (const s of loader.streamSeries()) {
    // A query on the same handle mid-stream must not wait for the stream (SQLite's single connection).
    assert.ok(await loader.loadStockInfo(s.symbol));
    all.push(s);
  }
  assert.deepEqual(all.map((s) => [s.symbol, s.dates.length]), [['300001', 4], ['600001', 1]]);
  assert.deepEqual(all[0].dates, ['2024-01-02', '2024-01-03', '2024-01-05', '2024-01-08']);
  const some = [];
  for await (const s of loader.streamSeries({ symbols: ['600001'], start: '2024-01-01', end: '2024-01-31' })) some.push(s.symbol);
  assert.deepEqual(some, ['600001']);
  for await (const s of loader.streamSeries()) {
    assert.equal(s.symbol, '300001');
    break;
  }
  // The connection came back: a later query still runs.
  assert.equal((await loader.loadKline('600001')).length, 1);
  const ranged = [];
  for await (const s of loader.streamSeries({ start: '2024-01-05' })) ranged.push([s.symbol, s.dates]);
  assert.deepEqual(ranged, [['300001', ['2024-01-05', '2024-01-08']]]);
});

forEachDialect('symbols and dates are validated at the loader boundary', async ({ handle }) => {
  const loader = new StockDataLoader(handle);
  await assert.rejects(loader.loadKline('60051'), (e: unknown) => e instanceof UserError && /not an A-share code/.test(e.message));
  await assert.rejects(loader.loadKline('600519.XX'), UserError);
  await assert.rejects(loader.loadKline("600519' or 1=1 --"), UserError);
  await assert.rejects(loader.loadKline('600519', '2024-13-01'), (e: unknown) => e instanceof UserError && /start date/.test(e.message));
  await assert.rejects(loader.loadSeries('600519', undefined, 'tomorrow'), UserError);
  await assert.rejects(async () => {
    for await (const _ of loader.streamSeries({ symbols: ['abc'] })) void _;
  }, UserError);
});
