import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BEST_RUN_METRIC } from '../../prediction/index.js';
import { rankedRuns, readRun } from '../../runs/index.js';
import { UserError } from '../../util/errors.js';
import type { ForecastKey } from '../cache.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import type { Forecast } from '../ports.js';
import { routeSchema, runNameField, symbolField } from '../schema.js';
import { existingRunDir } from './runs.js';

export const PredictBody = z
  .object({
    symbol: symbolField,
    /** 1…the run's horizon; without it, the whole horizon. */
    days: z.number().int().min(1).max(250).optional(),
    /** Without a run, the best completed run for the symbol by the best-run rule (docs/PREDICTION.md). */
    run: runNameField.optional(),
  })
  .strict();

/**
 * The runs to try, in order: the named one alone (it must be completed with a final model), else the symbol's
 * completed runs with a saved model (universal ones included), best first by the one best-run rule (rankedRuns).
 */
function candidateRuns(ctx: ServerContext, symbol: string, name: string | undefined): string[] {
  if (name !== undefined) {
    const run = readRun(existingRunDir(ctx, name));
    if (run.status !== 'completed' || !run.hasModel) {
      throw new HttpError(409, 'run_not_ready', `run ${name} cannot forecast: its status is ${run.status}${run.hasModel ? '' : ' and it has no final model'}`);
    }
    return [name];
  }
  const ranked = rankedRuns(
    ctx.runs.get().filter((r) => r.hasModel),
    BEST_RUN_METRIC,
    { symbol },
  );
  if (!ranked.length) throw new HttpError(404, 'no_run_for_symbol', `no completed run with test metrics for ${symbol}; train one, or name a run`);
  return ranked.map((r) => r.name);
}

/** A run that cannot be loaded (damaged or missing files): without a named run, the next best one is tried. */
function isUnloadable(err: unknown): err is UserError {
  return err instanceof UserError && (err.code === 'run_corrupt' || err.code === 'run_not_ready');
}

/** The forecast as answered: the runs skipped before `run` are warnings in front of the forecast's own. */
function withFallbackWarnings(forecast: Forecast, skipped: UserError[], run: string): Forecast {
  if (!skipped.length) return forecast;
  const warnings = skipped.map((e) => `${e.message}; forecast with the next best run ${run} instead`);
  return { ...forecast, warnings: [...warnings, ...(forecast.warnings ?? [])] };
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
      const runs = candidateRuns(ctx, body.symbol, body.run);
      const lastBarDate = await ctx.loader.getLatestTradeDate(body.symbol);
      if (lastBarDate === null) throw new HttpError(404, 'stock_not_found', `no bars for ${body.symbol} in the database`);
      // Without a named run, a best run that cannot be loaded is skipped for the next one, with a warning.
      const skipped: UserError[] = [];
      for (const run of runs) {
        const key: ForecastKey = { run, symbol: body.symbol, lastBarDate, days: body.days ?? 'horizon' };
        const cached = await ctx.cache.get(key).catch((err) => {
          request.log.warn({ err }, 'prediction cache read failed');
          return null;
        });
        if (cached) return reply.header('x-cache', 'hit').send(withFallbackWarnings(cached, skipped, run));
        let forecast: Forecast;
        try {
          forecast = await predictor.predict(body.symbol, { days: body.days, run, endDate: lastBarDate });
        } catch (err) {
          if (body.run !== undefined || !isUnloadable(err)) throw err;
          request.log.warn({ run, code: err.code }, 'best run cannot be loaded, trying the next one');
          skipped.push(err);
          continue;
        }
        await ctx.cache.set(key, forecast).catch((err) => request.log.warn({ err }, 'prediction cache write failed'));
        return reply.header('x-cache', 'miss').send(withFallbackWarnings(forecast, skipped, run));
      }
      const first = skipped[0];
      throw new UserError(
        runs.length > 1 ? `${first.message}; and none of the other ${runs.length - 1} completed run(s) of ${body.symbol} loads either` : first.message,
        first.code,
      );
    },
  );
}
