/**
 * What the API shows to someone who has no key: /metrics only to loopback or a METRICS_TOKEN
 * bearer, /health says what is down but never why, and every answer carries the security headers
 * (a strict CSP among them). Real Postgres, Redis and Temporal; an unreachable Redis is a client
 * pointed at a closed port, the server itself keeps running.
 */
import { Redis } from 'ioredis';
import { createApp, startApp, type AppDeps, type RunningApp } from '../../src/api/app';
import { createLogger } from '../../src/logger';
import { createMetricsRegistry } from '../../src/observability/metrics';
import { call, createHarness, type Harness } from '../support/harness';
import { freePort } from '../support/ports';

jest.setTimeout(90_000);

let h: Harness;
const opened: RunningApp[] = [];
const clients: Redis[] = [];
const logger = createLogger(process.env.HERALD_TEST_LOG_LEVEL ?? 'silent');

beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(async () => {
  for (const app of opened) await app.stop();
  for (const client of clients) client.disconnect();
  await h?.close();
});

async function api(overrides: Partial<AppDeps> = {}): Promise<RunningApp> {
  const app = await startApp(
    createApp({ orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger, metricsRegistry: createMetricsRegistry(), ...overrides }),
    0,
  );
  opened.push(app);
  return app;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe('GET /metrics', () => {
  test('when no METRICS_TOKEN is set, then a loopback client reads it and a proxied one (X-Forwarded-For, Forwarded) gets 401', async () => {
    const app = await api();
    const local = await get(`${app.url}/metrics`);
    expect(local.status).toBe(200);
    expect(local.text).toContain('# TYPE herald_http_requests_total counter');
    for (const headers of [{ 'X-Forwarded-For': '198.51.100.4' }, { Forwarded: 'for=198.51.100.4' }] as Record<string, string>[]) {
      const proxied = await get(`${app.url}/metrics`, headers);
      expect(proxied.status).toBe(401);
      expect(proxied.text).not.toContain('herald_');
      expect(JSON.parse(proxied.text).error.message).toMatch(/METRICS_TOKEN/);
    }
  });

  test('when METRICS_TOKEN is set, then only its bearer reads metrics, from any address', async () => {
    const token = 'a-metrics-token-for-the-test';
    const app = await api({ metricsToken: token });
    expect((await get(`${app.url}/metrics`)).status).toBe(401);
    expect((await get(`${app.url}/metrics`, { Authorization: 'Bearer a-metrics-token-for-the-tesT' })).status).toBe(401);
    const scraped = await get(`${app.url}/metrics`, { Authorization: `Bearer ${token}`, 'X-Forwarded-For': '198.51.100.4' });
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain('herald_http_requests_total');
  });
});

describe('GET /health', () => {
  test('when Redis cannot be reached, then /health is 503 naming redis as failing, with no error text, host or port', async () => {
    const closedPort = await freePort();
    const redis = new Redis({ host: '127.0.0.1', port: closedPort, maxRetriesPerRequest: 1, retryStrategy: () => 200, lazyConnect: true });
    redis.on('error', () => undefined);
    clients.push(redis);
    const app = await api({ redis });
    const response = await call(app.url, undefined, 'GET', '/health');
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ status: 'failing', checks: { postgres: 'ok', redis: 'failing', temporal: 'ok', worker: 'failing' } });
    const text = JSON.stringify(response.body);
    expect(text).not.toContain(String(closedPort));
    expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|Connection|no worker/i);
  });
});

describe('security headers', () => {
  test('when the API answers JSON, an error or the dashboard, then each carries the CSP and the usual headers', async () => {
    const app = await api();
    const answers = [
      await get(`${app.url}/health`),
      await get(`${app.url}/api/v2/scheduled?businessId=1`),
      await get(`${app.url}/api/v2/openapi.json`),
      await get(`${app.url}/`),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([503, 401, 200, expect.any(Number)]);
    for (const { headers } of answers) {
      const csp = headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('referrer-policy')).toBe('no-referrer');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('x-powered-by')).toBeNull();
    }
  });

  test('when the dashboard is not built, then / says how to build it in a page with no script at all', async () => {
    const app = await api({ webRoot: `${__dirname}/../../web` });
    const page = await get(`${app.url}/`);
    expect(page.status).toBe(503);
    expect(page.text).toContain('npm run build:web');
    expect(page.text).not.toMatch(/<script|onerror|onload/i);
  });
});
