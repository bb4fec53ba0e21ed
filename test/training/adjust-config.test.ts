/** data.adjust in the training config: default qfq, the --adjust flag, errors naming the flag, old runs read as none. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describePath, flagOverrides } from '../../src/cli/train-flags.js';
import { readRunConfig, resolveTrainConfig } from '../../src/training/index.js';
import { UserError } from '../../src/util/errors.js';

test('data.adjust defaults to qfq, --adjust sets it, and a bad value names the flag', () => {
  assert.equal(resolveTrainConfig().data.adjust, 'qfq');
  assert.equal(resolveTrainConfig({ overrides: flagOverrides({ adjust: 'hfq' }), describePath }).data.adjust, 'hfq');
  assert.equal(resolveTrainConfig({ overrides: flagOverrides({ adjust: 'none' }), describePath }).data.adjust, 'none');
  assert.throws(
    () => resolveTrainConfig({ overrides: flagOverrides({ adjust: 'forward' }), describePath }),
    (e: unknown) => e instanceof UserError && /data\.adjust \(--adjust\): Invalid option: expected one of "qfq"\|"hfq"\|"none"/.test(e.message),
  );
});

test('a run saved before data.adjust existed reads as none (it was trained on the bars as stored); a recorded mode is kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klinecast-adjust-'));
  try {
    const config = resolveTrainConfig({ overrides: { data: { symbol: '600519' } } });
    const { adjust: _adjust, ...oldData } = config.data;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, data: oldData }));
    assert.equal(readRunConfig(dir).data.adjust, 'none');
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    assert.equal(readRunConfig(dir).data.adjust, 'qfq');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
