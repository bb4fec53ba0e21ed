/**
 * The batches of `klinecast batch` (out/batches/{name}/: progress, summary, log) and the best-run rule's answer.
 * A batch's runs are ordinary runs of out/ (GET /api/v1/runs); these routes add the batch's own bookkeeping. Names
 * are validated by the schema and folders resolved inside out/batches/ by realpath, as the run routes do.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { existingBatchDirFor, listBatches, readBatchFolder, type BatchFolder } from '../../batch/index.js';
import { BEST_METRICS, checkFolderName, rankRuns, toRunSummary } from '../../runs/index.js';
import type { BatchDetails, BatchItem, BestRunAnswer } from '../../wire/index.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { modelTypeField, queryInt, routeSchema, symbolField } from '../schema.js';

const batchNameField = z
  .string()
  .max(128)
  .superRefine((name, ctx) => {
    try {
      checkFolderName(name, 'batch name', 'bad_batch_name');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const BatchParams = z.object({ name: batchNameField }).strict();
const BatchesQuery = z.object({ limit: queryInt(1, 10_000).optional() }).strict();
const BestRunQuery = z
  .object({
    symbol: symbolField.optional(),
    model: modelTypeField.optional(),
    /** Default: mae with a symbol (re-scored on the shared test days), skill without. */
    metric: z.enum(BEST_METRICS).optional(),
  })
  .strict();

function itemOf(b: BatchFolder): BatchItem {
  const s = b.summary;
  return {
    name: b.name,
    model_type: b.progress?.modelType ?? s?.modelType ?? null,
    config_hash: b.progress?.configHash ?? s?.configHash ?? null,
    created_at: b.progress?.createdAt ?? null,
    updated_at: b.progress?.updatedAt ?? null,
    finished: b.finished,
    finished_at: s?.finishedAt ?? null,
    seconds: s?.seconds ?? null,
    per_minute: s?.perMinute ?? null,
    counts: b.counts,
    stocks_total: b.progress ? Object.keys(b.progress.stocks).length : (s?.stocks.length ?? 0),
    problem: b.problem,
  };
}

/** The batch's stocks from its progress file (the latest word), in symbol order; no server paths. */
function detailsOf(b: BatchFolder): BatchDetails {
  const entries = b.progress ? Object.entries(b.progress.stocks) : (b.summary?.stocks.map((s) => [s.symbol, s] as const) ?? []);
  return {
    ...itemOf(b),
    stocks: [...entries]
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([symbol, s]) => ({
        symbol,
        status: s.status,
        run_name: s.runName,
        metrics: s.metrics,
        reason: s.reason,
        attempts: s.attempts,
        seconds: s.seconds,
        finished_at: s.finishedAt,
      })),
  };
}

export async function batchRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/batches',
    { schema: routeSchema({ querystring: BatchesQuery, summary: 'Batches of `klinecast batch` (out/batches/*), newest first', tags: ['batches'] }) },
    async (request) => {
      const { limit } = request.query as z.output<typeof BatchesQuery>;
      const all = listBatches(ctx.outputDir);
      return { items: all.slice(0, limit ?? all.length).map(itemOf), total: all.length };
    },
  );

  app.get(
    '/api/v1/batches/:name',
    { schema: routeSchema({ params: BatchParams, summary: "One batch: its counts and every stock's outcome and run", tags: ['batches'] }) },
    async (request) => {
      const { name } = request.params as z.output<typeof BatchParams>;
      let dir: string;
      try {
        dir = existingBatchDirFor(ctx.outputDir, name);
      } catch {
        throw new HttpError(404, 'batch_not_found', `no batch named ${name}`);
      }
      return detailsOf(readBatchFolder(dir, name));
    },
  );

  app.get(
    '/api/v1/best-run',
    {
      schema: routeSchema({
        querystring: BestRunQuery,
        summary: 'The best completed run by the one best-run rule (shared test days, or skill), as predict chooses it',
        tags: ['runs'],
      }),
    },
    async (request): Promise<BestRunAnswer> => {
      const q = request.query as z.output<typeof BestRunQuery>;
      const ranking = rankRuns(ctx.runs.get(), q.metric ?? (q.symbol ? 'mae' : 'skill'), { symbol: q.symbol, model: q.model });
      const best = ranking.runs.find((r) => r.value !== null);
      if (!best) throw new HttpError(404, 'run_not_found', `no completed run${q.symbol ? ` for ${q.symbol}` : ''} has ${ranking.rankedBy}`);
      return {
        run: toRunSummary(best.run),
        metric: ranking.metric,
        ranked_by: ranking.rankedBy,
        basis: ranking.basis,
        value: best.value,
        shared_days: ranking.sharedDays,
        rule: ranking.explanation,
        ranking: ranking.runs.map((r) => ({ name: r.run.name, value: r.value, days: r.days })),
      };
    },
  );
}
