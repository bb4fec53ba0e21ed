/**
 * The one error shape of the API: {error: {code, message, details, request_id}}. Every failure passes through
 * here, so bad input of any kind (schema, JSON, media type, size, unknown route, rate limit, a UserError from
 * deeper layers) becomes a 4xx with a code a program can switch on; only real server faults are 5xx.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnreachable } from '../data/index.js';
import { UserError } from '../util/errors.js';
import { RequestValidationError } from './schema.js';

export interface ErrorBody {
  error: { code: string; message: string; details: unknown; request_id: string };
}

/** An error the API raises itself, with its HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** HTTP status of a UserError code from the data, training or prediction layers. */
export function statusOfUserError(code: string): number {
  if (code === 'db_unreachable') return 503;
  if (code.endsWith('not_found')) return 404;
  if (code === 'conflict' || code.endsWith('_conflict') || code === 'run_not_ready' || code === 'run_corrupt') return 409;
  if (code === 'unavailable') return 503;
  return 400;
}

/** Codes for Fastify's own 4xx errors (bad JSON, wrong content type, body too large...). */
const FASTIFY_STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
};

export function sendError(request: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string, details: unknown = null): FastifyReply {
  const body: ErrorBody = { error: { code, message, details, request_id: String(request.id) } };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** A database without the schema (never migrated, or a user's own database missing a table). */
function isMissingTable(err: Error): boolean {
  return (err as { code?: string }).code === 'ER_NO_SUCH_TABLE' || /no such table/i.test(err.message);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    if (err instanceof RequestValidationError) return sendError(request, reply, 400, err.code, err.message, { part: err.part, issues: err.issues });
    if (err instanceof HttpError) return sendError(request, reply, err.statusCode, err.code, err.message, err.details);
    if (err instanceof UserError) return sendError(request, reply, statusOfUserError(err.code), err.code, err.message, err.details ?? null);
    const status = (err as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const fastifyCode = (err as FastifyError).code;
      const code = (err as { klinecastCode?: string }).klinecastCode ?? FASTIFY_STATUS_CODES[status] ?? 'bad_request';
      return sendError(request, reply, status, code, err.message, fastifyCode ? { fastify_code: fastifyCode } : null);
    }
    if (isDatabaseUnreachable(err)) {
      request.log.warn({ err }, 'database unreachable');
      return sendError(request, reply, 503, 'db_unreachable', 'the database does not answer; /health shows its state. Try again when it is back');
    }
    if (isMissingTable(err)) {
      return sendError(request, reply, 503, 'database_not_ready', `the database lacks klinecast's tables (${err.message}); run \`klinecast db migrate\``);
    }
    request.log.error({ err }, 'request failed');
    return sendError(request, reply, 500, 'internal_error', 'internal server error; the server log has the details under this request id');
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, 404, 'route_not_found', `no route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`),
  );
}
