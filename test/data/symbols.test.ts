import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SYMBOL_FORMS, formatSymbol, normalizeSymbol, requireSymbol, symbolFormOf } from '../../src/data/index.js';
import { symbolField } from '../../src/server/schema.js';
import { parseTrainConfig } from '../../src/training/config.js';
import { UserError } from '../../src/util/errors.js';

test('one normaliser: 600519, 600519.SH, sh600519, SH600519, sh.600519 and 600519.ss are one stock', () => {
  for (const text of ['600519', '600519.SH', '600519.sh', 'sh600519', 'SH600519', 'sh.600519', 'SH.600519', ' 600519.SS ']) {
    assert.equal(normalizeSymbol(text), '600519', text);
    assert.equal(requireSymbol(text), '600519', text);
  }
  for (const text of ['60051', '6005190', '600519.XX', 'hk600519', '600519 SH', "600519' or 1=1 --", '', 'sh']) {
    assert.equal(normalizeSymbol(text), null, text);
    assert.throws(() => requireSymbol(text), (e: unknown) => e instanceof UserError && /is not an A-share code/.test(e.message));
  }
});

test('each stored spelling round-trips: formatSymbol is the inverse of normalizeSymbol, symbolFormOf recognises it', () => {
  for (const symbol of ['600519', '000001', '300750', '688981', '830799']) {
    for (const form of SYMBOL_FORMS) {
      const stored = formatSymbol(symbol, form);
      assert.equal(normalizeSymbol(stored), symbol, stored);
      assert.equal(symbolFormOf(stored), form, stored);
    }
  }
  assert.equal(formatSymbol('600519', 'suffix'), '600519.SH');
  assert.equal(formatSymbol('000001', 'prefix'), 'sz000001');
  assert.equal(formatSymbol('830799', 'suffix'), '830799.BJ');
});

test('the API, the training config and the CLI flags take every spelling and keep the 6-digit code', () => {
  assert.equal(symbolField.parse('600519.SH'), '600519');
  assert.equal(symbolField.parse('sz000001'), '000001');
  assert.equal(parseTrainConfig({ data: { symbol: 'SH600519' } }).data.symbol, '600519');
  assert.throws(() => parseTrainConfig({ data: { symbol: '600519.XX' } }), /data\.symbol: must be an A-share code/);
});
