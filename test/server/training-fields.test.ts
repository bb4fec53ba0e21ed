/**
 * Issue 15 part 3 over HTTP: POST /api/v1/training takes the CLI's training flags as fields (one table,
 * src/training/flags.ts: --hidden-size is hidden_size), over --config's place `config`, single-stock or universal
 * (symbols, stock_type), each validated; GET /api/v1/training/defaults serves the CLI's defaults for the dashboard.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/server/index.js';
import { API_FLAGS, TRAINING_FLAGS, apiFieldOf, parseTrainConfig } from '../../src/training/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import type { Json } from '../helpers/json.js';
import { RecordingTrainingJobs } from './helpers.js';

const KEY = 'fields-key';

describe('training fields from the flag table', () => {
  let tdb: TestDatabase;
  let app: FastifyInstance;
  let root: string;
  const jobs = new RecordingTrainingJobs();

  before(async () => {
    tdb = await createTestDatabase('sqlite');
    root = mkdtempSync(join(tmpdir(), 'klinecast-api-fields-'));
    app = await createServer({ database: tdb.handle, outputDir: join(root, 'out'), webDir: null, rateLimit: false, apiKey: KEY, trainingJobs: jobs });
  });

  after(async () => {
    await app?.close();
    await tdb?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  const post = async (body: unknown): Promise<{ status: number; body: Json }> => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/training', headers: { authorization: `Bearer ${KEY}` }, payload: body as object });
    return { status: res.statusCode, body: res.json() };
  };

  test('a universal job: symbols and stock_type with hyper-parameter fields, which override config', async () => {
    const res = await post({
      symbols: 'all',
      stock_type: '主板',
      model_type: 'gru',
      epochs: 1,
      hidden_size: 16,
      lr: 0.01,
      split: [0.6, 0.2, 0.2],
      config: { training: { epochs: 9, patience: 3 } },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const config = jobs.configs.at(-1)!;
    assert.equal(config.data.symbols, 'all');
    assert.equal(config.data.symbol, null);
    assert.equal(config.data.stockType, '主板');
    assert.equal(config.model.modelType, 'gru');
    assert.equal(config.training.epochs, 1, 'a field overrides config, as a flag overrides --config');
    assert.equal(config.training.patience, 3, 'what only config sets stays');
    assert.equal(config.model.hiddenSize, 16);
    assert.equal(config.training.learningRate, 0.01);
    assert.deepEqual(config.dataset.split, { type: 'ratio', train: 0.6, val: 0.2, test: 0.2 });
    assert.equal(config.output.outputDir, join(root, 'out'), 'runs go where the server keeps them');

    const list = await post({ symbols: ['600519.SH', 'sz000001'], epochs: 1 });
    assert.equal(list.status, 202, JSON.stringify(list.body));
    assert.deepEqual(jobs.configs.at(-1)!.data.symbols, ['600519', '000001'], 'symbols normalised as the CLI does');
  });

  test('a single-stock job with the same fields; start/end as the CLI spells them', async () => {
    const res = await post({ symbol: '600519', seq_length: 30, start: '2020-01-02', end: '2023-12-29', run_name: 'mine' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const config = jobs.configs.at(-1)!;
    assert.equal(config.data.symbol, '600519');
    assert.equal(config.dataset.seqLength, 30);
    assert.equal(config.data.startDate, '2020-01-02');
    assert.equal(config.data.endDate, '2023-12-29');
    assert.equal(config.output.runName, 'mine');
  });

  test('bad requests are 400 and name the field', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ epochs: 1 }, 'bad_config', /needs symbol \(one stock\) or symbols/],
      [{ symbol: '600519', symbols: 'all' }, 'bad_config', /exclude each other/],
      [{ symbol: '600519', stock_type: '主板' }, 'bad_config', /stockType selects the stocks of data\.symbols/],
      [{ symbol: '600519', epochs: 0 }, 'bad_config', /training\.epochs \(epochs\)/],
      [{ symbol: '600519', epochs: 'ten' }, 'validation_error', /epochs/],
      [{ symbol: '600519', epochs: 1.5 }, 'validation_error', /epochs/],
      [{ symbols: ['bogus'] }, 'validation_error', /symbols is \\"all\\" or a list of 1-10000 6-digit A-share codes/],
      [{ symbols: [] }, 'validation_error', /symbols/],
      [{ symbols: 'some' }, 'validation_error', /symbols/],
      [{ symbol: '600519', split: [0.7, 0.3] }, 'validation_error', /split/],
      [{ symbol: '600519', start: '2020-13-01' }, 'validation_error', /start/],
      [{ symbol: '600519', threads: 2 }, 'validation_error', /threads/],
      [{ symbol: '600519', output_dir: '/tmp' }, 'validation_error', /output_dir/],
      [{ symbol: '600519', hidden_sise: 16 }, 'validation_error', /hidden_sise/],
    ];
    for (const [body, code, message] of cases) {
      const res = await post(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code, JSON.stringify(body));
      assert.match(JSON.stringify(res.body.error), message, JSON.stringify(body));
    }
  });

  test('every training flag but --threads and --output-dir is a field; GET /training/defaults serves the CLI defaults', async () => {
    assert.deepEqual(
      TRAINING_FLAGS.filter((f) => !API_FLAGS.includes(f)).map((f) => f.flag),
      ['threads', 'output-dir'],
    );
    const res = await app.inject({ method: 'GET', url: '/api/v1/training/defaults' });
    assert.equal(res.statusCode, 200);
    const fields = new Map((res.json().fields as Array<{ field: string; flag: string; default: unknown }>).map((f) => [f.field, f]));
    assert.deepEqual([...fields.keys()], API_FLAGS.map(apiFieldOf));
    const defaults = parseTrainConfig({ data: { symbol: '600519' } });
    assert.equal(fields.get('epochs')!.default, defaults.training.epochs);
    assert.equal(fields.get('hidden_size')!.default, defaults.model.hiddenSize);
    assert.equal(fields.get('seq_length')!.default, defaults.dataset.seqLength);
    assert.equal(fields.get('lr')!.default, defaults.training.learningRate);
    assert.equal(fields.get('model_type')!.flag, '--model');
    assert.deepEqual([defaults.dataset.seqLength, defaults.model.hiddenSize, defaults.model.numLayers, defaults.training.epochs], [60, 128, 2, 50]);
  });
});
