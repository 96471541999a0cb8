/**
 * `post_day_counts` (issue #12 goal 4): the per-day counts the calendar reads are kept by Postgres
 * triggers on every write of a post. After any mix of writes — creates (16 at once through the API,
 * on one hot day), reschedules across days and DST changes, status changes, moves between
 * businesses, deletes, a business's time zone change, a business deleted with its posts — the
 * kept counts equal a live count of the posts, with each post's local day computed here in
 * JavaScript (Intl), not by the SQL the triggers use. Real Postgres, Temporal and worker.
 */
import { POST_DAY_COUNT_SHARDS } from '../../src/db/migrations/Migration20261202000000_post_day_counts';
import { POST_STATUSES } from '../../src/domain/types';
import { eventually, createHarness, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(180_000);

let h: Harness;
let tenants: Tenant[];
const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu'];

beforeAll(async () => {
  h = await createHarness();
  tenants = await Promise.all(ZONES.map(() => h.tenant()));
  for (const [i, tenant] of tenants.entries()) await setZone(tenant.businessId, ZONES[i]!);
});
afterAll(async () => h?.close());

const sql = (text: string, params: unknown[] = []) => h.orm.em.getConnection().execute(text, params);
const setZone = (businessId: number, zone: string) => sql(`update businesses set timezone = ? where id = ?`, [zone, businessId]);

/** A deterministic sequence (mulberry32): a failure replays with the same writes. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const localDay = (zone: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });

/** Every (business, day, status) where the kept count (its shards summed) and a live count of the posts differ, and every shard below 0. */
async function disagreements(businessIds: number[]): Promise<string[]> {
  const zones = new Map<number, string>((await sql(`select id, timezone from businesses where id = any(?::int[])`, [`{${businessIds.join(',')}}`])).map((row: any) => [Number(row.id), row.timezone]));
  const posts = await sql(`select business_id, scheduled_for, status from posts where business_id = any(?::int[])`, [`{${businessIds.join(',')}}`]);
  const live = new Map<string, number>();
  const formats = new Map([...zones].map(([id, zone]) => [id, localDay(zone)]));
  for (const post of posts) {
    const key = `${post.business_id}|${formats.get(Number(post.business_id))!.format(new Date(post.scheduled_for))}|${post.status}`;
    live.set(key, (live.get(key) ?? 0) + 1);
  }
  const kept = new Map<string, number>();
  const wrong: string[] = [];
  for (const row of await sql(`select business_id, day::text as day, status, shard, n from post_day_counts where business_id = any(?::int[])`, [`{${businessIds.join(',')}}`])) {
    const key = `${row.business_id}|${row.day}|${row.status}`;
    kept.set(key, (kept.get(key) ?? 0) + Number(row.n));
    // A post keeps its shard for life: a shard counts real posts.
    if (Number(row.n) < 0) wrong.push(`${key} shard ${row.shard}: ${row.n}`);
  }
  for (const key of new Set([...live.keys(), ...kept.keys()])) {
    const [k, l] = [kept.get(key) ?? 0, live.get(key) ?? 0];
    if (k !== l) wrong.push(`${key}: kept ${k}, live ${l}`);
  }
  return wrong.sort();
}

async function insertPost(tenant: Tenant, scheduledFor: string, status: string): Promise<number> {
  // Rows only, marked started (no reconciler starts them); far in the future, no worker touches them.
  const [row] = await sql(
    `insert into posts (business_id, created_by_user_id, content, platforms, status, scheduled_for, workflow_id, workflow_started_at)
     values (?, ?, 'counted', '{twitter}', ?, ?, 'post-day-counts-' || gen_random_uuid(), now()) returning id`,
    [tenant.businessId, tenant.userId, status, scheduledFor],
  );
  return Number(row.id);
}

/**
 * Instants around local midnights at DST changes in 2031: Berlin 30 Mar / 26 Oct, New York 9 Mar /
 * 2 Nov, Lord Howe 6 Apr / 5 Oct (a 30-minute change), and Kathmandu's +05:45 — edges and near them.
 */
const EDGES = [
  '2031-03-29T22:59:59.999Z', '2031-03-29T23:00:00.000Z', '2031-03-30T21:59:59.999Z', '2031-03-30T22:00:00.000Z',
  '2031-10-25T21:59:59.999Z', '2031-10-25T22:00:00.000Z', '2031-10-26T22:30:00.000Z', '2031-10-26T23:00:00.000Z',
  '2031-03-09T04:59:59.999Z', '2031-03-09T05:00:00.000Z', '2031-03-10T03:59:59.999Z', '2031-03-10T04:00:00.000Z',
  '2031-11-02T03:59:59.999Z', '2031-11-02T04:00:00.000Z', '2031-11-03T04:59:59.999Z', '2031-11-03T05:00:00.000Z',
  '2031-04-05T12:59:59.999Z', '2031-04-05T13:00:00.000Z', '2031-04-05T13:30:00.000Z', '2031-10-04T13:30:00.000Z', '2031-10-04T13:00:00.000Z',
  '2031-06-30T18:14:59.999Z', '2031-06-30T18:15:00.000Z',
];

function instant(random: () => number): string {
  const edge = Date.parse(EDGES[Math.floor(random() * EDGES.length)]!);
  // Half exactly on an edge, half within a day and a half of one.
  return new Date(random() < 0.5 ? edge : edge + Math.round((random() - 0.5) * 3 * 86_400_000)).toISOString();
}

test('when a random mix of creates, reschedules, status changes, moves and deletes runs 8 at a time, then the kept counts equal the live ones', async () => {
  const random = seeded(20261202);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ids: number[] = [];
  for (let i = 0; i < 80; i += 1) ids.push(await insertPost(pick(tenants), instant(random), pick(POST_STATUSES)));
  const writes: Array<() => Promise<unknown>> = [];
  for (let i = 0; i < 600; i += 1) {
    const id = pick(ids);
    const roll = random();
    if (roll < 0.15) writes.push(async () => ids.push(await insertPost(pick(tenants), instant(random), pick(POST_STATUSES))));
    else if (roll < 0.4) writes.push(() => sql(`update posts set scheduled_for = ? where id = ?`, [instant(random), id]));
    else if (roll < 0.6) writes.push(() => sql(`update posts set status = ? where id = ?`, [pick(POST_STATUSES), id]));
    else if (roll < 0.7) writes.push(() => sql(`update posts set status = ?, scheduled_for = ? where id = ?`, [pick(POST_STATUSES), instant(random), id]));
    // The worker rewrites a post's status and time with every state it mirrors, most often unchanged.
    else if (roll < 0.8) writes.push(() => sql(`update posts set status = status, scheduled_for = scheduled_for, updated_at = now() where id = ?`, [id]));
    else if (roll < 0.85) writes.push(() => sql(`update posts set business_id = ? where id = ?`, [pick(tenants).businessId, id]));
    else if (roll < 0.9) writes.push(() => sql(`delete from posts where id = ?`, [id]));
    // Several posts in one statement, and in one transaction.
    else if (roll < 0.95) writes.push(() => sql(`update posts set status = ? where id = any(?::int[])`, [pick(POST_STATUSES), `{${[pick(ids), pick(ids), pick(ids)].join(',')}}`]));
    else {
      const [a, b, when] = [pick(ids), pick(ids), instant(random)];
      writes.push(() => h.orm.em.fork().transactional(async (em) => {
        await em.getConnection().execute(`update posts set scheduled_for = ? where id = ?`, [when, a], 'all', em.getTransactionContext());
        await em.getConnection().execute(`update posts set status = 'cancelled' where id = ?`, [b], 'all', em.getTransactionContext());
      }));
    }
  }
  for (let i = 0; i < writes.length; i += 8) await Promise.all(writes.slice(i, i + 8).map((write) => write()));
  expect(await disagreements(tenants.map((t) => t.businessId))).toEqual([]);
  const [{ n }] = await sql(`select count(*)::int as n from posts where business_id = any(?::int[])`, [`{${tenants.map((t) => t.businessId).join(',')}}`]);
  expect(n).toBeGreaterThan(80);
});

test('when posts move between two buckets in both directions at once, then no writer deadlocks and the counts stay right', async () => {
  const [tenant] = tenants;
  const day = '2031-08-14T09:00:00.000Z';
  const forth = await Promise.all(Array.from({ length: 64 }, () => insertPost(tenant!, day, 'scheduled')));
  const back = await Promise.all(Array.from({ length: 64 }, () => insertPost(tenant!, day, 'cancelled')));
  // Pairs on one shard (the same rows): in the order of each move, half would lock S then C, half C then S.
  const pairs = forth.flatMap((id) => {
    const other = back.findIndex((candidate) => candidate % POST_DAY_COUNT_SHARDS === id % POST_DAY_COUNT_SHARDS);
    return other < 0 ? [] : [[id, back.splice(other, 1)[0]!] as const];
  });
  expect(pairs.length).toBeGreaterThanOrEqual(16);
  // The window between a statement's two row locks is short: many rounds, the pairs swapping back and forth.
  const failures: string[] = [];
  for (let round = 0; round < 12; round += 1) {
    const [to, from] = round % 2 === 0 ? ['cancelled', 'scheduled'] : ['scheduled', 'cancelled'];
    const results = await Promise.allSettled(pairs.flatMap(([a, b]) => [
      sql(`update posts set status = ? where id = ?`, [to, a]),
      sql(`update posts set status = ? where id = ?`, [from, b]),
    ]));
    failures.push(...results.filter((result) => result.status === 'rejected').map((result) => String((result as PromiseRejectedResult).reason)));
  }
  expect(failures).toEqual([]);
  expect(await disagreements([tenant!.businessId])).toEqual([]);
});

test('when a business changes its time zone, then its posts are recounted on their new local days, other businesses untouched', async () => {
  const tenant = tenants[1]!;
  // 04:30Z on 10 March is the 10th in New York, the 9th in Los Angeles.
  const id = await insertPost(tenant, '2031-03-10T04:30:00.000Z', 'scheduled');
  const dayOf = async () => (await sql(`select day::text as day from post_day_counts where business_id = ? and day between '2031-03-09' and '2031-03-10' and status = 'scheduled' and n > 0 order by day`, [tenant.businessId])).map((row: any) => row.day);
  expect(await dayOf()).toContain('2031-03-10');
  const others = `{${tenants.filter((t) => t !== tenant).map((t) => t.businessId).join(',')}}`;
  const othersCounts = () => sql(`select business_id, day, status, n from post_day_counts where business_id = any(?::int[]) order by 1, 2, 3`, [others]);
  const before = await othersCounts();
  await setZone(tenant.businessId, 'America/Los_Angeles');
  expect(await disagreements(tenants.map((t) => t.businessId))).toEqual([]);
  expect(await othersCounts()).toEqual(before);
  await sql(`update posts set status = 'published' where id = ?`, [id]);
  await setZone(tenant.businessId, 'America/New_York');
  expect(await disagreements(tenants.map((t) => t.businessId))).toEqual([]);
});

test('when a business is deleted, then its posts go with it and so do its counts', async () => {
  const doomed = await h.tenant();
  await setZone(doomed.businessId, 'Asia/Kathmandu');
  for (const when of EDGES.slice(0, 6)) await insertPost(doomed, when, 'scheduled');
  expect(await disagreements([doomed.businessId])).toEqual([]);
  expect((await sql(`select count(*)::int as n from post_day_counts where business_id = ?`, [doomed.businessId]))[0].n).toBeGreaterThan(0);
  await sql(`delete from businesses where id = ?`, [doomed.businessId]);
  expect(await sql(`select * from post_day_counts where business_id = ?`, [doomed.businessId])).toEqual([]);
  expect(await disagreements(tenants.map((t) => t.businessId))).toEqual([]);
});

test('when 16 posts are created at once through the API on one day, then rescheduled and cancelled through their workflows, then the counts follow', async () => {
  const tenant = tenants[0]!;
  const day = Date.parse('2027-09-01T10:00:00.000Z');
  const created = await Promise.all(Array.from({ length: 16 }, (_, i) => tenant.call('POST', '/api/v2/schedule', {
    businessId: tenant.businessId, content: `Counted ${i} ${Math.random()}`, platforms: ['twitter'], scheduledFor: new Date(day + i * 1000).toISOString(),
  })));
  expect(created.map((answer) => answer.status)).toEqual(Array(16).fill(201));
  expect(await disagreements([tenant.businessId])).toEqual([]);
  const postIds: number[] = created.map((answer) => answer.body.id);
  const moved = postIds.slice(0, 4);
  const cancelled = postIds.slice(4, 8);
  // Berlin's 2 September starts at 22:00Z on the 1st: a post moved from 10:00Z to 22:30Z changes day.
  await Promise.all([
    ...moved.map((id) => tenant.call('PUT', `/api/v2/schedule/${id}`, { scheduledFor: '2027-09-01T22:30:00.000Z' })),
    ...cancelled.map((id) => tenant.call('DELETE', `/api/v2/schedule/${id}`)),
  ]);
  await eventually(async () => {
    const rows = await sql(`select count(*) filter (where status = 'cancelled')::int as cancelled, count(*) filter (where scheduled_for = '2027-09-01T22:30:00Z')::int as moved from posts where id = any(?::int[])`, [`{${postIds.join(',')}}`]);
    return rows[0].cancelled === 4 && rows[0].moved === 4 ? true : undefined;
  }, 30_000, 'the workflows to write the reschedules and cancels');
  expect(await disagreements([tenant.businessId])).toEqual([]);
  const counts = await sql(`select day::text as day, status, sum(n)::int as n from post_day_counts where business_id = ? and day between '2027-09-01' and '2027-09-02' group by 1, 2 having sum(n) > 0 order by day, status`, [tenant.businessId]);
  expect(counts).toEqual([
    { day: '2027-09-01', status: 'cancelled', n: 4 },
    { day: '2027-09-01', status: 'scheduled', n: 8 },
    { day: '2027-09-02', status: 'scheduled', n: 4 },
  ]);
});
