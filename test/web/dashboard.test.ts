/**
 * The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; no browser is
 * downloaded). Each page is opened on fixture runs and real bars, and the charts are checked to hold data: the
 * page exposes what every ECharts instance holds (series and point counts) through window.klinecastCharts().
 * Screenshots go to test-artifacts/. A second suite opens a run trained by runTraining on a demo market and shows its
 * forecast from the PredictionEngine. Starting a job from the form waits for a TrainingJobs implementation.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { PredictionEngine } from '../../src/prediction/index.js';
import { createPredictor } from '../../src/server/index.js';
import { DEFAULT_WEB_DIR, LocalTrainingJobs } from '../../src/server/index.js';
import { HORIZON, createMarket, trainTinyRun, trainTinyUniversalRun, type Fixture } from '../prediction/fixture.js';
import { recordForecasts } from '../../src/data/index.js';
import type { BacktestForecastsFile } from '../../src/runs/index.js';
import { writeTinyBacktest } from '../helpers/backtest.js';
import { createTestDatabase as createHelperTestDatabase, type TestDatabase as HelperTestDatabase } from '../helpers/db.js';
import { batchProgress } from '../helpers/batch.js';
import { ARTIFACTS, browserSkip, launchChromium, prepareDashboard, type ChartSummary } from '../helpers/browser.js';
import { mysql } from '../helpers/env.js';
import { createTestDatabase, startServer, writeFixtureRuns, type FixtureRuns, type RunningServer, type TestDatabase } from '../server/helpers.js';

const skip = mysql.skip || browserSkip();

describe('dashboard in headless Chromium', { skip }, () => {
  let db: TestDatabase;
  let runs: FixtureRuns;
  let server: RunningServer;
  let browser: Browser;
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    if (skip) return;
    prepareDashboard();
    db = await createTestDatabase();
    runs = writeFixtureRuns();
    // A batch's bookkeeping beside the runs (out/batches/nightly/): listed under the runs, never as a run.
    mkdirSync(join(runs.outputDir, 'batches', 'nightly'), { recursive: true });
    writeFileSync(
      join(runs.outputDir, 'batches', 'nightly', 'batch_progress.json'),
      JSON.stringify(
        batchProgress(
          {
            '600519': {
              status: 'completed',
              runName: '600519_lstm_fixture',
              path: null,
              metrics: null,
              reason: null,
              attempts: 1,
              finishedAt: null,
              seconds: 1,
            },
          },
          { updatedAt: '2026-01-01T00:01:00.000Z' },
        ),
      ),
    );
    server = await createDashboardServer();
    browser = await launchChromium();
  });

  async function createDashboardServer(): Promise<RunningServer> {
    return startServer({ database: db.handle, outputDir: runs.outputDir, apiKey: null, rateLimit: false, webDir: DEFAULT_WEB_DIR });
  }

  after(async () => {
    if (skip) return;
    await browser?.close();
    await server?.close();
    await db?.drop();
    runs?.cleanup();
  });

  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (req) => {
      if (!req.url().startsWith(server.url) && !req.url().startsWith('data:')) foreignRequests.push(req.url());
    });
    page.on('pageerror', (err) => pageErrors.push(`${hash}: ${err.message}`));
    await page.goto(`${server.url}/${hash}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    return page;
  }

  async function charts(page: Page): Promise<Map<string, ChartSummary['series']>> {
    const list = (await page.evaluate(() => (globalThis as unknown as { klinecastCharts: () => unknown }).klinecastCharts())) as ChartSummary[];
    return new Map(list.map((c) => [c.id, c.series]));
  }

  function points(series: ChartSummary['series'] | undefined, name: string): number {
    const s = series?.find((x) => x.name === name);
    assert.ok(s, `no series ${name} in ${JSON.stringify(series)}`);
    return s.points;
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-${name}.png`, fullPage: true });
  }

  test('the server serves the built dashboard at /', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<div id="app">|<main id="app">/);
    // Static files cannot be used to read outside dist/web either.
    const { request } = await import('node:http');
    for (const path of ['/../package.json', '/..%2Fpackage.json', '/%2e%2e/%2e%2e/package.json', '/assets/..%2F..%2F..%2Fpackage.json']) {
      const { hostname, port } = new URL(server.url);
      const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
        const req = request({ host: hostname, port, path, method: 'GET' }, (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => resolve({ code: r.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.ok(status.code >= 400 && status.code < 500, `${path} -> ${status.code}`);
      assert.ok(!status.body.includes('"devDependencies"'), `${path} leaked package.json`);
    }
  });

  test('Runs: table with status badges, sorting and filtering', async () => {
    const page = await open('#/runs');
    assert.equal(await page.locator('#runs-table tbody tr').count(), 4);
    assert.equal(await page.locator('#runs-table tbody .badge[data-status="completed"]').count(), 3);
    assert.equal(await page.locator('#runs-table tbody .badge[data-status="corrupt"]').count(), 1);
    assert.equal(await page.locator('#batches-table tbody tr').count(), 1);
    assert.match(await page.locator('#batches-table tbody').innerText(), /nightly\s+lstm\s+in progress\s+1\s+0\s+0\s+0/);
    await page.click('#runs-table th[data-key="mae"]');
    const byMae = await page.locator('#runs-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')));
    assert.equal(byMae[0], runs.bestFor600519, `sorted by MAE: ${byMae.join(', ')}`);
    assert.equal(byMae.at(-1), 'half_created', 'runs without MAE go last');
    await page.fill('#runs-filter', '000001');
    assert.equal(await page.locator('#runs-table tbody tr').count(), 1);
    await page.fill('#runs-filter', '');
    await page.selectOption('#runs-model', 'gru');
    assert.equal(await page.locator('#runs-table tbody tr').count(), 1);
    await page.selectOption('#runs-model', '');
    await shot(page, 'runs');
    await page.close();
  });

  test('Run: loss/lr curves, metrics beside persistence, test predictions, config and files', async () => {
    const page = await open('#/run/600519_lstm_fixture');
    const c = await charts(page);
    for (const name of ['train loss', 'val loss', 'lr']) assert.equal(points(c.get('chart-loss'), name), 5, name);
    assert.equal(points(c.get('chart-predictions'), 'actual'), 3);
    assert.equal(points(c.get('chart-predictions'), 'predicted'), 3);
    const metrics = await page.locator('#metrics-table').innerText();
    assert.match(metrics, /persistence baseline/);
    assert.match(metrics, /MAE/);
    assert.match(await page.locator('#run-config').innerText(), /"seed": 42/);
    assert.match(await page.locator('#files-table').innerText(), /model\/model\.safetensors/);
    await shot(page, 'run');
    await page.close();
  });

  test('Stock: candlestick and volume with data, run picker for the symbol', async () => {
    const page = await open('#/stock/600519');
    const c = await charts(page);
    assert.equal(points(c.get('chart-kline'), 'K-line'), 250);
    assert.equal(points(c.get('chart-kline'), 'volume'), 250);
    const options = await page.locator('#run-picker option').evaluateAll((o) => o.map((x) => (x as unknown as { value: string }).value));
    assert.deepEqual(options, ['', runs.bestFor600519, '600519_lstm_fixture']);
    // The best-run rule's choice (GET /api/v1/best-run) is marked, with the rule in words.
    assert.equal(await page.locator('#run-picker option[data-best="true"]').getAttribute('value'), runs.bestFor600519);
    assert.match(await page.locator('#best-rule').innerText(), /mae on the 3 test days all 2 runs were tested on/);
    await shot(page, 'stock');
    await page.close();
  });

  test('Compare: overlaid curves and metrics of several runs', async () => {
    const names = ['600519_lstm_fixture', runs.bestFor600519, '000001_lstm_fixture'];
    const page = await open(`#/compare?runs=${names.join(',')}`);
    const c = await charts(page);
    const loss = c.get('chart-compare-loss');
    assert.equal(loss?.length, 6);
    for (const name of names) {
      assert.equal(points(loss, `${name} val`), 5);
      assert.equal(points(loss, `${name} train`), 5);
    }
    assert.equal(points(c.get('chart-compare-metrics'), 'model MAE'), 3);
    assert.equal(points(c.get('chart-compare-metrics'), 'persistence MAE'), 3);
    assert.equal(await page.locator('#compare-table tbody tr').count(), 3);
    await shot(page, 'compare');
    await page.close();
  });

  test('Start training: the form lists the stocks and shows the server refusing without a key', async () => {
    const page = await open('#/train');
    const symbols = await page.locator('#train-symbol option').evaluateAll((o) => o.map((x) => (x as unknown as { value: string }).value));
    assert.deepEqual(symbols, ['000001', '300750', '600519']);
    await page.click('#train-submit');
    await page.waitForSelector('#train-status .message-error');
    assert.match(await page.locator('#train-status').innerText(), /auth_not_configured/);
    await shot(page, 'train');
    await page.close();
  });

  test('the OpenAPI docs page renders from local assets', async () => {
    const page = await browser.newPage();
    page.on('request', (req) => {
      if (!req.url().startsWith(server.url) && !req.url().startsWith('data:')) foreignRequests.push(req.url());
    });
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector('.swagger-ui .opblock', { timeout: 15_000 });
    assert.ok((await page.locator('.swagger-ui .opblock').count()) >= 12, 'every route listed');
    await shot(page, 'docs');
    await page.close();
  });

  test('Run: return space (predicted against actual return, residuals) and the best epoch on the loss curve', async () => {
    const page = await open('#/run/600519_lstm_fixture');
    const c = await charts(page);
    // The fixture's three next-day test forecasts, in return space.
    assert.equal(points(c.get('chart-return-scatter'), 'next-day forecast'), 3);
    assert.equal(points(c.get('chart-return-scatter'), 'actual = predicted'), 2);
    assert.equal(points(c.get('chart-residuals'), 'residual (actual − predicted)'), 3);
    // training_args.json of this fixture names no best epoch: the lowest logged val loss (epoch 2 of 0.9, 0.5, 0.6, 0.7, 0.8) is it.
    assert.equal(points(c.get('chart-loss'), 'best epoch'), 1);
    assert.ok(!c.get('chart-loss')?.some((s) => s.name === 'early stop'), 'no early stop recorded, none marked');
    assert.match(await page.locator('#training-end').innerText(), /^Best epoch 2 \(its weights are the model\) of 5 trained\.$/);
    assert.match(await page.locator('#price-note').innerText(), /R² of prices is dominated by persistence .*skill/);
    await shot(page, 'run-return-space');
    await page.close();
  });

  test('Run: the early stop recorded in training_args.json is marked on the loss curve', async () => {
    const argsPath = join(runs.outputDir, '000001_lstm_fixture', 'model', 'training_args.json');
    const args = JSON.parse(readFileSync(argsPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(argsPath, JSON.stringify({ ...args, best_epoch: 2, epochs_trained: 5, patience: 3, stop_reason: 'early_stopping' }));
    const page = await open('#/run/000001_lstm_fixture');
    const loss = (await charts(page)).get('chart-loss');
    assert.equal(points(loss, 'best epoch'), 1);
    assert.equal(points(loss, 'early stop'), 1);
    assert.match(
      await page.locator('#training-end').innerText(),
      /Best epoch 2 .* of 5 trained; early stopping ended training after 3 epochs without a better val loss/,
    );
    await page.close();
  });

  test('nothing was fetched from outside the server and no page threw', () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(pageErrors, []);
  });
});

describe('dashboard on a trained demo run, with the PredictionEngine', { skip }, () => {
  let fx: Fixture;
  let server: RunningServer;
  let browser: Browser;
  let symbol: string;
  const pageErrors: string[] = [];

  before(async () => {
    if (skip) return;
    prepareDashboard();
    fx = await createMarket('mysql');
    symbol = fx.symbols[0];
    await trainTinyRun(fx, symbol, 'demo_lstm');
    await trainTinyUniversalRun(fx, 'demo_universal');
    // As `klinecast serve` runs it: every forecast goes to the prediction ledger, which the run page scores.
    const predictor = createPredictor(new PredictionEngine({ database: fx.handle, outputDir: fx.outputDir, record: 'api' }));
    const trainingJobs = new LocalTrainingJobs({ database: fx.handle, threads: 1 });
    server = await startServer({
      database: fx.handle,
      outputDir: fx.outputDir,
      predictor,
      trainingJobs,
      apiKey: 'browser-key',
      rateLimit: false,
      webDir: DEFAULT_WEB_DIR,
    });
    browser = await launchChromium();
  });

  after(async () => {
    if (skip) return;
    await browser?.close();
    await server?.close();
    await fx?.close();
  });

  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(`${hash}: ${err.message}`));
    await page.goto(`${server.url}/${hash}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    return page;
  }

  async function series(page: Page, id: string): Promise<ChartSummary['series']> {
    const list = (await page.evaluate(() => (globalThis as unknown as { klinecastCharts: () => unknown }).klinecastCharts())) as ChartSummary[];
    const chart = list.find((c) => c.id === id);
    assert.ok(chart, `no chart ${id}`);
    return chart.series;
  }

  const count = (s: ChartSummary['series'], name: string) => {
    const found = s.find((x) => x.name === name);
    assert.ok(found, `no series ${name} in ${JSON.stringify(s)}`);
    return found.points;
  };

  test('Stock: the latest forecast with its interval band over the K-line', async () => {
    const page = await open(`#/stock/${symbol}`);
    // By default the run the best-run rule chooses (here the universal run can win on this stock's own test days).
    const best = (await (await fetch(`${server.url}/api/v1/best-run?symbol=${symbol}`)).json()) as { run: { name: string } };
    assert.match(await page.locator('#forecast-status').innerText(), new RegExp(`Forecast by ${best.run.name} `));
    await page.selectOption('#run-picker', 'demo_lstm');
    await page.click('#forecast-button');
    await page.locator('#forecast-status', { hasText: 'Forecast by demo_lstm ' }).waitFor();
    const s = await series(page, 'chart-kline');
    assert.ok(count(s, 'K-line') > 200);
    assert.equal(count(s, 'forecast'), HORIZON + 1, 'the base close and one point per forecast day');
    assert.equal(count(s, 'interval low'), HORIZON);
    assert.equal(count(s, '90% conformal interval'), HORIZON);
    assert.equal(await page.locator('#forecast-table tbody tr').count(), HORIZON);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-stock-forecast.png`, fullPage: true });
    await page.close();
  });

  test('Run: a universal run shows its daily Rank IC, quintile returns and a ranking that links to the stocks', async () => {
    const page = await open('#/run/demo_universal');
    assert.match(await page.locator('h1 + p').innerText(), /universal model over 3 stocks/);
    const saved = (await (await fetch(`${server.url}/api/v1/runs/demo_universal`)).json()) as {
      eval_results: { cross_section: { rank_ic: { days: number } } };
    };
    const days = saved.eval_results.cross_section.rank_ic.days;
    assert.ok(days > 50, `${days} test days with a Rank IC`);
    const ic = await series(page, 'chart-ic');
    assert.equal(count(ic, 'daily Rank IC'), days);
    assert.equal(count(ic, 'cumulative Rank IC'), days);
    const quintiles = await series(page, 'chart-quintiles');
    assert.ok(count(quintiles, 'top − bottom') > 50);
    assert.equal(await page.locator('#cross-section-table tbody tr').count(), 2);
    const links = page.locator('#ranking-table tbody tr a');
    assert.equal(await links.count(), 3);
    assert.match((await links.first().getAttribute('href')) ?? '', /^#\/stock\/\d{6}$/);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-universal-run.png`, fullPage: true });
    await page.close();
  });

  test('Run: a trained run shows its real curves and test predictions, and its live forecasts beside the test segment', async () => {
    const forecast = await fetch(`${server.url}/api/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol, run: 'demo_lstm' }),
    });
    assert.equal(forecast.status, 200);
    const page = await open('#/run/demo_lstm');
    const live = page.locator('#live-table tbody tr');
    assert.equal(await live.count(), 2);
    // The forecast's days are still ahead: nothing scored live yet, while the test row holds the test segment's figures.
    assert.match(await live.nth(0).innerText(), /^live\s+0\s/);
    assert.match(await live.nth(1).innerText(), /^test\s+[1-9]\d*\s+\d/);
    const loss = await series(page, 'chart-loss');
    assert.equal(count(loss, 'train loss'), 2);
    assert.equal(count(loss, 'val loss'), 2);
    assert.equal(count(loss, 'lr'), 2);
    const predictions = await series(page, 'chart-predictions');
    const saved = (await (await fetch(`${server.url}/api/v1/runs/demo_lstm/predictions?step=1`)).json()) as { records: unknown[] };
    assert.ok(saved.records.length > 10);
    assert.equal(count(predictions, 'actual'), saved.records.length);
    assert.equal(count(predictions, 'predicted'), saved.records.length);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-run-trained.png`, fullPage: true });
    await page.close();
  });

  test('Start training: the form posts a job and follows it live to a completed run', async () => {
    const page = await open('#/train');
    // The form starts from the CLI's defaults, served by GET /api/v1/training/defaults (seed: seq 60, hidden 128, 2 layers, 50 epochs).
    for (const [id, value] of [
      ['#train-epochs', '50'],
      ['#train-batch', '32'],
      ['#train-lr', '0.001'],
      ['#train-hidden', '128'],
      ['#train-layers', '2'],
      ['#train-dropout', '0.2'],
      ['#train-seq', '60'],
      ['#train-patience', '10'],
    ]) {
      assert.equal(await page.inputValue(id), value, id);
    }
    await page.selectOption('#train-symbol', fx.symbols[1]);
    await page.selectOption('#train-model', 'gru');
    for (const [id, value] of [
      ['#train-epochs', '2'],
      ['#train-batch', '64'],
      ['#train-hidden', '8'],
      ['#train-layers', '1'],
      ['#train-seq', '20'],
      ['#train-horizon', '2'],
      ['#train-run-name', 'form_gru'],
      ['#train-key', 'browser-key'],
    ]) {
      await page.fill(id, value);
    }
    await page.click('#train-submit');
    await page.waitForSelector('#train-job h2[data-state="completed"]', { timeout: 120_000 });
    assert.match(await page.locator('#train-line').innerText(), /epoch 2\/2/);
    assert.equal(await page.locator('#train-progress').evaluate((el) => (el as unknown as { value: number }).value), 2);
    const loss = await series(page, 'chart-train-loss');
    assert.equal(count(loss, 'train loss'), 2);
    assert.equal(count(loss, 'val loss'), 2);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-train-completed.png`, fullPage: true });
    await page.click('#train-line a');
    await page.waitForSelector('body[data-page="run"][data-ready="true"]');
    assert.match(await page.locator('h1').innerText(), /form_gru/);
    await page.close();
  });

  test('Run: a trained run marks the best epoch its training_args.json records, and says it ran to its last epoch', async () => {
    const saved = (await (await fetch(`${server.url}/api/v1/runs/demo_lstm`)).json()) as { training_args: { best_epoch: number; stop_reason: string } };
    assert.equal(saved.training_args.stop_reason, 'max_epochs');
    const page = await open('#/run/demo_lstm');
    const loss = await series(page, 'chart-loss');
    assert.equal(count(loss, 'best epoch'), 1);
    assert.ok(!loss.some((s) => s.name === 'early stop'));
    assert.equal(
      await page.locator('#training-end').innerText(),
      `Best epoch ${saved.training_args.best_epoch} (its weights are the model) of 2 trained; training ran to its last epoch (no early stop).`,
    );
    assert.ok(count(await series(page, 'chart-return-scatter'), 'next-day forecast') > 10);
    await page.close();
  });

  test('no page threw', () => {
    assert.deepEqual(pageErrors, []);
  });
});

describe('dashboard: past forecasts over the K-line (a backtest and the prediction ledger)', { skip: browserSkip() }, () => {
  let tdb: HelperTestDatabase;
  let server: RunningServer;
  let browser: Browser;
  let symbol: string;
  let nextDay: BacktestForecastsFile['records'];
  const pageErrors: string[] = [];

  before(async () => {
    prepareDashboard();
    tdb = await createHelperTestDatabase('sqlite');
    const out = join(tdb.dir, 'out');
    const report = await writeTinyBacktest(out, { database: tdb.handle });
    const file = JSON.parse(readFileSync(join(report.dir, 'forecasts.json'), 'utf8')) as BacktestForecastsFile;
    symbol = file.records[0].symbol as string;
    nextDay = file.records.filter((r) => r.symbol === symbol && r.step === 1);
    // Five next-day forecasts in the ledger, as `klinecast predict --end-date` records them, on days the chart shows.
    await recordForecasts(
      tdb.handle,
      nextDay.slice(-5).map((r) => ({
        run: 'ledger_run',
        symbol,
        baseDate: r.date,
        targetDate: r.target_date as string,
        step: 1,
        baseClose: r.last_close,
        predictedPrice: r.predicted_price,
        predictedReturn: r.predicted_return,
        lower: null,
        upper: null,
        intervalMethod: null,
        intervalLevel: null,
        source: 'cli' as const,
      })),
    );
    server = await startServer({ database: tdb.handle, outputDir: out, apiKey: null, rateLimit: false, webDir: DEFAULT_WEB_DIR });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await tdb?.cleanup();
  });

  test("Stock: the ledger's recorded forecasts and the backtest's next-day forecasts are drawn on the candles", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${server.url}/#/stock/${symbol}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    const list = (await page.evaluate(() => (globalThis as unknown as { klinecastCharts: () => unknown }).klinecastCharts())) as ChartSummary[];
    const kline = list.find((c) => c.id === 'chart-kline')?.series ?? [];
    const count = (name: string) => kline.find((s) => s.name === name)?.points;
    assert.equal(count('K-line'), 250);
    assert.equal(count('recorded forecasts (ledger)'), 5);
    // The backtest's forecasts from 2022-10 on all fall within the last 250 bars of the market (to 2022-12-31).
    assert.ok(nextDay.length > 40, `${nextDay.length} next-day forecasts`);
    assert.equal(count('backtest bt_tiny'), nextDay.length);
    assert.match(await page.locator('#past-forecasts').innerText(), new RegExp(`5 recorded forecasts \\(ledger\\); ${nextDay.length} backtest bt_tiny`));
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-stock-past-forecasts.png`, fullPage: true });
    await page.close();
    assert.deepEqual(pageErrors, []);
  });
});
