/** The contract's error shape, `{ error: { code, message, details? } }`, and the one middleware that emits it. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../logger';

export type ErrorCode =
  | 'validation_failed'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

const statusOf: Record<ErrorCode, number> = {
  validation_failed: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
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

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const httpError = toHttpError(err);
    if (httpError.status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
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
  return new HttpError('internal', 'Something went wrong on our side; it has been logged.');
}
