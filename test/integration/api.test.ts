/**
 * The HTTP contract (../shared/spec/API.md): auth, tenant isolation, field-level validation,
 * listing, health and the generated OpenAPI document.
 */
import { Post } from '../../src/db/entities';
import { SocialAccount } from '../../src/db/entities';
import { createApp, startApp } from '../../src/api/app';
import { openOrm } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { call, createHarness, eventually, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(90_000);

let h: Harness;
let owner: Tenant;
let stranger: Tenant;

beforeAll(async () => {
  h = await createHarness();
  owner = await h.tenant();
  stranger = await h.tenant();
});
afterAll(async () => h?.close());

const inHours = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString();
const scheduleBody = (t: Tenant, extra: Record<string, unknown> = {}) => ({
  businessId: t.businessId, content: `Hello ${Date.now()} ${Math.random()}`, platforms: ['twitter'], scheduledFor: inHours(5), ...extra,
});

describe('authentication', () => {
  test('when no key or a wrong key is sent, then 401 unauthorized', async () => {
    const none = await call(h.app.url, undefined, 'GET', `/api/v2/accounts?businessId=${owner.businessId}`);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    const wrong = await call(h.app.url, 'hk_not-a-key', 'GET', `/api/v2/accounts?businessId=${owner.businessId}`);
    expect(wrong.status).toBe(401);
  });
});

describe('tenant isolation', () => {
  test('when a key of another business names this business or its posts, then 404 everywhere', async () => {
    const post = await owner.call('POST', '/api/v2/schedule', scheduleBody(owner));
    expect(post.status).toBe(201);
    const id = post.body.id;
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/api/v2/accounts?businessId=${owner.businessId}`],
      ['POST', '/api/v2/accounts', { businessId: owner.businessId, platform: 'twitter', platformUserId: '1', accessToken: 't' }],
      ['DELETE', `/api/v2/accounts/${owner.accountId}`],
      ['POST', '/api/v2/publish', { businessId: owner.businessId, content: 'x', platforms: ['twitter'] }],
      ['POST', '/api/v2/publish/multi-platform', { businessId: owner.businessId, content: 'x', platforms: ['twitter'] }],
      ['POST', '/api/v2/schedule', scheduleBody(owner)],
      ['GET', `/api/v2/scheduled?businessId=${owner.businessId}`],
      ['PUT', `/api/v2/schedule/${id}`, { scheduledFor: inHours(6) }],
      ['DELETE', `/api/v2/schedule/${id}`],
      ['GET', `/api/v2/posts/${id}`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await stranger.call(method, path, body);
      expect({ method, path, status: response.status, code: response.body?.error?.code }).toEqual({ method, path, status: 404, code: 'not_found' });
    }
    const still = await owner.call('GET', `/api/v2/posts/${id}`);
    expect(still.body.status).toBe('scheduled');
    const account = await h.orm.em.fork().findOneOrFail(SocialAccount, { id: owner.accountId });
    expect(account.isActive).toBe(true);
    await owner.call('DELETE', `/api/v2/schedule/${id}`);
  });
});

describe('validation', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['content empty', { content: '   ' }, 'content'],
    ['content missing', { content: undefined }, 'content'],
    ['unknown platform', { platforms: ['myspace'] }, 'platforms.0'],
    ['no platforms', { platforms: [] }, 'platforms'],
    ['repeated platform', { platforms: ['twitter', 'twitter'] }, 'platforms'],
    ['platform without a publisher yet', { platforms: ['linkedin'] }, 'platforms.0'],
    ['scheduledFor without offset', { scheduledFor: '2030-01-01T09:00:00' }, 'scheduledFor'],
    ['scheduledFor not a date', { scheduledFor: 'tomorrow' }, 'scheduledFor'],
    ['scheduledFor in the past', { scheduledFor: new Date(Date.now() - 120_000).toISOString() }, 'scheduledFor'],
    ['bad time zone', { timezone: 'Mars/Olympus' }, 'timezone'],
    ['businessId a string', { businessId: 'one' }, 'businessId'],
    ['unknown field', { colour: 'red' }, '(body)'],
    ['numbering not a boolean', { thread: { numbering: 'yes' } }, 'thread.numbering'],
  ];
  test.each(cases)('when %s, then 400 names the field', async (_name, patch, path) => {
    const before = await h.orm.em.fork().count(Post, { businessId: owner.businessId });
    const response = await owner.call('POST', '/api/v2/schedule', { ...scheduleBody(owner), ...patch });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
    const paths = response.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toContain(path);
    expect(response.body.error.message).toContain(path);
    expect(await h.orm.em.fork().count(Post, { businessId: owner.businessId })).toBe(before);
  });

  test('when the text makes a thread with two identical parts, then 400 names the parts and suggests numbering, and with numbering the post is accepted', async () => {
    const details = 'Doors open at 7 pm at the Old Mill on Harbour Street. Entry is free, but places are limited: reply to this post or write to tickets@acme.example to reserve yours, and bring a friend who loves live music!';
    const content = [
      'Our summer concert is back this Friday, with three local bands, food trucks from the Saturday market and a late bar on the terrace overlooking the harbour.',
      details,
      'The line-up: The Gulls at 7:30, Low Tide at 8:30 and Harbour Lights at 9:30, with a surprise guest closing the night.',
      details,
    ].join('\n\n');
    const before = await h.orm.em.fork().count(Post, { businessId: owner.businessId });

    const refused = await owner.call('POST', '/api/v2/schedule', { ...scheduleBody(owner), content });

    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([{ path: 'content', platform: 'twitter', message: expect.stringMatching(/^parts 2 and 4 of the X thread have the same text.*numbering/) }]);
    expect(await h.orm.em.fork().count(Post, { businessId: owner.businessId })).toBe(before);
    const numbered = await owner.call('POST', '/api/v2/schedule', { ...scheduleBody(owner), content, thread: { numbering: true } });
    expect(numbered.status).toBe(201);
    await owner.call('DELETE', `/api/v2/schedule/${numbered.body.id}`);
  });

  test('when the business has no X account, then 400 names the platform and nothing is stored', async () => {
    const bare = await h.tenant({ x: false });
    const response = await bare.call('POST', '/api/v2/schedule', scheduleBody(bare));
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([{ path: 'platforms.0', message: expect.stringMatching(/no active twitter account/) }]);
    expect(await h.orm.em.fork().count(Post, { businessId: bare.businessId })).toBe(0);
  });

  test('when the body is not JSON, then 400 validation_failed', async () => {
    const response = await fetch(`${h.app.url}/api/v2/schedule`, {
      method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'application/json' }, body: '{"businessId":',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
  });

  test('when a post id is not a number, then 400 names postId', async () => {
    const response = await owner.call('GET', '/api/v2/posts/abc');
    expect(response.status).toBe(400);
    expect(response.body.error.details[0].path).toBe('postId');
  });

  test('when a reschedule time is in the past, then 400 and the post keeps its time', async () => {
    const post = await owner.call('POST', '/api/v2/schedule', scheduleBody(owner));
    const response = await owner.call('PUT', `/api/v2/schedule/${post.body.id}`, { scheduledFor: new Date(Date.now() - 3600_000).toISOString() });
    expect(response.status).toBe(400);
    expect(response.body.error.details[0].path).toBe('scheduledFor');
    expect((await owner.call('GET', `/api/v2/posts/${post.body.id}`)).body.scheduledFor).toBe(post.body.scheduledFor);
    await owner.call('DELETE', `/api/v2/schedule/${post.body.id}`);
  });
});

describe('accounts', () => {
  test('when an account is connected, then its tokens are stored encrypted and never returned', async () => {
    const listed = await owner.call('GET', `/api/v2/accounts?businessId=${owner.businessId}`);
    expect(listed.status).toBe(200);
    expect(listed.body.accounts).toEqual([
      { id: owner.accountId, businessId: owner.businessId, platform: 'twitter', platformUserId: owner.xUserId, displayName: expect.any(String), isActive: true, needsReconnect: false, expiresAt: null },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(owner.xToken);
    const rows = await h.orm.em.getConnection().execute('select access_token_enc from social_accounts where id = ?', [owner.accountId]);
    expect(rows[0].access_token_enc).not.toContain(owner.xToken);
    expect(h.cipher.decrypt(rows[0].access_token_enc, { businessId: owner.businessId, platform: 'twitter', platformUserId: owner.xUserId }, 'access')).toBe(owner.xToken);
  });
});

describe('listing', () => {
  test('when filtering by time window and status, then only matching posts come back in time order', async () => {
    const t = await h.tenant();
    const times = [inHours(30), inHours(10), inHours(20)];
    const ids: number[] = [];
    for (const scheduledFor of times) ids.push((await t.call('POST', '/api/v2/schedule', scheduleBody(t, { scheduledFor }))).body.id);
    const all = await t.call('GET', `/api/v2/scheduled?businessId=${t.businessId}`);
    expect(all.body.posts.map((p: { id: number }) => p.id)).toEqual([ids[1], ids[2], ids[0]]);
    const window = await t.call('GET', `/api/v2/scheduled?businessId=${t.businessId}&from=${encodeURIComponent(inHours(15))}&to=${encodeURIComponent(inHours(25))}`);
    expect(window.body.posts.map((p: { id: number }) => p.id)).toEqual([ids[2]]);
    await t.call('DELETE', `/api/v2/schedule/${ids[1]}`);
    const cancelled = await t.call('GET', `/api/v2/scheduled?businessId=${t.businessId}&status=cancelled`);
    expect(cancelled.body.posts.map((p: { id: number }) => p.id)).toEqual([ids[1]]);
    const bad = await t.call('GET', `/api/v2/scheduled?businessId=${t.businessId}&status=sleeping`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toMatch(/^status/);
    for (const id of ids) await t.call('DELETE', `/api/v2/schedule/${id}`);
  });

  test('when multi-platform publish is called, then it answers 202 at once with the post', async () => {
    const response = await owner.call('POST', '/api/v2/publish/multi-platform', { businessId: owner.businessId, content: `Multi ${Date.now()}`, platforms: ['twitter'] });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ workflowId: expect.stringMatching(new RegExp(`^post-${response.body.id}-[a-z0-9]{8}$`)), platforms: ['twitter'] });
  });
});

describe('round trips per create (issue #12)', () => {
  test('when a post is scheduled with an Idempotency-Key, then the API runs 3 SQL statements for the answer and 1 more to confirm the start', async () => {
    // An API of its own with an ORM of its own: only its statements are counted (not the worker's).
    const orm = await openOrm(h.databaseUrl, { pool: { min: 0, max: 5 } });
    const app = await startApp(createApp({ orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger: createLogger('silent') }), 0);
    const statements: string[] = [];
    const knex = orm.em.getConnection().getKnex();
    const listener = (query: { sql: string }) => statements.push(query.sql.replace(/\s+/g, ' ').trim());
    const keyed = (body: unknown) => fetch(`${app.url}/api/v2/schedule`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': `count-${Date.now()}-${Math.random()}` },
      body: JSON.stringify(body),
    });
    // Warm-up: the key's time of last use is written at most once a minute.
    expect((await keyed(scheduleBody(owner))).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 100));
    knex.on('query', listener);
    try {
      const response = await keyed(scheduleBody(owner));
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: number };
      // The API key with its memberships and the Idempotency-Key's row; the accounts; the insert;
      // then, not awaited by the answer, the confirmation of the start (group-committed).
      await eventually(async () => (statements.some((sql) => sql.includes('set workflow_started_at')) ? true : undefined), 5000, 'the start to be confirmed');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(statements).toHaveLength(4);
      expect(statements[0]).toContain('from api_keys');
      expect(statements[0]).toContain('idempotency_keys');
      expect(statements[2]).toContain('insert into posts');
      expect(statements[3]).toContain('set workflow_started_at');
      const [row] = await h.orm.em.getConnection().execute('select workflow_started_at from posts where id = ?', [id]);
      expect(row.workflow_started_at).not.toBeNull();
    } finally {
      knex.removeListener('query', listener);
      await app.stop();
      await orm.close(true);
    }
  });
});

describe('health and contract', () => {
  test('when everything runs, then /health is ok for postgres, redis, temporal and worker', async () => {
    const response = await call(h.app.url, undefined, 'GET', '/health');
    expect(response.body).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', temporal: 'ok', worker: 'ok' } });
    expect(response.status).toBe(200);
  });

  test('when no worker polls the task queue, then /health is 503 naming the worker, and a cancel is queued (202) until one runs', async () => {
    const lonely = await createHarness({ worker: false });
    try {
      const response = await call(lonely.app.url, undefined, 'GET', '/health');
      expect(response.status).toBe(503);
      expect(response.body.status).toBe('failing');
      // What is down, not why: no error text on an unauthenticated endpoint.
      expect(response.body.checks).toEqual({ postgres: 'ok', redis: 'ok', temporal: 'ok', worker: 'failing' });
      expect(response.body.checks.postgres).toBe('ok');

      const t = await lonely.tenant();
      const post = await t.call('POST', '/api/v2/schedule', scheduleBody(t, { scheduledFor: new Date(Date.now() + 30_000).toISOString() }));
      expect(post.status).toBe(201);
      const cancel = await t.call('DELETE', `/api/v2/schedule/${post.body.id}`);
      expect(cancel.status).toBe(202);
      expect(cancel.body.status).toBe('scheduled');

      await lonely.startWorker();
      const after = await eventually(async () => {
        const { body } = await t.call('GET', `/api/v2/posts/${post.body.id}`);
        return body.status === 'scheduled' ? undefined : body;
      }, 30_000, 'the queued cancel to take effect');
      expect(after.status).toBe('cancelled');
      expect(lonely.fakeX.tweetsBy(t.xUserId)).toHaveLength(0);
    } finally {
      await lonely.close();
    }
  });

  test('when the OpenAPI document is fetched, then it describes the routes and the schemas from zod', async () => {
    const response = await call(h.app.url, undefined, 'GET', '/api/v2/openapi.json');
    expect(response.status).toBe(200);
    const doc = response.body;
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/api/v2/publish', '/api/v2/schedule', '/api/v2/schedule/{postId}', '/api/v2/scheduled', '/api/v2/posts/{postId}', '/api/v2/accounts', '/health']) {
      expect(doc.paths[path]).toBeDefined();
    }
    expect(doc.components.schemas.ScheduleRequest.required).toEqual(expect.arrayContaining(['businessId', 'content', 'platforms', 'scheduledFor']));
    expect(doc.components.schemas.Post.properties.status.enum).toContain('partially_published');
  });

  test('when an unknown route is called, then 404 in the contract shape', async () => {
    const response = await owner.call('GET', '/api/v2/nope');
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('not_found');
  });
});
