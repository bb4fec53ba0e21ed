/**
 * createServer: the klinecast HTTP API and dashboard as one Fastify app, assembled from plugin-shaped parts
 * (errors, request ids, rate limit, OpenAPI, routes, static dashboard). It never listens by itself: `serve`
 * and the tests call listen(), and inject() works without a socket.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { StockDataLoader, type DatabaseHandle } from '../data/index.js';
import { DEFAULT_OUTPUT_DIR } from '../runs/index.js';
import { KLINECAST_VERSION } from '../util/version.js';
import { createPredictionCache, type PredictionCache } from './cache.js';
import { RunList, type ServerContext } from './context.js';
import { HttpError, registerErrorHandling, sendError } from './errors.js';
import type { Predictor, TrainingJobs } from './ports.js';
import { backtestRoutes } from './routes/backtests.js';
import { batchRoutes } from './routes/batches.js';
import { healthRoutes } from './routes/health.js';
import { modelRoutes } from './routes/model.js';
import { predictRoutes } from './routes/predict.js';
import { predictionRoutes } from './routes/predictions.js';
import { rankingRoutes } from './routes/ranking.js';
import { runRoutes } from './routes/runs.js';
import { simulationRoutes } from './routes/simulations.js';
import { stockRoutes } from './routes/stocks.js';
import { trainingRoutes } from './routes/training.js';
import { ZOD_ID_KEY, validatorCompiler } from './schema.js';

export interface RateLimitOptions {
  /** Requests per client IP per window. */
  max: number;
  timeWindowMs: number;
}

export interface ServerOptions {
  /** An open database; the caller owns it and closes it after the server. */
  database: DatabaseHandle;
  /** The folder holding the runs (default out/). */
  outputDir?: string;
  /** The bearer key for mutating routes; default KLINECAST_API_KEY. Null or empty refuses those routes. */
  apiKey?: string | null;
  predictor?: Predictor | null;
  trainingJobs?: TrainingJobs | null;
  /** Default: Redis when KLINECAST_REDIS_URL is set, else in-memory. Closed with the server. */
  cache?: PredictionCache;
  /** Default 600 requests per minute per IP; false turns limiting off (benchmarks). */
  rateLimit?: RateLimitOptions | false;
  /** The built dashboard (index.html and assets); default dist/web of this package. Null serves no dashboard. */
  webDir?: string | null;
  /** Fastify's logger option; default off. */
  logger?: FastifyServerOptions['logger'];
  /** Largest accepted request body in bytes (default 64 KiB: the API takes small JSON only). */
  bodyLimit?: number;
  /** How long the list of runs is reused (default 2000 ms; 0 reads the folders on every request). */
  runListTtlMs?: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 600, timeWindowMs: 60_000 };

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** dist/web beside the package, whether this file runs from src/ (tsx) or dist/ (built). */
export const DEFAULT_WEB_DIR = resolve(PACKAGE_ROOT, 'dist/web');

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

function stripZodIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripZodIds);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== ZOD_ID_KEY)
      .map(([k, v]) => [k, stripZodIds(v)]),
  );
}

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // A client's X-Request-Id is kept when it is a sane token, so logs can be joined across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    routerOptions: { maxParamLength: 512 },
    // Errors the router raises before any hook (a malformed percent-encoding in the URL) get the same shape.
    frameworkErrors: (error, request, reply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      reply.header('x-request-id', request.id);
      sendError(request, reply, status, 'bad_url', error.message, { fastify_code: error.code });
    },
  });
  const apiKey = options.apiKey === undefined ? (process.env.KLINECAST_API_KEY ?? null) : options.apiKey;
  const outputDir = resolve(options.outputDir ?? DEFAULT_OUTPUT_DIR);
  const ctx: ServerContext = {
    database: options.database,
    loader: new StockDataLoader(options.database),
    outputDir,
    runs: new RunList(outputDir, options.runListTtlMs ?? 2000),
    apiKey: apiKey || null,
    predictor: options.predictor ?? null,
    trainingJobs: options.trainingJobs ?? null,
    cache: options.cache ?? createPredictionCache(),
    version: KLINECAST_VERSION,
  };
  app.addHook('onClose', async () => {
    await ctx.cache.close();
    await ctx.trainingJobs?.close?.();
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // The API takes JSON bodies only; anything else is answered 415 instead of reaching a schema as a string.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  registerErrorHandling(app);

  const limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  if (limit !== false) {
    await app.register(rateLimit, {
      global: true,
      max: limit.max,
      timeWindow: limit.timeWindowMs,
      errorResponseBuilder: (_request, context) =>
        new HttpError(context.statusCode, 'rate_limited', `rate limit of ${context.max} requests per ${context.after} exceeded; retry after ${context.after}`, {
          limit: context.max,
          retry_after: context.after,
        }),
    });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'klinecast API', version: ctx.version, description: 'A-share price forecasting: stocks, runs, predictions and training jobs.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'KLINECAST_API_KEY' } } },
    },
    transform: ({ schema, url }) => ({ schema: stripZodIds(schema) as typeof schema, url }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(async (api) => {
    await healthRoutes(api, ctx);
    await stockRoutes(api, ctx);
    await runRoutes(api, ctx);
    await batchRoutes(api, ctx);
    await backtestRoutes(api, ctx);
    await simulationRoutes(api, ctx);
    await modelRoutes(api, ctx);
    await predictRoutes(api, ctx);
    await rankingRoutes(api, ctx);
    await predictionRoutes(api, ctx);
    await trainingRoutes(api, ctx);
  });

  const webDir = options.webDir === undefined ? DEFAULT_WEB_DIR : options.webDir;
  if (webDir && existsSync(resolve(webDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: resolve(webDir), prefix: '/', decorateReply: false, index: ['index.html'], wildcard: true, schemaHide: true });
  } else {
    app.get('/', { schema: { hide: true } }, async () => {
      throw new HttpError(404, 'dashboard_not_built', 'the dashboard is not built: run `npm run build:web` (the API is under /api/v1, its docs at /docs)');
    });
  }
  return app;
}
