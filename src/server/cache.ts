/**
 * The predictions cache. A forecast depends only on the run's weights and the bars up to the last one, so
 * (run, symbol, last bar date, days) is a complete key: a new bar makes a new key, and stale entries just age out.
 * Redis when KLINECAST_REDIS_URL is set (shared by every server process), else an in-process LRU.
 * A failing cache never fails a request: it is logged and the forecast is computed; an unreachable Redis is not
 * waited for at all (memory answers until it is back, and /health says so).
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
  /** The store answering now: a Redis cache whose Redis is unreachable answers from memory (see `fallback`). */
  readonly kind: 'memory' | 'redis';
  /** Why a configured Redis is not in use right now (its last connection error), or null; /health reports it. */
  readonly fallback?: string | null;
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

/**
 * Redis, with an in-process LRU while Redis is down: once the connection has failed (an error, or a close), requests
 * never wait for it: they use memory until ioredis, reconnecting in the background, is ready again. Commands sent
 * while the first connection is still being made wait for it (at most connectTimeout).
 */
export class RedisPredictionCache implements PredictionCache {
  private readonly redis: Redis;
  private readonly memory: MemoryPredictionCache;
  /** Why Redis is not used (the last connection error), or null while it is up or still connecting the first time. */
  private down: string | null = null;

  constructor(
    url: string,
    private readonly ttlSeconds = DEFAULT_TTL_SECONDS,
  ) {
    this.memory = new MemoryPredictionCache(10_000, ttlSeconds);
    // commandTimeout bounds a command on a connection that dies under it.
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, connectTimeout: 2000 });
    this.redis.on('error', (err: Error) => {
      this.down = err.message || (err as NodeJS.ErrnoException).code || 'connection error';
    });
    this.redis.on('close', () => {
      this.down ??= 'connection closed';
    });
    this.redis.on('ready', () => {
      this.down = null;
    });
  }

  private get ready(): boolean {
    return this.down === null;
  }

  get kind(): 'memory' | 'redis' {
    return this.ready ? 'redis' : 'memory';
  }

  get fallback(): string | null {
    return this.down === null ? null : `redis unreachable (${this.down}): forecasts are cached in memory`;
  }

  async get(key: ForecastKey): Promise<Forecast | null> {
    if (!this.ready) return this.memory.get(key);
    const text = await this.redis.get(cacheKey(key));
    return text === null ? null : (JSON.parse(text) as Forecast);
  }

  async set(key: ForecastKey, forecast: Forecast): Promise<void> {
    if (!this.ready) return this.memory.set(key, forecast);
    await this.redis.set(cacheKey(key), JSON.stringify(forecast), 'EX', this.ttlSeconds);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await this.memory.close();
  }
}

/** Redis when a URL is given (KLINECAST_REDIS_URL), in-memory otherwise. */
export function createPredictionCache(redisUrl: string | undefined = process.env.KLINECAST_REDIS_URL): PredictionCache {
  return redisUrl ? new RedisPredictionCache(redisUrl) : new MemoryPredictionCache();
}
