/**
 * ONNX export (issue 18): each exported model, run by a second, independent runtime (onnxruntime-web, pure
 * WebAssembly, in this process), gives klinecast's own outputs on the same windows within 1e-5: LSTM, GRU and
 * Transformer, 1 and 2 layers, horizon 1 and 5. A missing or malformed run fails clearly and writes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { StockDataLoader } from '../../src/data/index.js';
import { buildInferenceInput } from '../../src/features/index.js';
import { predict } from '../../src/models/index.js';
import { loadRunModel } from '../../src/runs/index.js';
import { DEFAULT_OPSET, ONNX_INPUT, ONNX_OUTPUT, ONNX_STOCK_INPUT, RUN_ONNX_PATH, exportOnnx } from '../../src/runs/onnx.js';
import { stockRowsFor } from '../../src/prediction/index.js';
import { KLINECAST_VERSION } from '../../src/util/version.js';
import { UserError } from '../../src/util/errors.js';
import { createMarket, trainTinyRun, trainTinyUniversalRun, type Fixture } from '../prediction/fixture.js';
import { runCli } from '../data/run-cli.js';

ort.env.wasm.numThreads = 1;

type Kind = 'lstm' | 'gru' | 'transformer';
const CASES: Array<{ kind: Kind; layers: number; horizon: number }> = [];
for (const kind of ['lstm', 'gru', 'transformer'] as const) for (const layers of [1, 2]) for (const horizon of [1, 5]) CASES.push({ kind, layers, horizon });

const SEQ = 12;
const WINDOWS = 6;

let fx: Fixture;
let loader: StockDataLoader;

before(async () => {
  fx = await createMarket();
  loader = new StockDataLoader(fx.handle);
});
after(async () => fx?.close());

async function trainCase(kind: Kind, layers: number, horizon: number, name: string): Promise<void> {
  await trainTinyRun(fx, fx.symbols[0], name, {
    dataset: { seqLength: SEQ, horizon },
    model: {
      modelType: kind,
      hiddenSize: 8,
      numLayers: layers,
      headHiddenSize: 6,
      dropout: 0.1,
      ...(kind === 'transformer' ? { numHeads: 2, dimFeedforward: 16 } : {}),
    },
    training: { epochs: 1, batchSize: 64, seed: 3 },
  });
}

/** WINDOWS real input windows of the run's stock (ending on different days), scaled with the run's scaler. */
async function windowsOf(run: string): Promise<{ x: Float32Array; features: number }> {
  const model = loadRunModel(run, { outputDir: fx.outputDir });
  const series = await loader.loadSeries(fx.symbols[0]);
  const features = model.inputs.featureNames.length;
  const x = new Float32Array(WINDOWS * SEQ * features);
  for (let i = 0; i < WINDOWS; i++) {
    const asOf = series.dates[series.dates.length - 1 - i * 37];
    x.set(buildInferenceInput(series, model.bundle, asOf).x, i * SEQ * features);
  }
  return { x, features };
}

async function runOnnx(path: string, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(readFileSync(path));
  try {
    assert.deepEqual(session.inputNames, [ONNX_INPUT]);
    assert.deepEqual(session.outputNames, [ONNX_OUTPUT]);
    const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, dims) });
    return out[ONNX_OUTPUT].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Asserts max |actual − expected| ≤ 1e-5 and returns it. */
function assertClose(actual: Float32Array, expected: Float32Array, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= 1e-5, `${what}: max |onnx − klinecast| = ${worst}`);
  return worst;
}

describe('runs export --format onnx, checked in onnxruntime-web', () => {
  for (const { kind, layers, horizon } of CASES) {
    test(`${kind}, ${layers} layer${layers > 1 ? 's' : ''}, horizon ${horizon}: same outputs within 1e-5`, async (t) => {
      const name = `onnx_${kind}_l${layers}_h${horizon}`;
      await trainCase(kind, layers, horizon, name);
      const result = exportOnnx(name, { outputDir: fx.outputDir });
      assert.equal(result.path, join(fx.outputDir, name, RUN_ONNX_PATH));
      assert.equal(result.opset, DEFAULT_OPSET);
      assert.deepEqual(result.output.shape, ['batch', horizon]);

      const model = loadRunModel(name, { outputDir: fx.outputDir });
      const { x, features } = await windowsOf(name);
      const expected = predict(model.network, x, WINDOWS);
      const worst = assertClose(await runOnnx(result.path, x, [WINDOWS, SEQ, features]), expected, name);
      t.diagnostic(`max |onnx − klinecast| = ${worst.toExponential(2)} over ${expected.length} outputs`);
      // the batch axis is dynamic: one window alone gives the first row
      assertClose(await runOnnx(result.path, x.slice(0, SEQ * features), [1, SEQ, features]), expected.slice(0, horizon), `${name} batch 1`);
    });
  }

  test('a universal run without a stock embedding exports with the same single input', async () => {
    const name = 'onnx_universal';
    await trainTinyUniversalRun(fx, name);
    const result = exportOnnx(name, { outputDir: fx.outputDir });
    const model = loadRunModel(name, { outputDir: fx.outputDir });
    const meta = Object.fromEntries(onnxProto.onnx.ModelProto.decode(readFileSync(result.path)).metadataProps.map((p) => [p.key, p.value]));
    assert.match(meta.stock_input as string, /^none/);
    const features = model.inputs.featureNames.length;
    const seq = model.inputs.seqLength;
    for (const symbol of fx.symbols) {
      const series = await loader.loadSeries(symbol);
      const x = buildInferenceInput(series, model.bundle).x;
      assertClose(await runOnnx(result.path, x, [1, seq, features]), predict(model.network, x, 1), `${name} ${symbol}`);
    }
  });

  for (const kind of ['gru', 'transformer'] as const) {
    test(`a universal ${kind} with a stock embedding exports a second input, stock (int64 [batch]), and gives the same outputs, unknown row included`, async () => {
      const name = `onnx_universal_embedding_${kind}`;
      // Two of the three stocks: the third is one the embedding has no row for.
      const trained = fx.symbols.slice(0, 2);
      await trainTinyUniversalRun(fx, name, {
        data: { symbols: trained },
        model: { modelType: kind, stockEmbeddingDim: 4, ...(kind === 'transformer' ? { numHeads: 2, dimFeedforward: 16 } : {}) },
      });
      const result = exportOnnx(name, { outputDir: fx.outputDir });
      assert.deepEqual(result.stockInput, { name: ONNX_STOCK_INPUT, shape: ['batch'] });
      const model = loadRunModel(name, { outputDir: fx.outputDir });
      assert.deepEqual(model.inputs.stocks, [...trained].sort());
      const meta = Object.fromEntries(onnxProto.onnx.ModelProto.decode(readFileSync(result.path)).metadataProps.map((p) => [p.key, p.value]));
      assert.match(meta.stock_input as string, /^stock: int64 \[batch\]/);
      const features = model.inputs.featureNames.length;
      const seq = model.inputs.seqLength;
      const x = new Float32Array(fx.symbols.length * seq * features);
      for (const [i, symbol] of fx.symbols.entries()) x.set(buildInferenceInput(await loader.loadSeries(symbol), model.bundle).x, i * seq * features);
      const rows = stockRowsFor(model, fx.symbols) as Int32Array;
      // Rows follow the trained stocks in symbol order, after the unknown row 0.
      const sorted = [...trained].sort();
      assert.deepEqual(
        Array.from(rows),
        fx.symbols.map((s) => sorted.indexOf(s) + 1),
      );
      assert.equal(rows[2], 0);
      const session = await ort.InferenceSession.create(readFileSync(result.path));
      try {
        assert.deepEqual(session.inputNames, [ONNX_INPUT, ONNX_STOCK_INPUT]);
        const out = await session.run({
          [ONNX_INPUT]: new ort.Tensor('float32', x, [fx.symbols.length, seq, features]),
          [ONNX_STOCK_INPUT]: new ort.Tensor(
            'int64',
            BigInt64Array.from(rows, (r) => BigInt(r)),
            [fx.symbols.length],
          ),
        });
        const expected = predict(model.network, x, fx.symbols.length, rows);
        assertClose(out[ONNX_OUTPUT].data as Float32Array, expected, name);
        // The embedding matters: the same window with another stock's row gives another output.
        const swapped = predict(model.network, x.slice(0, seq * features), 1, Int32Array.from([rows[0] === 1 ? 2 : 1]));
        assert.notEqual(swapped[0], expected[0]);
      } finally {
        await session.release();
      }
    });
  }

  test('metadata_props carry the features, seq length, horizon, scaler and version; the best checkpoint and other opsets', async () => {
    const name = 'onnx_transformer_l2_h5';
    const out = join(fx.root, 'exports', 'best.onnx');
    for (const opset of [13, 21]) {
      const result = exportOnnx(name, { outputDir: fx.outputDir, checkpoint: 'best', opset, out });
      assert.equal(result.checkpoint, 'best');
      const model = onnxProto.onnx.ModelProto.decode(readFileSync(out));
      assert.equal(Number(model.opsetImport[0].version), opset);
      const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
      const loaded = loadRunModel(name, { outputDir: fx.outputDir, checkpoint: 'best' });
      assert.deepEqual(JSON.parse(meta.feature_names as string), loaded.inputs.featureNames);
      assert.equal(meta.seq_length, String(SEQ));
      assert.equal(meta.horizon, '5');
      assert.equal(meta.klinecast_version, KLINECAST_VERSION);
      assert.equal(meta.checkpoint, 'best');
      assert.equal(meta.scaler_file, 'model/scaler.json');
      assert.deepEqual(JSON.parse(meta.scaler as string), JSON.parse(readFileSync(join(fx.outputDir, name, 'model', 'scaler.json'), 'utf8')));
      const { x, features } = await windowsOf(name);
      assertClose(await runOnnx(out, x, [WINDOWS, SEQ, features]), predict(loaded.network, x, WINDOWS), `opset ${opset}`);
    }
    assert.deepEqual(readdirSync(join(fx.root, 'exports')), ['best.onnx'], 'no temp file is left');
  });

  test('a missing run, an unfinished run and a corrupt one fail clearly and write nothing', () => {
    assert.throws(
      () => exportOnnx('no_such_run', { outputDir: fx.outputDir }),
      (err: unknown) => err instanceof UserError && err.code === 'run_not_found',
    );
    const unfinished = join(fx.outputDir, 'onnx_unfinished');
    mkdirSync(join(unfinished, 'model'), { recursive: true });
    const meta = JSON.parse(readFileSync(join(fx.outputDir, 'onnx_lstm_l1_h1', 'metadata.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(unfinished, 'metadata.json'), JSON.stringify({ ...meta, run_name: 'onnx_unfinished', status: 'training' }));
    assert.throws(
      () => exportOnnx('onnx_unfinished', { outputDir: fx.outputDir }),
      (err: unknown) => err instanceof UserError && err.code === 'run_not_ready' && /model\/config\.json/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(unfinished, 'model')), []);

    // a run whose weights file is torn: corrupt, and no model.onnx appears
    const source = join(fx.outputDir, 'onnx_gru_l1_h1');
    const weights = join(source, 'model', 'model.safetensors');
    const good = readFileSync(weights);
    writeFileSync(weights, good.subarray(0, good.length - 7));
    const onnxPath = join(source, RUN_ONNX_PATH);
    const before = readFileSync(onnxPath);
    try {
      assert.throws(
        () => exportOnnx('onnx_gru_l1_h1', { outputDir: fx.outputDir }),
        (err: unknown) => err instanceof UserError && err.code === 'run_corrupt' && !err.message.includes(fx.root),
      );
      assert.deepEqual(readFileSync(onnxPath), before, 'the previous model.onnx is untouched');
      assert.ok(!readdirSync(join(source, 'model')).some((f) => f.includes('.tmp-')));
    } finally {
      writeFileSync(weights, good);
    }
    assert.throws(() => exportOnnx('onnx_gru_l1_h1', { outputDir: fx.outputDir, opset: 9 }), /--opset must be an integer from 13 to 21/);
    assert.ok(existsSync(onnxPath));
  });

  test('klinecast runs export --format onnx: the same file, its names and shapes, and clear errors', () => {
    const out = join(fx.root, 'cli', 'lstm.onnx');
    const ok = runCli(['runs', 'export', 'onnx_lstm_l2_h5', '--output-dir', fx.outputDir, '--format', 'onnx', '--out', out, '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    const result = JSON.parse(ok.stdout) as {
      run: string;
      path: string;
      opset: number;
      input: { name: string; shape: unknown[] };
      output: { shape: unknown[] };
    };
    assert.equal(result.run, 'onnx_lstm_l2_h5');
    assert.equal(result.path, out);
    assert.deepEqual(result.output.shape, ['batch', 5]);
    const inProcess = join(fx.root, 'cli', 'again.onnx');
    exportOnnx('onnx_lstm_l2_h5', { outputDir: fx.outputDir, out: inProcess });
    assert.ok(readFileSync(out).equals(readFileSync(inProcess)), 'deterministic: the same bytes twice');

    const missing = runCli(['runs', 'export', 'nope', '--output-dir', fx.outputDir, '--format', 'onnx']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /no run folder/);
    const badOpset = runCli([
      'runs',
      'export',
      'onnx_lstm_l2_h5',
      '--output-dir',
      fx.outputDir,
      '--format',
      'onnx',
      '--opset',
      'x',
      '--out',
      join(fx.root, 'cli', 'bad.onnx'),
    ]);
    assert.notEqual(badOpset.status, 0);
    assert.match(badOpset.stderr, /--opset must be an integer/);
    const badFormat = runCli(['runs', 'export', 'onnx_lstm_l2_h5', '--output-dir', fx.outputDir, '--format', 'tflite']);
    assert.notEqual(badFormat.status, 0);
    assert.match(badFormat.stderr, /--format must be onnx/);
    const onnxFlagAlone = runCli(['runs', 'export', 'onnx_lstm_l2_h5', '--output-dir', fx.outputDir, '--opset', '17', '--to', join(fx.root, 'cli', 'x.tar')]);
    assert.notEqual(onnxFlagAlone.status, 0);
    assert.match(onnxFlagAlone.stderr, /apply to --format onnx/);
    assert.deepEqual(readdirSync(join(fx.root, 'cli')).sort(), ['again.onnx', 'lstm.onnx']);
  });
});
