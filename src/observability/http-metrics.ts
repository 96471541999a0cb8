/**
 * Request rate, latency and errors of the API, labelled by the Express route pattern
 * (`/api/v2/posts/:postId`), never by the raw path: ids in paths would make one series per post.
 */
import type { Request, RequestHandler } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Label of requests that matched no route (401 before routing, 404, the dashboard's static files). */
export const UNMATCHED_ROUTE = '(unmatched)';

/** From a cached read (~5 ms) to a long `publish?wait=` (tens of seconds). */
const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Node accepts dozens of methods; anything unusual shares one label value. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const routeBase = Symbol('heraldRouteBase');
type RequestWithBase = Request & { [routeBase]?: string };

/**
 * Put first in every mounted router: Express restores `req.baseUrl` when a request leaves a router
 * (an error on its way to the error middleware), so the mount path is remembered here.
 */
export const rememberRouteBase: RequestHandler = (req, _res, next) => {
  (req as RequestWithBase)[routeBase] = req.baseUrl;
  next();
};

export function httpMetrics(registry: Registry): RequestHandler {
  const registers = [registry];
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({ name: 'herald_http_requests_total', help: 'HTTP requests answered by the API.', labelNames, registers });
  const errors = new Counter({ name: 'herald_http_request_errors_total', help: 'HTTP requests answered with a 5xx status.', labelNames, registers });
  const duration = new Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to sending the last byte of its response.',
    labelNames,
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });

  return (req, res, next) => {
    const stopTimer = duration.startTimer();
    res.once('finish', () => {
      const labels = { method: methodLabel(req.method), route: routeLabel(req), status_code: String(res.statusCode) };
      stopTimer(labels);
      requests.inc(labels);
      if (res.statusCode >= 500) errors.inc(labels);
    });
    next();
  };
}

/** The matched pattern with its mount path, e.g. `/api/v2` + `/posts/:postId`. */
export function routeLabel(req: Request): string {
  const pattern: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern !== 'string') return UNMATCHED_ROUTE;
  const base = (req as RequestWithBase)[routeBase] ?? req.baseUrl ?? '';
  return `${base}${pattern}`;
}

function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}

/** `GET /metrics` for a registry, in the Prometheus text format. */
export function metricsEndpoint(registry: Registry): RequestHandler {
  return async (_req, res, next) => {
    try {
      const body = await registry.metrics();
      res.set('Content-Type', registry.contentType).send(body);
    } catch (err) {
      next(err);
    }
  };
}
