import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RUN_FILES, RUN_METRICS, existingRunDirFor, parseStatusList, queryRuns, readRunDetails, toRunSummary } from '../../runs/index.js';
import { listRegistry } from '../../runs/registry.js';
import { readJson } from '../../util/json.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { modelTypeField, queryInt, routeSchema, runNameField, symbolField } from '../schema.js';

export const RunParams = z.object({ name: runNameField }).strict();

/** The filters of `klinecast runs list`. */
const RunsQuery = z
  .object({
    symbol: symbolField.optional(),
    model: modelTypeField.optional(),
    /** Comma-separated statuses, e.g. completed,crashed. */
    status: z
      .string()
      .max(200)
      .superRefine((text, ctx) => {
        try {
          parseStatusList(text);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .optional(),
    sort: z.enum(RUN_METRICS).default('created'),
    order: z.enum(['asc', 'desc']).optional(),
    limit: queryInt(1, 10_000).optional(),
  })
  .strict();

/** Filters of `klinecast runs list --registry`, plus host and config hash. */
const RegistryQuery = z
  .object({
    symbol: symbolField.optional(),
    model: modelTypeField.optional(),
    status: z.enum(['completed', 'failed']).optional(),
    host: z.string().min(1).max(255).optional(),
    config_hash: z
      .string()
      .regex(/^[0-9a-f]{16}$/, 'config_hash is 16 lowercase hex digits')
      .optional(),
    limit: queryInt(1, 10_000).default(1000),
  })
  .strict();

const PredictionsQuery = z.object({ step: queryInt(1, 1000).optional() }).strict();

/**
 * The folder of an existing run, or 404. The name was validated by the params schema, and the folder must be a real
 * one whose realpath is inside the output folder: a symbolic link in out/ (to /etc, say) is no run.
 */
export function existingRunDir(ctx: ServerContext, name: string): string {
  try {
    return existingRunDirFor(ctx.outputDir, name);
  } catch {
    throw new HttpError(404, 'run_not_found', `no run named ${name}`);
  }
}

export async function runRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/runs',
    { schema: routeSchema({ querystring: RunsQuery, summary: 'Training runs, filtered and sorted as `klinecast runs list`', tags: ['runs'] }) },
    async (request) => {
      const q = request.query as z.output<typeof RunsQuery>;
      const { items, total } = queryRuns(ctx.runs.get(), {
        symbol: q.symbol,
        model: q.model,
        statuses: q.status ? parseStatusList(q.status) : null,
        sort: q.sort,
        descending: q.order === undefined ? undefined : q.order === 'desc',
        limit: q.limit,
      });
      return { items: items.map(toRunSummary), total };
    },
  );

  // The registry is the database's record of runs from every machine (batch, worker and train); unlike /runs it
  // is not limited to this server's output folder, so paths are given with the host that wrote them.
  app.get(
    '/api/v1/registry',
    { schema: routeSchema({ querystring: RegistryQuery, summary: 'The model registry: completed runs from every machine, newest first', tags: ['runs'] }) },
    async (request) => {
      const q = request.query as z.output<typeof RegistryQuery>;
      const entries = await listRegistry(ctx.database.db, {
        symbol: q.symbol,
        modelType: q.model,
        status: q.status ? [q.status] : undefined,
        host: q.host,
        configHash: q.config_hash,
        limit: q.limit,
      });
      return {
        items: entries.map((e) => ({
          run_name: e.runName,
          symbol: e.symbol,
          model_type: e.modelType,
          config_hash: e.configHash,
          status: e.status,
          metrics: e.metrics,
          host: e.host,
          path: e.path,
          created_at: e.createdAt,
          finished_at: e.finishedAt,
        })),
        total: entries.length,
      };
    },
  );

  app.get(
    '/api/v1/runs/:name',
    { schema: routeSchema({ params: RunParams, summary: 'One run: status, config, model config, training args, test results, files', tags: ['runs'] }) },
    async (request) => {
      const { name } = request.params as z.output<typeof RunParams>;
      const details = readRunDetails(existingRunDir(ctx, name));
      return {
        run: toRunSummary(details.info),
        metadata: details.info.metadata,
        config: details.config,
        model_config: details.modelConfig,
        training_args: details.trainingArgs,
        eval_results: details.evalResults,
        files: details.files,
      };
    },
  );

  app.get(
    '/api/v1/runs/:name/metrics',
    { schema: routeSchema({ params: RunParams, summary: 'Per-epoch metrics (logs/metrics.json) and test results', tags: ['runs'] }) },
    async (request) => {
      const { name } = request.params as z.output<typeof RunParams>;
      const details = readRunDetails(existingRunDir(ctx, name));
      return { run: name, status: details.info.status, history: details.history, eval_results: details.evalResults };
    },
  );

  app.get(
    '/api/v1/runs/:name/predictions',
    {
      schema: routeSchema({
        params: RunParams,
        querystring: PredictionsQuery,
        summary: 'Test-set predictions against actual prices (results/predictions.json)',
        tags: ['runs'],
      }),
    },
    async (request) => {
      const { name } = request.params as z.output<typeof RunParams>;
      const { step } = request.query as z.output<typeof PredictionsQuery>;
      const dir = existingRunDir(ctx, name);
      const read = readJson(join(dir, RUN_FILES.predictions), { within: dir });
      if (!read.ok) {
        if (read.missing) throw new HttpError(404, 'predictions_not_found', `run ${name} has no ${RUN_FILES.predictions} yet (it is written after evaluation)`);
        throw new HttpError(409, 'run_files_unreadable', `run ${name}: ${read.reason}`);
      }
      const file = read.value as { records?: Array<{ step?: number }> } & Record<string, unknown>;
      if (step === undefined || !Array.isArray(file.records)) return { run: name, ...file };
      return { run: name, ...file, records: file.records.filter((r) => r.step === step) };
    },
  );
}
