/**
 * Tenant isolation over EVERY route: the routes are read from the app's own router (and checked
 * against the OpenAPI document), so a new route without an isolation probe below fails this test.
 * A second business's API key gets 404 (or 400/401 where the route has no tenant) for the first
 * business's data, the answers carry none of the first business's data, and nothing changes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import { SocialAccount } from '../../src/db/entities';
import { createLogger } from '../../src/logger';
import { payloadToJson, type JsonPayload } from '../../src/temporal/payload-codec';
import { call, createHarness, eventually, postHandle, type Harness, type Tenant } from '../support/harness';
import { png } from '../support/media-files';

jest.setTimeout(90_000);

interface RouteInfo {
  method: string;
  path: string;
}

/** Every (method, path) the Express app routes, mounted paths joined; regex-only paths are skipped. */
export function listRoutes(app: Express): RouteInfo[] {
  const found = new Map<string, RouteInfo>();
  type Layer = { rawPath?: unknown; route?: { path: unknown; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = [layer.route.path].flat().filter((p): p is string => typeof p === 'string');
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (!on || method === '_all') continue;
            const full = `${prefix}${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
            found.set(`${method.toUpperCase()} ${full}`, { method: method.toUpperCase(), path: full });
          }
        }
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' ? layer.rawPath : '';
        walk(layer.handle.stack, `${prefix}${mount === '/' ? '' : mount}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return [...found.values()].sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

let h: Harness;
let app: Express;
let running: RunningApp;
let owner: Tenant;
let stranger: Tenant;
let postId: number;
let publishedId: number;
let ownerKeyId: number;
let ownerMediaId: number;
/** The owner's workflow input as the Temporal Web UI would send it to the codec. */
let ownerPayload: JsonPayload;
const marker = `secret-${randomBytes(6).toString('hex')}`;
const ownerKey = randomUUID();

beforeAll(async () => {
  h = await createHarness();
  // The optional routes (sandbox mode, the Web UI codec) are mounted too, so they are walked as well.
  app = createApp({
    orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger: createLogger('silent'),
    sandbox: { fakeX: h.fakeX, fakeLinkedIn: h.fakeLinkedIn, fakeMeta: h.fakeMeta },
    codec: { codec: h.payloadCodec, namespace: 'default', corsOrigins: [], allowLoopbackUi: false, maxBodyBytes: 1024 * 1024 },
  });
  running = await startApp(app, 0);
  owner = await h.tenant({ name: `Owner ${marker}` });
  stranger = await h.tenant({ name: `Stranger ${randomBytes(4).toString('hex')}` });
  ownerKeyId = (await h.orm.em.getConnection().execute('select id from api_keys where user_id = ? order by id limit 1', [owner.userId]))[0].id;
  // A media of the owner's, with the marker in its alt text: a leak would show it.
  const form = new FormData();
  form.append('altText', `Owner media ${marker}`);
  form.append('file', new Blob([await png()]), 'owner.png');
  const uploaded = await fetch(`${running.url}/api/v2/media?businessId=${owner.businessId}`, { method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}` }, body: form });
  expect(uploaded.status).toBe(201);
  ownerMediaId = ((await uploaded.json()) as { id: number }).id;
  const scheduled = await call(running.url, owner.apiKey, 'POST', '/api/v2/schedule', {
    businessId: owner.businessId, content: `Scheduled ${marker}`, platforms: ['twitter'], scheduledFor: new Date(Date.now() + 6 * 3600_000).toISOString(),
  });
  expect(scheduled.status).toBe(201);
  postId = scheduled.body.id;
  // Published with an Idempotency-Key the stranger will reuse: keys are per user, nothing is replayed to them.
  const published = await fetch(`${running.url}/api/v2/publish?wait=15`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': ownerKey },
    body: JSON.stringify({ businessId: owner.businessId, content: `Published ${marker}`, platforms: ['twitter'] }),
  });
  expect(published.status).toBe(200);
  publishedId = ((await published.json()) as { id: number }).id;
  await eventually(async () => (h.fakeX.tweetsBy(owner.xUserId).length > 0 ? true : undefined), 20_000, 'the owner tweet');
  const history = await (await postHandle(h, publishedId)).fetchHistory();
  const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  expect(input).toBeDefined();
  ownerPayload = payloadToJson(input as never);
});
afterAll(async () => {
  await running?.stop();
  await h?.close();
});

type Probe = (ctx: { owner: Tenant }) => { path: string; body?: unknown; expect: number[]; headers?: Record<string, string> };

const postBody = (t: Tenant) => ({ businessId: t.businessId, content: `Stranger attempt ${marker}`, platforms: ['twitter'] });

/**
 * One probe per route: how a stranger would reach the owner's data there, and which statuses are
 * acceptable. A route missing here fails the test below.
 */
const isoDate = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

const probes: Record<string, Probe> = {
  'GET /health': () => ({ path: '/health', expect: [200, 503] }),
  'GET /metrics': () => ({ path: '/metrics', expect: [200] }),
  'GET /api/v2/openapi.json': () => ({ path: '/api/v2/openapi.json', expect: [200] }),
  'GET /api/v2/businesses': () => ({ path: '/api/v2/businesses', expect: [200] }),
  'POST /api/v2/accounts': ({ owner: o }) => ({ path: '/api/v2/accounts', body: { businessId: o.businessId, platform: 'twitter', platformUserId: '42', accessToken: 'stolen' }, expect: [404] }),
  'GET /api/v2/accounts': ({ owner: o }) => ({ path: `/api/v2/accounts?businessId=${o.businessId}`, expect: [404] }),
  'DELETE /api/v2/accounts/:id': ({ owner: o }) => ({ path: `/api/v2/accounts/${o.accountId}`, expect: [404] }),
  'GET /api/v2/oauth/:platform/start': ({ owner: o }) => ({ path: `/api/v2/oauth/twitter/start?businessId=${o.businessId}&redirect=0`, expect: [404] }),
  // No API key by design (the provider redirects the browser here); only a valid one-time state works.
  'GET /api/v2/oauth/:platform/callback': () => ({ path: `/api/v2/oauth/twitter/callback?state=${randomUUID()}&code=x`, expect: [400] }),
  'POST /api/v2/publish': ({ owner: o }) => ({ path: '/api/v2/publish?wait=0', body: postBody(o), expect: [404], headers: { 'Idempotency-Key': ownerKey } }),
  'POST /api/v2/publish/multi-platform': ({ owner: o }) => ({ path: '/api/v2/publish/multi-platform', body: postBody(o), expect: [404], headers: { 'Idempotency-Key': ownerKey } }),
  'POST /api/v2/schedule': ({ owner: o }) => ({ path: '/api/v2/schedule', body: { ...postBody(o), scheduledFor: new Date(Date.now() + 3600_000).toISOString() }, expect: [404], headers: { 'Idempotency-Key': ownerKey } }),
  'GET /api/v2/scheduled': ({ owner: o }) => ({ path: `/api/v2/scheduled?businessId=${o.businessId}&status=scheduled,published,cancelled,failed`, expect: [404] }),
  // The days around now: the owner's posts (the marker among them) are in the range a leak would show.
  'GET /api/v2/calendar': ({ owner: o }) => ({ path: `/api/v2/calendar?businessId=${o.businessId}&from=${isoDate(-1)}&to=${isoDate(3)}&status=scheduled,published,cancelled,failed`, expect: [404] }),
  'PUT /api/v2/schedule/:postId': () => ({ path: `/api/v2/schedule/${postId}`, body: { scheduledFor: new Date(Date.now() + 9 * 3600_000).toISOString() }, expect: [404] }),
  'DELETE /api/v2/schedule/:postId': () => ({ path: `/api/v2/schedule/${postId}`, expect: [404] }),
  'GET /api/v2/posts/:postId': () => ({ path: `/api/v2/posts/${publishedId}`, expect: [404] }),
  'GET /api/v2/sandbox/posts': ({ owner: o }) => ({ path: `/api/v2/sandbox/posts?businessId=${o.businessId}`, expect: [404] }),
  'GET /api/v2/sandbox/x/posts': ({ owner: o }) => ({ path: `/api/v2/sandbox/x/posts?businessId=${o.businessId}`, expect: [404] }),
  // Keys are per user: the stranger lists and creates only its own, and the owner's key id is not found.
  'GET /api/v2/keys': () => ({ path: '/api/v2/keys', expect: [200] }),
  'POST /api/v2/keys': () => ({ path: '/api/v2/keys', body: { name: 'stranger laptop' }, expect: [201] }),
  'DELETE /api/v2/keys/:id': () => ({ path: `/api/v2/keys/${ownerKeyId}`, expect: [404] }),
  'POST /api/v2/keys/:id/rotate': () => ({ path: `/api/v2/keys/${ownerKeyId}/rotate`, body: {}, expect: [404] }),
  // Media: the stranger uploads into, reads, serves, relabels and deletes none of the owner's.
  'POST /api/v2/media': ({ owner: o }) => ({ path: `/api/v2/media?businessId=${o.businessId}`, body: {}, expect: [404] }),
  'GET /api/v2/media/:id': () => ({ path: `/api/v2/media/${ownerMediaId}`, expect: [404] }),
  'GET /api/v2/media/:id/content': () => ({ path: `/api/v2/media/${ownerMediaId}/content`, expect: [404] }),
  'PATCH /api/v2/media/:id': () => ({ path: `/api/v2/media/${ownerMediaId}`, body: { altText: 'stolen' }, expect: [404] }),
  'DELETE /api/v2/media/:id': () => ({ path: `/api/v2/media/${ownerMediaId}`, expect: [404] }),
  'POST /codec/decode': () => ({ path: '/codec/decode', body: { payloads: [ownerPayload] }, headers: { 'X-Namespace': 'default' }, expect: [404] }),
  // Encoding takes what the caller sends and returns it encrypted: nothing of another tenant is involved.
  'POST /codec/encode': () => ({
    path: '/codec/encode',
    body: { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"hello"').toString('base64') }] },
    headers: { 'X-Namespace': 'default' },
    expect: [200],
  }),
};

/** Routes that need no API key: public by design. */
const publicRoutes = new Set(['GET /health', 'GET /metrics', 'GET /api/v2/openapi.json', 'GET /api/v2/oauth/:platform/callback']);

async function send(key: string | undefined, method: string, probe: ReturnType<Probe>) {
  const response = await fetch(`${running.url}${probe.path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(key ? { Authorization: `Bearer ${key}` } : {}),
      ...(probe.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...probe.headers,
    },
    body: probe.body === undefined ? undefined : JSON.stringify(probe.body),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

describe('tenant isolation on every route', () => {
  test('when the routes are listed from the router, then each one has an isolation probe and every documented path is among them', async () => {
    const routes = listRoutes(app).map((r) => `${r.method} ${r.path}`);
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(routes.filter((route) => !(route in probes))).toEqual([]);
    const openApi = (await call(running.url, undefined, 'GET', '/api/v2/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(openApi.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(documented.length).toBeGreaterThan(5);
    expect(documented.filter((route) => !routes.includes(route))).toEqual([]);
  });

  test("when a second business's key reaches for the first business's data on every route, then 404 (or 400) and nothing of it leaks", async () => {
    const outcomes = [];
    for (const { method, path } of listRoutes(app)) {
      const probe = probes[`${method} ${path}`]!({ owner });
      const response = await send(stranger.apiKey, method, probe);
      const leaked = [marker, owner.xUserId, owner.xToken, owner.apiKey].filter((secret) => response.text.includes(secret));
      outcomes.push({ route: `${method} ${path}`, status: response.status, expected: probe.expect.includes(response.status), leaked });
    }
    expect(outcomes.filter((o) => !o.expected || o.leaked.length > 0)).toEqual([]);
    // 404s say "not found", never "forbidden", and use the error shape.
    const post = await send(stranger.apiKey, 'GET', probes['GET /api/v2/posts/:postId']!({ owner }));
    expect(JSON.parse(post.text)).toEqual({ error: { code: 'not_found', message: 'The post was not found.' } });
    const businesses = JSON.parse((await send(stranger.apiKey, 'GET', probes['GET /api/v2/businesses']!({ owner }))).text) as { businesses: Array<{ id: number }> };
    expect(businesses.businesses.map((b) => b.id)).toEqual([stranger.businessId]);
    // The codec probe is a real payload: its owner may decode it.
    const own = await send(owner.apiKey, 'POST', probes['POST /codec/decode']!({ owner }));
    expect(own.status).toBe(200);
    expect(own.text).not.toBe('');
  });

  test('when the stranger asks about ids that do not exist, then the answer is the same 404 (existence is not revealed)', async () => {
    const missing = await send(stranger.apiKey, 'GET', { path: '/api/v2/posts/2147480000', expect: [404] });
    const foreign = await send(stranger.apiKey, 'GET', { path: `/api/v2/posts/${publishedId}`, expect: [404] });
    expect(foreign.status).toBe(missing.status);
    expect(foreign.text).toBe(missing.text);
    const missingBusiness = await send(stranger.apiKey, 'GET', { path: '/api/v2/accounts?businessId=2147480000', expect: [404] });
    const foreignBusiness = await send(stranger.apiKey, 'GET', { path: `/api/v2/accounts?businessId=${owner.businessId}`, expect: [404] });
    expect(foreignBusiness.text).toBe(missingBusiness.text);
  });

  test('when a route needs an API key and none is sent, then 401 on every such route', async () => {
    const outcomes = [];
    for (const { method, path } of listRoutes(app)) {
      const route = `${method} ${path}`;
      if (publicRoutes.has(route)) continue;
      const response = await send(undefined, method, probes[route]!({ owner }));
      outcomes.push({ route, status: response.status, leaked: response.text.includes(marker) });
    }
    expect(outcomes.length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o.status !== 401 || o.leaked)).toEqual([]);
  });

  test("when the stranger connects an account with the owner's platform user id, then the sandbox still shows them none of the owner's posts", async () => {
    const connected = await call(running.url, stranger.apiKey, 'POST', '/api/v2/accounts', {
      businessId: stranger.businessId, platform: 'twitter', platformUserId: owner.xUserId, accessToken: 'a token the stranger made up',
    });
    expect(connected.status).toBe(201);
    try {
      for (const path of ['/api/v2/sandbox/posts', '/api/v2/sandbox/x/posts']) {
        const response = await send(stranger.apiKey, 'GET', { path: `${path}?businessId=${stranger.businessId}`, expect: [200] });
        expect(response.status).toBe(200);
        expect(response.text).not.toContain(marker);
      }
      // The owner still sees their own.
      const own = await send(owner.apiKey, 'GET', { path: `/api/v2/sandbox/posts?businessId=${owner.businessId}`, expect: [200] });
      expect(own.text).toContain(`Published ${marker}`);
    } finally {
      await call(running.url, stranger.apiKey, 'DELETE', `/api/v2/accounts/${connected.body.id}`);
    }
  });

  test("when all of that is over, then the first business's data is unchanged", async () => {
    const post = await call(running.url, owner.apiKey, 'GET', `/api/v2/posts/${postId}`);
    expect(post.body.status).toBe('scheduled');
    const account = await h.orm.em.fork().findOneOrFail(SocialAccount, { id: owner.accountId });
    expect(account.isActive).toBe(true);
    expect(h.cipher.decrypt(account.accessTokenEnc, account, 'access')).toBe(owner.xToken);
    const rows = await h.orm.em.getConnection().execute('select count(*)::int as n from posts where business_id = ?', [owner.businessId]);
    expect(rows[0].n).toBe(2);
    const accounts = await h.orm.em.getConnection().execute('select count(*)::int as n from social_accounts where business_id = ?', [owner.businessId]);
    expect(accounts[0].n).toBe(1);
    const media = await call(running.url, owner.apiKey, 'GET', `/api/v2/media/${ownerMediaId}`);
    expect(media.body.altText).toBe(`Owner media ${marker}`);
    await call(running.url, owner.apiKey, 'DELETE', `/api/v2/schedule/${postId}`);
  });
});
