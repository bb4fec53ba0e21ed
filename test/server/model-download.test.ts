/**
 * GET /api/v1/runs/:name/model (issue 18): a run's weights as onnx, safetensors or pytorch. Read-only (the ONNX
 * model is built in memory and equals `runs export --format onnx`), validated, and safe against traversal and links:
 * no file outside the run is served and no answer shows a server path.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-web';
import { RUN_FILES } from '../../src/runs/index.js';
import { exportOnnx } from '../../src/runs/onnx.js';
import { createMarket, trainTinyRun, type Fixture } from '../prediction/fixture.js';
import { call, startServer, type RunningServer } from './helpers.js';

ort.env.wasm.numThreads = 1;
const CANARY = 'CANARY-onnx-51d2';
const RUN = 'dl_lstm';

let fx: Fixture;
let server: RunningServer;

async function download(path: string): Promise<{ status: number; headers: Headers; bytes: Buffer; text: string }> {
  const res = await fetch(`${server.url}${path}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8') };
}

/** A copy of the trained run under another name (so each case can damage its own). */
function copyRun(name: string): string {
  const from = join(fx.outputDir, RUN);
  const to = join(fx.outputDir, name);
  const copy = (rel: string): void => {
    for (const entry of readdirSync(join(from, rel), { withFileTypes: true })) {
      const r = join(rel, entry.name);
      if (entry.isDirectory()) {
        mkdirSync(join(to, r), { recursive: true });
        copy(r);
      } else writeFileSync(join(to, r), readFileSync(join(from, r)));
    }
  };
  mkdirSync(to);
  copy('.');
  const meta = JSON.parse(readFileSync(join(to, RUN_FILES.metadata), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(to, RUN_FILES.metadata), JSON.stringify({ ...meta, run_name: name }));
  return to;
}

before(async () => {
  fx = await createMarket();
  await trainTinyRun(fx, fx.symbols[1], RUN, { dataset: { seqLength: 10, horizon: 2 }, training: { epochs: 2 } });
  const secrets = join(fx.root, 'secrets');
  mkdirSync(secrets);
  writeFileSync(join(secrets, 'canary.bin'), `root:x:0:0:${CANARY}\n`);
  writeFileSync(join(secrets, 'model.safetensors'), `root:x:0:0:${CANARY}\n`);
  // a weights file that is a symbolic link out of the run, one that is a hard link to a file outside, a whole model/
  // that is a link, and a run folder that is a link
  rmSync(join(copyRun('dl_symlink'), RUN_FILES.modelSafetensors));
  symlinkSync(join(secrets, 'canary.bin'), join(fx.outputDir, 'dl_symlink', RUN_FILES.modelSafetensors));
  rmSync(join(copyRun('dl_hardlink'), RUN_FILES.modelTorch));
  linkSync(join(secrets, 'canary.bin'), join(fx.outputDir, 'dl_hardlink', RUN_FILES.modelTorch));
  rmSync(join(copyRun('dl_modeldir'), RUN_FILES.modelDir), { recursive: true });
  symlinkSync(secrets, join(fx.outputDir, 'dl_modeldir', RUN_FILES.modelDir));
  symlinkSync(secrets, join(fx.outputDir, 'dl_secret_run'));
  // a run still training: no model/ yet
  const training = copyRun('dl_training');
  rmSync(join(training, RUN_FILES.modelDir), { recursive: true });
  server = await startServer({ database: fx.handle, outputDir: fx.outputDir, apiKey: null, rateLimit: false, runListTtlMs: 0 });
});

after(async () => {
  await server?.close();
  await fx?.close();
});

describe('GET /api/v1/runs/:name/model', () => {
  test('format=onnx is the exported model, runs in onnxruntime-web, and writes nothing to the run', async () => {
    const before = readdirSync(join(fx.outputDir, RUN, RUN_FILES.modelDir)).sort();
    const res = await download(`/api/v1/runs/${RUN}/model?format=onnx`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${RUN}.onnx"`);
    assert.deepEqual(readdirSync(join(fx.outputDir, RUN, RUN_FILES.modelDir)).sort(), before, 'read-only');
    const out = join(fx.root, 'cli.onnx');
    exportOnnx(RUN, { outputDir: fx.outputDir, out });
    assert.ok(res.bytes.equals(readFileSync(out)), 'the same bytes as runs export --format onnx');
    const session = await ort.InferenceSession.create(res.bytes);
    const y = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 10 * featuresOf()), [3, 10, featuresOf()]) });
    assert.deepEqual(y.output.dims, [3, 2]);
    await session.release();
    const best = await download(`/api/v1/runs/${RUN}/model?format=onnx&checkpoint=best&opset=13`);
    assert.equal(best.status, 200, best.text);
    assert.equal(best.headers.get('content-disposition'), `attachment; filename="${RUN}.best.onnx"`);
  });

  test('the route is in the OpenAPI document with its query', async () => {
    const spec = await call(`${server.url}/docs/json`);
    const route = (spec.body as { paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> }).paths['/api/v1/runs/{name}/model'];
    assert.ok(route?.get, 'documented');
    assert.deepEqual(route.get.parameters?.map((p) => p.name).sort(), ['checkpoint', 'format', 'name', 'opset']);
  });

  test('format=safetensors and pytorch are the run files, final or best', async () => {
    const dir = join(fx.outputDir, RUN);
    const cases: Array<[string, string]> = [
      ['format=safetensors', RUN_FILES.modelSafetensors],
      ['', RUN_FILES.modelSafetensors],
      ['format=pytorch', RUN_FILES.modelTorch],
      ['format=safetensors&checkpoint=best', `${RUN_FILES.bestDir}/model.safetensors`],
    ];
    for (const [query, file] of cases) {
      const res = await download(`/api/v1/runs/${RUN}/model?${query}`);
      assert.equal(res.status, 200, `${query}: ${res.text}`);
      assert.ok(res.bytes.equals(readFileSync(join(dir, file))), query);
    }
  });

  test('bad parameters are 400, unknown and linked runs 404, linked files 409, and nothing leaks', async () => {
    const cases: Array<[string, number, string]> = [
      [`/api/v1/runs/${RUN}/model?format=xml`, 400, 'validation'],
      [`/api/v1/runs/${RUN}/model?format=onnx&opset=9`, 400, 'validation'],
      [`/api/v1/runs/${RUN}/model?format=safetensors&opset=17`, 400, 'bad_request'],
      [`/api/v1/runs/${RUN}/model?format=pytorch&checkpoint=best`, 400, 'bad_request'],
      [`/api/v1/runs/${RUN}/model?path=/etc/passwd`, 400, 'validation'],
      ['/api/v1/runs/..%2F..%2Fetc/model', 400, 'validation'],
      ['/api/v1/runs/%2E%2E/model?format=onnx', 404, 'route_not_found'], // the client resolves .. itself
      ['/api/v1/runs/no_such_run/model', 404, 'run_not_found'],
      ['/api/v1/runs/dl_secret_run/model?format=pytorch', 404, 'run_not_found'],
      ['/api/v1/runs/dl_symlink/model?format=safetensors', 409, 'run_files_unreadable'],
      ['/api/v1/runs/dl_symlink/model?format=onnx', 409, 'run_corrupt'],
      ['/api/v1/runs/dl_hardlink/model?format=pytorch', 409, 'run_files_unreadable'],
      ['/api/v1/runs/dl_modeldir/model?format=safetensors', 409, 'run_files_unreadable'],
      ['/api/v1/runs/dl_modeldir/model?format=onnx', 409, 'run_'],
      ['/api/v1/runs/dl_training/model?format=safetensors', 404, 'model_not_found'],
      ['/api/v1/runs/dl_training/model?format=onnx', 409, 'run_not_ready'],
    ];
    for (const [path, status, code] of cases) {
      const res = await call(`${server.url}${path}`);
      assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
      const text = JSON.stringify(res.body);
      if (code !== 'validation') assert.match(String((res.body as { error?: { code?: string } }).error?.code ?? text), new RegExp(code), path);
      assert.ok(!text.includes(CANARY), `${path} leaks the canary`);
      assert.ok(!text.includes(fx.root), `${path} shows a server path: ${text}`);
    }
  });
});

function featuresOf(): number {
  const config = JSON.parse(readFileSync(join(fx.outputDir, RUN, RUN_FILES.modelConfig), 'utf8')) as { input_size: number };
  return config.input_size;
}
