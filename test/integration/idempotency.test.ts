/**
 * `Idempotency-Key` on the post-creating endpoints (src/api/post-creation.ts), against the real
 * Postgres and Temporal: the key is stored with the post in one transaction, so a retry returns the
 * same post whatever happened to the first request (even when its workflow start failed), a
 * different request with the same key is 409, concurrent duplicates get one post, validation errors
 * do not burn the key, and Redis plays no part.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import { createLogger } from '../../src/logger';
import { call, createHarness, type Harness, type Tenant } from '../support/harness';
import { freePort } from '../support/ports';

jest.setTimeout(120_000);

let h: Harness;
const logger = createLogger('silent');
const opened: RunningApp[] = [];
const extra: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  for (const app of opened) await app.stop();
  for (const close of extra) await close();
  await h?.close();
});

const inHours = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString();
const scheduleBody = (t: Tenant, extraFields: Record<string, unknown> = {}) => ({
  businessId: t.businessId, content: `Once only ${Date.now()} ${Math.random()}`, platforms: ['twitter'], scheduledFor: inHours(5), ...extraFields,
});
const publishBody = (t: Tenant) => ({ businessId: t.businessId, content: `Now once ${Date.now()} ${Math.random()}`, platforms: ['twitter'] });

async function keyed(baseUrl: string, t: Tenant, method: string, path: string, key: string, body: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${t.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

async function postCount(businessId: number): Promise<number> {
  const rows = await h.orm.em.getConnection().execute('select count(*)::int as n from posts where business_id = ?', [businessId]);
  return rows[0].n;
}

async function workflowIdsOf(businessId: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of h.temporal.workflow.list({ query: `HeraldBusinessId = ${businessId}` })) ids.push(execution.workflowId);
  return ids.sort();
}

describe('a retry with the same key', () => {
  test('when a schedule is sent twice with one key, then the second answer replays the first and one post and one workflow exist', async () => {
    const t = await h.tenant();
    const key = randomUUID();
    const body = scheduleBody(t);
    const first = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, body);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // Same fields in another order: the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const second = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, reordered);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(await postCount(t.businessId)).toBe(1);
    // Visibility is eventually consistent: wait for the first workflow, then check there is no second.
    for (let i = 0; i < 50 && (await workflowIdsOf(t.businessId)).length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(first.body.workflowId).toMatch(new RegExp(`^post-${first.body.id}-[a-z0-9]{8}$`));
    expect(await workflowIdsOf(t.businessId)).toEqual([first.body.workflowId]);
    await t.call('DELETE', `/api/v2/schedule/${first.body.id}`);
  });

  test('when a publish is retried with the same key, then the post is published once and the retry gets the first status and body', async () => {
    const t = await h.tenant();
    const key = randomUUID();
    const body = publishBody(t);
    const first = await keyed(h.app.url, t, 'POST', '/api/v2/publish?wait=15', key, body);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('published');
    const retry = await keyed(h.app.url, t, 'POST', '/api/v2/publish?wait=15', key, body);
    expect({ status: retry.status, body: retry.body }).toEqual({ status: first.status, body: first.body });
    expect(h.fakeX.tweetsBy(t.xUserId)).toHaveLength(1);
    expect(await postCount(t.businessId)).toBe(1);
  });

  test('when multi-platform is retried, then the same post id comes back and nothing new is created', async () => {
    const t = await h.tenant();
    const key = randomUUID();
    const body = publishBody(t);
    const first = await keyed(h.app.url, t, 'POST', '/api/v2/publish/multi-platform', key, body);
    const second = await keyed(h.app.url, t, 'POST', '/api/v2/publish/multi-platform', key, body);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.id).toBe(first.body.id);
    expect(await postCount(t.businessId)).toBe(1);
  });

  test('when another user sends the same key, then it is a different key (scoped by user)', async () => {
    const a = await h.tenant();
    const b = await h.tenant();
    const key = randomUUID();
    const first = await keyed(h.app.url, a, 'POST', '/api/v2/schedule', key, scheduleBody(a));
    const second = await keyed(h.app.url, b, 'POST', '/api/v2/schedule', key, scheduleBody(b));
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.businessId).toBe(b.businessId);
    await a.call('DELETE', `/api/v2/schedule/${first.body.id}`);
    await b.call('DELETE', `/api/v2/schedule/${second.body.id}`);
  });

  test('when no key is sent, then every request creates a post', async () => {
    const t = await h.tenant();
    const body = scheduleBody(t);
    const first = await t.call('POST', '/api/v2/schedule', body);
    const second = await t.call('POST', '/api/v2/schedule', body);
    expect(second.body.id).not.toBe(first.body.id);
    expect(await postCount(t.businessId)).toBe(2);
  });
});

describe('conflicts', () => {
  test('when the same key comes with a different body or endpoint, then 409 conflict and nothing is created', async () => {
    const t = await h.tenant();
    const key = randomUUID();
    const first = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, scheduleBody(t));
    expect(first.status).toBe(201);
    const changed = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, scheduleBody(t, { content: 'Something else entirely' }));
    expect(changed.status).toBe(409);
    expect(changed.body.error).toEqual({ code: 'conflict', message: expect.stringContaining('different request'), details: { reason: 'idempotency_key_reused' } });
    const elsewhere = await keyed(h.app.url, t, 'POST', '/api/v2/publish/multi-platform', key, publishBody(t));
    expect(elsewhere.status).toBe(409);
    expect(await postCount(t.businessId)).toBe(1);
    await t.call('DELETE', `/api/v2/schedule/${first.body.id}`);
  });

  test('when duplicates arrive while the first is still running, then every one answers with the first post, and one post and one workflow exist', async () => {
    // An API on a task queue no worker polls: a publish waits its full ?wait, so it stays in flight.
    const idleQueue = `${h.taskQueue}-idle`;
    const app = await startApp(createApp({ orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: idleQueue, publishers: h.publishers, cipher: h.cipher, logger }), 0);
    opened.push(app);
    const t = await h.tenant();
    const key = randomUUID();
    const body = publishBody(t);
    const answers = await Promise.all(Array.from({ length: 5 }, () => keyed(app.url, t, 'POST', '/api/v2/publish?wait=2', key, body)));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    expect(await postCount(t.businessId)).toBe(1);
    for (let i = 0; i < 50 && (await workflowIdsOf(t.businessId)).length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(await workflowIdsOf(t.businessId)).toEqual([answers[0]!.body.workflowId]);
    await h.temporal.workflow.getHandle(answers[0]!.body.workflowId).terminate('test cleanup');
  });
});

describe('errors do not burn the key', () => {
  test('when the first request fails validation, then a corrected retry with the same key creates the post', async () => {
    const t = await h.tenant();
    const key = randomUUID();
    const bad = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, scheduleBody(t, { content: '   ' }));
    expect(bad.status).toBe(400);
    const fixed = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, scheduleBody(t, { content: 'Fixed content' }));
    expect(fixed.status).toBe(201);
    expect(fixed.body.content).toBe('Fixed content');
    expect(await postCount(t.businessId)).toBe(1);
    await t.call('DELETE', `/api/v2/schedule/${fixed.body.id}`);
  });

  test('when the key is not a valid header value, then 400 names Idempotency-Key', async () => {
    const t = await h.tenant();
    const response = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', 'x'.repeat(256), scheduleBody(t));
    expect(response.status).toBe(400);
    expect(response.body.error.details[0].path).toBe('Idempotency-Key');
    expect(await postCount(t.businessId)).toBe(0);
  });

  test('when Temporal refuses the start, then the post is accepted all the same, and a retry with the same key returns it and starts its workflow', async () => {
    // A namespace that does not exist: Temporal refuses every start at once, like an engine that is down.
    const refusing = new Client({ connection: h.temporal.connection, namespace: `herald-missing-${randomBytes(4).toString('hex')}` });
    const engineDown = await startApp(createApp({ orm: h.orm, temporal: refusing, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger }), 0);
    opened.push(engineDown);
    const t = await h.tenant();
    const key = randomUUID();
    const body = scheduleBody(t);
    const accepted = await keyed(engineDown.url, t, 'POST', '/api/v2/schedule', key, body);
    expect(accepted.status).toBe(201);
    expect(accepted.body.status).toBe('scheduled');
    const [row] = await h.orm.em.getConnection().execute('select workflow_started_at from posts where id = ?', [accepted.body.id]);
    expect(row.workflow_started_at).toBeNull();

    const retried = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, body);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.body.id).toBe(accepted.body.id);
    expect(await postCount(t.businessId)).toBe(1);
    const [started] = await h.orm.em.getConnection().execute('select workflow_started_at from posts where id = ?', [accepted.body.id]);
    expect(started.workflow_started_at).not.toBeNull();
    expect((await h.temporal.workflow.getHandle(accepted.body.workflowId).describe()).status.name).toBe('RUNNING');
    await t.call('DELETE', `/api/v2/schedule/${retried.body.id}`);
  });
});

describe('when Redis is unreachable', () => {
  test('when a key is sent, then the post is created and a retry replays it: keys live in Postgres', async () => {
    const closed = await freePort();
    const redis = new Redis({ host: '127.0.0.1', port: closed, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => undefined);
    extra.push(() => redis.disconnect());
    const app = await startApp(createApp({ orm: h.orm, temporal: h.temporal, redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger }), 0);
    opened.push(app);
    const t = await h.tenant();
    const key = randomUUID();
    const body = scheduleBody(t);
    const first = await keyed(app.url, t, 'POST', '/api/v2/schedule', key, body);
    const again = await keyed(app.url, t, 'POST', '/api/v2/schedule', key, body);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body.id).toBe(first.body.id);
    expect(await postCount(t.businessId)).toBe(1);
    const unkeyed = await call(app.url, t.apiKey, 'POST', '/api/v2/schedule', scheduleBody(t));
    expect(unkeyed.status).toBe(201);
    await t.call('DELETE', `/api/v2/schedule/${first.body.id}`);
    await t.call('DELETE', `/api/v2/schedule/${unkeyed.body.id}`);
  });
});

describe('a key older than 24 hours (taken over in the insert statement itself)', () => {
  test('when a key\'s row has expired, then the same key makes a new post (for another body too), and replays that one from then on', async () => {
    const t = await h.tenant();
    const key = randomUUID();
    const first = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, scheduleBody(t));
    expect(first.status).toBe(201);
    await h.orm.em.getConnection().execute(`update idempotency_keys set created_at = now() - interval '25 hours' where post_id = ?`, [first.body.id]);

    const secondBody = scheduleBody(t);
    const second = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, secondBody);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.body.id).not.toBe(first.body.id);
    const rows: Array<{ post_id: number }> = await h.orm.em.getConnection().execute('select post_id from idempotency_keys where user_id = ?', [t.userId]);
    expect(rows.map((row) => row.post_id)).toEqual([second.body.id]);

    const replay = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, secondBody);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(second.body.id);
    const again = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, { ...scheduleBody(t), content: 'another body' });
    expect(again.status).toBe(409);
    expect(again.body.error.details.reason).toBe('idempotency_key_reused');
    expect(await postCount(t.businessId)).toBe(2);
  });

  test('when a live key is sent with a new body by two requests at once, then neither stores a post', async () => {
    const t = await h.tenant();
    const key = randomUUID();
    const first = await keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, scheduleBody(t));
    expect(first.status).toBe(201);
    const answers = await Promise.all([1, 2].map(() => keyed(h.app.url, t, 'POST', '/api/v2/schedule', key, scheduleBody(t))));
    expect(answers.map((a) => a.status)).toEqual([409, 409]);
    expect(await postCount(t.businessId)).toBe(1);
  });
});
