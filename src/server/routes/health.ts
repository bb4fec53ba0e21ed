import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ServerContext } from '../context.js';
import { routeSchema } from '../schema.js';

const started = Date.now();

/** GET /health: 200 when the database answers, 503 when it does not (what a load balancer probes). */
export async function healthRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/health',
    { schema: routeSchema({ summary: 'Server and database health', tags: ['health'] }), config: { rateLimit: false } },
    async (_request, reply) => {
      const t0 = performance.now();
      let database: Record<string, unknown>;
      try {
        await sql`select 1`.execute(ctx.database.db);
        database = { status: 'ok', dialect: ctx.database.dialect, latency_ms: Number((performance.now() - t0).toFixed(2)) };
      } catch (err) {
        database = { status: 'error', dialect: ctx.database.dialect, message: (err as Error).message };
      }
      const ok = database.status === 'ok';
      return reply.code(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'error',
        version: ctx.version,
        uptime_s: Math.round((Date.now() - started) / 1000),
        database,
        cache: ctx.cache.kind,
        cache_fallback: ctx.cache.fallback ?? null,
        predictor: ctx.predictor !== null,
        training: ctx.trainingJobs !== null,
      });
    },
  );
}
