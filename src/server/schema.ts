/**
 * One way to validate: every route declares zod schemas; Fastify gets their JSON Schema (for OpenAPI at /docs)
 * and validates with zod itself, so what the docs show and what the server enforces come from the same object.
 */
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import { isIsoDate, normalizeSymbol } from '../data/index.js';
import { ModelConfigSchema } from '../models/config.js';
import { validateRunName } from '../runs/index.js';

/** JSON Schema keyword that ties a generated schema back to its zod source; stripped from the OpenAPI document. */
export const ZOD_ID_KEY = 'x-zod-id';

const registry = new Map<string, z.ZodType>();
const ids = new Map<z.ZodType, string>();

/** The JSON Schema of `schema` (as a request arrives, before transforms), remembered for the validator compiler. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  // One id per schema object, so creating many servers (tests) does not grow the registry.
  let id = ids.get(schema);
  if (id === undefined) {
    id = String(registry.size + 1);
    registry.set(id, schema);
    ids.set(schema, id);
  }
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...json, [ZOD_ID_KEY]: id };
}

interface RouteSchemas {
  params?: z.ZodType;
  querystring?: z.ZodType;
  body?: z.ZodType;
  summary?: string;
  description?: string;
  tags?: string[];
  /** Shown in the docs as needing the bearer key. */
  secured?: boolean;
}

/** A Fastify route schema from zod schemas. */
export function routeSchema(spec: RouteSchemas): FastifySchema {
  const schema: Record<string, unknown> = {};
  if (spec.params) schema.params = jsonSchemaOf(spec.params);
  if (spec.querystring) schema.querystring = jsonSchemaOf(spec.querystring);
  if (spec.body) schema.body = jsonSchemaOf(spec.body);
  if (spec.summary) schema.summary = spec.summary;
  if (spec.description) schema.description = spec.description;
  if (spec.tags) schema.tags = spec.tags;
  if (spec.secured) schema.security = [{ bearerAuth: [] }];
  return schema as FastifySchema;
}

/** A validation failure, answered as 400 `validation_error` with the zod issues as details. */
export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'validation_error';
  constructor(
    readonly part: string,
    readonly issues: Array<{ path: string; message: string }>,
  ) {
    super(`invalid ${part}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
  }
}

export const validatorCompiler: FastifySchemaCompiler<Record<string, unknown>> = ({ schema, httpPart }) => {
  const id = schema[ZOD_ID_KEY];
  const zod = typeof id === 'string' ? registry.get(id) : undefined;
  if (!zod) throw new Error(`route schema for ${httpPart} was not made by jsonSchemaOf()`);
  const part = httpPart === 'querystring' ? 'query string' : httpPart === 'params' ? 'path' : (httpPart ?? 'request');
  return (data: unknown) => {
    const result = zod.safeParse(data ?? (httpPart === 'body' ? undefined : {}));
    if (result.success) return { value: result.data };
    const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    return { error: new RequestValidationError(part, issues) };
  };
};

// ---------------------------------------------------------------------------------------------------------------
// Field schemas shared by the routes

/** lstm | gru | transformer: the model types, as the model config defines them. */
export const modelTypeField = ModelConfigSchema.shape.modelType;

/** A 6-digit code; 600519.SH, sh600519 and SH.600519 are read as 600519. */
export const symbolField = z
  .string()
  .max(16)
  .transform((text, ctx) => {
    const symbol = normalizeSymbol(text);
    if (symbol === null) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a 6-digit A-share code (e.g. 600519)` });
      return z.NEVER;
    }
    return symbol;
  });

export const dateField = z.string().max(10).refine(isIsoDate, { message: 'expected a real date as YYYY-MM-DD' });

/** A run name that names a folder directly inside the output dir (the run store's own rule). */
export const runNameField = z
  .string()
  .max(128)
  .superRefine((name, ctx) => {
    try {
      validateRunName(name);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** Query-string integers arrive as text. */
export function queryInt(min: number, max: number) {
  return z.coerce.number().int().min(min).max(max);
}
