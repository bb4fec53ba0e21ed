/**
 * Cache of built datasets, keyed by a hash of the symbol, the date range, the resolved config and the content of
 * the series (the data version): a changed bar, config or range is a different key, never a stale hit.
 * In memory it is an LRU; with `dir` it also keeps one file per key on disk, written atomically.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KlineSeries } from '../data/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { assembleDataset, buildDataset, parseDatasetConfig, type Dataset, type DatasetConfig, type DatasetConfigInput } from './dataset.js';
import { Scaler } from './scaler.js';

/** Bump when the features' formulas or the file layout change, so old cache files stop matching. */
const CACHE_FORMAT = 1;
const MAGIC = 'KLCDS001';

/** A hash of everything in the series: any change to any bar gives a new version. */
export function seriesVersion(series: KlineSeries): string {
  const hash = createHash('sha256');
  hash.update(series.symbol);
  hash.update('\0');
  hash.update(series.dates.join(','));
  for (const column of [
    series.open,
    series.high,
    series.low,
    series.close,
    series.preClose,
    series.change,
    series.pctChg,
    series.vol,
    series.amount,
    series.turnoverRate,
  ]) {
    hash.update(new Uint8Array(column.buffer, column.byteOffset, column.byteLength));
  }
  return hash.digest('hex');
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function datasetCacheKey(series: KlineSeries, config: DatasetConfig, dataVersion = seriesVersion(series)): string {
  const identity = {
    format: CACHE_FORMAT,
    symbol: series.symbol,
    start: series.dates[0] ?? null,
    end: series.dates[series.dates.length - 1] ?? null,
    config,
    dataVersion,
  };
  return createHash('sha256').update(stableStringify(identity)).digest('hex');
}

/** File layout: 8-byte magic, u32 LE header length, JSON header, then float32 features and float64 closes. */
export function serializeDataset(ds: Dataset): Uint8Array {
  const header = Buffer.from(
    JSON.stringify({
      symbol: ds.symbol,
      config: ds.config,
      warmupDropped: ds.warmupDropped,
      dates: ds.dates,
      segments: ds.segments,
      featureScaler: ds.featureScaler.toJSON(),
      targetScaler: ds.targetScaler.toJSON(),
      featureCount: ds.features.length,
      closeCount: ds.close.length,
    }),
    'utf8',
  );
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32LE(header.length);
  return Buffer.concat([
    Buffer.from(MAGIC, 'ascii'),
    lengthField,
    header,
    Buffer.from(ds.features.buffer, ds.features.byteOffset, ds.features.byteLength),
    Buffer.from(ds.close.buffer, ds.close.byteOffset, ds.close.byteLength),
  ]);
}

export function deserializeDataset(bytes: Uint8Array): Dataset {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.toString('ascii', 0, 8) !== MAGIC) throw new Error('not a klinecast dataset cache file');
  const headerLength = buf.readUInt32LE(8);
  const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength));
  let offset = 12 + headerLength;
  const copy = (bytesLength: number): ArrayBuffer => {
    const out = new ArrayBuffer(bytesLength);
    new Uint8Array(out).set(buf.subarray(offset, offset + bytesLength));
    offset += bytesLength;
    return out;
  };
  const features = new Float32Array(copy(header.featureCount * 4));
  const close = new Float64Array(copy(header.closeCount * 8));
  return assembleDataset({
    symbol: header.symbol,
    config: parseDatasetConfig(header.config),
    warmupDropped: header.warmupDropped,
    dates: header.dates,
    close,
    features,
    segments: header.segments,
    featureScaler: Scaler.fromJSON(header.featureScaler),
    targetScaler: Scaler.fromJSON(header.targetScaler),
  });
}

export interface DatasetCacheOptions {
  /** Datasets kept in memory (least recently used leave first). Default 16. */
  maxEntries?: number;
  /** Folder for on-disk entries; none by default. */
  dir?: string;
}

export class DatasetCache {
  private readonly entries = new Map<string, Dataset>();
  private readonly maxEntries: number;
  readonly stats = { memoryHits: 0, diskHits: 0, builds: 0 };

  constructor(private readonly options: DatasetCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 16;
  }

  /** The dataset for this series and config: from memory, else from disk, else built (and stored in both). */
  get(series: KlineSeries, input: DatasetConfigInput = {}): Dataset {
    const config = parseDatasetConfig(input);
    const key = datasetCacheKey(series, config);
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.stats.memoryHits++;
      return hit;
    }
    const file = this.options.dir ? join(this.options.dir, `${series.symbol}-${key.slice(0, 32)}.klcds`) : null;
    let dataset: Dataset | null = null;
    if (file && existsSync(file)) {
      try {
        dataset = deserializeDataset(readFileSync(file));
        this.stats.diskHits++;
      } catch {
        dataset = null; // a damaged cache file is rebuilt and overwritten below, never trusted
      }
    }
    if (!dataset) {
      dataset = buildDataset(series, config);
      this.stats.builds++;
      if (file) writeFileAtomic(file, serializeDataset(dataset));
    }
    this.entries.set(key, dataset);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return dataset;
  }

  clear(): void {
    this.entries.clear();
  }
}
