/**
 * Who may read `/metrics` (the API's, and a worker's on WORKER_HEALTH_PORT). Metrics name queues,
 * routes, error classes and volumes: internals, not for anyone on the network.
 * - METRICS_TOKEN set: only `Authorization: Bearer <METRICS_TOKEN>` (Prometheus: `authorization:
 *   { credentials: ... }` in the scrape config), from any address.
 * - METRICS_TOKEN unset: only a loopback client that is not a proxy forwarding someone else (no
 *   X-Forwarded-For / Forwarded header): a scraper on the same host, or `curl` by an operator.
 */
import { bearerToken, isLoopbackAddress, sameSecret } from '../security/credentials';

export interface MetricsRequest {
  authorization: string | undefined;
  /** The TCP peer's address (the socket's, not a forwarded one). */
  peerAddress: string | undefined;
  /** True when the request carries X-Forwarded-For or Forwarded: it came through a proxy. */
  forwarded: boolean;
}

export type MetricsAccess = { allowed: true } | { allowed: false; reason: string };

export function metricsAccess(request: MetricsRequest, token: string | undefined): MetricsAccess {
  if (token) {
    const given = bearerToken(request.authorization);
    if (given && sameSecret(given, token)) return { allowed: true };
    return { allowed: false, reason: 'Send "Authorization: Bearer <METRICS_TOKEN>" to read metrics.' };
  }
  if (!request.forwarded && isLoopbackAddress(request.peerAddress)) return { allowed: true };
  return { allowed: false, reason: 'Metrics are served to loopback clients only; set METRICS_TOKEN to scrape them over the network.' };
}
