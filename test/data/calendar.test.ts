import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  EXCHANGE_HOLIDAYS,
  TradingCalendar,
  isRuleTradingDay,
  nextRuleTradingDays,
  nextTradingDays,
  recordTradingDates,
  ruleTradingDays,
} from '../../src/data/index.js';
import { ashare, ASHARE_DIR } from '../helpers/env.js';
import { forEachDialect } from '../helpers/db.js';

test('the rule: weekdays minus the fixed exchange holidays', () => {
  assert.equal(isRuleTradingDay('2024-02-08'), true, 'last day before the 2024 Spring Festival');
  assert.equal(isRuleTradingDay('2024-02-09'), false, 'Spring Festival eve 2024');
  assert.equal(isRuleTradingDay('2024-02-19'), true);
  assert.equal(isRuleTradingDay('2024-10-07'), false, 'National Day 2024');
  assert.equal(isRuleTradingDay('2024-10-12'), false, 'a Saturday (exchanges never open on make-up weekend workdays)');
  assert.equal(isRuleTradingDay('2020-01-31'), false, 'the 2020 extension of the Spring Festival');
  for (const d of EXCHANGE_HOLIDAYS) assert.ok(![0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay()), `${d} is listed but is a weekend`);
  assert.deepEqual(nextRuleTradingDays('2024-09-27', 3), ['2024-09-30', '2024-10-08', '2024-10-09']);
  assert.deepEqual(ruleTradingDays('2025-01-24', '2025-02-06'), ['2025-01-24', '2025-01-27', '2025-02-05', '2025-02-06']);
});

test('the rule reproduces the real trading calendar of 2000-01-04 .. 2023-03-16 exactly', { skip: ashare.skip }, () => {
  const traded = new Set<string>();
  for (const name of readdirSync(ASHARE_DIR).filter((n) => n.endsWith('.csv'))) {
    for (const line of readFileSync(join(ASHARE_DIR, name), 'utf8').split('\n').slice(1)) if (line) traded.add(line.split(',')[1]);
  }
  const rule = ruleTradingDays('2000-01-04', '2023-03-16');
  const missing = rule.filter((d) => !traded.has(d));
  const extra = [...traded].filter((d) => d <= '2023-03-16' && !isRuleTradingDay(d));
  assert.deepEqual(missing, [], 'rule days without any bar');
  assert.deepEqual(extra, [], 'bars on days the rule calls closed');
  assert.equal(rule.length, [...traded].filter((d) => d <= '2023-03-16').length);
});

test('TradingCalendar: stored dates where the table covers, the rule before and after', () => {
  // A stored calendar with an extra closure (2024-03-06) that the rule does not know.
  const stored = ruleTradingDays('2024-03-01', '2024-03-29').filter((d) => d !== '2024-03-06');
  const cal = new TradingCalendar(stored);
  assert.equal(cal.isTradingDay('2024-03-06'), false);
  assert.equal(cal.isTradingDay('2024-04-01'), true);
  assert.deepEqual(cal.between('2024-03-05', '2024-03-07'), ['2024-03-05', '2024-03-07']);
  assert.deepEqual(cal.between('2024-02-28', '2024-03-01'), ['2024-02-28', '2024-02-29', '2024-03-01']);
  assert.deepEqual(cal.between('2024-03-28', '2024-04-05'), ['2024-03-28', '2024-03-29', '2024-04-01', '2024-04-02', '2024-04-03']);
  assert.deepEqual(cal.next('2024-03-05', 2), ['2024-03-07', '2024-03-08']);
  assert.deepEqual(cal.next('2024-03-28', 4), ['2024-03-29', '2024-04-01', '2024-04-02', '2024-04-03'], 'Qingming (04-04, 04-05) skipped');
  assert.deepEqual(cal.next('2024-02-28', 3), ['2024-02-29', '2024-03-01', '2024-03-04']);
  assert.deepEqual(new TradingCalendar([]).next('2024-12-30', 3), ['2024-12-31', '2025-01-02', '2025-01-03']);
  assert.deepEqual(cal.next('2024-06-01', 0), []);
});

forEachDialect('nextTradingDays reads trade_calendar and extends beyond it by the rule', async ({ handle }) => {
  assert.equal(await recordTradingDates(handle.db, ['2024-09-26', '2024-09-27', '2024-09-30', '2024-09-27']), 3);
  assert.equal(await recordTradingDates(handle.db, ['2024-09-30']), 0, 'known dates are not added twice');
  assert.deepEqual(await nextTradingDays(handle.db, '2024-09-26', 4), ['2024-09-27', '2024-09-30', '2024-10-08', '2024-10-09']);
  const loaded = await TradingCalendar.load(handle.db);
  assert.deepEqual(loaded.stored, ['2024-09-26', '2024-09-27', '2024-09-30']);
});
