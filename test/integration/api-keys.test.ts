/**
 * The API-key lifecycle (issue #11): list, create (name, expiry), revoke and rotate through
 * `/api/v2/keys`, each user seeing only their own keys; a revoked or expired key answers 401 at once
 * on every API instance; the time of last use is written at most once a minute; and failed
 * authentications from one address are limited in Redis (shared by instances, fail open).
 * Real Postgres, Redis and API instances.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import type { AuthFailureLimitSettings } from '../../src/api/auth';
import { apiKeyListSchema, createdApiKeySchema } from '../../src/api/key-schemas';
import { parseConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { call, createHarness, env, type Harness, type Tenant } from '../support/harness';
import { freePort } from '../support/ports';

jest.setTimeout(90_000);

let h: Harness;
let owner: Tenant;
let stranger: Tenant;
const opened: RunningApp[] = [];
const clients: Redis[] = [];
const runPrefix = `herald:rl:test:keys:${process.pid}:${randomBytes(4).toString('hex')}:`;
const logger = createLogger(process.env.HERALD_TEST_LOG_LEVEL ?? 'silent');

beforeAll(async () => {
  h = await createHarness({ worker: false });
  owner = await h.tenant({ x: false });
  stranger = await h.tenant({ x: false });
});
afterAll(async () => {
  for (const app of opened) await app.stop();
  for (const client of clients) client.disconnect();
  const keys = await h.redis.keys(`${runPrefix}*`);
  if (keys.length > 0) await h.redis.del(...keys);
  await h?.close();
});

/** Another API instance on the same database (and, for the failure limit, its own Redis client). */
async function apiInstance(options: { redis?: Redis; authFailureLimit?: AuthFailureLimitSettings } = {}): Promise<RunningApp> {
  const redis = options.redis ?? new Redis(env('HERALD_TEST_REDIS_URL'), { maxRetriesPerRequest: 1 });
  clients.push(redis);
  const app = await startApp(
    createApp({ orm: h.orm, temporal: h.temporal, redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger, authFailureLimit: options.authFailureLimit }),
    0,
  );
  opened.push(app);
  return app;
}

const asKey = (apiKey: string, method: string, path: string, body?: unknown, baseUrl = h.app.url) => call(baseUrl, apiKey, method, path, body);
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const businesses = (apiKey: string, baseUrl = h.app.url) => asKey(apiKey, 'GET', '/api/v2/businesses', undefined, baseUrl);
const keyRow = async (id: number) => {
  const [row] = await h.orm.em.fork().getConnection().execute('select name, key_hash, last_used_at, revoked_at, expires_at from api_keys where id = ?', [id]);
  const date = (value: string | null) => (value === null ? null : new Date(value));
  return { name: row.name as string, key_hash: row.key_hash as string, last_used_at: date(row.last_used_at), revoked_at: date(row.revoked_at), expires_at: date(row.expires_at) };
};

async function createKey(tenant: Tenant, body: Record<string, unknown>) {
  const response = await tenant.call('POST', '/api/v2/keys', body);
  expect(response.status).toBe(201);
  return createdApiKeySchema.parse(response.body);
}

describe('listing and creating keys', () => {
  test('when a user lists their keys, then each shows name, prefix, times and status, exactly the documented fields, never the key or its hash', async () => {
    const response = await owner.call('GET', '/api/v2/keys');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { keys } = apiKeyListSchema.parse(response.body);
    expect(keys).toEqual([
      expect.objectContaining({ name: 'bootstrap', prefix: owner.apiKey.slice(0, 10), status: 'active', current: true, expiresAt: null, revokedAt: null }),
    ]);
    const text = JSON.stringify(response.body);
    expect(text).not.toContain(owner.apiKey);
    expect(text).not.toContain((await keyRow(keys[0]!.id)).key_hash);
  });

  test('when a key is created with a name and an expiry, then it is answered once, works at once, and the list shows it without the key itself', async () => {
    const expiresAt = inDays(30);
    const created = await createKey(owner, { name: '  CI deploys  ', expiresAt });
    expect(created.apiKey).toMatch(/^hk_[A-Za-z0-9_-]{43}$/);
    expect(created.key).toEqual(expect.objectContaining({ name: 'CI deploys', prefix: created.apiKey.slice(0, 10), status: 'active', current: false, lastUsedAt: null, revokedAt: null }));
    expect(Date.parse(created.key.expiresAt!)).toBe(Date.parse(expiresAt));

    expect((await businesses(created.apiKey)).body.businesses).toEqual([expect.objectContaining({ id: owner.businessId })]);

    const list = await owner.call('GET', '/api/v2/keys');
    const listed = apiKeyListSchema.parse(list.body).keys;
    expect(listed.map((k) => k.id)).toEqual(expect.arrayContaining([created.key.id]));
    expect(listed[0]!.id).toBe(created.key.id); // newest first
    expect(JSON.stringify(list.body)).not.toContain(created.apiKey);
    // The new key sees the same user's keys, and is "current" there.
    const fromNew = apiKeyListSchema.parse((await asKey(created.apiKey, 'GET', '/api/v2/keys')).body).keys;
    expect(fromNew.find((k) => k.current)?.id).toBe(created.key.id);
  });

  test('when the name or the expiry is bad, then the answer is 400 naming the field, and no key is made', async () => {
    const before = apiKeyListSchema.parse((await owner.call('GET', '/api/v2/keys')).body).keys.length;
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{}, 'name', /./],
      [{ name: '   ' }, 'name', /empty/],
      [{ name: 'x'.repeat(101) }, 'name', /at most 100/],
      [{ name: 'bell\u0007' }, 'name', /control/],
      [{ name: 'line\nbreak' }, 'name', /control/],
      [{ name: 'ok', expiresAt: new Date(Date.now() - 60_000).toISOString() }, 'expiresAt', /future/],
      [{ name: 'ok', expiresAt: inDays(365 * 5 + 30) }, 'expiresAt', /5 years/],
      [{ name: 'ok', expiresAt: 'tomorrow' }, 'expiresAt', /./],
      [{ name: 'ok', userId: stranger.userId }, '(body)', /./],
    ];
    for (const [body, path, message] of cases) {
      const response = await owner.call('POST', '/api/v2/keys', body);
      expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status: 400, code: 'validation_failed' });
      const detail = (response.body.error.details as Array<{ path: string; message: string }>).find((d) => d.path === path || (path === '(body)' && d.message.length > 0));
      expect({ body, detail }).toEqual({ body, detail: expect.objectContaining({ message: expect.stringMatching(message) }) });
    }
    expect(apiKeyListSchema.parse((await owner.call('GET', '/api/v2/keys')).body).keys.length).toBe(before);
  });
});

describe('revoking and rotating', () => {
  test('when a key is revoked, then it answers 401 at once on this and on another API instance, and the list shows it revoked', async () => {
    const other = await apiInstance();
    const created = await createKey(owner, { name: 'to revoke' });
    expect((await businesses(created.apiKey)).status).toBe(200);
    expect((await businesses(created.apiKey, other.url)).status).toBe(200);

    const revoked = await owner.call('DELETE', `/api/v2/keys/${created.key.id}`);
    expect(revoked.status).toBe(204);
    expect(revoked.body).toBeUndefined();

    for (const url of [h.app.url, other.url]) {
      const refused = await businesses(created.apiKey, url);
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('revoked') } });
    }
    const listed = apiKeyListSchema.parse((await owner.call('GET', '/api/v2/keys')).body).keys.find((k) => k.id === created.key.id);
    expect(listed).toEqual(expect.objectContaining({ status: 'revoked', revokedAt: expect.any(String) }));
    // Revoking again changes nothing.
    const revokedAt = (await keyRow(created.key.id)).revoked_at;
    expect((await owner.call('DELETE', `/api/v2/keys/${created.key.id}`)).status).toBe(204);
    expect((await keyRow(created.key.id)).revoked_at).toEqual(revokedAt);
  });

  test('when a key is rotated, then the new key works, the old one answers 401, the name stays, and a revoked key cannot be rotated (409)', async () => {
    const old = await createKey(owner, { name: 'rotating', expiresAt: inDays(10) });
    const rotated = await owner.call('POST', `/api/v2/keys/${old.key.id}/rotate`);
    expect(rotated.status).toBe(201);
    const fresh = createdApiKeySchema.parse(rotated.body);
    expect(fresh.key.id).not.toBe(old.key.id);
    expect(fresh.key).toEqual(expect.objectContaining({ name: 'rotating', status: 'active' }));
    // As long a validity as the old key had, from now.
    const validity = Date.parse(fresh.key.expiresAt!) - Date.now();
    expect(validity).toBeGreaterThan(10 * 86_400_000 - 120_000);
    expect(validity).toBeLessThanOrEqual(10 * 86_400_000 + 1000);

    expect((await businesses(old.apiKey)).status).toBe(401);
    expect((await businesses(fresh.apiKey)).status).toBe(200);

    const again = await owner.call('POST', `/api/v2/keys/${old.key.id}/rotate`);
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual(expect.objectContaining({ code: 'conflict', details: { reason: 'revoked' } }));

    const withExpiry = await owner.call('POST', `/api/v2/keys/${fresh.key.id}/rotate`, { expiresAt: null });
    expect(withExpiry.status).toBe(201);
    expect(withExpiry.body.key.expiresAt).toBeNull();
    const badExpiry = await owner.call('POST', `/api/v2/keys/${withExpiry.body.key.id}/rotate`, { expiresAt: '2001-01-01T00:00:00Z' });
    expect(badExpiry.status).toBe(400);
    expect(badExpiry.body.error.details).toEqual([expect.objectContaining({ path: 'expiresAt' })]);
  });

  test("when a user names another user's key, then list, revoke and rotate answer as if it did not exist (404), and the key keeps working", async () => {
    const strangerKeys = apiKeyListSchema.parse((await stranger.call('GET', '/api/v2/keys')).body).keys;
    const ownerKeyIds = apiKeyListSchema.parse((await owner.call('GET', '/api/v2/keys')).body).keys.map((k) => k.id);
    expect(strangerKeys.some((k) => ownerKeyIds.includes(k.id))).toBe(false);

    const target = await createKey(owner, { name: 'not yours' });
    for (const [method, path] of [['DELETE', `/api/v2/keys/${target.key.id}`], ['POST', `/api/v2/keys/${target.key.id}/rotate`]] as const) {
      const response = await stranger.call(method, path);
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    }
    expect((await stranger.call('DELETE', '/api/v2/keys/2147480000')).status).toBe(404);
    expect((await stranger.call('DELETE', '/api/v2/keys/nope')).status).toBe(400);
    expect((await businesses(target.apiKey)).status).toBe(200);
    expect((await keyRow(target.key.id)).revoked_at).toBeNull();
  });

  test('when a key has expired, then it answers 401 at once and is listed as expired', async () => {
    const created = await createKey(owner, { name: 'short-lived', expiresAt: inDays(1) });
    expect((await businesses(created.apiKey)).status).toBe(200);
    await h.orm.em.fork().getConnection().execute(`update api_keys set expires_at = now() - interval '1 second' where id = ?`, [created.key.id]);
    const refused = await businesses(created.apiKey);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain('expired');
    const listed = apiKeyListSchema.parse((await owner.call('GET', '/api/v2/keys')).body).keys.find((k) => k.id === created.key.id);
    expect(listed?.status).toBe('expired');
  });
});

describe('the time of last use', () => {
  test('when a key is used, then last_used_at is set, not rewritten within the minute, and written again once it is older', async () => {
    const created = await createKey(owner, { name: 'usage' });
    expect((await keyRow(created.key.id)).last_used_at).toBeNull();
    await businesses(created.apiKey);
    const first = (await keyRow(created.key.id)).last_used_at;
    expect(first).toBeInstanceOf(Date);
    for (let i = 0; i < 3; i += 1) await businesses(created.apiKey);
    expect((await keyRow(created.key.id)).last_used_at).toEqual(first);

    await h.orm.em.fork().getConnection().execute(`update api_keys set last_used_at = now() - interval '2 minutes' where id = ?`, [created.key.id]);
    const aged = (await keyRow(created.key.id)).last_used_at!;
    await businesses(created.apiKey);
    expect((await keyRow(created.key.id)).last_used_at!.getTime()).toBeGreaterThan(aged.getTime() + 60_000);
    const listed = apiKeyListSchema.parse((await owner.call('GET', '/api/v2/keys')).body).keys.find((k) => k.id === created.key.id);
    expect(listed?.lastUsedAt).not.toBeNull();
  });
});

describe('failed authentication is rate limited per client address', () => {
  const fromAddress = async (baseUrl: string, address: string, apiKey: string) => {
    const response = await fetch(`${baseUrl}/api/v2/businesses`, { headers: { Authorization: `Bearer ${apiKey}`, 'X-Forwarded-For': address } });
    return { status: response.status, body: (await response.json()) as any, headers: response.headers };
  };
  const badKey = () => `hk_${randomBytes(32).toString('base64url')}`;
  const limit = (prefix: string, perMinute = 3): AuthFailureLimitSettings => ({ enabled: true, perMinute, keyPrefix: prefix });

  test('when one address keeps sending bad keys to two instances, then after the bound it gets 429 with Retry-After, also for a good key, while other addresses are unaffected', async () => {
    const prefix = `${runPrefix}shared:`;
    const a = await apiInstance({ authFailureLimit: limit(prefix) });
    const b = await apiInstance({ authFailureLimit: limit(prefix) });
    const attacker = `203.0.113.${10 + Math.floor(Math.random() * 200)}`;

    const failures = [];
    for (const app of [a, b, a]) failures.push((await fromAddress(app.url, attacker, badKey())).status);
    expect(failures).toEqual([401, 401, 401]);

    const refused = await fromAddress(b.url, attacker, badKey());
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: { code: 'rate_limited', message: expect.stringContaining('at most 3 per minute'), details: expect.objectContaining({ bucket: 'auth-failures', limit: 3, windowSeconds: 60 }) },
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Refused before the key is looked up: a good key from that address waits too.
    expect((await fromAddress(a.url, attacker, owner.apiKey)).status).toBe(429);
    // Another address, good key: fine; and successful requests are not counted.
    const neighbour = '198.51.100.7';
    for (let i = 0; i < 5; i += 1) expect((await fromAddress(a.url, neighbour, owner.apiKey)).status).toBe(200);
    expect((await fromAddress(a.url, neighbour, badKey())).status).toBe(401);
    // Without an Authorization header nothing is counted (nothing was guessed).
    const noKey = await fetch(`${a.url}/api/v2/businesses`, { headers: { 'X-Forwarded-For': '198.51.100.8' } });
    expect(noKey.status).toBe(401);
  });

  test('when Redis is unreachable, then bad keys still get 401 (never 429 or 500) and good keys pass: the limit fails open', async () => {
    const closed = await freePort();
    const redis = new Redis({ host: '127.0.0.1', port: closed, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => undefined);
    const app = await apiInstance({ redis, authFailureLimit: { ...limit(`${runPrefix}down:`, 1), redisTimeoutMs: 300 } });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await fromAddress(app.url, '192.0.2.1', badKey())).status);
    expect(statuses).toEqual([401, 401, 401, 401]);
    expect((await fromAddress(app.url, '192.0.2.1', owner.apiKey)).status).toBe(200);
  });

  test('when configured, then RATE_LIMIT_AUTH_FAILURES_PER_MINUTE is read (default 20, 0 allowed to turn it off), and a bad value names the variable', () => {
    expect(parseConfig({ NODE_ENV: 'development' }).authFailuresPerMinute).toBe(20);
    expect(parseConfig({ NODE_ENV: 'development', RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '5' }).authFailuresPerMinute).toBe(5);
    expect(parseConfig({ NODE_ENV: 'development', RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '0' }).authFailuresPerMinute).toBe(0);
    expect(() => parseConfig({ RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '-1' })).toThrow(/RATE_LIMIT_AUTH_FAILURES_PER_MINUTE/);
  });
});

describe('the OpenAPI document', () => {
  test('when it is fetched, then the key routes are there with every status they answer, and the key schema has no secret in it', async () => {
    const doc = (await call(h.app.url, undefined, 'GET', '/api/v2/openapi.json')).body;
    const statuses = (path: string, method: string) => Object.keys(doc.paths[path][method].responses);
    expect(statuses('/api/v2/keys', 'get')).toEqual(expect.arrayContaining(['200', '401', '429']));
    expect(statuses('/api/v2/keys', 'post')).toEqual(expect.arrayContaining(['201', '400', '401', '429']));
    expect(statuses('/api/v2/keys/{id}', 'delete')).toEqual(expect.arrayContaining(['204', '400', '401', '404', '429']));
    expect(statuses('/api/v2/keys/{id}/rotate', 'post')).toEqual(expect.arrayContaining(['201', '400', '401', '404', '409', '429']));
    expect(doc.paths['/api/v2/keys'].post.requestBody.required).toBe(true);
    expect(doc.paths['/api/v2/keys/{id}'].delete.responses['204'].content).toBeUndefined();
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.ApiKey.properties).sort()).toEqual(['createdAt', 'current', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt', 'status']);
    expect(schemas.ApiKey.additionalProperties).toBe(false);
    expect(schemas.CreatedApiKey.properties.key).toEqual({ $ref: '#/components/schemas/ApiKey' });
    expect(schemas.CreateApiKeyRequest.required).toEqual(['name']);
    expect(doc.paths['/api/v2/keys'].post.responses['400'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
  });
});
