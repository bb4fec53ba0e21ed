/**
 * The predictions cache. A forecast depends only on the run's weights and the bars up to the last one, so
 * (run, symbol, last bar date, days) is a complete key: a new bar makes a new key, and stale entries just age out.
 * Redis when KLINECAST_REDIS_URL is set (shared by every server process), else an in-process LRU.
 * A failing cache never fails a request: it is logged and the forecast is computed.
 */
import { Redis } from 'ioredis';
import type { Forecast } from './ports.js';

export interface ForecastKey {
  run: string;
  symbol: string;
  lastBarDate: string;
  /** 'horizon' when the client asked for the run's whole horizon. */
  days: number | 'horizon';
}

export interface PredictionCache {
  readonly kind: 'memory' | 'redis';
  get(key: ForecastKey): Promise<Forecast | null>;
  set(key: ForecastKey, forecast: Forecast): Promise<void>;
  close(): Promise<void>;
}

export function cacheKey(key: ForecastKey): string {
  return `klinecast:forecast:${key.run}:${key.symbol}:${key.lastBarDate}:${key.days}`;
}

/** A day: a run's forecast for a given last bar never changes, the TTL only bounds memory. */
const DEFAULT_TTL_SECONDS = 24 * 3600;

export class MemoryPredictionCache implements PredictionCache {
  readonly kind = 'memory';
  private readonly entries = new Map<string, { value: Forecast; expires: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlSeconds = DEFAULT_TTL_SECONDS,
  ) {}

  async get(key: ForecastKey): Promise<Forecast | null> {
    const k = cacheKey(key);
    const hit = this.entries.get(k);
    if (!hit) return null;
    this.entries.delete(k);
    if (hit.expires < Date.now()) return null;
    this.entries.set(k, hit); // re-insert: Map order is the LRU order
    return hit.value;
  }

  async set(key: ForecastKey, forecast: Forecast): Promise<void> {
    const k = cacheKey(key);
    this.entries.delete(k);
    this.entries.set(k, { value: forecast, expires: Date.now() + this.ttlSeconds * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

export class RedisPredictionCache implements PredictionCache {
  readonly kind = 'redis';
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly ttlSeconds = DEFAULT_TTL_SECONDS,
  ) {
    // Commands wait for the connection at most commandTimeout: while Redis is down the forecast is computed
    // without the cache instead of the request hanging.
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, connectTimeout: 2000 });
    this.redis.on('error', () => {
      // reported per request by get/set; ioredis reconnects by itself
    });
  }

  async get(key: ForecastKey): Promise<Forecast | null> {
    const text = await this.redis.get(cacheKey(key));
    return text === null ? null : (JSON.parse(text) as Forecast);
  }

  async set(key: ForecastKey, forecast: Forecast): Promise<void> {
    await this.redis.set(cacheKey(key), JSON.stringify(forecast), 'EX', this.ttlSeconds);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** Redis when a URL is given (KLINECAST_REDIS_URL), in-memory otherwise. */
export function createPredictionCache(redisUrl: string | undefined = process.env.KLINECAST_REDIS_URL): PredictionCache {
  return redisUrl ? new RedisPredictionCache(redisUrl) : new MemoryPredictionCache();
}
