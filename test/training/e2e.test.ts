/**
 * End to end on each dialect, through the real CLI: demo market + a real stock imported into the database →
 * `klinecast train` (tiny config) → the run folder has exactly the DESIGN.md §4 layout, every JSON parses, the saved
 * weights reproduce results/predictions.json in the engine, torch.load of pytorch_model.bin rebuilds the same outputs
 * in a torch.nn model, and `klinecast eval` re-scores the model to the same numbers.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { sql } from 'kysely';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { batchConfig } from '../../src/training/index.js';
import { jobConfigHash } from '../../src/util/hash.js';
import { listRegistry } from '../../src/runs/registry.js';
import { generateDemoMarket, importCsvFiles, StockDataLoader, writeDemoMarket } from '../../src/data/index.js';
import { readSafetensors, writeSafetensors } from '../../src/engine/io/index.js';
import { buildDataset } from '../../src/features/index.js';
import { fromModelConfigFile, listFiles } from '../../src/runs/index.js';
import { readRunConfig, Trainer, type TrainingReport } from '../../src/training/index.js';
import { type PredictionsFile } from '../../src/evaluation/index.js';
import { createTestDatabase, forEachDialect } from '../helpers/db.js';
import { ashare, ASHARE_DIR, REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';
import { assertClose } from '../helpers/torch.js';
import { runLayout } from './manager-fixtures.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const TORCH_REF_DIR = fileURLToPath(new URL('../helpers/', import.meta.url));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', env: { ...process.env, KLINECAST_DATABASE_URL: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TINY = [
  '--seq-length',
  '15',
  '--hidden-size',
  '16',
  '--num-layers',
  '2',
  '--head-hidden-size',
  '8',
  '--epochs',
  '3',
  '--batch-size',
  '64',
  '--save-total-limit',
  '2',
];

/** torch.load(pytorch_model.bin) into the seed's LSTMModel/GRUModel shape, run on the test windows. */
const TORCH_SCRIPT = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
from torch_ref import Forecaster, read_safetensors, write_safetensors
model_dir, inputs, outputs = sys.argv[2], sys.argv[3], sys.argv[4]
cfg = json.load(open(model_dir + '/config.json'))
state = torch.load(model_dir + '/pytorch_model.bin', weights_only=True)
m = Forecaster(cfg['model_type'], len(cfg['feature_names']), cfg['hidden_size'], cfg['num_layers'], cfg['dropout'], cfg['head_hidden_size'], cfg['horizon'])
m.load_state_dict(state, strict=True)
m.eval()
x, _ = read_safetensors(inputs)
with torch.no_grad():
    write_safetensors(outputs, {'out': m(x['x'])})
`;

forEachDialect(
  'import → klinecast train → §4 layout, valid JSON, reloaded weights and torch.load reproduce predictions.json → klinecast eval',
  async (tdb) => {
    const market = generateDemoMarket({ stocks: 2, start: '2021-01-01', end: '2023-12-31', seed: 7 });
    await writeDemoMarket(tdb.handle, market);
    const imported = await importCsvFiles(tdb.handle, [join(ASHARE_DIR, '000001.csv')]);
    assert.ok(imported.totals.inserted > 1000, JSON.stringify(imported.totals));
    const symbol = market.stocks[0].symbol;
    const out = join(tdb.dir, 'out');

    // bad input (checked once; it does not depend on the dialect): clear errors, exit 2, no run folder
    if (tdb.dialect === 'sqlite') {
      const bad = cli(['train', '--database', tdb.url, '--symbol', '999999', '--output-dir', out]);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /no bars for 999999/);
      const badFlag = cli(['train', '--database', tdb.url, '--symbol', symbol, '--dropout', '1.5', '--lr', '0', '--output-dir', out]);
      assert.equal(badFlag.status, 2);
      assert.match(badFlag.stderr, /model\.dropout \(--dropout\): .*training\.learningRate \(--lr\)/);
      const tooShort = cli(['train', '--database', tdb.url, '--symbol', symbol, '--start', '2023-10-01', '--output-dir', out]);
      assert.equal(tooShort.status, 2);
      assert.match(tooShort.stderr, /has \d+ rows, but this dataset needs at least/);
      assert.ok(!existsSync(out), 'a rejected run left a folder behind');
    }

    const run = cli(['train', '--database', tdb.url, '--symbol', symbol, '--output-dir', out, '--json', ...TINY]);
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as TrainingReport;
    assert.equal(report.status, 'completed');
    assert.equal(report.epochsTrained, 3);
    assert.ok(report.test && report.baselines && typeof report.test.skill === 'number');
    const dir = report.runDir;
    assert.match(report.runName, new RegExp(`^${symbol}_lstm_\\d{8}_\\d{6}$`));

    // registered in the database's model registry, with the config hash a batch of the same config would have
    assert.match(run.stderr, new RegExp(`registered ${report.runName} in the model registry`));
    const [registered] = await listRegistry(tdb.handle.db, { symbol });
    assert.equal(registered.runName, report.runName);
    assert.equal(registered.status, 'completed');
    assert.equal(registered.path, resolve(dir));
    assert.equal(registered.metrics?.mae, report.test.mae);
    assert.equal(registered.configHash, jobConfigHash('lstm', batchConfig(readRunConfig(dir))));

    const files = listFiles(dir).map((f) => f.path);
    const checkpoints = files.filter((f) => /^checkpoints\/checkpoint-\d+\/trainer_state\.json$/.test(f)).map((f) => f.split('/')[1]);
    assert.ok(checkpoints.length >= 2 && checkpoints.length <= 3, `checkpoints ${checkpoints}`);
    assert.deepEqual(files, runLayout(checkpoints, { intervals: true }));
    for (const f of files.filter((p) => p.endsWith('.json'))) JSON.parse(readFileSync(join(dir, f), 'utf8'));

    const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.status, 'completed');
    assert.equal(metadata.eval_metrics.skill, report.test.skill);
    assert.ok(!String(metadata.data_source).includes(':@') && metadata.data_source.startsWith(tdb.dialect));
    const metrics = JSON.parse(readFileSync(join(dir, 'logs/metrics.json'), 'utf8'));
    assert.deepEqual(
      metrics.map((m: { epoch: number }) => m.epoch),
      [1, 2, 3],
    );
    for (const m of metrics) for (const k of ['train_loss', 'val_loss', 'lr', 'epoch_time']) assert.equal(typeof m[k], 'number', k);
    assert.match(readFileSync(join(dir, 'logs/training.log'), 'utf8'), /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] /);
    const modelConfig = JSON.parse(readFileSync(join(dir, 'model/config.json'), 'utf8'));
    assert.equal(modelConfig.seq_length, 15);
    assert.equal(modelConfig.feature_names.length, 50);
    const args = JSON.parse(readFileSync(join(dir, 'model/training_args.json'), 'utf8'));
    assert.equal(args.best_val_loss, report.bestValLoss);

    // reload: the same dataset from the database (adjusted as recorded: qfq by default), the saved weights → exactly the saved predictions
    const saved = readRunConfig(dir);
    assert.equal(saved.data.adjust, 'qfq');
    const series = await new StockDataLoader(tdb.handle).loadSeries(symbol, saved.data.firstDate ?? undefined, saved.data.lastDate ?? undefined, {
      adjust: saved.data.adjust,
    });
    assert.ok(series.adjustment!.exRights.length > 0, 'the demo stock has ex-rights days to adjust');
    const dataset = buildDataset(series, saved.dataset);
    const { config: arch } = fromModelConfigFile(modelConfig);
    const trainer = new Trainer(dataset, { model: arch, training: saved.training });
    trainer.loadWeights(readSafetensors(join(dir, 'model/model.safetensors')).tensors);
    const scaled = trainer.predictScaled(dataset.test);
    const predictions = JSON.parse(readFileSync(join(dir, 'results/predictions.json'), 'utf8')) as PredictionsFile;
    assert.equal(predictions.records.length, dataset.test.size);
    predictions.records.forEach((r, i) => {
      assert.equal(r.date, dataset.test.endDates[i]);
      assert.equal(r.predicted_return, dataset.targetScaler.inverseRow([scaled[i]])[0]);
    });

    // PyTorch: torch.load the .bin into torch.nn and run the same windows
    if (!referenceSkip('torch')) {
      const inputs = join(tdb.dir, 'x.safetensors');
      const outputs = join(tdb.dir, 'torch_out.safetensors');
      writeSafetensors(inputs, { x: { dtype: 'F32', shape: [dataset.test.size, 15, 50], data: dataset.test.X } });
      const py = spawnSync(REFERENCE_PYTHON, ['-c', TORCH_SCRIPT, TORCH_REF_DIR, join(dir, 'model'), inputs, outputs], { encoding: 'utf8' });
      assert.equal(py.status, 0, py.stderr);
      assertClose('torch outputs', readSafetensors(outputs).tensors.out.data as Float32Array, scaled);
    }

    // klinecast eval: re-scored from the database to the same metrics
    const evaluated = cli(['eval', dir, '--database', tdb.url, '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const again = JSON.parse(evaluated.stdout);
    assert.equal(again.test_metrics.mae, report.test.mae);
    assert.equal(again.previous_mae, report.test.mae);
  },
  { timeout: 240_000, skip: ashare.skip },
);

forEachDialect(
  'a real stock (000001) trains from the database and the summary shows skill against persistence; a database without the registry table costs a warning, not the run',
  async (tdb) => {
    await importCsvFiles(tdb.handle, [join(ASHARE_DIR, '000001.csv')]);
    await sql`DROP TABLE model_registry`.execute(tdb.handle.db);
    const run = cli([
      'train',
      '--database',
      tdb.url,
      '--symbol',
      '000001',
      '--start',
      '2015-01-01',
      '--output-dir',
      join(tdb.dir, 'out'),
      ...TINY,
      '--model',
      'gru',
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^run +000001_gru_\d{8}_\d{6} \(completed/m);
    assert.match(run.stdout, /^persistence +\d+\.\d+/m);
    assert.match(run.stdout, /^skill vs persistence: -?\d+\.\d+%/m);
    assert.match(run.stdout, /parameters, [\d.]+ KB \(model\.safetensors\)/);
    assert.match(run.stderr, /warning: 000001_gru_\d{8}_\d{6} is saved but not registered in the model registry of .*klinecast db migrate/);
  },
  { timeout: 240_000, skip: ashare.skip },
);

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A CLI process running in the background; `exited` is set once it is gone and its output fully read. */
interface BackgroundCli {
  pid: number;
  exited: ChildResult | null;
  /** Its stdout and stderr so far, for failure messages. */
  output(): string;
  /** SIGKILL, for cleanup after a failure. */
  kill(): void;
  done: Promise<ChildResult>;
}

function describeOutput(stdout: string, stderr: string): string {
  return `--- child stdout ---\n${stdout}\n--- child stderr ---\n${stderr}`;
}

/** Runs the CLI in the background; `done` resolves with its exit code and its whole output. */
function cliAsync(args: string[]): BackgroundCli {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, KLINECAST_DATABASE_URL: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const handle: BackgroundCli = {
    pid: child.pid as number,
    exited: null,
    output: () => describeOutput(stdout, stderr),
    kill: () => child.kill('SIGKILL'),
    // 'close', not 'exit': 'exit' can fire before the pipes are drained, with the last lines of output still unread.
    done: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        handle.exited = { code, signal, stdout, stderr };
        resolve(handle.exited);
      });
    }),
  };
  handle.done.catch(() => undefined); // a spawn error surfaces where `done` is awaited, not as an unhandled rejection
  return handle;
}

/**
 * Polls `condition` until it holds. Fails at once, with the child's output, when the child exits first; on timeout
 * the message carries the output too. `condition` must be monotonic (once true, it stays true while the child runs):
 * a state that lasts only a moment (such as a checkpoint folder that rotation deletes again) can be missed by a
 * poll under load.
 */
async function waitFor(what: string, child: BackgroundCli, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (condition()) return;
    const exited = child.exited;
    if (exited) {
      throw new Error(`the child exited (code ${exited.code}, signal ${exited.signal}) before ${what}\n${describeOutput(exited.stdout, exited.stderr)}`);
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${child.output()}`);
    await Promise.race([new Promise((r) => setTimeout(r, 100)), child.done]); // wakes at once when the child exits
  }
}

test(
  'klinecast train: Ctrl-C writes a checkpoint, exits 130 with the resume command; --resume refuses new hyper-parameters and continues from the checkpoint (SIGTERM alike)',
  { timeout: 240_000 },
  async () => {
    const tdb = await createTestDatabase('sqlite');
    const children: BackgroundCli[] = [];
    try {
      await writeDemoMarket(tdb.handle, generateDemoMarket({ stocks: 1, start: '2021-01-01', end: '2023-12-31', seed: 3 }));
      const [symbol] = await new StockDataLoader(tdb.handle).listSymbols();
      const out = join(tdb.dir, 'out');
      const dir = join(out, 'sig');
      const trainingLog = () => (existsSync(join(dir, 'logs/training.log')) ? readFileSync(join(dir, 'logs/training.log'), 'utf8') : '');
      const args = ['--database', tdb.url, '--symbol', symbol, '--output-dir', out, '--run-name', 'sig', '--no-progress'];
      // Only the signal may end this run: an epoch of this tiny model takes ~20 ms, so a run of a few hundred epochs
      // could finish before a test process slowed by load gets to send it. 1,000,000 epochs never finish.
      const first = cliAsync(['train', ...args, ...TINY.slice(0, -6), '--epochs', '1000000', '--patience', '0']);
      children.push(first);
      // Wait on the append-only log, not on checkpoints/checkpoint-1/ itself: with the default save-total-limit of 3 that
      // folder is rotated away when checkpoint-4 is saved (~100 ms later), which a 100 ms poll under load can miss. The
      // line is written once checkpoint-1 is on disk, and fit() installs its SIGINT/SIGTERM handlers before epoch 1.
      await waitFor('"saved checkpoint-1" in logs/training.log', first, () => /\] saved checkpoint-1\b/.test(trainingLog()));
      process.kill(first.pid, 'SIGINT');
      const r1 = await first.done;
      assert.equal(r1.code, 130, describeOutput(r1.stdout, r1.stderr));
      assert.match(r1.stdout, /\(interrupted by SIGINT\)/);
      assert.match(r1.stdout, new RegExp(`resume with: klinecast train --resume ${dir}`));
      const meta = () => JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
      assert.equal(meta().status, 'interrupted');
      const stoppedAt = JSON.parse(readFileSync(join(dir, 'logs/metrics.json'), 'utf8')).length;

      const refused = cli(['train', '--resume', dir, '--epochs', '5']);
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /--resume continues the run with its saved config\.json; drop --epochs/);

      // no --database: the run's recorded (password-free) database URL is used
      const second = cliAsync(['train', '--resume', dir, '--no-progress']);
      children.push(second);
      await waitFor('the resumed run to pass its first epoch', second, () => {
        try {
          return meta().status === 'training' && JSON.parse(readFileSync(join(dir, 'logs/metrics.json'), 'utf8')).length > stoppedAt;
        } catch {
          return false;
        }
      });
      assert.match(String(meta().resumed_from), /^checkpoints\/checkpoint-\d+$/);
      process.kill(second.pid, 'SIGTERM');
      const r2 = await second.done;
      assert.equal(r2.code, 130, describeOutput(r2.stdout, r2.stderr));
      assert.equal(meta().status, 'interrupted');
      assert.match(trainingLog(), /resuming from checkpoints\/checkpoint-\d+ \(epoch \d+ complete\)/);
    } finally {
      // a failed assertion must not leave a never-ending training run behind
      for (const child of children) if (!child.exited) child.kill();
      await Promise.all(children.map((child) => child.done.catch(() => undefined)));
      await tdb.cleanup();
    }
  },
);
