/**
 * `GET /api/v2/scheduled?view=summary` (issue #12): the lean page of the calendar and list, with a
 * keyset cursor over (scheduledFor, id), filters as in the full view, target statuses aggregated in
 * Postgres; and a `POST /schedule` answered as stored equals what `GET /posts/:id` reads back.
 */
import { createHarness, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

let h: Harness;
let owner: Tenant;
let stranger: Tenant;
const base = '2031-03-01T00:00:00.000Z';

beforeAll(async () => {
  h = await createHarness({ worker: false });
  [owner, stranger] = await Promise.all([h.tenant({ linkedin: true }), h.tenant()]);
  const conn = h.orm.em.getConnection();
  // 25 posts, two of them at the same instant (ties are ordered by id), one with microseconds. Rows
  // only (no workflows): marked started, or the reconciler of another test file sharing this
  // database (crash-recovery's) would find them unstarted and start them.
  await conn.execute(
    `insert into posts (business_id, created_by_user_id, content, platforms, status, scheduled_for, workflow_id, workflow_started_at)
     select ?, ?, 'Post ' || g || ' ' || repeat('x', 150), '{twitter,linkedin}', case when g % 5 = 0 then 'cancelled' else 'scheduled' end,
            ?::timestamptz + (case when g = 2 then 1 else g end) * interval '1 hour' + case when g = 7 then interval '123 microseconds' else interval '0' end,
            'post-summary-' || g || '-' || ?, now()
     from generate_series(1, 25) g`,
    [owner.businessId, owner.userId, base, String(Date.now())],
  );
  await conn.execute(
    `insert into post_targets (post_id, platform, status, url, error_class)
     select p.id, pl, case when pl = 'linkedin' then 'failed' else 'pending' end, null, case when pl = 'linkedin' then 'auth' else null end
     from posts p, unnest('{twitter,linkedin}'::text[]) pl where p.business_id = ?`,
    [owner.businessId],
  );
});
afterAll(async () => h?.close());

const url = (query: string) => `/api/v2/scheduled?businessId=${owner.businessId}&view=summary&${query}`;

test('when the summary is read page by page, then every post comes once, in (scheduledFor, id) order, with its excerpt and target statuses', async () => {
  const seen: Array<{ id: number; scheduledFor: string }> = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const answer: { status: number; body: any } = await owner.call('GET', url(`status=scheduled,cancelled&from=${base}&limit=4${cursor ? `&cursor=${cursor}` : ''}`));
    expect(answer.status).toBe(200);
    expect(answer.body.posts.length).toBeLessThanOrEqual(4);
    seen.push(...answer.body.posts);
    cursor = answer.body.nextCursor;
    pages += 1;
  } while (cursor);
  expect(pages).toBe(7);
  expect(seen).toHaveLength(25);
  expect(new Set(seen.map((p) => p.id)).size).toBe(25);
  const order = [...seen].sort((a, b) => Date.parse(a.scheduledFor) - Date.parse(b.scheduledFor) || a.id - b.id);
  expect(seen.map((p) => p.id)).toEqual(order.map((p) => p.id));
  const first = seen[0] as any;
  expect(Object.keys(first).sort()).toEqual(['excerpt', 'id', 'platforms', 'scheduledFor', 'status', 'targets', 'timezone', 'truncated']);
  expect(first.excerpt).toHaveLength(100);
  expect(first.truncated).toBe(true);
  expect(first.targets).toEqual([
    { platform: 'twitter', status: 'pending', url: null, errorClass: null },
    { platform: 'linkedin', status: 'failed', url: null, errorClass: 'auth' },
  ]);
});

test('when filtered by status and time, then the summary holds what the full view holds, in the same order', async () => {
  const query = `from=2031-03-01T05:00:00Z&to=2031-03-01T15:00:00Z&status=scheduled`;
  const full = await owner.call('GET', `/api/v2/scheduled?businessId=${owner.businessId}&${query}`);
  const summary = await owner.call('GET', url(query));
  expect(summary.status).toBe(200);
  expect(summary.body.nextCursor).toBeNull();
  expect(summary.body.posts.map((p: any) => p.id)).toEqual(full.body.posts.map((p: any) => p.id));
  expect(summary.body.posts.map((p: any) => p.scheduledFor)).toEqual(full.body.posts.map((p: any) => p.scheduledFor));
  expect(summary.body.posts.every((p: any) => p.status === 'scheduled')).toBe(true);
});

test('when the full view (built in SQL) lists posts with parts, then each equals what GET /posts/:id reads', async () => {
  const conn = h.orm.em.getConnection();
  await conn.execute(
    `insert into post_parts (post_id, platform, part_index, text, content_fingerprint, platform_post_id, url, published_at)
     select t.post_id, t.platform, i, 'part ' || i || ' of ' || t.platform, md5(t.post_id || t.platform || i),
            case when i = 0 then 'pp-' || t.post_id || t.platform end, case when i = 0 then 'https://example.test/' || t.post_id end,
            case when i = 0 then '2031-03-01T00:00:00.123456Z'::timestamptz end
     from post_targets t join posts p on p.id = t.post_id, generate_series(0, 2) i
     where p.business_id = ? and p.scheduled_for < '2031-03-01T04:00:00Z'`,
    [owner.businessId],
  );
  const full = await owner.call('GET', `/api/v2/scheduled?businessId=${owner.businessId}&status=scheduled,cancelled&to=2031-03-01T06:00:00Z`);
  expect(full.status).toBe(200);
  expect(full.body.posts.length).toBeGreaterThanOrEqual(4);
  expect(full.body.posts[0].targets[0].parts).toHaveLength(3);
  for (const post of full.body.posts) expect(post).toEqual((await owner.call('GET', `/api/v2/posts/${post.id}`)).body);
});

test('when the cursor is not one the API made, or comes without view=summary, then 400 names it', async () => {
  for (const cursor of ['bm9wZQ', 'MTIzLjA', 'x'.repeat(65), 'a+b', Buffer.from('1.99999999999').toString('base64url')]) {
    const answer = await owner.call('GET', url(`cursor=${encodeURIComponent(cursor)}`));
    expect(answer.status).toBe(400);
    expect(answer.body.error.details[0].path).toBe('cursor');
  }
  const page = await owner.call('GET', url(`status=scheduled,cancelled&limit=1`));
  const full = await owner.call('GET', `/api/v2/scheduled?businessId=${owner.businessId}&cursor=${page.body.nextCursor}`);
  expect(full.status).toBe(400);
  expect(full.body.error.details[0].path).toBe('cursor');
});

test('when another user asks for the business, then 404, with or without a cursor', async () => {
  const page = await owner.call('GET', url('limit=1'));
  expect((await stranger.call('GET', url(`limit=1&cursor=${page.body.nextCursor}`))).status).toBe(404);
  expect((await stranger.call('GET', url(''))).status).toBe(404);
});

test('when a post is scheduled, then the answer (as stored, not read back) equals what GET /posts/:id reads', async () => {
  const created = await owner.call('POST', '/api/v2/schedule', {
    businessId: owner.businessId, content: 'Answered as stored', platforms: ['linkedin', 'twitter'], scheduledFor: new Date(Date.now() + 86_400_000).toISOString(), timezone: 'Europe/Berlin',
  });
  expect(created.status).toBe(201);
  const read = await owner.call('GET', `/api/v2/posts/${created.body.id}`);
  expect(created.body).toEqual(read.body);
  expect(created.body.workflowId).toMatch(new RegExp(`^post-${created.body.id}-[a-z2-9]{8}$`));
  expect(created.body.targets.map((t: any) => t.platform)).toEqual(['linkedin', 'twitter']);
});
