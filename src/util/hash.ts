import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal configs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** 16 hex digits of SHA-256 over the canonical config: the registry's config_hash and half of a queue job id. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

/** The config_hash of a batch, queue or train run: the model type with the batch config (no symbol, output or database). */
export function jobConfigHash(modelType: string, config: unknown): string {
  return configHash({ model: modelType, config });
}

/** The deterministic BullMQ job id of (symbol, config): enqueueing the same pair twice adds one job. */
export function jobIdFor(symbol: string, hash: string): string {
  return `${symbol}-${hash}`;
}
