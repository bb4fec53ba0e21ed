/** The predictions cache: in-memory LRU with expiry, and Redis (shared across server processes) when configured. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryPredictionCache, RedisPredictionCache, cacheKey, type Forecast } from '../../src/server/index.js';
import { redis } from '../helpers/env.js';
import { createTestDatabase } from '../helpers/db.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { call, startServer } from './helpers.js';

function forecast(run: string): Forecast {
  return {
    symbol: '600519',
    run,
    base_date: '2023-03-17',
    base_close: 1742,
    horizon: 1,
    interval_level: 0.9,
    interval_method: 'conformal',
    trend: 'up',
    predictions: [{ date: '2023-03-20', price: 1750.5, return: 0.00487, lower: 1700, upper: 1800 }],
  };
}

test('the key holds run, symbol, last bar date and days, so a new bar is a new key', () => {
  const key = { run: 'r1', symbol: '600519', lastBarDate: '2023-03-17', days: 5 };
  assert.equal(cacheKey(key), 'klinecast:forecast:r1:600519:2023-03-17:5');
  assert.notEqual(cacheKey(key), cacheKey({ ...key, lastBarDate: '2023-03-20' }));
  assert.notEqual(cacheKey(key), cacheKey({ ...key, days: 4 }));
});

test('memory cache: hit, miss, least recently used evicted first, expiry', async () => {
  const cache = new MemoryPredictionCache(2, 3600);
  const k = (run: string) => ({ run, symbol: '600519', lastBarDate: '2023-03-17', days: 1 });
  assert.equal(await cache.get(k('a')), null);
  await cache.set(k('a'), forecast('a'));
  await cache.set(k('b'), forecast('b'));
  assert.equal((await cache.get(k('a')))?.run, 'a'); // a is now the most recent
  await cache.set(k('c'), forecast('c')); // evicts b
  assert.equal(await cache.get(k('b')), null);
  assert.equal((await cache.get(k('a')))?.run, 'a');
  assert.equal((await cache.get(k('c')))?.run, 'c');
  const expiring = new MemoryPredictionCache(10, -1);
  await expiring.set(k('a'), forecast('a'));
  assert.equal(await expiring.get(k('a')), null);
});

test('redis cache: round trip with expiry set, shared by two clients', { skip: redis.skip }, async () => {
  const writer = new RedisPredictionCache(redis.url!, 60);
  const reader = new RedisPredictionCache(redis.url!, 60);
  const key = { run: `test_${randomBytes(4).toString('hex')}`, symbol: '600519', lastBarDate: '2023-03-17', days: 1 };
  try {
    assert.equal(await reader.get(key), null);
    await writer.set(key, forecast(key.run));
    assert.deepEqual(await reader.get(key), forecast(key.run));
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.url!);
    const ttl = await raw.ttl(cacheKey(key));
    await raw.del(cacheKey(key));
    raw.disconnect();
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
  } finally {
    await writer.close();
    await reader.close();
  }
});

test('redis cache: an unreachable Redis is never waited for: memory answers, and the fallback is reported (issue 12 #9)', async () => {
  const cache = new RedisPredictionCache('redis://127.0.0.1:1', 60);
  const key = { run: 'r', symbol: '600519', lastBarDate: '2023-03-17', days: 1 } as const;
  try {
    await waitUntil(() => cache.kind === 'memory');
    assert.match(cache.fallback ?? '', /^redis unreachable \(.*\): forecasts are cached in memory$/);
    assert.equal(await cache.get(key), null);
    await cache.set(key, forecast('r'));
    assert.deepEqual(await cache.get(key), forecast('r'), 'the memory fallback caches');
  } finally {
    await cache.close();
  }
});

test('redis cache through a proxy that dies and comes back: memory while it is down, Redis again after', { skip: redis.skip }, async () => {
  const target = new URL(redis.url!);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
  const cache = new RedisPredictionCache(`redis://127.0.0.1:${proxy.port}`, 60);
  const key = { run: `test_${randomBytes(4).toString('hex')}`, symbol: '600519', lastBarDate: '2023-03-17', days: 1 };
  try {
    await waitUntil(() => cache.kind === 'redis');
    assert.equal(cache.fallback, null);
    await cache.set(key, forecast('in redis'));
    await proxy.kill();
    await waitUntil(() => cache.kind === 'memory');
    assert.match(cache.fallback ?? '', /^redis unreachable/);
    assert.equal(await cache.get(key), null, 'the memory fallback does not hold what Redis holds');
    await cache.set(key, forecast('in memory'));
    assert.deepEqual(await cache.get(key), forecast('in memory'));
    await proxy.restart();
    await waitUntil(() => cache.kind === 'redis');
    assert.deepEqual(await cache.get(key), forecast('in redis'), 'back on Redis');
  } finally {
    await cache.close();
    await proxy.close();
  }
});

/** Polls a condition (connection state changes are events, not timings), failing after a generous bound. */
async function waitUntil(condition: () => boolean, boundMs = 20_000): Promise<void> {
  const until = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('/health reports a dead Redis as the memory fallback, and stays ok (the cache is optional)', async () => {
  const tdb = await createTestDatabase('sqlite');
  const cache = new RedisPredictionCache('redis://127.0.0.1:1', 60);
  const server = await startServer({ database: tdb.handle, outputDir: join(tdb.dir, 'out'), cache, rateLimit: false });
  try {
    await waitUntil(() => cache.kind === 'memory');
    const health = await call(`${server.url}/health`);
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.equal(health.body.status, 'ok');
    assert.equal(health.body.cache, 'memory');
    assert.match(health.body.cache_fallback, /^redis unreachable \(.*\): forecasts are cached in memory$/);
  } finally {
    await server.close();
    await cache.close();
    await tdb.cleanup();
  }
});
