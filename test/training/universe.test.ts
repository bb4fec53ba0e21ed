/**
 * The universal model (通用模型) on the real A-share data: one small LSTM over 30 of the 33 stocks, trained from the
 * database. The run is symbol-less and records its universe; its test segment is judged cross-sectionally, and the
 * daily Rank IC recomputed by pandas from predictions.json agrees; it forecasts a stock it never saw (with a warning)
 * and ranks the market; and a run interrupted mid-epoch and resumed ends with the very same weights.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { seriesToBars, writeBars } from '../../src/data/index.js';
import type { EvalResultsFile, PredictionsFile } from '../../src/evaluation/index.js';
import { PredictionEngine, stockRowsFor } from '../../src/prediction/index.js';
import { readSafetensors, writeSafetensors } from '../../src/engine/io/index.js';
import { buildInferenceInput } from '../../src/features/index.js';
import { predict } from '../../src/models/index.js';
import { loadRunModel } from '../../src/runs/index.js';
import { assertClose } from '../helpers/torch.js';
import { createPredictor } from '../../src/server/index.js';
import { call, startServer } from '../server/helpers.js';
import { readRunConfig, resolveTrainConfig, runTraining, type TrainConfig, type TrainingReport } from '../../src/training/index.js';
import { ashareSymbols, readAshare } from '../helpers/ashare.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import type { ChildSpec } from './train-child.js';
import { ashare, REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';

const ALL = ashare.available ? ashareSymbols() : [];
/** Three stocks stay out of the universe: one of them is the unseen stock predicted below. */
const UNIVERSE = ALL.slice(0, 30);
const UNSEEN = ALL[31];

let tdb: TestDatabase;
let report: TrainingReport;

function overrides(run: { runName: string; epochs?: number; embedding?: number }) {
  return {
    data: { symbols: UNIVERSE, startDate: '2020-01-01' },
    dataset: { seqLength: 20 },
    model: { modelType: 'lstm', hiddenSize: 16, numLayers: 1, ...(run.embedding ? { stockEmbeddingDim: run.embedding } : {}) },
    training: { epochs: run.epochs ?? 2, batchSize: 64, patience: 0 },
    output: { outputDir: join(tdb.dir, 'out'), runName: run.runName },
  };
}

function config(run: { runName: string; epochs?: number; embedding?: number }): TrainConfig {
  return resolveTrainConfig({ overrides: overrides(run) });
}

const CHILD = fileURLToPath(new URL('./train-child.ts', import.meta.url));
const weights = (runDir: string) => readFileSync(join(runDir, 'model/model.safetensors'));
/** The 3-epoch run the interrupted and the killed runs must end equal to, trained once. */
let straightReport: TrainingReport;
const straight = () => straightReport.runDir;

before(async () => {
  if (!ashare.available) return;
  tdb = await createTestDatabase('sqlite');
  for (const symbol of ALL) await writeBars(tdb.handle.db, 'sqlite', seriesToBars(readAshare(symbol)));
  report = await runTraining({ config: config({ runName: 'universal' }), databaseUrl: tdb.url });
  straightReport = await runTraining({ config: config({ runName: 'straight', epochs: 3 }), databaseUrl: tdb.url });
});
after(() => tdb?.cleanup());

describe('a universal LSTM over 30 real stocks', { skip: ashare.skip }, () => {
  test('the run is symbol-less and records its universe in config.json and metadata.json', () => {
    assert.equal(report.status, 'completed');
    assert.equal(report.symbol, null);
    assert.equal(report.stocks, 30);
    const metadata = JSON.parse(readFileSync(join(report.runDir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.stock_symbol, null);
    assert.equal(metadata.universe.stocks, 30);
    assert.deepEqual(metadata.universe.symbols, UNIVERSE);
    const saved = readRunConfig(report.runDir);
    assert.deepEqual(
      saved.data.universe?.map((m) => m.symbol),
      UNIVERSE,
    );
    for (const m of saved.data.universe ?? []) assert.ok(m.rows > 0 && m.firstDate >= '2020-01-01' && m.firstDate <= m.lastDate, JSON.stringify(m));
  });

  test('no test day of one stock is a training day of another: one date split for all', () => {
    const predictions = JSON.parse(readFileSync(join(report.runDir, 'results/predictions.json'), 'utf8')) as PredictionsFile;
    const firstTestDay = predictions.records.reduce((d, r) => (r.target_date! < d ? r.target_date! : d), '9999-12-31');
    const log = readFileSync(join(report.runDir, 'logs/training.log'), 'utf8');
    const split = /split at (\d{4}-\d{2}-\d{2}) \/ (\d{4}-\d{2}-\d{2})/.exec(log);
    assert.ok(split, log);
    assert.ok(firstTestDay >= split[2], `a test target ${firstTestDay} lies before the shared test start ${split[2]}`);
    assert.ok(new Set(predictions.records.map((r) => r.symbol)).size >= 25, 'most stocks have test days');
    assert.ok(
      predictions.records.every((r) => typeof r.symbol === 'string'),
      'every record names its stock',
    );
  });

  test('eval_results.json carries the cross-section: daily IC and Rank IC, quintile spread, per-stock skill', () => {
    const results = JSON.parse(readFileSync(join(report.runDir, 'results/eval_results.json'), 'utf8')) as EvalResultsFile;
    const c = results.cross_section!;
    assert.ok(c, 'cross_section is present');
    assert.ok(c.rank_ic.days > 50, `rank IC over ${c.rank_ic.days} days`);
    assert.equal(typeof c.rank_ic.mean, 'number');
    assert.equal(typeof c.quintile_spread.mean_daily, 'number');
    const predictions = JSON.parse(readFileSync(join(report.runDir, 'results/predictions.json'), 'utf8')) as PredictionsFile;
    assert.equal(c.per_stock.stocks, new Set(predictions.records.map((r) => r.symbol)).size);
    assert.equal(c.daily.length, c.n_dates);
    assert.deepEqual(report.crossSection?.rank_ic, c.rank_ic);
  });

  test('pandas recomputes the same daily Rank IC from predictions.json', { skip: referenceSkip('pandas') }, () => {
    const script = [
      'import json, sys',
      'import pandas as pd',
      'p = json.load(open(sys.argv[1]))',
      "df = pd.DataFrame([r for r in p['records'] if r['step'] == 1])",
      "daily = df.groupby('date').filter(lambda g: len(g) >= 5).groupby('date').apply(lambda g: g['predicted_return'].rank().corr(g['actual_return'].rank()))",
      'daily = daily.dropna()',
      "print(json.dumps({'mean': float(daily.mean()), 'days': int(len(daily))}))",
    ].join('\n');
    const run = spawnSync(REFERENCE_PYTHON, ['-c', script, join(report.runDir, 'results/predictions.json')], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const ref = JSON.parse(run.stdout) as { mean: number; days: number };
    const c = (JSON.parse(readFileSync(join(report.runDir, 'results/eval_results.json'), 'utf8')) as EvalResultsFile).cross_section!;
    assert.equal(c.rank_ic.days, ref.days);
    assert.ok(Math.abs((c.rank_ic.mean as number) - ref.mean) < 1e-9, `ours ${c.rank_ic.mean}, pandas ${ref.mean}`);
  });

  test('it forecasts a stock it never saw, with a warning, and ranks the whole market', async () => {
    const engine = new PredictionEngine({ database: tdb.handle, outputDir: join(tdb.dir, 'out') });
    const unseen = await engine.predict(UNSEEN, { run: 'universal', samples: 0 });
    assert.equal(unseen.symbol, UNSEEN);
    assert.ok(Number.isFinite(unseen.predictions[0].price));
    assert.ok(
      unseen.warnings.some((w) => w.includes('was not among the 30 stocks')),
      unseen.warnings.join('; '),
    );
    const seen = await engine.predict(UNIVERSE[0], { run: 'universal', samples: 0 });
    assert.deepEqual(seen.warnings, []);
    const ranking = await engine.rank('universal', 'all', { samples: 0, top: 10 });
    assert.equal(ranking.requested, ALL.length);
    assert.equal(ranking.entries.length, 10);
    for (let i = 1; i < ranking.entries.length; i++) assert.ok(ranking.entries[i - 1].return! >= ranking.entries[i].return!);
  });

  test('the HTTP API forecasts any stock with the universal run and serves its ranking', async () => {
    const engine = new PredictionEngine({ database: tdb.handle, outputDir: join(tdb.dir, 'out') });
    const server = await startServer({
      database: tdb.handle,
      outputDir: join(tdb.dir, 'out'),
      predictor: createPredictor(engine, { samples: 0 }),
      rateLimit: false,
    });
    try {
      const forecast = await call(`${server.url}/api/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ symbol: UNSEEN, run: 'universal' }),
      });
      assert.equal(forecast.status, 200, JSON.stringify(forecast.body));
      assert.equal(forecast.body.symbol, UNSEEN);
      const ranking = await call(`${server.url}/api/v1/runs/universal/ranking?top=5`);
      assert.equal(ranking.status, 200, JSON.stringify(ranking.body));
      assert.equal(ranking.body.items.length, 5);
      assert.equal(ranking.body.requested, ALL.length);
      assert.deepEqual(
        ranking.body.items.map((i: { rank: number }) => i.rank),
        [1, 2, 3, 4, 5],
      );
      assert.equal((await call(`${server.url}/api/v1/runs/universal/ranking?top=0`)).status, 400);
      assert.equal((await call(`${server.url}/api/v1/runs/no_such_run/ranking`)).status, 404);
    } finally {
      await server.close();
    }
  });

  test('interrupted mid-epoch and resumed, it ends with the weights of an uninterrupted run', async () => {
    const controller = new AbortController();
    const cut = await runTraining({
      config: config({ runName: 'cut', epochs: 3 }),
      databaseUrl: tdb.url,
      signal: controller.signal,
      callbacks: [{ onStepEnd: (s) => (s.epoch === 2 && s.step === 3 ? controller.abort('test') : undefined) }],
    });
    assert.equal(cut.status, 'interrupted');
    const resumed = await runTraining({ resume: cut.runDir, databaseUrl: tdb.url });
    assert.equal(resumed.status, 'completed');
    assert.ok(weights(straight()).equals(weights(resumed.runDir)), 'the resumed universal run has the uninterrupted run’s weights, byte for byte');
    assert.deepEqual(resumed.crossSection, straightReport.crossSection);
  });

  test('SIGKILLed after epoch 1 and resumed in a new process, it ends with the weights of an uninterrupted run', () => {
    const child = (spec: ChildSpec) => spawnSync(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(spec)], { encoding: 'utf8' });
    const killed = child({ databaseUrl: tdb.url, overrides: overrides({ runName: 'killed', epochs: 3 }), killAfterEpoch: 1 });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const dir = join(tdb.dir, 'out', 'killed');
    assert.equal(JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')).status, 'training', 'the killed run never got to write its end');
    const resumed = child({ databaseUrl: tdb.url, overrides: {}, resume: dir });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout.trim().split('\n').at(-1) as string).status, 'completed');
    assert.ok(weights(straight()).equals(weights(dir)), 'the resumed universal run has the uninterrupted run’s weights, byte for byte');
  });

  test('with a stock embedding: resumed bit-exactly, torch.load reproduces it, and an unseen stock gets the unknown row', async () => {
    const embedded = { epochs: 3, embedding: 4 };
    const straightEmbedded = await runTraining({ config: config({ runName: 'embedded', ...embedded }), databaseUrl: tdb.url });
    const controller = new AbortController();
    const cut = await runTraining({
      config: config({ runName: 'embedded_cut', ...embedded }),
      databaseUrl: tdb.url,
      signal: controller.signal,
      callbacks: [{ onStepEnd: (s) => (s.epoch === 2 && s.step === 5 ? controller.abort('test') : undefined) }],
    });
    assert.equal(cut.status, 'interrupted');
    const resumed = await runTraining({ resume: cut.runDir, databaseUrl: tdb.url });
    assert.ok(weights(straightEmbedded.runDir).equals(weights(resumed.runDir)), 'the resumed embedded run has the uninterrupted run’s weights, byte for byte');
    assert.ok(!weights(straightEmbedded.runDir).equals(weights(straight())), 'the embedding changes the model');

    const modelConfig = JSON.parse(readFileSync(join(straightEmbedded.runDir, 'model/config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(modelConfig.stock_embedding_dim, 4);
    assert.equal(modelConfig.num_stocks, UNIVERSE.length);
    assert.deepEqual(modelConfig.stocks, [...UNIVERSE].sort());

    const model = loadRunModel(straightEmbedded.runDir);
    const symbols = [UNIVERSE[0], UNIVERSE[7], UNSEEN];
    const { seqLength, featureNames } = model.inputs;
    const x = new Float32Array(symbols.length * seqLength * featureNames.length);
    for (const [i, symbol] of symbols.entries()) x.set(buildInferenceInput(readAshare(symbol), model.bundle).x, i * seqLength * featureNames.length);
    const rows = stockRowsFor(model, symbols) as Int32Array;
    assert.equal(rows[2], 0, 'the unseen stock reads the unknown row');
    const ours = predict(model.network, x, symbols.length, rows);
    if (!referenceSkip('torch')) {
      const inputs = join(tdb.dir, 'embedded_x.safetensors');
      const outputs = join(tdb.dir, 'embedded_torch.safetensors');
      writeSafetensors(inputs, {
        x: { dtype: 'F32', shape: [symbols.length, seqLength, featureNames.length], data: x },
        stocks: { dtype: 'F32', shape: [symbols.length], data: Float32Array.from(rows) },
      });
      const py = spawnSync(REFERENCE_PYTHON, ['-c', TORCH_EMBEDDED, TORCH_REF_DIR, join(straightEmbedded.runDir, 'model'), inputs, outputs], {
        encoding: 'utf8',
      });
      assert.equal(py.status, 0, py.stderr);
      assertClose('torch.load(pytorch_model.bin) outputs', readSafetensors(outputs).tensors.out.data as Float32Array, ours);
    }

    const engine = new PredictionEngine({ database: tdb.handle, outputDir: join(tdb.dir, 'out') });
    const unseen = await engine.predict(UNSEEN, { run: 'embedded', samples: 0 });
    assert.ok(
      unseen.warnings.some((w) => /uses the unknown-stock row/.test(w)),
      unseen.warnings.join('; '),
    );
    // The engine's forecast of the unseen stock is the network's output on its row-0 window.
    assert.ok(Math.abs(unseen.predictions[0].return - model.targetScaler.inverseRow([ours[2]])[0]) < 1e-12);
    const seen = await engine.predict(UNIVERSE[0], { run: 'embedded', samples: 0 });
    assert.deepEqual(seen.warnings, []);
  });
});

/** torch.load(pytorch_model.bin) into torch_ref.py's StockEmbedded(Forecaster), run on windows x with stock rows. */
const TORCH_EMBEDDED = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
from torch_ref import Forecaster, StockEmbedded, read_safetensors, write_safetensors
model_dir, inputs, outputs = sys.argv[2], sys.argv[3], sys.argv[4]
cfg = json.load(open(model_dir + '/config.json'))
state = torch.load(model_dir + '/pytorch_model.bin', weights_only=True)
d = cfg['stock_embedding_dim']
inner = Forecaster(cfg['model_type'], len(cfg['feature_names']) + d, cfg['hidden_size'], cfg['num_layers'], cfg['dropout'], cfg['head_hidden_size'], cfg['horizon'])
m = StockEmbedded(inner, cfg['num_stocks'] + 1, d)
m.load_state_dict(state, strict=True)
m.eval()
x, _ = read_safetensors(inputs)
with torch.no_grad():
    write_safetensors(outputs, {'out': m(x['x'], x['stocks'].long())})
`;
const TORCH_REF_DIR = fileURLToPath(new URL('../helpers/', import.meta.url));
