import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listForecasts, type LedgerEntry, type LedgerFilter } from '../../data/index.js';
import { scoreLedger, type LedgerFigures as Figures } from '../../prediction/index.js';
import type { LedgerFigures, LedgerRow, LedgerScore } from '../../wire/index.js';
import type { ServerContext } from '../context.js';
import { dateField, queryInt, routeSchema, runNameField, symbolField } from '../schema.js';

/** The filters of `klinecast predictions list`. */
const LedgerQuery = z
  .object({
    run: runNameField.optional(),
    symbol: symbolField.optional(),
    /** Forecasts whose base date is on or after this day. */
    since: dateField.optional(),
    limit: queryInt(1, 10_000).default(1000),
  })
  .strict();

const ScoreQuery = LedgerQuery.omit({ limit: true });

export function ledgerRowJson(e: LedgerEntry): LedgerRow {
  return {
    run: e.run,
    symbol: e.symbol,
    base_date: e.baseDate,
    target_date: e.targetDate,
    step: e.step,
    base_close: e.baseClose,
    predicted_price: e.predictedPrice,
    predicted_return: e.predictedReturn,
    lower: e.lower,
    upper: e.upper,
    interval_method: e.intervalMethod,
    interval_level: e.intervalLevel,
    source: e.source,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
    live: e.live,
    actual_close: e.actualClose,
    error: e.error,
    abs_error: e.absError,
    actual_return: e.actualReturn,
    in_interval: e.inInterval,
  };
}

function figuresJson(f: Figures): LedgerFigures {
  return { n: f.n, mae: f.mae, skill: f.skill, direction_accuracy: f.directionAccuracy, coverage: f.coverage, level: f.level };
}

function filterOf(q: { run?: string; symbol?: string; since?: string }): LedgerFilter {
  return { run: q.run, symbol: q.symbol, since: q.since };
}

export async function predictionRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/predictions',
    {
      schema: routeSchema({
        querystring: LedgerQuery,
        summary: 'Recorded forecasts (the prediction ledger), newest base date first, with the actual close once known',
        tags: ['predict'],
      }),
    },
    async (request) => {
      const q = request.query as z.output<typeof LedgerQuery>;
      const rows = await listForecasts(ctx.database, filterOf(q), q.limit);
      return { items: rows.map(ledgerRowJson), limit: q.limit };
    },
  );

  app.get(
    '/api/v1/predictions/score',
    {
      schema: routeSchema({
        querystring: ScoreQuery,
        summary: "Per run: live MAE, skill against persistence, direction accuracy and interval coverage beside its test segment's",
        tags: ['predict'],
      }),
    },
    async (request): Promise<LedgerScore> => {
      const q = request.query as z.output<typeof ScoreQuery>;
      const score = await scoreLedger(ctx.database, filterOf(q), ctx.outputDir);
      return {
        runs: score.runs.map((r) => ({
          run: r.run,
          symbols: r.symbols,
          recorded: r.recorded,
          pending: r.pending,
          hindsight: r.hindsight,
          first_base_date: r.firstBaseDate,
          last_target_date: r.lastTargetDate,
          live: { ...figuresJson(r.live), persistence_mae: r.live.persistenceMae },
          test: r.test ? figuresJson(r.test) : null,
          steps: r.steps.map((s) => ({
            step: s.step,
            live: { ...figuresJson(s.live), persistence_mae: s.live.persistenceMae },
            test: s.test ? figuresJson(s.test) : null,
          })),
        })),
      };
    },
  );
}
