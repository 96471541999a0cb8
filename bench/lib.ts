/**
 * Small tools the bench scenarios share: latency statistics, a bounded worker pool, HTTP calls to
 * the API with a per-request timeout, polling with a deadline, and /proc memory readings.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';

/** What every child process inherits from this one: PATH and HOME, nothing else (no secrets, no tuning by accident). */
export function hostEnvironment(): { PATH: string; HOME: string } {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir() };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (no interpolation: every reported value was really observed). */
export function summarize(values: number[]): Summary {
  if (values.length === 0) return { count: 0, min: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { count: sorted.length, min: sorted[0]!, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1]!, mean };
}

/**
 * Runs `task(0..count-1)` with at most `concurrency` in flight; stops starting new tasks once
 * `deadlineMs` has passed (the missing results are reported by the caller's correctness checks).
 */
export async function runPool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>, deadlineMs = 30 * 60_000): Promise<Array<T | undefined>> {
  const results: Array<T | undefined> = new Array(count);
  const stopAt = Date.now() + deadlineMs;
  let next = 0;
  const lane = async () => {
    while (next < count && Date.now() < stopAt) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  ms: number;
  error?: string;
}

/** Creates that were sent again after the connection dropped before any answer (reported with the results). */
export const connectionRetries = { count: 0, sample: '' };

/**
 * One API call, timed on the client side (request sent → whole body read, a retry included). Never
 * throws. A POST carries an Idempotency-Key, as a careful client's would: when the connection drops
 * before any answer (e.g. a keep-alive socket the busy server closed just as it was reused), the
 * same request is sent once more with the same key — the API then creates the post at most once.
 */
export async function callApi(baseUrl: string, apiKey: string, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<ApiResponse> {
  const started = performance.now();
  const headers: Record<string, string> = { Authorization: `Bearer ${apiKey}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method === 'POST') headers['Idempotency-Key'] = randomUUID();
  const send = async (): Promise<ApiResponse> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed, ms: performance.now() - started };
  };
  try {
    return await send();
  } catch (firstErr) {
    const dropped = firstErr instanceof TypeError && method === 'POST';
    try {
      if (!dropped) throw firstErr;
      connectionRetries.count += 1;
      connectionRetries.sample ||= describeFetchError(firstErr);
      return await send();
    } catch (err) {
      return { status: 0, body: undefined, ms: performance.now() - started, error: describeFetchError(err) };
    }
  }
}

export function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

/** Polls until `probe` returns a value (not undefined); throws after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

/** Resident and peak resident memory of a process in MB, from /proc/<pid>/status; undefined when gone. */
export function memoryOf(pid: number | undefined): { rssMb: number; hwmMb: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** The name of the process (to prove a pid is node itself, not a wrapper). */
export function processName(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/** A seeded PRNG (mulberry32, the fakes' own): the same spread of scheduled times on every run. */
export { mulberry32 as seededRandom } from '../test/fakes/http-faults';

export const round = (value: number, digits = 1) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

/** `<dir>/<YYYY-MM-DD-HHMM>.json` and `.md` (UTC) for a run started at `startedAt`; a second run in the same minute gets a suffix. */
export function resultFiles(dir: string, startedAt: string | number | Date): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const started = new Date(startedAt);
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${started.getUTCFullYear()}-${pad(started.getUTCMonth() + 1)}-${pad(started.getUTCDate())}-${pad(started.getUTCHours())}${pad(started.getUTCMinutes())}`;
  let base = stamp;
  for (let n = 2; existsSync(join(dir, `${base}.json`)); n++) base = `${stamp}-${n}`;
  return { json: join(dir, `${base}.json`), markdown: join(dir, `${base}.md`) };
}

export interface HeraldChildInputs {
  /** Names the run in the children's secrets and rate-limit keys (bench, soak). */
  purpose: string;
  apiPort: number;
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
  taskQueue: string;
  twitterApiBaseUrl: string;
  linkedinApiBaseUrl: string;
  metaGraphApiBaseUrl: string;
  linkedinApiVersion: string;
}

/**
 * What a Herald child of the bench or the soak gets: nothing inherited but PATH and HOME, its own
 * services and fakes, and rate limits on (their Redis calls are part of the cost) far above the load,
 * counted under a prefix of this run's own.
 */
export function heraldChildEnvironment(inputs: HeraldChildInputs): Record<string, string> {
  return {
    ...hostEnvironment(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(inputs.apiPort),
    DATABASE_URL: inputs.databaseUrl,
    REDIS_URL: inputs.redisUrl,
    TEMPORAL_ADDRESS: inputs.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: inputs.taskQueue,
    TWITTER_API_BASE_URL: inputs.twitterApiBaseUrl,
    LINKEDIN_API_BASE_URL: inputs.linkedinApiBaseUrl,
    LINKEDIN_API_VERSION: inputs.linkedinApiVersion,
    META_GRAPH_API_BASE_URL: inputs.metaGraphApiBaseUrl,
    TOKEN_ENCRYPTION_KEYS: `${inputs.purpose}:${randomBytes(32).toString('base64')}`,
    HERALD_SANDBOX: '0',
    RATE_LIMIT_ENABLED: 'true',
    RATE_LIMIT_PUBLISH: '1000000/1h',
    RATE_LIMIT_MULTI_PLATFORM: '1000000/1h',
    RATE_LIMIT_SCHEDULE: '1000000/1h',
    RATE_LIMIT_LIST: '1000000/1m',
    RATE_LIMIT_CANCEL: '1000000/1h',
    RATE_LIMIT_KEY_PREFIX: `herald:${inputs.purpose}:${randomBytes(4).toString('hex')}:rl:`,
  };
}
