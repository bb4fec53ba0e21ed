/**
 * What every browser test shares: Debian's /usr/bin/chromium driven by playwright-core (no browser is downloaded), a
 * clear skip when it is missing (a failure under KLINECAST_REQUIRE_BROWSER=1), the built dashboard, and the charts'
 * contents as the page exposes them through window.klinecastCharts(). Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_WEB_DIR } from '../../src/server/index.js';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = `${ROOT}test-artifacts`;

/** The `skip` of a browser suite: false when Chromium is there, else the reason (printed loudly, never silent). */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.KLINECAST_REQUIRE_BROWSER === '1') throw new Error(`${CHROMIUM} is missing but KLINECAST_REQUIRE_BROWSER=1 (apt-get install chromium)`);
  const text = `SKIPPED: browser tests need ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
  console.warn(`\n*** ${text} ***\n`);
  return text;
}

/** What one ECharts instance holds, from window.klinecastCharts(). */
export interface ChartSummary {
  id: string;
  series: Array<{ name: string; type: string; points: number }>;
}

/** The dashboard built (`npm test` builds first; a direct run of one file builds it once here) and test-artifacts/ made. */
export function prepareDashboard(): void {
  if (!existsSync(`${DEFAULT_WEB_DIR}/index.html`)) {
    const built = spawnSync('npm', ['run', 'build:web'], { cwd: ROOT, stdio: 'inherit' });
    assert.equal(built.status, 0, 'npm run build:web failed');
  }
  mkdirSync(ARTIFACTS, { recursive: true });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/** A new page on the dashboard at `hash`, once it says it is ready; what the page throws is collected in `pageErrors`. */
export async function openDashboardPage(browser: Browser, serverUrl: string, hash: string, pageErrors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(`${hash}: ${err.message}`));
  await page.goto(`${serverUrl}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  return page;
}
