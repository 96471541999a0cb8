/**
 * Metrics after real publishes through the real workflow: the API (built here with Herald's
 * metrics and events wired, on the harness's stores and Temporal) counts requests by route
 * pattern and the posts it schedules; a real worker process (`src/main.ts --worker`) counts
 * parts, retries, failures, lateness and finished posts, and re-serves the Temporal SDK's metrics,
 * all on its health port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import express from 'express';
import type { Registry } from 'prom-client';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import { errorMiddleware } from '../../src/api/errors';
import { createLogger } from '../../src/logger';
import { fanOutEvents } from '../../src/observability/fan-out';
import { httpMetrics, metricsEndpoint, UNMATCHED_ROUTE } from '../../src/observability/http-metrics';
import { createLogEvents } from '../../src/observability/log-events';
import { createMetricsEvents, createMetricsRegistry } from '../../src/observability/metrics';
import { call, createHarness, env, eventually, longText, type Harness, type Tenant } from '../support/harness';
import { freePort } from '../support/ports';

jest.setTimeout(180_000);

const projectRoot = resolve(__dirname, '..', '..');

// ---- reading the Prometheus text format ----

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)!;
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The sum of every sample of `name` whose labels include `labels`. */
function total(text: string, name: string, labels: Record<string, string> = {}): number {
  return parseSamples(text)
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

// ---- a real worker process with its health port ----

interface WorkerProcess {
  child: ChildProcess;
  metricsUrl: string;
  readyUrl: string;
  exited: Promise<unknown>;
}

async function spawnWorker(h: Harness): Promise<WorkerProcess> {
  const healthPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--worker'], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      TEMPORAL_ADDRESS: h.temporalAddress,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      DATABASE_URL: h.databaseUrl,
      REDIS_URL: env('HERALD_TEST_REDIS_URL'),
      TWITTER_API_BASE_URL: h.fakeX.baseUrl,
      TOKEN_ENCRYPTION_KEYS: h.tokenKeysEnv,
      HERALD_SANDBOX: '0',
      WORKER_HEALTH_PORT: String(healthPort),
      WORKER_SDK_METRICS_PORT: String(await freePort()),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  return { child, exited, metricsUrl: `http://127.0.0.1:${healthPort}/metrics`, readyUrl: `http://127.0.0.1:${healthPort}/readyz` };
}

describe('metrics after real publishes', () => {
  let h: Harness;
  let api: RunningApp;
  let apiRegistry: Registry;
  let worker: WorkerProcess;
  let tenant: Tenant;
  const apiCall = (method: string, path: string, body?: unknown) => call(api.url, tenant.apiKey, method, path, body);

  beforeAll(async () => {
    h = await createHarness({ worker: false });
    apiRegistry = createMetricsRegistry();
    const logger = createLogger('silent');
    const events = fanOutEvents([createMetricsEvents(apiRegistry), createLogEvents(logger)]);
    const app = createApp({
      orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger, events, metricsRegistry: apiRegistry,
    });
    api = await startApp(app, 0);
    tenant = await h.tenant();
    worker = await spawnWorker(h);
    await eventually(async () => ((await fetch(worker.readyUrl)).status === 200 ? true : undefined), 90_000, 'the worker process to be ready');
  });

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([worker.exited, new Promise((resolveWait) => { timer = setTimeout(resolveWait, 15_000); })]);
      clearTimeout(timer);
      worker.child.kill('SIGKILL');
    }
    await api?.stop();
    await h?.close();
  });

  afterEach(() => h.fakeX.clearFaults());

  async function finished(postId: number): Promise<any> {
    return eventually(async () => {
      const { body } = await apiCall('GET', `/api/v2/posts/${postId}`);
      return ['published', 'partially_published', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
    }, 90_000, `post ${postId} to finish`);
  }

  test('when a thread (after one 503) and a scheduled post are published, then the worker and the API count them with the right labels', async () => {
    h.fakeX.injectFault({ kind: 'server_error', status: 503 }, 1);
    const thread = await apiCall('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content: longText(8), platforms: ['twitter'] });
    expect(thread.status).toBe(202);
    const scheduled = await apiCall('POST', '/api/v2/schedule', {
      businessId: tenant.businessId, content: `Scheduled for metrics ${Date.now()}`, platforms: ['twitter'], scheduledFor: new Date(Date.now() + 3000).toISOString(),
    });
    expect(scheduled.status).toBe(201);

    const threadDone = await finished(thread.body.id);
    const scheduledDone = await finished(scheduled.body.id);
    expect(threadDone.status).toBe('published');
    expect(scheduledDone.status).toBe('published');
    const partCount = threadDone.targets[0].parts.length + scheduledDone.targets[0].parts.length;
    expect(partCount).toBeGreaterThanOrEqual(3);

    // Posts finish in the worker right after their last part: wait for the counters, not for luck.
    const workerText = await eventually(async () => {
      const text = await scrape(worker.metricsUrl);
      return total(text, 'herald_posts_finished_total', { status: 'published' }) >= 2 ? text : undefined;
    }, 20_000, 'posts_finished on the worker');
    expect(total(workerText, 'herald_parts_published_total', { platform: 'twitter', reconciled: 'false' })).toBeGreaterThanOrEqual(partCount);
    // X's 503 may have come after X stored the post: an unknown outcome, reconciled before the retry.
    expect(total(workerText, 'herald_part_retries_total', { platform: 'twitter', failure_class: 'unknown_outcome' })).toBeGreaterThanOrEqual(1);
    expect(total(workerText, 'herald_publish_lateness_seconds_count', { platform: 'twitter' })).toBeGreaterThanOrEqual(2);
    // The scheduled post fired on its timer: well inside the last finite bucket.
    expect(total(workerText, 'herald_publish_lateness_seconds_bucket', { platform: 'twitter', le: '60' })).toBeGreaterThanOrEqual(1);
    expect(total(workerText, 'herald_targets_finished_total', { platform: 'twitter', status: 'published', failure_class: 'none' })).toBeGreaterThanOrEqual(2);
    // The Temporal SDK's own metrics, for this worker's task queue, on the same page.
    expect(total(workerText, 'temporal_num_pollers', { task_queue: h.taskQueue })).toBeGreaterThan(0);
    expect(parseSamples(workerText).some((sample) => sample.name.startsWith('temporal_activity_execution'))).toBe(true);

    const apiText = await scrape(`${api.url}/metrics`);
    expect(total(apiText, 'herald_posts_scheduled_total', { platform: 'twitter', timing: 'immediate' })).toBeGreaterThanOrEqual(1);
    expect(total(apiText, 'herald_posts_scheduled_total', { platform: 'twitter', timing: 'scheduled' })).toBeGreaterThanOrEqual(1);
    expect(total(apiText, 'herald_http_requests_total', { method: 'GET', route: '/api/v2/posts/:postId', status_code: '200' })).toBeGreaterThanOrEqual(2);
    expect(total(apiText, 'herald_http_requests_total', { method: 'POST', route: '/api/v2/publish', status_code: '202' })).toBe(1);
    expect(total(apiText, 'herald_http_request_duration_seconds_count', { method: 'POST', route: '/api/v2/schedule' })).toBe(1);
  });

  test('when a part is rejected for good (401), then failed parts, targets and posts are counted by failure class', async () => {
    h.fakeX.injectFault({ kind: 'unauthorized' }, 5);
    const post = await apiCall('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content: `Bad token ${Date.now()}`, platforms: ['twitter'] });
    expect((await finished(post.body.id)).status).toBe('failed');

    const workerText = await eventually(async () => {
      const text = await scrape(worker.metricsUrl);
      return total(text, 'herald_posts_finished_total', { status: 'failed' }) >= 1 ? text : undefined;
    }, 20_000, 'a failed post on the worker');
    expect(total(workerText, 'herald_parts_failed_total', { platform: 'twitter', failure_class: 'auth' })).toBe(1);
    expect(total(workerText, 'herald_targets_finished_total', { platform: 'twitter', status: 'failed', failure_class: 'auth' })).toBe(1);
  });

  test('when requests name ids or fail validation, then the route label is the pattern, never the raw path', async () => {
    expect((await apiCall('GET', '/api/v2/posts/999999999')).status).toBe(404);
    expect((await apiCall('GET', '/api/v2/posts/not-a-number')).status).toBe(400);
    expect((await apiCall('POST', '/api/v2/schedule', { businessId: tenant.businessId })).status).toBe(400);
    expect((await call(api.url, undefined, 'GET', '/api/v2/scheduled')).status).toBe(401);
    expect((await call(api.url, undefined, 'GET', '/no/such/page')).status).toBe(404);

    const text = await scrape(`${api.url}/metrics`);
    expect(total(text, 'herald_http_requests_total', { route: '/api/v2/posts/:postId', status_code: '404' })).toBe(1);
    expect(total(text, 'herald_http_requests_total', { route: '/api/v2/posts/:postId', status_code: '400' })).toBe(1);
    expect(total(text, 'herald_http_requests_total', { method: 'POST', route: '/api/v2/schedule', status_code: '400' })).toBe(1);
    expect(total(text, 'herald_http_requests_total', { route: UNMATCHED_ROUTE, status_code: '404' })).toBeGreaterThanOrEqual(1);
    const routes = new Set(parseSamples(text).filter((sample) => sample.name === 'herald_http_requests_total').map((sample) => sample.labels.route));
    expect([...routes].filter((route) => /\d{3,}|not-a-number|no\/such/.test(route!))).toEqual([]);
  });
});

describe('request metrics when a handler fails', () => {
  test('when a route throws, then its 500 is counted as an error under the route pattern', async () => {
    const registry = createMetricsRegistry();
    const app = express();
    app.use(httpMetrics(registry));
    app.get('/metrics', metricsEndpoint(registry));
    app.get('/boom/:id', () => {
      throw new Error('kaboom');
    });
    app.use(errorMiddleware(createLogger('silent')));
    const running = await startApp(app, 0);
    try {
      expect((await fetch(`${running.url}/boom/123`)).status).toBe(500);
      const text = await scrape(`${running.url}/metrics`);
      expect(total(text, 'herald_http_request_errors_total', { method: 'GET', route: '/boom/:id', status_code: '500' })).toBe(1);
      expect(total(text, 'herald_http_requests_total', { route: '/boom/:id' })).toBe(1);
    } finally {
      await running.stop();
    }
  });
});
