/** The contract's error shape, `{ error: { code, message, details? } }`, and the one middleware that emits it. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../logger';

/** Every code the API answers with; the OpenAPI document's Error schema lists them. */
export const ERROR_CODES = [
  'validation_failed',
  'unauthorized',
  'not_found',
  'method_not_allowed',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'range_not_satisfiable',
  'rate_limited',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const statusOf: Record<ErrorCode, number> = {
  validation_failed: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export interface ErrorDetail {
  path: string;
  message: string;
  [key: string]: unknown;
}

export class HttpError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string, readonly details?: ErrorDetail[] | Record<string, unknown>) {
    super(message);
    this.status = statusOf[code];
  }
}

export const notFound = (what = 'resource') => new HttpError('not_found', `The ${what} was not found.`);

export function validationFailed(details: ErrorDetail[]): HttpError {
  const summary = details.map((detail) => `${detail.path}: ${detail.message}`).join('; ');
  return new HttpError('validation_failed', `Invalid request: ${summary}`, details);
}

export function zodDetails(error: z.ZodError, prefix?: string): ErrorDetail[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return { path: path || '(body)', message: issue.message };
  });
}

/** Parses with zod, turning failures into a 400 that names each bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, prefix?: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(zodDetails(result.error, prefix));
  return result.data;
}

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new HttpError('not_found', `No route for ${req.method} ${req.path}.`));
};

/** A path the API serves, with the methods it answers (HEAD and OPTIONS are implied). */
export interface KnownPath {
  pattern: RegExp;
  methods: string[];
}

/** `/api/v2/posts/{postId}` → a pattern matching one path segment per parameter. */
export function knownPath(template: string, methods: string[]): KnownPath {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((piece) => (/^\{[^}]+\}$/.test(piece) ? '[^/]+' : piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return { pattern: new RegExp(`^${source}/?$`), methods: methods.map((method) => method.toUpperCase()) };
}

function allowOf(known: KnownPath): string {
  const methods = new Set(known.methods);
  if (methods.has('GET')) methods.add('HEAD');
  methods.add('OPTIONS');
  return [...methods].join(', ');
}

/**
 * OPTIONS on a known path: 204 with `Allow` listing exactly its methods. Mounted before the routers,
 * so no router's automatic OPTIONS answer advertises another router's methods.
 */
export function optionsOfKnownPaths(paths: KnownPath[]): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'OPTIONS') return next();
    const known = paths.find((candidate) => candidate.pattern.test(req.path));
    if (!known) return next();
    res.setHeader('Allow', allowOf(known));
    res.status(204).end();
  };
}

/**
 * A known path asked with a method it does not answer: 405 with `Allow` (RFC 9110), not 404.
 * Mounted after every route, so it only ever replaces a "no route" answer.
 */
export function methodNotAllowed(paths: KnownPath[]): RequestHandler {
  return (req, res, next) => {
    const known = paths.find((candidate) => candidate.pattern.test(req.path));
    if (!known || known.methods.includes(req.method) || (req.method === 'HEAD' && known.methods.includes('GET'))) return next();
    res.setHeader('Allow', allowOf(known));
    next(new HttpError('method_not_allowed', `${req.path} does not answer ${req.method}; it answers ${allowOf(known)}.`, { allow: allowOf(known).split(', ') }));
  };
}

/** A request body that is not JSON: 415 (express.json would leave it unread and the route would see no body). */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody || req.is('application/json')) return next();
  next(new HttpError('unsupported_media_type', `Send the request body as JSON (Content-Type: application/json), not ${req.get('content-type') ?? 'without a Content-Type'}.`));
};

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const httpError = toHttpError(err);
    if (httpError.status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (httpError.status === 503) res.setHeader('Retry-After', '5');
    const body: Record<string, unknown> = { code: httpError.code, message: httpError.message };
    if (httpError.details) body.details = httpError.details;
    res.status(httpError.status).json({ error: body });
  };
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const bodyError = err as { type?: string; status?: number };
  if (bodyError?.type === 'entity.too.large') return new HttpError('payload_too_large', 'The request body is too large.');
  if (bodyError?.type === 'entity.parse.failed') {
    return validationFailed([{ path: '(body)', message: 'The body is not valid JSON.' }]);
  }
  if (bodyError?.type === 'encoding.unsupported' || bodyError?.type === 'charset.unsupported') {
    return new HttpError('unsupported_media_type', 'Send the request body as UTF-8 JSON.');
  }
  if (typeof bodyError?.status === 'number' && bodyError.status >= 400 && bodyError.status < 500 && typeof bodyError.type === 'string') {
    // Another body-parser refusal (e.g. request.aborted, stream.encoding.set): the request, not us.
    return validationFailed([{ path: '(body)', message: 'The body could not be read.' }]);
  }
  if (isConnectionFailure(err)) return new HttpError('unavailable', 'The database did not answer; retry shortly.');
  return new HttpError('internal', 'Something went wrong on our side; it has been logged.');
}

/** Postgres (or its pool) not answering: 503, never 500. */
export function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : '';
  return (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|57P0[1-3]|08\d{3})$/.test(code))
    || /Connection terminated|connect ECONNREFUSED|Knex: Timeout acquiring a connection/i.test(message);
}
