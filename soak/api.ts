/**
 * The soak's HTTP client for Herald's API v2: one call, never throws, timed; the caller decides
 * what a careful client does next (send again with the same Idempotency-Key, retry a DELETE, …).
 */
import { performance } from 'node:perf_hooks';
import type { PostView } from '../src/api/schemas';
import { describeFetchError } from '../bench/lib';

export interface ApiAnswer<T = unknown> {
  /** 0 when no HTTP answer came (connection refused or dropped, timeout). */
  status: number;
  body: T | undefined;
  ms: number;
  error?: string;
  retryAfterSeconds?: number;
}

export async function callApi<T = unknown>(
  baseUrl: string,
  apiKey: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ApiAnswer<T>> {
  const started = performance.now();
  const headers: Record<string, string> = { Authorization: `Bearer ${apiKey}`, ...options.headers };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    return { status: response.status, body: body as T, ms: performance.now() - started, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined };
  } catch (err) {
    return { status: 0, body: undefined, ms: performance.now() - started, error: describeFetchError(err) };
  }
}


export function isPostView(body: unknown): body is PostView {
  return typeof body === 'object' && body !== null && typeof (body as { id?: unknown }).id === 'number' && typeof (body as { status?: unknown }).status === 'string';
}

/** The error code and reason of an API error body (`{error: {code, details}}`), for the record. */
export function errorReason(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = (body as { error?: { code?: string; message?: string; details?: unknown } }).error;
  const details = error?.details as { reason?: string } | undefined;
  return [error?.code, details?.reason].filter(Boolean).join(':') || error?.message;
}
