import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TradingCalendar, checkData, checkSeries, importCsvFiles, ruleTradingDays, type KlineSeries } from '../../src/data/index.js';
import { ashare, ASHARE_DIR } from '../helpers/env.js';
import { forEachDialect } from '../helpers/db.js';
import { runCli } from './run-cli.js';

function series(symbol: string, rows: Array<[string, number, number, number, number, number]>): KlineSeries {
  const col = (k: number) => Float64Array.from(rows, (r) => r[k] as number);
  const close = col(4);
  const preClose = col(5);
  return {
    symbol,
    dates: rows.map((r) => r[0]),
    open: col(1), high: col(2), low: col(3), close, preClose,
    change: close.map((c, i) => c - preClose[i]),
    pctChg: close.map((c, i) => (c / preClose[i] - 1) * 100),
    vol: close.map(() => 100), amount: close.map(() => 100), turnoverRate: close.map(() => NaN),
  };
}

test('checkSeries finds calendar gaps, jumps beyond the limit, ex-rights days, pre_close splices and OHLC violations', () => {
  const calendar = new TradingCalendar(ruleTradingDays('2024-03-01', '2024-03-29'));
  const s = series('600000', [
    ['2024-03-01', 10, 10.5, 9.9, 10.2, 10],
    ['2024-03-04', 10.2, 10.4, 10.1, 10.3, 10.2],
    // 03-05 .. 03-07 missing: a 3-day gap
    ['2024-03-08', 10.3, 10.2, 10.1, 10.15, 10.3], // open above high
    ['2024-03-11', 10.15, 12.0, 10.1, 11.9, 10.15], // +17% on a ±10% board
    ['2024-03-12', 11.0, 11.2, 10.9, 11.0, 11.0], // pre_close 11.0 below the previous close 11.9: an ex-rights day
    ['2024-03-13', 11.5, 11.6, 11.4, 11.5, 11.4], // pre_close 11.4 above the previous close 11.0: no corporate action does that
  ]);
  const r = checkSeries(s, calendar, '浦发银行');
  assert.deepEqual([r.rows, r.expected, r.missing, r.longestGap], [6, 9, 3, 3]);
  assert.deepEqual(r.gaps, [{ from: '2024-03-05', to: '2024-03-07', days: 3 }]);
  assert.equal(r.coverage, 6 / 9);
  assert.equal(r.ohlcViolations, 1);
  assert.deepEqual(r.findings.map((f) => [f.date, f.kind]), [
    ['2024-03-08', 'ohlc'],
    ['2024-03-11', 'jump'],
    ['2024-03-13', 'pre_close_mismatch'],
  ]);
  assert.equal(r.jumps, 2);
  assert.deepEqual(r.exRights, [{ date: '2024-03-12', step: 11.9 / 11.0, source: 'pre_close', previousClose: 11.9, preClose: 11.0 }]);
  // The same +17% is within the limit for a STAR-market code.
  assert.equal(checkSeries({ ...s, symbol: '688001' }, calendar).findings.filter((f) => f.kind === 'jump').length, 0);
});

forEachDialect('checkData on real data: no OHLC violations in 600519, and the known 376-day suspension of 600900', async ({ handle }) => {
  await importCsvFiles(handle, [join(ASHARE_DIR, '600519.csv'), join(ASHARE_DIR, '600900.csv')]);
  const report = await checkData(handle);
  assert.deepEqual(report.stocks.map((s) => s.symbol), ['600519', '600900']);
  const moutai = report.stocks[0];
  assert.equal(moutai.ohlcViolations, 0);
  // qfq data: no ex-rights day left to adjust; the share-reform day's pre_close above the previous close is a finding.
  assert.deepEqual(moutai.exRights, []);
  assert.deepEqual(moutai.findings.filter((f) => f.kind === 'pre_close_mismatch').map((f) => f.date), ['2006-05-25']);
  const yangtze = report.stocks[1];
  const longest = yangtze.gaps.find((g) => g.days === yangtze.longestGap)!;
  assert.ok(longest.from >= '2008-05-01' && longest.to <= '2009-06-01', JSON.stringify(longest));
  assert.ok(yangtze.coverage < 1);
  const one = await checkData(handle, '600900');
  assert.deepEqual(one.stocks.map((s) => s.symbol), ['600900']);
}, { skip: ashare.skip });

test('end to end: `klinecast quickstart` on a fresh folder creates data/klinecast.db, fills the demo once, and `data check --json` reads it', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'klinecast-qs-'));
  try {
    const first = runCli(['quickstart'], { cwd });
    assert.equal(first.status, 0, first.stderr);
    assert.ok(existsSync(join(cwd, 'data', 'klinecast.db')));
    assert.match(first.stdout, /demo market: 20 stocks × \d+ trading days/);
    assert.match(first.stdout, /20 stocks, \d+ bars, 2021-01-04 \.\. 2024-12-31/);
    const second = runCli(['quickstart', '--json'], { cwd });
    assert.equal(second.status, 0, second.stderr);
    const results = JSON.parse(second.stdout);
    assert.deepEqual(results.demo, { generated: false });
    assert.deepEqual(results.migrate.applied, []);
    assert.equal(results.summary.stocks, 20);
    const check = runCli(['data', 'check', '--json'], { cwd });
    assert.equal(check.status, 0, check.stderr);
    const report = JSON.parse(check.stdout);
    assert.equal(report.totals.stocks, 20);
    assert.equal(report.totals.ohlcViolations, 0);
    assert.equal(report.totals.rows, results.summary.bars);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
