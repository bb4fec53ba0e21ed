import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDemoMarket, listForecasts, writeDemoMarket } from '../../src/data/index.js';
import { PredictionEngine, type Ranking } from '../../src/prediction/index.js';
import { forEachDialect } from '../helpers/db.js';
import { DEMO, trainTinyRun, type Fixture } from './fixture.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const END = '2024-09-27';

forEachDialect(
  'predict --symbols without --run: each stock by its own best run, ranked by predicted return; a stock without a run is skipped; recorded',
  async (tdb) => {
    const market = generateDemoMarket({ ...DEMO, stocks: 4 });
    await writeDemoMarket(tdb.handle, market);
    const symbols = market.stocks.map((s) => s.symbol);
    const fx: Fixture = { root: tdb.dir, url: tdb.url, outputDir: join(tdb.dir, 'out'), handle: tdb.handle, symbols, close: tdb.cleanup };
    const runOf = new Map(symbols.slice(0, 3).map((s, i) => [s, `own_${i}`]));
    for (const [symbol, run] of runOf) await trainTinyRun(fx, symbol, run, { training: { epochs: 1 } });
    const withoutRun = symbols[3];
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'predict', ...args, '--output-dir', fx.outputDir, '--database', fx.url], {
        encoding: 'utf8',
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const list = symbols.join(',');

    const quiet = cli('--symbols', list, '--end', END, '--json', '--no-record');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal((await listForecasts(fx.handle, { since: END })).filter((r) => r.baseDate === END).length, 0, '--no-record records nothing');

    const json = cli('--symbols', list, '--end', END, '--json');
    assert.equal(json.code, 0, json.stderr);
    const ranking = JSON.parse(json.stdout) as Ranking;
    assert.deepEqual(ranking, JSON.parse(quiet.stdout));
    assert.equal(ranking.run, null, 'no one run: each entry names its own');
    assert.equal(ranking.requested, 4);
    assert.equal(ranking.ranked, 3);
    assert.deepEqual(
      ranking.failures.map((f) => [f.symbol, f.code]),
      [[withoutRun, 'run_not_found']],
    );
    const engine = new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir });
    for (const e of ranking.entries) {
      assert.equal(e.run, runOf.get(e.symbol));
      // The same forecast `predict --symbol X` makes without --run.
      const single = await engine.predict(e.symbol, { endDate: END, days: 1 });
      assert.equal(single.run, e.run);
      assert.equal(e.return, single.predictions[0].return);
      assert.equal(e.price, single.predictions[0].price);
      assert.equal(e.baseDate, END);
    }
    const returns = ranking.entries.map((e) => e.return as number);
    assert.deepEqual(
      returns,
      [...returns].sort((a, b) => b - a),
      'best predicted return first',
    );
    assert.deepEqual(
      ranking.entries.map((e) => e.rank),
      [1, 2, 3],
    );

    const rows = (await listForecasts(fx.handle, { since: END })).filter((r) => r.baseDate === END);
    assert.deepEqual(rows.map((r) => `${r.symbol}:${r.run}:${r.step}:${r.source}`).sort(), [...runOf].map(([s, run]) => `${s}:${run}:1:cli`).sort());

    const csv = cli('--symbols', list, '--end', END, '--csv', '--top', '2', '--no-record');
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.trim().split('\n');
    assert.equal(lines[0], 'rank,symbol,base_date,base_close,predicted_return,price,lower,upper,run');
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',')),
      ranking.entries.slice(0, 2).map((e) => [e.rank, e.symbol, e.baseDate, e.baseClose, e.return, e.price, e.lower ?? '', e.upper ?? '', e.run].map(String)),
    );
    assert.match(csv.stderr, new RegExp(`skipped ${withoutRun}: no completed run with test metrics for ${withoutRun}`));

    const table = cli('--symbols', list, '--end', END, '--no-record');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /each stock's best run: 3 of 4 stocks forecast, top 3 by predicted next-day return/);
    assert.match(table.stdout, /rank +symbol +base date +close +predicted return +price +lower +upper +run/);
    assert.match(table.stdout, new RegExp(`\\n +1 +${ranking.entries[0].symbol} .* ${ranking.entries[0].run}\\n`));
    assert.equal(table.stderr.includes('predict ['), false, 'no progress bar when stderr is not a terminal');

    const other = cli('--symbols', list, '--run', 'own_0', '--no-record');
    assert.equal(other.code, 2);
    assert.match(other.stderr, new RegExp(`run own_0 was trained on ${symbols[0]} alone, so it ranks no other stock`));
    const own = cli('--symbols', symbols[0], '--run', 'own_0', '--end', END, '--json', '--no-record');
    assert.equal(own.code, 0, own.stderr);
    const mine = JSON.parse(own.stdout) as Ranking;
    assert.equal(mine.run, 'own_0');
    assert.deepEqual(
      mine.entries.map((e) => [e.symbol, e.run, e.return]),
      ranking.entries.filter((e) => e.symbol === symbols[0]).map((e) => [e.symbol, e.run, e.return]),
    );
  },
  { timeout: 300_000 },
);
