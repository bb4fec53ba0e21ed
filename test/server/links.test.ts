/**
 * Issue 12 #2: symbolic and hard links must not lead the API out of the output folder. An out/ seeded with links to
 * /etc, to files and folders holding canary strings, and with hard links to such files, gets a seeded fuzz of every
 * by-name route: no canary and no server path in any answer, no 5xx.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RUN_FILES } from '../../src/runs/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { mulberry32 } from '../features/synthetic.js';
import { writeCompletedRun } from '../training/manager-fixtures.js';
import { call, startRecordingServer, type RunningServer } from './helpers.js';

const KEY = 'links-key';
const CANARY = 'CANARY-7f3a9c';
const REQUESTS = 600;

let db: TestDatabase;
let root: string;
let outputDir: string;
let server: RunningServer;

/** Replaces a run's file with a symbolic link to `target`. */
function linkFile(run: string, file: string, target: string, kind: 'symlink' | 'hard' = 'symlink'): void {
  const path = join(outputDir, run, file);
  rmSync(path, { force: true, recursive: true });
  mkdirSync(join(path, '..'), { recursive: true });
  if (kind === 'hard') linkSync(target, path);
  else symlinkSync(target, path);
}

before(async () => {
  db = await createTestDatabase('sqlite');
  root = mkdtempSync(join(tmpdir(), 'klinecast-links-'));
  outputDir = join(root, 'out');
  // Outside out/: files and a folder holding the canary, valid JSON and not.
  const secrets = join(root, 'secrets');
  mkdirSync(secrets);
  writeFileSync(join(secrets, 'canary.json'), JSON.stringify({ records: [{ step: 1, canary: CANARY }], canary: CANARY }));
  writeFileSync(join(secrets, 'canary.txt'), `root:x:0:0:${CANARY}\n`);
  writeFileSync(join(secrets, 'metadata.json'), JSON.stringify({ run_name: CANARY, model_type: CANARY, created_at: CANARY, status: 'completed' }));
  writeFileSync(join(secrets, 'predictions.json'), JSON.stringify({ canary: CANARY }));
  writeFileSync(join(secrets, 'canary.bin'), `root:x:0:0:${CANARY}\n`);
  // What a backtest folder holds, with the canary: its folder linked whole must show none of it.
  writeFileSync(join(secrets, 'config.json'), JSON.stringify({ created_at: CANARY, train: { data: { symbol: CANARY } } }));
  writeFileSync(join(secrets, 'state.json'), JSON.stringify({ status: 'completed', folds_total: 1, folds_done: [1], error: CANARY }));
  writeFileSync(join(secrets, 'forecasts.json'), JSON.stringify({ records: [{ step: 1, canary: CANARY }] }));
  writeFileSync(join(secrets, 'results.json'), JSON.stringify({ summary: CANARY, overall: { metrics: { skill: 0.5 } } }));

  for (const name of [
    'ok_run',
    'pred_link',
    'metrics_link',
    'results_dir_link',
    'hard_link',
    'config_passwd',
    'meta_link',
    'model_link',
    'weights_link',
    'weights_hard',
    'torch_link',
  ]) {
    writeCompletedRun(outputDir, { symbol: '600519', runName: name });
  }
  linkFile('pred_link', RUN_FILES.predictions, join(secrets, 'canary.json'));
  linkFile('metrics_link', RUN_FILES.metrics, join(secrets, 'canary.txt'));
  linkFile('results_dir_link', 'results', secrets);
  linkFile('hard_link', RUN_FILES.predictions, join(secrets, 'canary.json'), 'hard');
  linkFile('hard_link', RUN_FILES.evalResults, join(secrets, 'canary.json'), 'hard');
  linkFile('config_passwd', RUN_FILES.config, '/etc/passwd');
  linkFile('meta_link', RUN_FILES.metadata, join(secrets, 'metadata.json'));
  linkFile('model_link', RUN_FILES.modelDir, secrets);
  linkFile('weights_link', RUN_FILES.modelSafetensors, join(secrets, 'canary.bin'));
  linkFile('weights_hard', RUN_FILES.modelSafetensors, join(secrets, 'canary.bin'), 'hard');
  linkFile('torch_link', RUN_FILES.modelTorch, join(secrets, 'canary.bin'));
  // Whole run folders that are links: to /etc, and to a folder that looks like a run.
  symlinkSync('/etc', join(outputDir, 'etc_link'));
  symlinkSync(secrets, join(outputDir, 'secret_run'));
  // A garbage metadata.json holding the canary: never quoted back.
  writeCompletedRun(outputDir, { symbol: '600519', runName: 'garbage_meta' });
  writeFileSync(join(outputDir, 'garbage_meta', RUN_FILES.metadata), `{"status": "${CANARY}", oops ${CANARY}`);
  // Backtests: whole folders that are links (to /etc, to the canary folder), and a real one whose files are links.
  const backtests = join(outputDir, 'backtests');
  mkdirSync(join(backtests, 'bt_files_linked'), { recursive: true });
  symlinkSync('/etc', join(backtests, 'bt_etc_link'));
  symlinkSync(secrets, join(backtests, 'bt_secret'));
  writeFileSync(
    join(backtests, 'bt_files_linked', 'config.json'),
    JSON.stringify({ created_at: '2026-01-01T00:00:00Z', train: { data: { symbol: '600519' } } }),
  );
  symlinkSync(join(secrets, 'state.json'), join(backtests, 'bt_files_linked', 'state.json'));
  symlinkSync(join(secrets, 'forecasts.json'), join(backtests, 'bt_files_linked', 'forecasts.json'));
  symlinkSync(join(secrets, 'results.json'), join(backtests, 'bt_files_linked', 'results.json'));
  symlinkSync(secrets, join(backtests, 'bt_files_linked', 'simulations'));
  // Batches: whole folders that are links, and a real one whose bookkeeping files are links to the canary.
  const batches = join(outputDir, 'batches');
  mkdirSync(join(batches, 'b_files_linked'), { recursive: true });
  symlinkSync('/etc', join(batches, 'b_etc_link'));
  symlinkSync(secrets, join(batches, 'b_secret'));
  symlinkSync(join(secrets, 'canary.json'), join(batches, 'b_files_linked', 'batch_progress.json'));
  symlinkSync('/etc/passwd', join(batches, 'b_files_linked', 'batch_summary.json'));
  writeCompletedRun(outputDir, { symbol: '600519', runName: 'odd_status' });
  writeFileSync(
    join(outputDir, 'odd_status', RUN_FILES.metadata),
    JSON.stringify({ run_name: 'odd_status', model_type: 'lstm', created_at: '2026-01-01T00:00:00Z', status: CANARY }),
  );
  server = await startRecordingServer({
    database: db.handle,
    outputDir,
    apiKey: KEY,
  });
});

after(async () => {
  await server?.close();
  await db?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** No canary, no /etc content, no server path in an answer. */
function assertClean(text: string, what: string): void {
  assert.ok(!text.includes(CANARY), `${what}: leaked the canary: ${text.slice(0, 300)}`);
  assert.ok(!text.includes('root:x:0:0'), `${what}: leaked /etc/passwd`);
  assert.ok(!text.includes(root), `${what}: showed a server path: ${text.slice(0, 300)}`);
  assert.ok(!/"(\/etc|\/tmp|\/work|\/home|\/root)\//.test(text) && !text.includes(' /etc/'), `${what}: showed an absolute path: ${text.slice(0, 300)}`);
}

test('by-name routes: a run folder that is a link is no run (404); linked files inside a run are problems, never data', async () => {
  for (const name of ['etc_link', 'secret_run']) {
    for (const suffix of ['', '/metrics', '/predictions']) {
      const r = await call(`${server.url}/api/v1/runs/${name}${suffix}`);
      assert.equal(r.status, 404, `${name}${suffix}`);
      assert.equal((r.body as { error: { code: string } }).error.code, 'run_not_found');
    }
  }
  const list = await call(`${server.url}/api/v1/runs`);
  assert.equal(list.status, 200);
  const items = (list.body as { items: Array<{ name: string; status: string; problems: string[]; reason: string | null; has_model: boolean }> }).items;
  const names = items.map((i) => i.name).sort();
  assert.ok(!names.includes('etc_link') && !names.includes('secret_run'), 'links in out/ are not listed');
  const byName = Object.fromEntries(items.map((i) => [i.name, i]));
  assert.ok(byName.metrics_link.problems.some((p) => /metrics\.json is a link to a file outside its folder/.test(p)));
  assert.ok(byName.config_passwd.problems.some((p) => /config\.json is a link/.test(p)));
  assert.ok(byName.hard_link.problems.some((p) => /has other hard links/.test(p)));
  assert.equal(byName.meta_link.status, 'corrupt');
  assert.equal(byName.garbage_meta.reason, 'metadata.json is not valid JSON (at character 28)');
  assert.equal(byName.odd_status.reason, 'metadata.json has an unknown status');
  assert.equal(byName.model_link.has_model, false, 'a model/ folder that is a link is no model');
  assertClean(JSON.stringify(list.body), 'GET /api/v1/runs');

  for (const name of ['pred_link', 'results_dir_link', 'hard_link']) {
    const r = await call(`${server.url}/api/v1/runs/${name}/predictions`);
    assert.equal(r.status, 409, name);
    assert.equal((r.body as { error: { code: string } }).error.code, 'run_files_unreadable');
    assertClean(JSON.stringify(r.body), `${name}/predictions`);
  }
  const ok = await call(`${server.url}/api/v1/runs/ok_run/predictions`);
  assert.equal(ok.status, 200, 'a run of its own files still serves them');

  // The weights download: a linked model/, weights file or pytorch file is never served.
  for (const [name, query] of [
    ['model_link', ''],
    ['weights_link', ''],
    ['weights_hard', ''],
    ['torch_link', '?format=pytorch'],
    ['model_link', '?format=onnx'],
    ['weights_link', '?format=onnx'],
  ]) {
    const r = await call(`${server.url}/api/v1/runs/${name}/model${query}`);
    assert.ok(r.status === 409 || r.status === 404, `${name}/model${query}: ${r.status}`);
    assertClean(typeof r.body === 'string' ? r.body : JSON.stringify(r.body), `${name}/model${query}`);
  }
  for (const name of ['etc_link', 'secret_run']) assert.equal((await call(`${server.url}/api/v1/runs/${name}/model`)).status, 404, `${name}/model`);
  const weights = await call(`${server.url}/api/v1/runs/ok_run/model`);
  assert.equal(weights.status, 200, 'a run of its own weights still serves them');
});

test('backtests: a folder that is a link is no backtest (404); linked files inside one are never data', async () => {
  for (const name of ['bt_etc_link', 'bt_secret']) {
    for (const suffix of ['', '/forecasts', '/simulations']) {
      const r = await call(`${server.url}/api/v1/backtests/${name}${suffix}`);
      assert.equal(r.status, 404, `${name}${suffix}`);
      assert.equal((r.body as { error: { code: string } }).error.code, 'backtest_not_found');
      assertClean(JSON.stringify(r.body), `backtests/${name}${suffix}`);
    }
  }
  const list = await call(`${server.url}/api/v1/backtests`);
  assert.equal(list.status, 200);
  const items = (list.body as { items: Array<{ name: string; status: string }> }).items;
  assert.deepEqual(
    items.map((i) => [i.name, i.status]),
    [['bt_files_linked', 'corrupt']],
  );
  assertClean(JSON.stringify(list.body), 'GET /api/v1/backtests');
  const one = await call(`${server.url}/api/v1/backtests/bt_files_linked`);
  assert.equal(one.status, 200);
  assertClean(JSON.stringify(one.body), 'backtests/bt_files_linked');
  const forecasts = await call(`${server.url}/api/v1/backtests/bt_files_linked/forecasts`);
  assert.equal(forecasts.status, 409);
  assert.equal((forecasts.body as { error: { code: string } }).error.code, 'backtest_files_unreadable');
  assertClean(JSON.stringify(forecasts.body), 'backtests/bt_files_linked/forecasts');
  const sims = await call(`${server.url}/api/v1/backtests/bt_files_linked/simulations`);
  assert.deepEqual([sims.status, (sims.body as { total: number }).total], [200, 0]);
});

test('batches: a folder that is a link is no batch (404); linked bookkeeping files are never read', async () => {
  for (const name of ['b_etc_link', 'b_secret', 'b_etc_link%2F..', '..']) {
    const r = await call(`${server.url}/api/v1/batches/${name}`);
    assert.ok(r.status === 404 || r.status === 400, `${name}: ${r.status}`);
    assertClean(JSON.stringify(r.body), `batches/${name}`);
  }
  const list = await call(`${server.url}/api/v1/batches`);
  assert.equal(list.status, 200);
  const items = (list.body as { items: Array<{ name: string }> }).items;
  assert.deepEqual(
    items.map((i) => i.name),
    ['b_files_linked'],
  );
  assertClean(JSON.stringify(list.body), 'GET /api/v1/batches');
  const one = await call(`${server.url}/api/v1/batches/b_files_linked`);
  assert.ok(one.status < 500, `b_files_linked: ${one.status}`);
  assertClean(JSON.stringify(one.body), 'batches/b_files_linked');
});

test(`fuzz: ${REQUESTS} requests of the by-name routes over the linked out/: 0 canaries, 0 server paths, 0 5xx`, async () => {
  const random = mulberry32(20261203);
  const names = [...readdirSync(outputDir), 'etc_link/..', '..', '.', 'secret_run%2F..', 'ok_run%00', 'nope'];
  const suffixes = [
    '',
    '/metrics',
    '/predictions',
    '/predictions?step=1',
    '/predictions?step=0',
    '/model',
    '/model?format=onnx',
    '/model?format=pytorch',
    '/model?checkpoint=best',
    '/model?format=onnx&checkpoint=best&opset=13',
  ];
  const backtestNames = [...readdirSync(join(outputDir, 'backtests')), 'bt_etc_link/..', 'bt_secret%2F..', '..', 'nope'];
  const backtestSuffixes = ['', '/forecasts', '/forecasts?step=1&symbol=600519', '/simulations', '/simulations/x'];
  let served = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const name = names[Math.floor(random() * names.length)];
    let r;
    if (random() < 0.2) {
      const backtest = backtestNames[Math.floor(random() * backtestNames.length)];
      r = await call(`${server.url}/api/v1/backtests/${backtest}${backtestSuffixes[Math.floor(random() * backtestSuffixes.length)]}`);
    } else if (random() < 0.25) {
      r = await call(`${server.url}/api/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ symbol: '600519', run: decodeURIComponent(name.replace('%00', '')) }),
      });
    } else {
      r = await call(`${server.url}/api/v1/runs/${name}${suffixes[Math.floor(random() * suffixes.length)]}`);
    }
    assert.ok(r.status < 500, `${name}: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.status === 200) served++;
    assertClean(typeof r.body === 'string' ? r.body : JSON.stringify(r.body), name);
  }
  assert.ok(served > 0, 'some requests were served');
});
