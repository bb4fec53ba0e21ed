/**
 * Walk-forward backtests (docs/BACKTESTING.md): the list of out/backtests/, one backtest's config summary and
 * results.json, and its forecasts. Thin over src/runs/backtests.ts; folders are found as run folders are
 * (existingRunDirFor: a validated name, a real folder whose realpath is inside out/backtests/), so a link is no backtest.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  BACKTESTS_DIR,
  existingRunDirFor,
  listBacktests,
  readBacktestDetails,
  readBacktestForecasts,
  selectBacktestForecasts,
  type BacktestInfo,
} from '../../runs/index.js';
import { UserError } from '../../util/errors.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { queryInt, routeSchema, runNameField, symbolField } from '../schema.js';

const BacktestParams = z.object({ name: runNameField }).strict();
const ForecastsQuery = z.object({ symbol: symbolField.optional(), step: queryInt(1, 1000).optional() }).strict();

/** The folder of an existing backtest, or 404 (a link in out/backtests/, to /etc say, is no backtest). */
export function existingBacktestDir(ctx: ServerContext, name: string): string {
  try {
    return existingRunDirFor(join(ctx.outputDir, BACKTESTS_DIR), name);
  } catch {
    throw new HttpError(404, 'backtest_not_found', `no backtest named ${name}`);
  }
}

/** A backtest as the API lists it: no folder path (the server's own), snake_case as the other routes. */
function toBacktestSummary(b: BacktestInfo) {
  return {
    name: b.name,
    status: b.status,
    reason: b.reason,
    created_at: b.createdAt,
    symbol: b.symbol,
    stocks: b.stocks,
    model_type: b.modelType,
    start: b.start,
    end: b.end,
    retrain: b.retrain,
    folds_done: b.foldsDone,
    folds_total: b.foldsTotal,
    skill: b.skill,
    dm_p: b.dmP,
    coverage: b.coverage,
    coverage_split_conformal: b.coverageSplitConformal,
    coverage_aci: b.coverageAci,
    summary: b.summary,
  };
}

export async function backtestRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/backtests',
    { schema: routeSchema({ summary: 'Walk-forward backtests of out/backtests/, newest first, as `klinecast backtest list`', tags: ['backtests'] }) },
    async () => {
      const items = listBacktests(ctx.outputDir).map(toBacktestSummary);
      return { items, total: items.length };
    },
  );

  app.get(
    '/api/v1/backtests/:name',
    {
      schema: routeSchema({
        params: BacktestParams,
        summary: 'One backtest: status, config summary (settings, fold plan, data, model), results.json per fold and overall',
        tags: ['backtests'],
      }),
    },
    async (request) => {
      const { name } = request.params as z.output<typeof BacktestParams>;
      const details = readBacktestDetails(existingBacktestDir(ctx, name));
      return { backtest: toBacktestSummary(details.info), symbols: details.symbols, config: details.config, results: details.results };
    },
  );

  app.get(
    '/api/v1/backtests/:name/forecasts',
    {
      schema: routeSchema({
        params: BacktestParams,
        querystring: ForecastsQuery,
        summary: "The backtest's out-of-sample forecasts against actual prices (forecasts.json), optionally of one stock and one step",
        tags: ['backtests'],
      }),
    },
    async (request) => {
      const { name } = request.params as z.output<typeof BacktestParams>;
      const filter = request.query as z.output<typeof ForecastsQuery>;
      const dir = existingBacktestDir(ctx, name);
      try {
        return { backtest: name, ...selectBacktestForecasts(readBacktestForecasts(dir), filter) };
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        if (err.code === 'run_not_ready')
          throw new HttpError(404, 'forecasts_not_found', `backtest ${name} has no forecasts.json yet (it is written when the last fold is done)`);
        throw new HttpError(409, 'backtest_files_unreadable', err.message);
      }
    },
  );
}
