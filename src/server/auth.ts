/**
 * Bearer-key auth for the routes that change state. The key is compared in constant time (both sides hashed to
 * equal length first, so not even the key's length leaks). A server started without a key refuses them all.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { HttpError } from './errors.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function keysEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/** An onRequest hook: runs before the body is parsed, so an unauthenticated client learns nothing about validation. */
export function requireApiKey(apiKey: string | null): onRequestAsyncHookHandler {
  return async (request, reply) => {
    if (!apiKey) {
      throw new HttpError(
        403,
        'auth_not_configured',
        'this route changes state and is disabled: start the server with KLINECAST_API_KEY set, then send Authorization: Bearer <key>',
      );
    }
    const token = bearerToken(request);
    if (token === null) {
      reply.header('www-authenticate', 'Bearer realm="klinecast"');
      throw new HttpError(401, 'unauthorized', 'this route needs the header Authorization: Bearer <KLINECAST_API_KEY>');
    }
    if (!keysEqual(token, apiKey)) {
      reply.header('www-authenticate', 'Bearer realm="klinecast", error="invalid_token"');
      throw new HttpError(401, 'unauthorized', 'the API key is wrong');
    }
  };
}
