import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { mergeConfig, parseTrainConfig } from '../../training/config.js';
import { requireApiKey } from '../auth.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import type { TrainingJobs } from '../ports.js';
import { modelTypeField, routeSchema, runNameField, symbolField } from '../schema.js';

export const StartTrainingBody = z
  .object({
    symbol: symbolField,
    model_type: modelTypeField.default('lstm'),
    run_name: runNameField.optional(),
    /** A partial training config in the shape of config.json; the fields inside are checked by the training schema. */
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

const JobParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a job id is 1-64 letters, digits, "_" or "-"') }).strict();

function jobs(ctx: ServerContext): TrainingJobs {
  if (!ctx.trainingJobs) throw new HttpError(503, 'training_unavailable', 'this server was started without training workers');
  return ctx.trainingJobs;
}

/** The request's config merged under what the server fixes: where data comes from and where runs go are the server's. */
function trainConfigOf(ctx: ServerContext, body: z.output<typeof StartTrainingBody>) {
  const config = body.config ?? {};
  if (config.output !== undefined || (config.data && 'database' in config.data)) {
    throw new HttpError(400, 'forbidden_field', 'config.output and config.data.database are set by the server, not by a request');
  }
  return parseTrainConfig(
    mergeConfig(config, {
      data: { symbol: body.symbol, database: ctx.database.url },
      model: { modelType: body.model_type },
      output: { outputDir: ctx.outputDir, runName: body.run_name ?? null },
    }),
    'training request',
  );
}

export async function trainingRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const auth = requireApiKey(ctx.apiKey);

  app.post(
    '/api/v1/training',
    { onRequest: auth, schema: routeSchema({ body: StartTrainingBody, summary: 'Start a training job', tags: ['training'], secured: true }) },
    async (request, reply) => {
      const service = jobs(ctx);
      const config = trainConfigOf(ctx, request.body as z.output<typeof StartTrainingBody>);
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
