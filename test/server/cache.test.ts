/** The predictions cache: in-memory LRU with expiry, and Redis (shared across server processes) when configured. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MemoryPredictionCache, RedisPredictionCache, cacheKey, type Forecast } from '../../src/server/index.js';
import { redis } from '../helpers/env.js';

function forecast(run: string): Forecast {
  return {
    symbol: '600519',
    run,
    base_date: '2023-03-17',
    base_close: 1742,
    horizon: 1,
    interval_level: 0.9,
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

test('redis cache: an unreachable Redis fails fast instead of hanging', async () => {
  const cache = new RedisPredictionCache('redis://127.0.0.1:1', 60);
  const t0 = Date.now();
  await assert.rejects(cache.get({ run: 'r', symbol: '600519', lastBarDate: '2023-03-17', days: 1 }));
  assert.ok(Date.now() - t0 < 3000);
  await cache.close();
});
