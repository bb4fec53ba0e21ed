/**
 * The backtest pages in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core), over a tiny
 * universal walk-forward on the demo market with a topk simulation saved into it: the list links the backtest; its
 * page has one row per fold, the per-fold coverage chart (split-conformal, ACI, the nominal level: one point per fold),
 * the forecast-vs-actual chart with its band and the return-space chart (one point per next-day forecast of the
 * chosen stock, redrawn when another is picked), and the simulation linked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { BacktestForecastsFile } from '../../src/runs/index.js';
import { resolveForecastSource, runSimulationFor, writeSimulation } from '../../src/runs/simulations.js';
import { DEFAULT_WEB_DIR } from '../../src/server/index.js';
import { writeTinyBacktest } from '../helpers/backtest.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { SIMULATION_REQUEST } from '../helpers/simulation.js';
import { ARTIFACTS, browserSkip, launchChromium, openDashboardPage, prepareDashboard, type ChartSummary } from '../helpers/browser.js';
import { startServer, type RunningServer } from '../server/helpers.js';

describe('backtest pages in headless Chromium', { skip: browserSkip() }, () => {
  let db: TestDatabase;
  let root: string;
  let server: RunningServer;
  let browser: Browser;
  let forecasts: BacktestForecastsFile;
  const pageErrors: string[] = [];

  before(async () => {
    prepareDashboard();
    db = await createTestDatabase('sqlite');
    root = mkdtempSync(join(tmpdir(), 'klinecast-btweb-'));
    const out = join(root, 'out');
    const report = await writeTinyBacktest(out, { database: db.handle });
    forecasts = JSON.parse(readFileSync(join(report.dir, 'forecasts.json'), 'utf8')) as BacktestForecastsFile;
    const source = resolveForecastSource(report.dir);
    const request = { ...SIMULATION_REQUEST, benchmark: 'equal', name: 'topk_bt' };
    writeSimulation(source, await runSimulationFor(db.handle, source, request, new Date('2026-01-01T00:00:00Z')));
    server = await startServer({ database: db.handle, outputDir: out, apiKey: null, rateLimit: false, webDir: DEFAULT_WEB_DIR });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await db?.cleanup();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const open = (hash: string): Promise<Page> => openDashboardPage(browser, server.url, hash, pageErrors);

  const chartsOf = async (page: Page) =>
    new Map(
      ((await page.evaluate(() => (globalThis as unknown as { klinecastCharts: () => unknown }).klinecastCharts())) as ChartSummary[]).map((c) => [
        c.id,
        c.series.map((s) => [s.name, s.points] as [string, number]),
      ]),
    );

  const nextDay = (symbol: string) => forecasts.records.filter((r) => r.symbol === symbol && r.step === 1).length;

  test('the nav leads to the list, which links the backtest with its folds and coverage', async () => {
    const page = await open('#/runs');
    await page.click('nav a[data-nav="backtests"]');
    await page.waitForSelector('#backtests-table');
    const row = page.locator('#backtests-table tbody tr', { hasText: 'bt_tiny' });
    assert.equal(await row.count(), 1);
    assert.equal(await row.locator('a', { hasText: 'bt_tiny' }).getAttribute('href'), '#/backtest/bt_tiny');
    assert.match((await row.textContent()) ?? '', /completed.*3 stocks.*3\/3/);
    await page.close();
  });

  test('the backtest page: folds, coverage per fold against 90%, forecasts with the band, return space, and its simulation', async () => {
    const page = await open('#/backtest/bt_tiny');
    assert.equal(await page.locator('#folds-table tbody tr').count(), 3);
    const symbols = forecasts.records.map((r) => r.symbol).filter((s, i, all) => all.indexOf(s) === i);
    const first = (await page.locator('#backtest-symbol').inputValue()) as string;
    assert.ok(symbols.includes(first));
    let charts = await chartsOf(page);
    assert.deepEqual(charts.get('chart-coverage'), [
      ['split-conformal', 3],
      ['ACI', 3],
      ['nominal 90%', 3],
    ]);
    const n = nextDay(first);
    assert.ok(n > 20);
    assert.deepEqual(charts.get('chart-forecasts'), [
      ['actual', n],
      ['predicted', n],
      ['interval low', n],
      ['90% ACI interval', n],
    ]);
    assert.deepEqual(charts.get('chart-returns'), [
      ['sign of the forecast', n],
      ['hold', n],
    ]);
    const other = symbols.find((s) => s !== first) as string;
    await page.selectOption('#backtest-symbol', other);
    await page.waitForFunction(
      (count) =>
        ((globalThis as unknown as { klinecastCharts: () => ChartSummary[] }).klinecastCharts().find((c) => c.id === 'chart-returns')?.series[0].points ??
          -1) === count,
      nextDay(other),
    );
    charts = await chartsOf(page);
    assert.equal(charts.get('chart-forecasts')?.[0][1], nextDay(other));
    const link = page.locator('#simulations-table a', { hasText: 'topk_bt' });
    assert.equal(await link.getAttribute('href'), '#/simulation/backtests/bt_tiny/topk_bt');
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-backtest.png`, fullPage: true });
    await page.close();
  });

  test("the backtest's simulation page links back to the backtest", async () => {
    const page = await open('#/simulation/backtests/bt_tiny/topk_bt');
    assert.equal(await page.locator('p.muted a', { hasText: 'bt_tiny' }).getAttribute('href'), '#/backtest/bt_tiny');
    await page.close();
    assert.deepEqual(pageErrors, []);
  });
});
