/**
 * TrainConfig: the one schema of a training run, saved whole as out/{run}/config.json. Defaults follow the seed
 * (seq 60, hidden 128, 2 layers, dropout 0.2, batch 32, lr 1e-3, patience 10, 50 epochs). Sources merge as
 * defaults < --config file.json < CLI flags, and the result is validated once here; everything after trusts it.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ADJUST_MODES, DEFAULT_ADJUST } from '../data/adjust.js';
import { maskUrl } from '../data/db/url.js';
import { CLOSE_BLOCK_SIZE, closeBlocks } from '../data/series.js';
import { normalizeSymbol } from '../data/symbols.js';
import type { KlineSeries } from '../data/types.js';
import { DatasetConfigSchema, type UniverseMember } from '../features/index.js';
import { ModelConfigSchema } from '../models/config.js';
import { RUN_FILES } from '../runs/index.js';
import { UserError } from '../util/errors.js';
import { jobConfigHash } from '../util/hash.js';
import { readJson } from '../util/json.js';
import { isRecord } from '../util/values.js';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');

/** A checksum of the closes of every block of blockSize bars (src/data/series.ts closeBlocks), recorded at training time. */
const CloseChecksumsSchema = z
  .object({
    blockSize: z.number().int().positive(),
    blocks: z.array(z.object({ firstDate: isoDate, lastDate: isoDate, sha256: z.string().regex(/^[0-9a-f]{16}$/) }).strict()),
  })
  .strict();
export type CloseChecksums = z.infer<typeof CloseChecksumsSchema>;

function closeChecksumsOf(series: Pick<KlineSeries, 'dates' | 'close' | 'adjustment'>): CloseChecksums {
  return { blockSize: CLOSE_BLOCK_SIZE, blocks: closeBlocks(series, CLOSE_BLOCK_SIZE) };
}

/** The architecture without inputSize and outputSize, which the dataset's feature count and horizon fix. */
export const TrainModelSchema = ModelConfigSchema.omit({ inputSize: true, outputSize: true, numStocks: true, stockEmbeddingDim: true }).extend({
  modelType: ModelConfigSchema.shape.modelType.default('lstm'),
  // Optional, not defaulted: a config without them stays byte-identical (and keeps its config hash).
  /** Universal runs: D > 0 adds a stock embedding of width D (docs/UNIVERSAL_MODEL.md); absent or 0 = off. */
  stockEmbeddingDim: z.number().int().min(0).max(1024).optional(),
  /** With a stock embedding: the share of training samples (per epoch, drawn from the seed) that use the unknown-stock row; default 0.05. */
  unknownStockRate: z.number().min(0).max(1).optional(),
});

export const SchedulerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z
    .object({
      type: z.literal('plateau'),
      factor: z.number().positive().lt(1).default(0.5),
      patience: z.number().int().min(0).default(5),
      threshold: z.number().min(0).default(1e-4),
      minLr: z.number().min(0).default(0),
    })
    .strict(),
  z.object({ type: z.literal('step'), stepSize: z.number().int().positive().default(10), gamma: z.number().positive().default(0.5) }).strict(),
  /** tMax defaults to the number of epochs. */
  z.object({ type: z.literal('cosine'), tMax: z.number().int().positive().optional(), etaMin: z.number().min(0).default(0) }).strict(),
]);
export type SchedulerConfig = z.infer<typeof SchedulerSchema>;

/** Rows of a batch one thread trains at least: below it the per-step serial part (gradient sum, clip, Adam) outweighs the slice. */
export const MIN_SLICE_ROWS = 16;
export const MAX_THREADS = 64;

/**
 * What training.threads 'auto' means: this run's share of the machine's cores (`runsAtOnce` runs sharing them, as
 * batch workers or server jobs do), at most one thread per MIN_SLICE_ROWS rows of a batch, at least 1.
 */
export function autoThreads(batchSize: number, runsAtOnce = 1, cores = availableParallelism()): number {
  return Math.max(1, Math.min(Math.floor(cores / Math.max(1, runsAtOnce)), Math.floor(batchSize / MIN_SLICE_ROWS), MAX_THREADS));
}

/** The thread count a run trains on: the number given, or 'auto' (also an absent field) resolved by autoThreads. */
export function resolveThreads(training: { threads?: number | 'auto'; batchSize: number }, runsAtOnce = 1, cores?: number): number {
  return typeof training.threads === 'number' ? training.threads : autoThreads(training.batchSize, runsAtOnce, cores);
}

/** The config with training.threads resolved to the number used: what config.json records and the config hash covers. */
export function withResolvedThreads(config: TrainConfig, runsAtOnce = 1, cores?: number): TrainConfig {
  return { ...config, training: { ...config.training, threads: resolveThreads(config.training, runsAtOnce, cores) } };
}

export const TrainingSchema = z.object({
  epochs: z.number().int().positive().default(50),
  batchSize: z.number().int().positive().default(32),
  learningRate: z.number().positive().default(1e-3),
  optimizer: z.enum(['adam', 'adamw']).default('adam'),
  /** Adam: L2 added to the gradient; AdamW: decoupled decay. */
  weightDecay: z.number().min(0).default(0),
  loss: z.enum(['mse', 'huber', 'mae']).default('mse'),
  /** Epochs without improvement of metricForBestModel before stopping; 0 turns early stopping off. */
  patience: z.number().int().min(0).default(10),
  /** Max global gradient norm; 0 turns clipping off. */
  gradClip: z.number().min(0).default(1.0),
  scheduler: SchedulerSchema.default({ type: 'none' }),
  /** A checkpoint every N epochs (plus every new best and the last epoch). */
  checkpointInterval: z.number().int().positive().default(1),
  /** checkpoint-{N} folders kept; best/ is never removed. */
  saveTotalLimit: z.number().int().positive().nullable().default(3),
  metricForBestModel: z.enum(['val_loss', 'train_loss']).default('val_loss'),
  seed: z.number().int().min(0).max(0xffffffff).default(42),
  /**
   * Threads of one run (data-parallel: each trains a fixed slice of every batch, one optimizer step; docs/ENGINE.md
   * §6). The same seed and threads give the same weights; another thread count is another run (dropout streams).
   * 'auto' is resolved to a number (autoThreads) before a run folder exists, and config.json records that number.
   */
  threads: z.union([z.literal('auto'), z.number().int().min(1).max(MAX_THREADS)]).default('auto'),
});
export type TrainingConfig = z.infer<typeof TrainingSchema>;

export const TrainConfigSchema = z.object({
  data: z
    .object({
      /** Where bars came from, password masked (config.json is shared; secrets are not). */
      database: z.string().nullable().default(null),
      // Any spelling the one normaliser reads (600519, 600519.SH, sh600519), stored as the 6-digit code.
      symbol: z
        .string()
        .transform(
          (text, ctx) => normalizeSymbol(text) ?? (ctx.addIssue({ code: 'custom', message: 'must be an A-share code such as 600519 or 600519.SH' }), z.NEVER),
        )
        .nullable()
        .default(null),
      /**
       * A universal model's stocks (通用模型): 'all' active stocks (of `stockType` when set) or a list; null for a
       * single-stock run. Exclusive with `symbol`.
       */
      symbols: z
        .union([
          z.literal('all'),
          z
            .array(
              z
                .string()
                .transform(
                  (text, ctx) =>
                    normalizeSymbol(text) ?? (ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is not an A-share code` }), z.NEVER),
                ),
            )
            .min(1),
        ])
        .nullable()
        .default(null),
      /** With `symbols`: only stocks of this board (stock_basic_info.stock_type, e.g. 主板). */
      stockType: z.string().min(1).nullable().default(null),
      startDate: isoDate.nullable().default(null),
      endDate: isoDate.nullable().default(null),
      /**
       * Price adjustment of the bars features and targets are computed from (src/data/adjust.ts, docs/DATA.md): qfq
       * (前复权, default), hfq (后复权) or none. Factors come from the adj_factor table where it has the days, else from
       * pre_close against the previous close. qfq by default because most users' stock_db holds unadjusted tushare
       * `daily` bars, and on bars that are adjusted already the pre_close derivation finds nothing to change.
       */
      adjust: z.enum(ADJUST_MODES).default(DEFAULT_ADJUST),
      /** Recorded by a universal run: every stock it read, with its rows and date range (what resume reloads). */
      universe: z
        .array(
          z
            .object({
              symbol: z.string(),
              rows: z.number().int().min(0),
              firstDate: isoDate,
              lastDate: isoDate,
              closeChecksums: CloseChecksumsSchema.nullable().default(null),
            })
            .strict(),
        )
        .nullable()
        .default(null),
      // Recorded by training, not asked for: the bars the run actually read. Resume and `klinecast eval` reload
      // exactly these (and refuse when the count changed), and inference starts its history at firstDate, because
      // recursive indicators (EMA, MACD, RSI, KDJ) depend slightly on the first bar.
      rows: z.number().int().min(0).nullable().default(null),
      firstDate: isoDate.nullable().default(null),
      lastDate: isoDate.nullable().default(null),
      // Recorded too: a checksum of the closes of every block of blockSize bars, so that a resume can warn, naming the
      // dates, when bars inside the recorded range changed although their count did not. Null in runs written before.
      closeChecksums: CloseChecksumsSchema.nullable().default(null),
    })
    .strict()
    .default({
      database: null,
      symbol: null,
      symbols: null,
      stockType: null,
      startDate: null,
      endDate: null,
      adjust: DEFAULT_ADJUST,
      universe: null,
      rows: null,
      firstDate: null,
      lastDate: null,
      closeChecksums: null,
    }),
  dataset: DatasetConfigSchema.default(() => DatasetConfigSchema.parse({})),
  model: TrainModelSchema.strict().default(() => TrainModelSchema.parse({})),
  training: TrainingSchema.strict().default(() => TrainingSchema.parse({})),
  output: z
    .object({ outputDir: z.string().min(1).default('out'), runName: z.string().min(1).nullable().default(null) })
    .strict()
    .default({ outputDir: 'out', runName: null }),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

type Plain = Record<string, unknown>;
const isPlain = isRecord;

/** Deep merge of config layers: objects merge key by key, anything else (arrays included) is replaced; undefined is skipped. */
export function mergeConfig(...layers: unknown[]): Plain {
  const out: Plain = {};
  for (const layer of layers) {
    if (!isPlain(layer)) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      out[key] = isPlain(value) && isPlain(out[key]) ? mergeConfig(out[key], value) : isPlain(value) ? mergeConfig(value) : value;
    }
  }
  return out;
}

/** Validates a merged config; the error names every bad field by its path (e.g. training.learningRate). */
export function parseTrainConfig(input: unknown, source = 'training config', describePath: (path: string) => string = (p) => p): TrainConfig {
  const parsed = TrainConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const path = describePath(i.path.join('.')) || '(root)';
      return i.code === 'unrecognized_keys' ? `${path === '(root)' ? '' : `${path}: `}unknown field(s) ${i.keys.join(', ')}` : `${path}: ${i.message}`;
    });
    throw new UserError(`invalid ${source}: ${issues.join('; ')}`, 'bad_config');
  }
  const config = parsed.data;
  const { startDate, endDate } = config.data;
  if (config.data.symbol !== null && config.data.symbols !== null) {
    throw new UserError(`invalid ${source}: data.symbol (one stock) and data.symbols (a universal model) exclude each other`, 'bad_config');
  }
  if (config.data.stockType !== null && config.data.symbols === null) {
    throw new UserError(`invalid ${source}: data.stockType selects the stocks of data.symbols; set symbols too (e.g. all)`, 'bad_config');
  }
  if ((config.dataset.targetNorm ?? 'none') !== 'none' && config.data.symbols === null) {
    throw new UserError(
      `invalid ${source}: dataset.targetNorm normalises the target across the stocks of each date; it needs a universal run: set data.symbols (--symbols) too`,
      'bad_config',
    );
  }
  if ((config.model.stockEmbeddingDim ?? 0) > 0 && config.data.symbols === null) {
    throw new UserError(`invalid ${source}: model.stockEmbeddingDim embeds the stocks of a universal run; set data.symbols (--symbols) too`, 'bad_config');
  }
  if (startDate && endDate && startDate > endDate)
    throw new UserError(`invalid ${source}: data.startDate ${startDate} is after data.endDate ${endDate}`, 'bad_config');
  if (config.model.modelType === 'transformer' && config.model.hiddenSize % config.model.numHeads !== 0) {
    throw new UserError(
      `invalid ${source}: model.hiddenSize ${config.model.hiddenSize} must be divisible by model.numHeads ${config.model.numHeads}`,
      'bad_config',
    );
  }
  if (config.data.database) config.data.database = maskUrl(config.data.database);
  return config;
}

/** Reads a --config JSON file (a partial TrainConfig); a missing or malformed file is a UserError naming it. */
export function readConfigFile(path: string): Plain {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read config file ${path}: ${(err as Error).message}`, 'not_found');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UserError(`config file ${path} is not valid JSON: ${(err as Error).message}`, 'bad_config');
  }
  if (!isPlain(value)) throw new UserError(`config file ${path} must hold a JSON object`, 'bad_config');
  return value;
}

/** defaults < file < overrides, validated once; describePath lets the CLI name its flag beside a bad field. */
export function resolveTrainConfig(options: { file?: string; overrides?: unknown; describePath?: (path: string) => string } = {}): TrainConfig {
  const fromFile = options.file ? readConfigFile(options.file) : {};
  const source = options.file ? `training config (${options.file} + flags)` : 'training config';
  return parseTrainConfig(mergeConfig(fromFile, options.overrides), source, options.describePath);
}

/**
 * config.json of a run, validated by the same schema that wrote it. A run saved before data.adjust existed was trained
 * on the bars as stored, so its missing data.adjust reads as none, not as today's default.
 */
export function readRunConfig(runDir: string): TrainConfig {
  const path = join(runDir, RUN_FILES.config);
  const file = readJson(path);
  if (!file.ok) throw new UserError(`run ${basename(runDir)}: ${file.reason}`, file.missing ? 'run_not_ready' : 'run_corrupt');
  // A config.json without data.adjust was written before adjustment existed (those runs trained on the bars as
  // stored), and one without training.threads before threads existed (those trained on one).
  const value = isPlain(file.value) ? mergeConfig({ data: { adjust: 'none' }, training: { threads: 1 } }, file.value) : file.value;
  return parseTrainConfig(value, `run ${basename(runDir)}: ${RUN_FILES.config}`);
}

/** A universal run's config with the stocks it read recorded (data.universe): what config.json keeps. */
export function withRecordedUniverse(config: TrainConfig, members: readonly UniverseMember[], series: readonly KlineSeries[]): TrainConfig {
  const bySymbol = new Map(series.map((s) => [s.symbol, s]));
  const universe = members.map((m) => {
    const bars = bySymbol.get(m.symbol);
    return { ...m, closeChecksums: bars ? closeChecksumsOf(bars) : null };
  });
  return { ...config, data: { ...config.data, universe } };
}

/** The config with the bars it was given recorded (data.rows, firstDate, lastDate, closeChecksums): what config.json keeps. */
export function withRecordedData(config: TrainConfig, series: Pick<KlineSeries, 'dates' | 'close' | 'adjustment'>): TrainConfig {
  const { dates } = series;
  return {
    ...config,
    data: {
      ...config.data,
      rows: dates.length,
      firstDate: dates[0] ?? null,
      lastDate: dates[dates.length - 1] ?? null,
      closeChecksums: closeChecksumsOf(series),
    },
  };
}

/** The data source as config.json records it: the URL with its password masked (config.json is shared; secrets are not). */
export function withDataSource(config: TrainConfig, url: string): TrainConfig {
  return { ...config, data: { ...config.data, database: maskUrl(url) } };
}

/** The part of a TrainConfig that defines a batch's models: no symbol, output folder, data source or recorded data. */
export function batchConfig(config: TrainConfig): TrainConfig {
  return {
    ...config,
    data: { ...config.data, symbol: null, database: null, rows: null, firstDate: null, lastDate: null, closeChecksums: null, universe: null },
    output: { outputDir: 'out', runName: null },
  };
}

/** The registry's config_hash of a run trained with this config: the same as a batch of it would get. */
export function trainConfigHash(config: TrainConfig): string {
  return jobConfigHash(config.model.modelType, batchConfig(config));
}
