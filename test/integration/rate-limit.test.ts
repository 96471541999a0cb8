/**
 * Per-user rate limits (src/api/rate-limit.ts) against the real Redis: two API instances with
 * their own Redis clients share one budget, the IETF draft-7 and legacy headers are sent, the 429
 * has the API's error shape and Retry-After, and an unreachable Redis lets requests through.
 */
import { randomBytes } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import type { RateLimitSettings } from '../../src/api/rate-limit';
import { parseConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { call, createHarness, env, type Harness, type Tenant } from '../support/harness';
import { freePort } from '../support/ports';

jest.setTimeout(90_000);

let h: Harness;
let owner: Tenant;
let other: Tenant;
const opened: RunningApp[] = [];
const clients: Redis[] = [];
/** A prefix of this run only: runs (and the user ids of their fresh databases) never share counters. */
const runPrefix = `herald:rl:test:${process.pid}:${randomBytes(4).toString('hex')}:`;
const logger = createLogger(process.env.HERALD_TEST_LOG_LEVEL ?? 'silent');

beforeAll(async () => {
  h = await createHarness({ worker: false });
  owner = await h.tenant();
  other = await h.tenant();
});
afterAll(async () => {
  for (const app of opened) await app.stop();
  for (const client of clients) client.disconnect();
  const keys = await h.redis.keys(`${runPrefix}*`);
  if (keys.length > 0) await h.redis.del(...keys);
  await h?.close();
});

const minute = 60_000;
function settings(prefix: string, overrides: Partial<RateLimitSettings> = {}): RateLimitSettings {
  return {
    enabled: true,
    keyPrefix: prefix,
    publish: { limit: 2, windowMs: 3600_000 },
    multiPlatform: { limit: 2, windowMs: 3600_000 },
    schedule: { limit: 2, windowMs: 3600_000 },
    list: { limit: 4, windowMs: minute },
    cancel: { limit: 3, windowMs: 3600_000 },
    accounts: { limit: 2, windowMs: 3600_000 },
    codec: { limit: 3, windowMs: minute },
    ...overrides,
  };
}

async function apiInstance(redis: Redis, limits: RateLimitSettings): Promise<RunningApp> {
  clients.push(redis);
  const app = await startApp(createApp({ orm: h.orm, temporal: h.temporal, redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger, rateLimits: limits }), 0);
  opened.push(app);
  return app;
}

const sharedRedis = () => new Redis(env('HERALD_TEST_REDIS_URL'), { maxRetriesPerRequest: 1 });
const list = (app: RunningApp, tenant: Tenant) => call(app.url, tenant.apiKey, 'GET', `/api/v2/scheduled?businessId=${tenant.businessId}`);
const scheduleBody = (t: Tenant) => ({
  businessId: t.businessId, content: `Limited ${Date.now()} ${Math.random()}`, platforms: ['twitter'], scheduledFor: new Date(Date.now() + 5 * 3600_000).toISOString(),
});

describe('rate limits across two API instances sharing Redis', () => {
  let a: RunningApp;
  let b: RunningApp;
  beforeAll(async () => {
    const prefix = `${runPrefix}shared:`;
    a = await apiInstance(sharedRedis(), settings(prefix));
    b = await apiInstance(sharedRedis(), settings(prefix));
  });

  test('when one user alternates between instances, then both count against one budget and the fifth list call is 429', async () => {
    const answers = [];
    for (const app of [a, b, a, b]) answers.push(await list(app, owner));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['3', '2', '1', '0']);

    const refused = await list(a, owner);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: { code: 'rate_limited', message: expect.stringContaining('at most 4 per minute'), details: expect.objectContaining({ bucket: 'list', limit: 4, windowSeconds: 60 }) },
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/^limit=4, remaining=0, reset=\d+$/);
    expect((await list(b, owner)).status).toBe(429);

    // Another user has a budget of their own.
    const stranger = await list(b, other);
    expect(stranger.status).toBe(200);
    expect(stranger.headers.get('x-ratelimit-remaining')).toBe('3');
  });

  test('when a limited response is sent, then it carries the draft-7 RateLimit headers and the legacy X-RateLimit headers', async () => {
    const tenant = await h.tenant();
    const before = Math.floor(Date.now() / 1000);
    const response = await list(a, tenant);
    const after = Math.ceil(Date.now() / 1000);
    expect(response.status).toBe(200);
    const reset = Number(/reset=(\d+)/.exec(response.headers.get('ratelimit') ?? '')?.[1]);
    expect(response.headers.get('ratelimit')).toBe(`limit=4, remaining=3, reset=${reset}`);
    expect(reset).toBeGreaterThan(55);
    expect(reset).toBeLessThanOrEqual(60);
    expect(response.headers.get('ratelimit-policy')).toBe('4;w=60');
    expect(response.headers.get('x-ratelimit-limit')).toBe('4');
    expect(response.headers.get('x-ratelimit-remaining')).toBe('3');
    const legacyReset = Number(response.headers.get('x-ratelimit-reset'));
    expect(legacyReset).toBeGreaterThanOrEqual(before + 55);
    // The window opens when the limiter sees the request, somewhere between `before` and `after`
    // (a loaded machine can take over a second), and Express rounds its end up to the second.
    expect(legacyReset).toBeLessThanOrEqual(after + 60);
    // A single post is not a list: the dashboard polls it, and it is not counted.
    const one = await call(a.url, tenant.apiKey, 'GET', '/api/v2/posts/999999999');
    expect(one.headers.get('x-ratelimit-limit')).toBeNull();
  });

  test('when the schedule limit is reached, then the next schedule is 429 and creates nothing', async () => {
    const tenant = await h.tenant();
    const first = await call(a.url, tenant.apiKey, 'POST', '/api/v2/schedule', scheduleBody(tenant));
    const second = await call(b.url, tenant.apiKey, 'POST', '/api/v2/schedule', scheduleBody(tenant));
    expect([first.status, second.status]).toEqual([201, 201]);
    const third = await call(a.url, tenant.apiKey, 'POST', '/api/v2/schedule', scheduleBody(tenant));
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('rate_limited');
    expect(third.headers.get('x-ratelimit-limit')).toBe('2');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(3500);
    const stored = await h.orm.em.getConnection().execute('select count(*)::int as n from posts where business_id = ?', [tenant.businessId]);
    expect(stored[0].n).toBe(2);
    // The other buckets are separate: a cancel is still answered (404 for an unknown post), counted in its own bucket.
    const cancel = await call(b.url, tenant.apiKey, 'DELETE', '/api/v2/schedule/2147480000');
    expect(cancel.status).toBe(404);
    expect(cancel.headers.get('x-ratelimit-limit')).toBe('3');
    expect(cancel.headers.get('x-ratelimit-remaining')).toBe('2');
    for (const post of [first.body, second.body]) await h.temporal.workflow.getHandle(post.workflowId).terminate('test cleanup');
  });

  test('when account writes exceed their limit, then connect, disconnect and OAuth start answer 429 and store nothing more', async () => {
    const tenant = await h.tenant({ x: false });
    const connect = (n: number) =>
      call(a.url, tenant.apiKey, 'POST', '/api/v2/accounts', { businessId: tenant.businessId, platform: 'twitter', platformUserId: `rl-${n}`, accessToken: `token-${n}` });
    const first = await connect(1);
    expect(first.status).toBe(201);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    // A disconnect counts in the same bucket (on the other instance).
    const disconnect = await call(b.url, tenant.apiKey, 'DELETE', `/api/v2/accounts/${first.body.id}`);
    expect(disconnect.status).toBeLessThan(300);
    expect(disconnect.headers.get('x-ratelimit-remaining')).toBe('0');
    const refused = await connect(2);
    expect(refused.status).toBe(429);
    expect(refused.body.error.details).toEqual(expect.objectContaining({ bucket: 'accounts', limit: 2 }));
    const start = await call(a.url, tenant.apiKey, 'GET', `/api/v2/oauth/twitter/start?businessId=${tenant.businessId}&redirect=0`);
    expect(start.status).toBe(429);
    const stored = await h.orm.em.getConnection().execute('select count(*)::int as n from social_accounts where business_id = ?', [tenant.businessId]);
    expect(stored[0].n).toBe(1);
    // Reading the accounts is a list read, not an account write.
    const read = await call(a.url, tenant.apiKey, 'GET', `/api/v2/accounts?businessId=${tenant.businessId}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('x-ratelimit-limit')).toBe('4');
  });

  test('when key writes exceed the accounts limit, then creating, rotating and revoking keys answer 429 while listing them does not count', async () => {
    const tenant = await h.tenant({ x: false });
    const created = await call(a.url, tenant.apiKey, 'POST', '/api/v2/keys', { name: 'laptop' });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-ratelimit-remaining')).toBe('1');
    const rotated = await call(b.url, tenant.apiKey, 'POST', `/api/v2/keys/${created.body.key.id}/rotate`, {});
    expect(rotated.status).toBe(201);
    const refused = await call(a.url, tenant.apiKey, 'DELETE', `/api/v2/keys/${rotated.body.key.id}`);
    expect(refused.status).toBe(429);
    expect(refused.body.error.details).toEqual(expect.objectContaining({ bucket: 'accounts' }));
    const keys = await call(a.url, tenant.apiKey, 'GET', '/api/v2/keys');
    expect(keys.status).toBe(200);
    expect(keys.body.keys.filter((key: { status: string }) => key.status === 'active')).toHaveLength(2);
  });

  test('when there is no API key, then the request is refused before any limiter counts it', async () => {
    const response = await call(a.url, undefined, 'GET', `/api/v2/scheduled?businessId=${owner.businessId}`);
    expect(response.status).toBe(401);
    expect(response.headers.get('x-ratelimit-limit')).toBeNull();
  });
});

/** A TCP relay to the shared Redis that the test can cut and restore (the Redis server itself keeps running). */
class RedisRelay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number, private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async down(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

describe('when Redis is unreachable (fail open)', () => {
  test('when the Redis client points at a closed port, then requests pass without rate-limit headers and beyond the limit', async () => {
    const closed = await freePort();
    const redis = new Redis({ host: '127.0.0.1', port: closed, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => undefined);
    const app = await apiInstance(redis, settings(`${runPrefix}down:`, { redisTimeoutMs: 300 }));
    const statuses = [];
    for (let i = 0; i < 6; i += 1) {
      const response = await list(app, owner);
      statuses.push(response.status);
      expect(response.headers.get('x-ratelimit-limit')).toBeNull();
      expect(response.headers.get('ratelimit')).toBeNull();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
  });

  test('when Redis goes away and comes back, then requests pass meanwhile and are counted again afterwards', async () => {
    const relay = new RedisRelay(await freePort(), { host: '127.0.0.1', port: Number(new URL(env('HERALD_TEST_REDIS_URL')).port || 6379) });
    // Down from the start: the limiter's Lua scripts cannot be loaded at start-up.
    const redis = new Redis({ host: '127.0.0.1', port: relay.port, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => undefined);
    const tenant = await h.tenant();
    const app = await apiInstance(redis, settings(`${runPrefix}relay:`, { redisTimeoutMs: 300 }));
    const during = await list(app, tenant);
    expect(during.status).toBe(200);
    expect(during.headers.get('x-ratelimit-limit')).toBeNull();

    await relay.up();
    try {
      for (let i = 0; i < 50 && redis.status !== 'ready'; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(redis.status).toBe('ready');
      // The very first request after the reconnect is counted again (the scripts are reloaded first).
      const remaining = async () => (await list(app, tenant)).headers.get('x-ratelimit-remaining');
      expect(await remaining()).toBe('3');
      expect(await remaining()).toBe('2');
    } finally {
      redis.disconnect();
      await relay.down();
    }
  });
});

describe('configuration', () => {
  test('when limits are configured as "<count>/<window>", then the config carries them; a bad one names its variable', () => {
    const config = parseConfig({ NODE_ENV: 'development', RATE_LIMIT_PUBLISH: '5/30s', RATE_LIMIT_LIST: '7/minute', RATE_LIMIT_CANCEL: '1000/1d' });
    expect(config.rateLimit).toEqual({
      enabled: true,
      keyPrefix: 'herald:rl:',
      publish: { limit: 5, windowMs: 30_000 },
      multiPlatform: { limit: 10, windowMs: 3600_000 },
      schedule: { limit: 50, windowMs: 3600_000 },
      list: { limit: 7, windowMs: 60_000 },
      cancel: { limit: 1000, windowMs: 86_400_000 },
      accounts: { limit: 60, windowMs: 3600_000 },
      codec: { limit: 600, windowMs: 60_000 },
    });
    expect(parseConfig({ NODE_ENV: 'test' }).rateLimit.enabled).toBe(false);
    expect(parseConfig({ NODE_ENV: 'test', RATE_LIMIT_ENABLED: '1' }).rateLimit.enabled).toBe(true);
    expect(() => parseConfig({ RATE_LIMIT_SCHEDULE: '0/1h' })).toThrow(/RATE_LIMIT_SCHEDULE/);
    expect(() => parseConfig({ RATE_LIMIT_SCHEDULE: 'lots' })).toThrow(/RATE_LIMIT_SCHEDULE/);
  });

  test('when rate limits are disabled, then no limiter runs', async () => {
    const app = await apiInstance(sharedRedis(), settings(`${runPrefix}off:`, { enabled: false, list: { limit: 1, windowMs: minute } }));
    const first = await list(app, owner);
    const second = await list(app, owner);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers.get('x-ratelimit-limit')).toBeNull();
  });
});
