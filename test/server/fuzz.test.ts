/**
 * 1,000 random or malformed requests (bodies, query strings, path segments, content types) against a real server:
 * no answer may be a 5xx, every error must have the uniform shape, and the server must still be healthy after.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ashare, mysql } from '../helpers/env.js';
import { mulberry32 } from '../features/synthetic.js';
import { call, RecordingPredictor, RecordingTrainingJobs, startServer, createFixtureData, type FixtureData, type RunningServer } from './helpers.js';

const KEY = 'fuzz-key';
const REQUESTS = 1000;
const skip = mysql.skip || ashare.skip;

const SEED = Number(process.env.KLINECAST_FUZZ_SEED ?? 20261128);
// mulberry32: a seeded generator, so a failing case can be replayed from the printed seed.
const random = mulberry32(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

const NASTY_STRINGS = [
  '',
  ' ',
  '600519',
  '000001',
  '600519.SH',
  'sh600519',
  '688999',
  '12345',
  '1234567',
  'abcdef',
  '６００５１９',
  '../',
  '..%2F',
  '%00',
  '\u0000',
  '/etc/passwd',
  '..\\..\\',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '2023-02-30',
  '2023-13-01',
  '2023-03-01',
  '20230301',
  '9999-12-31',
  '0000-01-01',
  "' OR 1=1 --",
  '"; DROP TABLE stock_kline_data; --',
  '<script>alert(1)</script>',
  '{{7*7}}',
  '${jndi:x}',
  '💥',
  '贵州茅台',
  'x'.repeat(600),
  '%',
  '%%',
  '%ZZ',
  '__proto__',
  'constructor',
  'completed,crashed',
  'corrupt',
  'mae',
  'name',
  'lstm',
  'desc',
  '600519_lstm_fixture',
  'half_created',
  '.',
  '..',
  'job-1',
];

function randomValue(depth = 0): unknown {
  switch (int(0, depth > 2 ? 5 : 8)) {
    case 0:
      return pick(NASTY_STRINGS);
    case 1:
      return pick([0, -1, 1, 1.5, 2 ** 53, -(2 ** 31), 1e308, 5, 250, 251]);
    case 2:
      return pick([true, false, null]);
    case 3:
      return int(-5, 300);
    case 4:
      return String(int(0, 999999)).padStart(6, '0');
    case 5:
      return pick(['2023-03-17', '2021-01-04', '2099-01-01']);
    case 6:
      return Array.from({ length: int(0, 4) }, () => randomValue(depth + 1));
    default:
      return randomObject(depth + 1);
  }
}

const KEYS = [
  'symbol',
  'days',
  'run',
  'model_type',
  'run_name',
  'config',
  'training',
  'epochs',
  'data',
  'output',
  '__proto__',
  'constructor',
  'extra',
  'model',
  'dataset',
];

function randomObject(depth = 0): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (let i = int(0, 5); i > 0; i--) obj[pick(KEYS)] = randomValue(depth);
  return obj;
}

function randomBody(): { body: string | undefined; type: string | undefined } {
  const type = pick([
    'application/json',
    'application/json',
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
    undefined,
    'application/json; charset=latin1',
  ]);
  switch (int(0, 6)) {
    case 0:
      return { body: undefined, type };
    case 1: {
      const json = JSON.stringify(randomObject());
      return { body: json.slice(0, int(0, json.length)), type }; // truncated JSON
    }
    case 2:
      return { body: pick(NASTY_STRINGS), type };
    case 3:
      return { body: JSON.stringify(randomValue()), type };
    default: {
      // plausible bodies with one thing wrong are what reach the deepest code
      const good: Record<string, unknown> = { symbol: pick(['600519', '000001', '300750']), days: int(1, 5) };
      if (random() < 0.5) good[pick(KEYS)] = randomValue();
      return { body: JSON.stringify(good), type };
    }
  }
}

function randomQuery(): string {
  const keys = ['start', 'end', 'limit', 'page', 'page_size', 'type', 'symbol', 'model', 'status', 'sort', 'order', 'step', 'x', '__proto__'];
  const parts: string[] = [];
  for (let i = int(0, 4); i > 0; i--) {
    const raw = String(randomValue(3));
    parts.push(`${pick(keys)}=${random() < 0.8 ? encodeURIComponent(raw) : raw.replace(/[\s#]/g, '')}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The weights download's own parameters, each sometimes wrong, plus the generic junk. */
function randomModelQuery(): string {
  const parts: string[] = [];
  if (random() < 0.7) parts.push(`format=${pick(['onnx', 'safetensors', 'pytorch', 'ONNX', 'bin', '', 'onnx,pytorch'])}`);
  if (random() < 0.5) parts.push(`checkpoint=${pick(['final', 'best', 'checkpoint-1', '', '../best'])}`);
  if (random() < 0.3) parts.push(`opset=${pick(['13', '17', '7', '99', '-1', '1.5', 'x', ''])}`);
  const extra = randomQuery();
  if (extra && random() < 0.3) parts.push(extra.slice(1));
  return parts.length ? `?${parts.join('&')}` : '';
}

function segment(): string {
  const raw = String(randomValue(3));
  return random() < 0.85 ? encodeURIComponent(raw) : raw.replace(/[\s#?/]/g, '').slice(0, 100);
}

function randomRequest(): { method: string; path: string; body?: string; type?: string; auth: boolean } {
  const routes: Array<() => { method: string; path: string }> = [
    () => ({ method: 'GET', path: `/api/v1/stocks${randomQuery()}` }),
    () => ({ method: 'GET', path: `/api/v1/stocks/${segment()}/kline${randomQuery()}` }),
    () => ({ method: 'GET', path: `/api/v1/stocks/${segment()}/info` }),
    () => ({ method: 'GET', path: `/api/v1/runs${randomQuery()}` }),
    () => ({ method: 'GET', path: `/api/v1/runs/${segment()}${pick(['', '/metrics', '/predictions'])}${randomQuery()}` }),
    () => ({ method: 'GET', path: `/api/v1/runs/${pick([segment(), '600519_lstm_fixture'])}/model${randomModelQuery()}` }),
    () => ({ method: 'GET', path: `/api/v1/backtests${randomQuery()}` }),
    () => ({ method: 'GET', path: `/api/v1/backtests/${segment()}${pick(['', '/forecasts', '/simulations'])}${randomQuery()}` }),
    () => ({ method: 'POST', path: '/api/v1/predict' }),
    () => ({ method: 'POST', path: '/api/v1/predict' }),
    () => ({ method: 'POST', path: '/api/v1/training' }),
    () => ({ method: 'GET', path: `/api/v1/training/${segment()}` }),
    () => ({ method: 'DELETE', path: `/api/v1/training/${segment()}` }),
    () => ({ method: pick(['PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS']), path: pick(['/api/v1/runs', '/api/v1/stocks', '/health', '/api/v1/x']) }),
  ];
  const { method, path } = pick(routes)();
  const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH' || (method === 'DELETE' && random() < 0.2);
  const { body, type } = withBody ? randomBody() : { body: undefined, type: undefined };
  return { method, path, body, type, auth: random() < 0.7 };
}

let data: FixtureData;
let server: RunningServer;

before(async () => {
  if (skip) return;
  data = await createFixtureData();
  server = await startServer({
    database: data.db.handle,
    outputDir: data.runs.outputDir,
    apiKey: KEY,
    predictor: new RecordingPredictor(5),
    trainingJobs: new RecordingTrainingJobs(),
    rateLimit: false,
  });
});

after(async () => {
  await server?.close();
  await data?.dispose();
});

test(`${REQUESTS} random and malformed requests: no 5xx, uniform errors, server still healthy (seed ${SEED})`, { skip }, async () => {
  const statuses = new Map<number, number>();
  const modelStatuses = new Map<number, number>();
  for (let i = 0; i < REQUESTS; i++) {
    const req = randomRequest();
    const headers: Record<string, string> = {};
    if (req.type) headers['content-type'] = req.type;
    if (req.auth) headers.authorization = `Bearer ${KEY}`;
    let res;
    try {
      res = await call(`${server.url}${req.path}`, { method: req.method, headers, body: req.body });
    } catch (err) {
      throw new Error(`request ${i} ${req.method} ${req.path} failed at the transport: ${(err as Error).message}`);
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (/^\/api\/v1\/runs\/[^/]*\/model/.test(req.path)) modelStatuses.set(res.status, (modelStatuses.get(res.status) ?? 0) + 1);
    const where = `#${i} ${req.method} ${req.path} [${req.type}] ${String(req.body).slice(0, 200)} -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
    assert.ok(res.status < 500, where);
    if (res.status >= 400) {
      assert.equal(typeof res.body?.error?.code, 'string', where);
      assert.equal(typeof res.body.error.message, 'string', where);
      assert.equal(res.body.error.request_id, res.headers.get('x-request-id'), where);
    }
  }
  console.log(`fuzz seed ${SEED}: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  assert.ok((statuses.get(200) ?? 0) + (statuses.get(202) ?? 0) > 50, 'the fuzzer also reaches the success paths');
  console.log(`of them GET …/model: ${JSON.stringify(Object.fromEntries([...modelStatuses].sort((a, b) => a[0] - b[0])))}`);
  assert.ok((modelStatuses.get(200) ?? 0) > 0, 'the weights download is reached and served too');
  const health = await call(`${server.url}/health`);
  assert.equal(health.status, 200);
});
