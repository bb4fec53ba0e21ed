/**
 * Issue 15 part 1 and 3: a batch's runs are ordinary runs of out/. A 3-stock batch with default --output-dir, then
 * `runs list`, `runs best --symbol` and `predict --symbol` without --run all find the three models; the batch's own
 * files are in out/batches/{name}/, which `runs list` does not take for a run; the hyper-parameter flags given to
 * batch are what each run's config.json records. On SQLite and MariaDB.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemoMarket, writeDemoMarket } from '../../src/data/index.js';
import type { BatchSummary } from '../../src/batch/index.js';
import { forEachDialect } from '../helpers/db.js';
import { runCliToEnd } from './cli-process.js';

const TINY = ['--epochs', '1', '--hidden-size', '16', '--seq-length', '10', '--num-layers', '1', '--head-hidden-size', '8', '--batch-size', '64'];

forEachDialect(
  'a 3-stock batch with default flags: runs list, runs best and predict find its 3 models in out/',
  async (tdb) => {
    const market = generateDemoMarket({ stocks: 3, start: '2022-01-01', end: '2024-06-30', seed: 5 });
    await writeDemoMarket(tdb.handle, market);
    const symbols = market.stocks.map((s) => s.symbol);
    // The default --output-dir is out/ of the working folder, as for train.
    const cwd = mkdtempSync(join(tmpdir(), 'klinecast-batch-layout-'));
    const cli = (...args: string[]) => runCliToEnd(args, { KLINECAST_DATABASE_URL: tdb.url }, { cwd });
    try {
      const batch = await cli('batch', '--symbols', symbols.join(','), ...TINY, '--workers', '2', '--no-progress', '--json');
      assert.equal(batch.code, 0, batch.stderr);
      const summary = JSON.parse(batch.stdout) as BatchSummary;
      assert.equal(summary.counts.completed, 3, JSON.stringify(summary.stocks));
      assert.match(summary.name, /^batch_\d{8}_\d{6}$/);
      const out = join(cwd, 'out');
      assert.deepEqual(readdirSync(join(out, 'batches')), [summary.name]);
      assert.deepEqual(readdirSync(join(out, 'batches', summary.name)).sort(), ['batch.log', 'batch_progress.json', 'batch_summary.json']);
      for (const s of summary.stocks) {
        assert.equal(s.path, join(out, s.runName!), 'the run is directly in out/');
        // The flags given to batch are what the run was trained with (issue 15's "--epochs 1 --hidden-size 16").
        const config = JSON.parse(readFileSync(join(out, s.runName!, 'config.json'), 'utf8'));
        assert.equal(config.training.epochs, 1);
        assert.equal(config.model.hiddenSize, 16);
        assert.equal(config.dataset.seqLength, 10);
        assert.equal(config.data.symbol, s.symbol);
      }

      const list = await cli('runs', 'list', '--json');
      assert.equal(list.code, 0, list.stderr);
      const runs = JSON.parse(list.stdout) as Array<{ name: string; symbol: string; status: string }>;
      assert.deepEqual(runs.map((r) => r.symbol).sort(), [...symbols].sort());
      assert.ok(runs.every((r) => r.status === 'completed'));
      const table = await cli('runs', 'list');
      assert.doesNotMatch(table.stdout, /corrupt|batches/, 'the batch folder is neither a run nor worth a note');

      for (const s of summary.stocks) {
        const best = await cli('runs', 'best', '--symbol', s.symbol, '--json');
        assert.equal(best.code, 0, best.stderr);
        assert.equal(JSON.parse(best.stdout).name, s.runName);
        const forecast = await cli('predict', '--symbol', s.symbol, '--json');
        assert.equal(forecast.code, 0, forecast.stderr);
        assert.equal(JSON.parse(forecast.stdout).run, s.runName);
      }

      // --resume without a name continues the latest batch with its saved config and stocks: nothing left to train.
      const resumed = await cli('batch', '--resume', '--no-progress', '--json');
      assert.equal(resumed.code, 0, resumed.stderr);
      const again = JSON.parse(resumed.stdout) as BatchSummary;
      assert.equal(again.name, summary.name);
      assert.deepEqual(again.counts, { pending: 0, completed: 3, failed: 0, skipped: 0 });
      assert.deepEqual(
        again.stocks.map((s) => s.attempts),
        [1, 1, 1],
      );
      assert.ok(!existsSync(join(out, 'batch')), 'nothing in the old layout');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  },
  { timeout: 300_000 },
);
