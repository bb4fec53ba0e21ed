import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { API_FLAGS, apiFieldOf, configLayer, describeFieldPath, type TrainingFlag } from '../../training/index.js';
import { mergeConfig, parseTrainConfig } from '../../training/config.js';
import { requireApiKey } from '../auth.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import type { TrainingJobs } from '../ports.js';
import { dateField, modelTypeField, routeSchema, runNameField, symbolField } from '../schema.js';

/** The request field of one training flag: the CLI's flag in snake_case, typed as the flag parses its text. */
function fieldOf(f: TrainingFlag): z.ZodType {
  if (f.path === 'data.symbol') return symbolField;
  if (f.path === 'model.modelType') return modelTypeField;
  if (f.path === 'output.runName') return runNameField;
  if (f.path === 'data.startDate' || f.path === 'data.endDate') return dateField;
  switch (f.kind) {
    case 'int':
      return z.number().int();
    case 'threads':
      return z.union([z.literal('auto'), z.number().int().min(1)]);
    case 'number':
      return z.number();
    case 'string':
      return z.string().min(1).max(200);
    case 'list':
      return z.array(z.string().min(1).max(64)).min(1).max(500);
    case 'split':
      return z
        .tuple([z.number(), z.number(), z.number()])
        .transform(([train, val, test]) => ({ type: 'ratio' as const, train, val, test }))
        .describe('train, val, test ratios, e.g. [0.7, 0.15, 0.15]');
    case 'symbols':
      return z
        .union([z.literal('all'), z.array(symbolField).min(1).max(10_000)], { error: 'symbols is "all" or a list of 1-10000 6-digit A-share codes' })
        .describe('a universal model over these stocks, or all active ones');
  }
}

/** The fields of POST /api/v1/training, from the one flag table (src/training/flags.ts): `--hidden-size` is hidden_size. */
const FIELDS = Object.fromEntries(API_FLAGS.map((f) => [apiFieldOf(f), fieldOf(f).optional()]));

export const StartTrainingBody = z
  .object({
    ...FIELDS,
    /** A partial training config in the shape of config.json; the fields above override it, as flags override --config. */
    config: z
      .object({
        data: z.record(z.string(), z.unknown()).optional(),
        dataset: z.record(z.string(), z.unknown()).optional(),
        model: z.record(z.string(), z.unknown()).optional(),
        training: z.record(z.string(), z.unknown()).optional(),
        /** Refused with forbidden_field: where runs go is the server's choice. */
        output: z.unknown().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

type StartTraining = z.output<typeof StartTrainingBody>;

const JobParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a job id is 1-64 letters, digits, "_" or "-"') }).strict();

function jobs(ctx: ServerContext): TrainingJobs {
  if (!ctx.trainingJobs) throw new HttpError(503, 'training_unavailable', 'this server was started without training workers');
  return ctx.trainingJobs;
}

/** The config layer the request's fields give (only fields present), as flagOverrides does for the CLI's flags. */
function fieldOverrides(body: StartTraining): Record<string, unknown> {
  return configLayer(body as Record<string, unknown>, API_FLAGS, apiFieldOf);
}

/** The request's config and fields merged under what the server fixes: where data comes from and where runs go. */
function trainConfigOf(ctx: ServerContext, body: StartTraining) {
  const config = body.config ?? {};
  if (config.output !== undefined || (config.data && 'database' in config.data)) {
    throw new HttpError(400, 'forbidden_field', 'config.output and config.data.database are set by the server, not by a request');
  }
  const parsed = parseTrainConfig(
    mergeConfig(config, fieldOverrides(body), {
      data: { database: ctx.database.url },
      output: { outputDir: ctx.outputDir },
    }),
    'training request',
    describeField,
  );
  // The config schema refuses symbol with symbols, and stock_type without symbols; a job needs one of the two.
  if (parsed.data.symbol === null && parsed.data.symbols === null) {
    throw new HttpError(400, 'bad_config', 'a training job needs symbol (one stock) or symbols (a universal model: "all" or a list)');
  }
  return parsed;
}

/** "training.learningRate" → "training.learningRate (lr)", so an error names the field the client sent. */
const describeField = (path: string) => describeFieldPath(path, API_FLAGS, apiFieldOf);

export async function trainingRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const auth = requireApiKey(ctx.apiKey);

  app.get(
    '/api/v1/training/defaults',
    {
      schema: routeSchema({
        summary: "The training config a request starts from (the CLI's defaults) and the fields it may set, from the flag table",
        tags: ['training'],
      }),
    },
    async () => {
      const defaults = parseTrainConfig({ data: { symbol: '000001' } }, 'defaults');
      const valueAt = (path: string) => path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | null)?.[key] ?? null, defaults);
      return {
        fields: API_FLAGS.map((f) => ({
          field: apiFieldOf(f),
          flag: `--${f.flag}`,
          path: f.path,
          kind: f.kind,
          help: f.help,
          default: f.path === 'data.symbol' ? null : valueAt(f.path),
        })),
      };
    },
  );

  app.post(
    '/api/v1/training',
    { onRequest: auth, schema: routeSchema({ body: StartTrainingBody, summary: 'Start a training job', tags: ['training'], secured: true }) },
    async (request, reply) => {
      const service = jobs(ctx);
      const config = trainConfigOf(ctx, request.body as StartTraining);
      const job = await service.start(config);
      return reply.code(202).header('location', `/api/v1/training/${job.id}`).send(job);
    },
  );

  app.get(
    '/api/v1/training/:id',
    { schema: routeSchema({ params: JobParams, summary: 'Status and progress of a training job', tags: ['training'] }) },
    async (request) => {
      const { id } = request.params as z.output<typeof JobParams>;
      const job = await jobs(ctx).get(id);
      if (!job) throw new HttpError(404, 'job_not_found', `no training job ${id}`);
      return job;
    },
  );

  app.delete(
    '/api/v1/training/:id',
    { onRequest: auth, schema: routeSchema({ params: JobParams, summary: 'Cancel a training job', tags: ['training'], secured: true }) },
    async (request) => {
      const { id } = request.params as z.output<typeof JobParams>;
      const job = await jobs(ctx).cancel(id);
      if (!job) throw new HttpError(404, 'job_not_found', `no training job ${id}`);
      return job;
    },
  );
}
