/**
 * The simulation page in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): a run's page
 * lists its saved simulation, and the simulation's page draws the equity curve against the benchmark, the drawdown
 * and the trades, with every chart holding one point per trade day.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { resolveForecastSource, runSimulationFor, writeSimulation } from '../../src/runs/simulations.js';
import { DEFAULT_WEB_DIR } from '../../src/server/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { SIMULATION_REQUEST, seedSimulationFixture } from '../helpers/simulation.js';
import { ARTIFACTS, browserSkip, launchChromium, openDashboardPage, prepareDashboard, type ChartSummary } from '../helpers/browser.js';
import { startServer, type RunningServer } from '../server/helpers.js';

describe('simulation page in headless Chromium', { skip: browserSkip() }, () => {
  let db: TestDatabase;
  let root: string;
  let server: RunningServer;
  let browser: Browser;
  const pageErrors: string[] = [];

  before(async () => {
    prepareDashboard();
    db = await createTestDatabase('sqlite');
    root = mkdtempSync(join(tmpdir(), 'klinecast-simweb-'));
    const out = join(root, 'out');
    await seedSimulationFixture(db, out);
    const source = resolveForecastSource('lstm_universal', out);
    writeSimulation(source, await runSimulationFor(db.handle, source, SIMULATION_REQUEST, new Date('2026-01-01T00:00:00Z')));
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

  test("the run's page lists the simulation and links to it", async () => {
    const page = await open('#/run/lstm_universal');
    const link = page.locator('#simulations-table a', { hasText: 'topk_test' });
    assert.equal(await link.count(), 1);
    assert.equal(await link.getAttribute('href'), '#/simulation/runs/lstm_universal/topk_test');
    await page.close();
  });

  test('the simulation page: figures, equity against the benchmark, drawdown, trades and rejected orders', async () => {
    const page = await open('#/simulation/runs/lstm_universal/topk_test');
    const charts = new Map(
      ((await page.evaluate(() => (globalThis as unknown as { klinecastCharts: () => unknown }).klinecastCharts())) as ChartSummary[]).map((c) => [
        c.id,
        c.series,
      ]),
    );
    assert.deepEqual(
      charts.get('chart-equity')?.map((s) => [s.name, s.points]),
      [
        ['portfolio', 3],
        ['benchmark 000300', 3],
      ],
    );
    assert.deepEqual(
      charts.get('chart-drawdown')?.map((s) => [s.name, s.points]),
      [['drawdown', 3]],
    );
    assert.equal(await page.locator('#trades-table tbody tr').count(), 2);
    assert.equal(await page.locator('#rejected-table tbody tr td', { hasText: 'limit_up' }).count(), 1);
    assert.match((await page.locator('#simulation-summary').textContent()) ?? '', /information ratio/);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-simulation.png`, fullPage: true });
    await page.close();
    assert.deepEqual(pageErrors, []);
  });
});
