import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { readRun } from '../../runs/index.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { dateField, queryInt, routeSchema, runNameField } from '../schema.js';
import { existingRunDir } from './runs.js';

const RankingParams = z.object({ name: runNameField }).strict();
const RankingQuery = z
  .object({
    /** Forecast from the last bar on or before this date; default: the latest bar. */
    date: dateField.optional(),
    top: queryInt(1, 10_000).optional(),
  })
  .strict();

export async function rankingRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/runs/:name/ranking',
    {
      schema: routeSchema({
        params: RankingParams,
        querystring: RankingQuery,
        summary: "A universal run's ranking of the market by predicted next-day return",
        tags: ['predict'],
      }),
    },
    async (request) => {
      const { name } = request.params as z.output<typeof RankingParams>;
      const q = request.query as z.output<typeof RankingQuery>;
      const predictor = ctx.predictor;
      if (!predictor?.rank) throw new HttpError(503, 'predictor_unavailable', 'this server was started without a prediction engine');
      const run = readRun(existingRunDir(ctx, name));
      if (run.status !== 'completed' || !run.hasModel) throw new HttpError(409, 'run_not_ready', `run ${name} cannot forecast: its status is ${run.status}`);
      if (run.symbol !== null)
        throw new HttpError(
          400,
          'not_universal',
          `run ${name} was trained on ${run.symbol} alone; a ranking needs a universal run (klinecast train --symbols)`,
        );
      return predictor.rank(name, { endDate: q.date, top: q.top });
    },
  );
}
