/**
 * The calendar's answer cache (src/api/calendar.ts) is exact: after each kind of write of anything
 * the month view shows — a create, a cancel, reschedules within a day and across days, a target's
 * status, url or error class as the worker writes them, an edit of the content, platforms or time
 * zone of a post, a move to another business, a delete, a target added or removed, the business's
 * time zone — the next answer is byte for byte what the statement writes with no cache; a write
 * that changes nothing shown (the worker rewriting a post unchanged, another business's writes)
 * keeps the cached answer (a hit: the statement is not run again). Real Postgres and API.
 */
import { writePostState } from '../../activities/bookkeeping';
import type { AuthContext } from '../../src/api/auth';
import { calendarCacheCounters, readCalendar } from '../../src/api/calendar';
import { calendarQuerySchema } from '../../src/api/schemas';
import type { LivePostState } from '../../workflows/contract';
import { createHarness, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

const ZONE = 'Europe/Berlin';
let h: Harness;
let owner: Tenant;
let other: Tenant;
const posts: number[] = [];

const sql = (text: string, params: unknown[] = []) => h.orm.em.getConnection().execute(text, params);

async function insertPost(tenant: Tenant, scheduledFor: string, content = `Cached post ${scheduledFor}`): Promise<number> {
  // Rows only (no workflows), marked started: no reconciler starts them.
  const [row] = await sql(
    `insert into posts (business_id, created_by_user_id, content, platforms, status, scheduled_for, timezone, workflow_id, workflow_started_at)
     values (?, ?, ?, '{twitter,linkedin}', 'scheduled', ?, ?, 'post-calendar-cache-' || gen_random_uuid(), now()) returning id`,
    [tenant.businessId, tenant.userId, content, scheduledFor, ZONE],
  );
  const id = Number(row.id);
  await sql(`insert into post_targets (post_id, platform, status) values (?, 'twitter', 'pending'), (?, 'linkedin', 'pending')`, [id, id]);
  return id;
}

/** The worker's own mirror of a workflow's state (activities/bookkeeping.ts writePostState; outside an activity it has no ownership fence, and no version here). */
async function mirror(postId: number, state: { status: string; scheduledFor?: string; targets: Array<Record<string, unknown>> }): Promise<void> {
  const [current] = await sql(`select scheduled_for from posts where id = ?`, [postId]);
  const live: LivePostState = {
    postId,
    status: state.status as LivePostState['status'],
    scheduledFor: new Date(state.scheduledFor ?? current.scheduled_for).toISOString(),
    publishedAt: null,
    targets: state.targets as unknown as LivePostState['targets'],
  };
  expect(await writePostState({ orm: h.orm }, live, new Date())).toBe(true);
}

const QUERIES = ['from=2028-06-01&to=2028-07-01', 'from=2028-06-01&to=2028-07-01&perDay=20&status=scheduled,publishing,cancelled,failed'];

/** The answer's text as the API sends it. */
async function served(tenant: Tenant, query: string): Promise<string> {
  const response = await fetch(`${h.app.url}/api/v2/calendar?businessId=${tenant.businessId}&${query}`, { headers: { Authorization: `Bearer ${tenant.apiKey}` } });
  expect(response.status).toBe(200);
  return response.text();
}

/** The answer the statement writes now, with no cache. */
function cold(tenant: Tenant, query: string): Promise<string> {
  const auth: AuthContext = { userId: tenant.userId, apiKeyId: 0, businessIds: new Set([tenant.businessId]) };
  return readCalendar(h.orm, auth, calendarQuerySchema.parse({ businessId: String(tenant.businessId), ...Object.fromEntries(new URLSearchParams(query)) }));
}

/** Reads every query twice (the second a hit), writes, and returns what each query answers next and whether it was a hit. */
async function afterWrite(tenant: Tenant, write: () => Promise<unknown>): Promise<Array<{ before: string; after: string; cold: string; hit: boolean }>> {
  const before: string[] = [];
  for (const query of QUERIES) {
    await served(tenant, query);
    const hits = calendarCacheCounters.hits;
    before.push(await served(tenant, query));
    expect(calendarCacheCounters.hits).toBe(hits + 1);
  }
  await write();
  const results = [];
  for (const [i, query] of QUERIES.entries()) {
    const [hits, misses] = [calendarCacheCounters.hits, calendarCacheCounters.misses];
    const after = await served(tenant, query);
    const hit = calendarCacheCounters.hits === hits + 1 && calendarCacheCounters.misses === misses;
    results.push({ before: before[i]!, after, cold: await cold(tenant, query), hit });
  }
  return results;
}

beforeAll(async () => {
  h = await createHarness({ worker: false });
  [owner, other] = await Promise.all([h.tenant(), h.tenant()]);
  await sql(`update businesses set timezone = ? where id = ?`, [ZONE, owner.businessId]);
  for (const when of ['2028-06-10T07:00:00.000Z', '2028-06-10T09:00:00.000Z', '2028-06-10T12:00:00.000Z', '2028-06-11T08:00:00.000Z', '2028-06-20T21:59:00.000Z', '2028-06-30T21:00:00.000Z']) {
    posts.push(await insertPost(owner, when));
  }
  await insertPost(other, '2028-06-10T09:30:00.000Z');
});
afterAll(async () => h?.close());

const [first, second, third, nextDay, late, lastDay] = [0, 1, 2, 3, 4, 5].map((i) => () => posts[i]!);

test.each<[string, () => Promise<unknown>]>([
  ['a post created through the API', async () => {
    const created = await owner.call('POST', '/api/v2/schedule', { businessId: owner.businessId, content: 'Created while cached', platforms: ['twitter'], scheduledFor: '2028-06-10T08:00:00.000Z' });
    expect(created.status).toBe(201);
  }],
  ['a cancel, as the worker mirrors it', () => mirror(second(), { status: 'cancelled', targets: [{ platform: 'twitter', status: 'cancelled' }, { platform: 'linkedin', status: 'cancelled' }] })],
  ['a reschedule within the day (the order changes, no count does)', () => mirror(first(), { status: 'scheduled', scheduledFor: '2028-06-10T13:00:00.000Z', targets: [] })],
  ['a reschedule across days', () => mirror(nextDay(), { status: 'scheduled', scheduledFor: '2028-06-12T08:00:00.000Z', targets: [] })],
  ['a reschedule by a second across midnight (Berlin)', () => mirror(late(), { status: 'scheduled', scheduledFor: '2028-06-20T22:00:00.000Z', targets: [] })],
  ['a post\'s status, as the worker writes it (its targets not yet)', () => mirror(third(), { status: 'publishing', targets: [] })],
  ['a target\'s status alone, as the worker writes it', () => mirror(third(), { status: 'publishing', targets: [{ platform: 'twitter', status: 'publishing' }] })],
  ['a target\'s url, as the worker writes it', () => mirror(third(), { status: 'publishing', targets: [{ platform: 'twitter', url: 'https://x.com/i/status/1' }] })],
  ['a target\'s error class, as the worker writes it', () => mirror(third(), { status: 'publishing', targets: [{ platform: 'linkedin', error: 'rate limited', errorClass: 'rate_limited' }] })],
  ['a post\'s status alone', () => sql(`update posts set status = 'failed' where id = ?`, [third()])],
  ['an edit of the content', () => sql(`update posts set content = 'Edited: ' || content where id = ?`, [lastDay()])],
  ['an edit of the platforms', () => sql(`update posts set platforms = '{twitter}' where id = ?`, [lastDay()])],
  ['an edit of the post\'s time zone', () => sql(`update posts set timezone = 'Asia/Tokyo' where id = ?`, [lastDay()])],
  ['a target added', () => sql(`insert into post_targets (post_id, platform, status) values (?, 'facebook', 'pending')`, [lastDay()])],
  ['a target removed', () => sql(`delete from post_targets where post_id = ? and platform = 'linkedin'`, [lastDay()])],
  ['the business\'s time zone', () => sql(`update businesses set timezone = 'America/New_York' where id = ?`, [owner.businessId])],
  ['a post moved in from another business', async () => sql(`update posts set business_id = ? where id = ?`, [owner.businessId, await insertPost(other, '2028-06-15T12:00:00.000Z')])],
  ['a post deleted', () => sql(`delete from posts where id = ?`, [nextDay()])],
])('when %s, then the next answer is the statement\'s, byte for byte', async (_name, write) => {
  for (const { before, after, cold: fresh, hit } of await afterWrite(owner, write)) {
    expect(after).toBe(fresh);
    expect(hit).toBe(false);
    // The write shows in the answer (or the test would prove nothing).
    expect(after).not.toBe(before);
  }
});

test.each<[string, () => Promise<unknown>]>([
  ['the worker rewrites a post unchanged (its status, time and targets as stored)', () => mirror(lastDay(), { status: 'scheduled', targets: [{ platform: 'twitter', status: 'pending' }] })],
  ['another business writes (a create, an edit, a target, its time zone)', async () => {
    const id = await insertPost(other, '2028-06-10T10:00:00.000Z');
    await sql(`update posts set content = 'theirs', status = 'cancelled' where id = ?`, [id]);
    await mirror(id, { status: 'cancelled', targets: [{ platform: 'twitter', status: 'cancelled', url: 'https://x.com/i/status/2' }] });
    await sql(`update businesses set timezone = 'Asia/Kathmandu' where id = ?`, [other.businessId]);
  }],
  ['a post is confirmed started (workflow_started_at) or touched (updated_at)', () => sql(`update posts set workflow_started_at = now(), updated_at = now() where id = ?`, [lastDay()])],
])('when %s, then the cached answer is served (no statement)', async (_name, write) => {
  for (const { before, after, cold: fresh, hit } of await afterWrite(owner, write)) {
    expect(hit).toBe(true);
    expect(after).toBe(before);
    expect(after).toBe(fresh);
  }
});

test('when the business is deleted after its answer was cached, then 404', async () => {
  const gone = await h.tenant();
  await served(gone, QUERIES[0]!);
  await sql(`delete from businesses where id = ?`, [gone.businessId]);
  const response = await fetch(`${h.app.url}/api/v2/calendar?businessId=${gone.businessId}&${QUERIES[0]}`, { headers: { Authorization: `Bearer ${gone.apiKey}` } });
  expect([401, 404]).toContain(response.status);
});

test('when a stranger asks for a cached answer, then 404 before any cache look-up', async () => {
  await served(owner, QUERIES[0]!);
  const [hits, misses] = [calendarCacheCounters.hits, calendarCacheCounters.misses];
  const response = await other.call('GET', `/api/v2/calendar?businessId=${owner.businessId}&${QUERIES[0]}`);
  expect(response.status).toBe(404);
  expect([calendarCacheCounters.hits, calendarCacheCounters.misses]).toEqual([hits, misses]);
});

test('when 16 views of an uncached month arrive at once, then one statement answers them all, each the statement\'s answer', async () => {
  const query = 'from=2028-06-02&to=2028-07-02&perDay=5';
  const misses = calendarCacheCounters.misses;
  const answers = await Promise.all(Array.from({ length: 16 }, () => served(owner, query)));
  expect(calendarCacheCounters.misses).toBe(misses + 1);
  const fresh = await cold(owner, query);
  expect(answers.every((answer) => answer === fresh)).toBe(true);
});
