/**
 * `GET /api/v2/calendar` (issue #12): a month view in one request — per day of the business's time
 * zone (DST-correct boundaries), the posts counted by status and the first `perDay` lean summaries
 * (cancelled left out unless asked for), equal to what the paged summary list reads for the day;
 * every parameter validated (400 naming it), other tenants' businesses 404. Real Temporal and
 * Postgres: the API's own statement against rows inserted here.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Business } from '../../src/db/entities';
import { call, createHarness, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

const ZONE = 'Europe/Berlin';
let h: Harness;
let owner: Tenant;
let stranger: Tenant;
/** The ids of the posts inserted by `label`. */
const ids = new Map<string, number>();

/**
 * Posts of the owner (Berlin). 2031-03-30 is a 23-hour day (02:00 CET → 03:00 CEST): it starts at
 * 2031-03-29T23:00Z and ends at 2031-03-30T22:00Z. 2031-10-26 is a 25-hour day (03:00 CEST → 02:00
 * CET): 2031-10-25T22:00Z to 2031-10-26T23:00Z. A fixed offset or UTC days put the edge posts on the
 * wrong day.
 */
const OWNER_POSTS: Array<[label: string, scheduledFor: string, status: string]> = [
  ['last of the 29th', '2031-03-29T22:59:59.999Z', 'scheduled'],
  ['first of the 30th', '2031-03-29T23:00:00.000Z', 'cancelled'],
  ['tie a', '2031-03-30T08:00:00.000Z', 'scheduled'],
  ['tie b', '2031-03-30T08:00:00.000Z', 'published'],
  ['30th noon', '2031-03-30T10:00:00.000Z', 'cancelled'],
  ['30th afternoon', '2031-03-30T13:00:00.000Z', 'failed'],
  ['last of the 30th', '2031-03-30T21:59:59.999Z', 'scheduled'],
  ['first of the 31st', '2031-03-30T22:00:00.000Z', 'scheduled'],
  ['late on the 26th', '2031-10-26T22:30:00.000Z', 'scheduled'],
  ['first of the 27th', '2031-10-26T23:00:00.000Z', 'scheduled'],
];

async function insertPost(tenant: Tenant, label: string, scheduledFor: string, status: string): Promise<number> {
  // Rows only (no workflows): marked started, or the reconciler of another test file sharing this
  // database (crash-recovery's) would find them unstarted and start them.
  const [row] = await h.orm.em.getConnection().execute(
    `insert into posts (business_id, created_by_user_id, content, platforms, status, scheduled_for, timezone, workflow_id, workflow_started_at)
     values (?, ?, ?, '{twitter}', ?, ?, ?, ?, now()) returning id`,
    [tenant.businessId, tenant.userId, `Calendar post: ${label} ${'·'.repeat(120)}`, status, scheduledFor, ZONE, `post-calendar-${label.replace(/\W/g, '-')}-${tenant.businessId}-${Date.now()}`],
  );
  const id = Number(row.id);
  await h.orm.em.getConnection().execute(`insert into post_targets (post_id, platform, status) values (?, 'twitter', 'pending')`, [id]);
  return id;
}

beforeAll(async () => {
  h = await createHarness({ worker: false });
  [owner, stranger] = await Promise.all([h.tenant(), h.tenant()]);
  await h.orm.em.fork().nativeUpdate(Business, { id: owner.businessId }, { timezone: ZONE });
  for (const [label, scheduledFor, status] of OWNER_POSTS) ids.set(label, await insertPost(owner, label, scheduledFor, status));
  // Another tenant's post on the same day: never counted or listed for the owner.
  await insertPost(stranger, 'stranger on the 30th', '2031-03-30T09:00:00.000Z', 'scheduled');
});
afterAll(async () => h?.close());

const calendar = (tenant: Tenant, query: string) => tenant.call('GET', `/api/v2/calendar?businessId=${owner.businessId}&${query}`);
const dayOf = (body: any, date: string) => body.days.find((day: any) => day.date === date);
const idsOf = (day: any) => day.posts.map((post: any) => post.id);
const zeroCounts = { scheduled: 0, publishing: 0, published: 0, partially_published: 0, failed: 0, cancelled: 0 };

test('when the range crosses the spring DST change, then each day runs from local midnight to local midnight (23 hours on the 30th) and every post lies on its local day', async () => {
  const answer = await calendar(owner, 'from=2031-03-29&to=2031-04-01');
  expect(answer.status).toBe(200);
  expect(answer.body.timezone).toBe(ZONE);
  expect(answer.body.days.map((day: any) => [day.date, day.start, day.end])).toEqual([
    ['2031-03-29', '2031-03-28T23:00:00.000Z', '2031-03-29T23:00:00.000Z'],
    ['2031-03-30', '2031-03-29T23:00:00.000Z', '2031-03-30T22:00:00.000Z'],
    ['2031-03-31', '2031-03-30T22:00:00.000Z', '2031-03-31T22:00:00.000Z'],
  ]);
  expect(dayOf(answer.body, '2031-03-29')).toMatchObject({ total: 1, matching: 1, counts: { ...zeroCounts, scheduled: 1 } });
  expect(idsOf(dayOf(answer.body, '2031-03-29'))).toEqual([ids.get('last of the 29th')]);
  expect(dayOf(answer.body, '2031-03-31')).toMatchObject({ total: 1, matching: 1 });
  expect(idsOf(dayOf(answer.body, '2031-03-31'))).toEqual([ids.get('first of the 31st')]);
  // The counts add up to every post of the owner in the range, the stranger's not among them.
  expect(answer.body.days.reduce((sum: number, day: any) => sum + day.total, 0)).toBe(8);
});

test('when the range crosses the autumn DST change, then the 26th has 25 hours and a post at 23:30 local time is on it', async () => {
  const answer = await calendar(owner, 'from=2031-10-26&to=2031-10-28');
  expect(answer.status).toBe(200);
  const [sunday, monday] = answer.body.days;
  expect([sunday.start, sunday.end]).toEqual(['2031-10-25T22:00:00.000Z', '2031-10-26T23:00:00.000Z']);
  expect(Date.parse(sunday.end) - Date.parse(sunday.start)).toBe(25 * 3600_000);
  expect(idsOf(sunday)).toEqual([ids.get('late on the 26th')]);
  expect(idsOf(monday)).toEqual([ids.get('first of the 27th')]);
});

test('when a day has more posts than perDay, then it counts them all by status and lists the first by (scheduledFor, id), cancelled left out', async () => {
  const answer = await calendar(owner, 'from=2031-03-30&to=2031-03-31');
  expect(answer.body.perDay).toBe(3);
  expect(answer.body.statuses).toEqual(['scheduled', 'publishing', 'published', 'partially_published', 'failed']);
  const day = answer.body.days[0];
  expect(day.total).toBe(6);
  expect(day.counts).toEqual({ ...zeroCounts, scheduled: 2, published: 1, failed: 1, cancelled: 2 });
  expect(day.matching).toBe(4);
  expect(idsOf(day)).toEqual([ids.get('tie a'), ids.get('tie b'), ids.get('30th afternoon')]);
  expect(Object.keys(day.posts[0]).sort()).toEqual(['excerpt', 'id', 'platforms', 'scheduledFor', 'status', 'targets', 'timezone', 'truncated']);
  expect(day.posts[0]).toMatchObject({ scheduledFor: '2031-03-30T08:00:00.000Z', status: 'scheduled', truncated: true, targets: [{ platform: 'twitter', status: 'pending', url: null, errorClass: null }] });
  expect(day.posts[0].excerpt).toHaveLength(100);

  const more = await calendar(owner, 'from=2031-03-30&to=2031-03-31&perDay=10');
  expect(idsOf(more.body.days[0])).toEqual(['tie a', 'tie b', '30th afternoon', 'last of the 30th'].map((label) => ids.get(label)));
  const none = await calendar(owner, 'from=2031-03-30&to=2031-03-31&perDay=0');
  expect(none.body.days[0]).toMatchObject({ total: 6, matching: 4, posts: [] });
});

test('when cancelled posts are asked for, then they are listed in their place and counted in matching; total and counts do not change', async () => {
  const answer = await calendar(owner, 'from=2031-03-30&to=2031-03-31&status=scheduled,cancelled&perDay=20');
  const day = answer.body.days[0];
  expect(answer.body.statuses).toEqual(['scheduled', 'cancelled']);
  expect(idsOf(day)).toEqual(['first of the 30th', 'tie a', '30th noon', 'last of the 30th'].map((label) => ids.get(label)));
  expect(day).toMatchObject({ total: 6, matching: 4, counts: { ...zeroCounts, scheduled: 2, published: 1, failed: 1, cancelled: 2 } });
});

test('when a day\'s posts are read with the paged summary list from its start to its end, then its first ones are exactly the calendar\'s', async () => {
  const answer = await calendar(owner, 'from=2031-03-29&to=2031-04-01&status=scheduled,published,failed,cancelled');
  for (const day of answer.body.days) {
    const list = await owner.call('GET', `/api/v2/scheduled?businessId=${owner.businessId}&view=summary&status=scheduled,published,failed,cancelled&from=${day.start}&to=${day.end}&limit=1000`);
    expect(list.status).toBe(200);
    expect(list.body.posts).toHaveLength(day.matching);
    expect(list.body.posts.slice(0, 3)).toEqual(day.posts);
  }
});

test('when the range has no posts, then every day is there with zero counts; 62 days are allowed', async () => {
  const answer = await calendar(owner, 'from=2032-01-01&to=2032-03-03');
  expect(answer.status).toBe(200);
  expect(answer.body.days).toHaveLength(62);
  expect(answer.body.days[0]).toEqual({ date: '2032-01-01', start: '2031-12-31T23:00:00.000Z', end: '2032-01-01T23:00:00.000Z', total: 0, counts: zeroCounts, matching: 0, posts: [] });
  expect(answer.body.days.at(-1).date).toBe('2032-03-02');
});

test('when the answer is checked against the OpenAPI document, then it fits the Calendar schema', async () => {
  const doc = (await call(h.app.url, undefined, 'GET', '/api/v2/openapi.json')).body;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');
  const validate = ajv.compile({ $ref: 'doc#/components/schemas/Calendar' });
  const answer = await calendar(owner, 'from=2031-03-29&to=2031-04-01&status=scheduled,cancelled');
  expect({ valid: validate(answer.body), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
  const parameters = doc.paths['/api/v2/calendar'].get.parameters.map((p: any) => [p.name, p.required]);
  expect(parameters).toEqual([['businessId', true], ['from', true], ['to', true], ['perDay', false], ['status', false]]);
});

test.each([
  ['no from', 'to=2031-04-01', 'from'],
  ['no to', 'from=2031-03-01', 'to'],
  ['a day that does not exist', 'from=2031-02-29&to=2031-03-10', 'from'],
  ['a time instead of a day', 'from=2031-03-01T00:00:00Z&to=2031-03-10', 'from'],
  ['a year out of range', 'from=0000-01-01&to=2031-01-10', 'from'],
  ['to before from', 'from=2031-03-10&to=2031-03-01', 'to'],
  ['to equal to from', 'from=2031-03-10&to=2031-03-10', 'to'],
  ['63 days', 'from=2032-01-01&to=2032-03-04', 'to'],
  ['perDay above the bound', 'from=2031-03-01&to=2031-03-10&perDay=21', 'perDay'],
  ['perDay not a number', 'from=2031-03-01&to=2031-03-10&perDay=-1', 'perDay'],
  ['an unknown status', 'from=2031-03-01&to=2031-03-10&status=scheduled,bogus', 'status'],
])('when the query has %s, then 400 names the field', async (_name, query, field) => {
  const answer = await calendar(owner, query);
  expect(answer.status).toBe(400);
  expect(answer.body.error.code).toBe('validation_failed');
  expect(answer.body.error.details.map((d: any) => d.path)).toEqual([field]);
});

test('when businessId is missing or not a number, then 400 names it', async () => {
  for (const query of ['from=2031-03-01&to=2031-03-10', 'businessId=abc&from=2031-03-01&to=2031-03-10', 'businessId=99999999999&from=2031-03-01&to=2031-03-10']) {
    const answer = await owner.call('GET', `/api/v2/calendar?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.map((d: any) => d.path)).toEqual(['businessId']);
  }
});

test('when another user asks for the business, or for one that does not exist, then 404 as on every route; their own calendar holds only their posts', async () => {
  const foreign = await calendar(stranger, 'from=2031-03-29&to=2031-04-01');
  expect(foreign.status).toBe(404);
  expect(foreign.body.error.code).toBe('not_found');
  expect((await owner.call('GET', '/api/v2/calendar?businessId=2147483647&from=2031-03-29&to=2031-04-01')).status).toBe(404);
  expect((await call(h.app.url, undefined, 'GET', `/api/v2/calendar?businessId=${owner.businessId}&from=2031-03-29&to=2031-04-01`)).status).toBe(401);
  const own = await stranger.call('GET', `/api/v2/calendar?businessId=${stranger.businessId}&from=2031-03-29&to=2031-04-01`);
  expect(own.status).toBe(200);
  expect(own.body.timezone).toBe('UTC');
  expect(own.body.days.map((day: any) => day.total)).toEqual([0, 1, 0]);
  expect(own.body.days[1].start).toBe('2031-03-30T00:00:00.000Z');
});
