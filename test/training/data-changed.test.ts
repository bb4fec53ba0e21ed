/**
 * Issue 12 #9, bars that change under a run: config.json records a checksum of the closes of every block of 64
 * trading days, and a resume warns, naming the block's dates, when one close inside the recorded range changed
 * (the row count, already checked, stays the same). Unchanged bars: no warning. A run recorded before the checksums
 * existed still resumes, with one warning that such a change cannot be seen.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLOSE_BLOCK_SIZE, StockDataLoader, closeBlocks, generateDemoMarket, writeDemoMarket } from '../../src/data/index.js';
import { RUN_FILES } from '../../src/runs/index.js';
import { parseTrainConfig, readRunConfig, runTraining, type TrainingReport } from '../../src/training/index.js';
import { forEachDialect } from '../helpers/db.js';

forEachDialect(
  'resume warns when closes inside the recorded range changed, naming the block, and only then',
  async (tdb) => {
    const market = generateDemoMarket({ stocks: 1, start: '2023-01-01', end: '2024-12-31', seed: 11 });
    await writeDemoMarket(tdb.handle, market);
    const symbol = market.stocks[0].symbol;
    const outputDir = join(tdb.dir, 'out');
    const stopAfterOneEpoch = () => {
      const controller = new AbortController();
      return { signal: controller.signal, callbacks: [{ onEpochEnd: () => controller.abort('test') }] };
    };
    const config = parseTrainConfig({
      data: { symbol },
      dataset: { seqLength: 10 },
      model: { modelType: 'lstm', hiddenSize: 8, numLayers: 1, headHiddenSize: 8 },
      training: { epochs: 10, batchSize: 64, seed: 1 },
      output: { outputDir, runName: 'changed' },
    });
    const first = await runTraining({ config, databaseUrl: tdb.url, ...stopAfterOneEpoch() });
    assert.equal(first.status, 'interrupted');
    assert.deepEqual(first.warnings, []);

    const recorded = readRunConfig(first.runDir).data;
    const series = await new StockDataLoader(tdb.handle).loadSeries(symbol);
    assert.deepEqual(recorded.closeChecksums, { blockSize: CLOSE_BLOCK_SIZE, blocks: closeBlocks(series) });
    assert.equal(recorded.closeChecksums!.blocks.length, Math.ceil(series.dates.length / 64));

    const resume = async (): Promise<{ report: TrainingReport; told: string[] }> => {
      const told: string[] = [];
      const report = await runTraining({ resume: first.runDir, databaseUrl: tdb.url, onWarning: (m) => told.push(m), ...stopAfterOneEpoch() });
      return { report, told };
    };

    // Unchanged bars: nothing to say.
    const same = await resume();
    assert.deepEqual([same.told, same.report.warnings], [[], []]);

    // One close raised by 50% in the third block: the warning names exactly that block's dates.
    const block = recorded.closeChecksums!.blocks[2];
    const day = series.dates[2 * 64 + 5];
    await tdb.handle.db
      .updateTable('stock_kline_data')
      .set({ close: series.close[2 * 64 + 5] * 1.5 })
      .where('symbol', '=', symbol)
      .where('trade_date', '=', day)
      .execute();
    const changed = await resume();
    assert.equal(changed.told.length, 1, changed.told.join('\n'));
    assert.match(
      changed.told[0],
      new RegExp(`^the bars of ${symbol} changed since this run began: bars changed between ${block.firstDate} and ${block.lastDate} \\(`),
    );
    assert.deepEqual(changed.report.warnings, changed.told);
    assert.match(readFileSync(join(first.runDir, 'logs', 'training.log'), 'utf8'), new RegExp(`warning: .*between ${block.firstDate} and ${block.lastDate}`));

    // A config.json written before the checksums: it resumes, and says once that a change cannot be detected.
    const file = join(first.runDir, RUN_FILES.config);
    const old = JSON.parse(readFileSync(file, 'utf8')) as { data: Record<string, unknown> };
    delete old.data.closeChecksums;
    writeFileSync(file, JSON.stringify(old, null, 2));
    const legacy = await resume();
    assert.equal(legacy.told.length, 1);
    assert.match(legacy.told[0], /records no close checksums .* cannot be detected, only their count/);
    assert.equal(legacy.report.status, 'interrupted');
  },
  { timeout: 180_000 },
);

forEachDialect(
  'a universal run records checksums per stock, and its resume names the stock and block whose bars changed',
  async (tdb) => {
    const market = generateDemoMarket({ stocks: 3, start: '2023-01-01', end: '2024-12-31', seed: 12 });
    await writeDemoMarket(tdb.handle, market);
    const controller = () => {
      const c = new AbortController();
      return { signal: c.signal, callbacks: [{ onEpochEnd: () => c.abort('test') }] };
    };
    const config = parseTrainConfig({
      data: { symbols: 'all' },
      dataset: { seqLength: 10, horizon: 1 },
      model: { modelType: 'gru', hiddenSize: 8, numLayers: 1, headHiddenSize: 8 },
      training: { epochs: 10, batchSize: 64, seed: 1 },
      output: { outputDir: join(tdb.dir, 'out'), runName: 'universal' },
    });
    const first = await runTraining({ config, databaseUrl: tdb.url, ...controller() });
    const universe = readRunConfig(first.runDir).data.universe!;
    const symbol = market.stocks[1].symbol;
    const member = universe.find((m) => m.symbol === symbol)!;
    const series = await new StockDataLoader(tdb.handle).loadSeries(symbol);
    assert.deepEqual(member.closeChecksums, { blockSize: CLOSE_BLOCK_SIZE, blocks: closeBlocks(series) });

    const same = await runTraining({ resume: first.runDir, databaseUrl: tdb.url, ...controller() });
    assert.deepEqual(same.warnings, []);

    const last = member.closeChecksums!.blocks.at(-1)!;
    await tdb.handle.db
      .updateTable('stock_kline_data')
      .set({ close: series.close[series.dates.length - 1] * 1.5 })
      .where('symbol', '=', symbol)
      .where('trade_date', '=', last.lastDate)
      .execute();
    const changed = await runTraining({ resume: first.runDir, databaseUrl: tdb.url, ...controller() });
    assert.deepEqual(changed.warnings, [
      `the bars of ${symbol} changed since this run began: bars changed between ${last.firstDate} and ${last.lastDate} ` +
        `(blocks of ${CLOSE_BLOCK_SIZE} trading days); the run continues on the bars the database holds now`,
    ]);
  },
  { timeout: 180_000 },
);
