import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { bestRun, readRun } from '../../runs/index.js';
import type { ForecastKey } from '../cache.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { routeSchema, runNameField, symbolField } from '../schema.js';
import { existingRunDir } from './runs.js';

export const PredictBody = z
  .object({
    symbol: symbolField,
    /** 1…the run's horizon; without it, the whole horizon. */
    days: z.number().int().min(1).max(250).optional(),
    /** Without a run, the best completed run for the symbol by test MAE. */
    run: runNameField.optional(),
  })
  .strict();

/** The run to forecast with: the named one (it must be completed with a final model), else the symbol's best by MAE. */
function chooseRun(ctx: ServerContext, symbol: string, name: string | undefined): string {
  if (name !== undefined) {
    const run = readRun(existingRunDir(ctx, name));
    if (run.status !== 'completed' || !run.hasModel) {
      throw new HttpError(409, 'run_not_ready', `run ${name} cannot forecast: its status is ${run.status}${run.hasModel ? '' : ' and it has no final model'}`);
    }
    return name;
  }
  const best = bestRun(ctx.runs.get(), 'mae', { symbol });
  if (!best) throw new HttpError(404, 'no_run_for_symbol', `no completed run with test metrics for ${symbol}; train one, or name a run`);
  return best.name;
}

export async function predictRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/predict',
    {
      schema: routeSchema({
        body: PredictBody,
        summary: 'Forecast the next trading days of a stock with a trained run',
        description: 'Cached by (run, symbol, last bar date, days); the x-cache header says hit or miss.',
        tags: ['predict'],
      }),
    },
    async (request, reply) => {
      const body = request.body as z.output<typeof PredictBody>;
      const predictor = ctx.predictor;
      if (!predictor) throw new HttpError(503, 'predictor_unavailable', 'this server was started without a prediction engine');
      const run = chooseRun(ctx, body.symbol, body.run);
      const lastBarDate = await ctx.loader.getLatestTradeDate(body.symbol);
      if (lastBarDate === null) throw new HttpError(404, 'stock_not_found', `no bars for ${body.symbol} in the database`);
      const key: ForecastKey = { run, symbol: body.symbol, lastBarDate, days: body.days ?? 'horizon' };
      const cached = await ctx.cache.get(key).catch((err) => {
        request.log.warn({ err }, 'prediction cache read failed');
        return null;
      });
      if (cached) return reply.header('x-cache', 'hit').send(cached);
      const forecast = await predictor.predict(body.symbol, { days: body.days, run, endDate: lastBarDate });
      await ctx.cache.set(key, forecast).catch((err) => request.log.warn({ err }, 'prediction cache write failed'));
      return reply.header('x-cache', 'miss').send(forecast);
    },
  );
}
