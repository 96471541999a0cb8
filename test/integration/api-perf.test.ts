/**
 * A small load measurement of the API's hot routes (issue #12), skipped unless HERALD_PERF=1:
 *   HERALD_PERF=1 npx jest test/integration/api-perf.test.ts
 * It drives a harness-built app (no worker: nothing publishes) with N concurrent fetch loops and
 * prints req/s, p50 and p99, and the SQL statements one `POST /schedule` sends (knex query events).
 * The numbers are noisy on a shared two-core machine: compare runs made back to back.
 */
import { randomUUID } from 'node:crypto';
import { createHarness, type Harness, type Tenant } from '../support/harness';

const run = process.env.HERALD_PERF === '1' ? describe : describe.skip;
jest.setTimeout(600_000);

let h: Harness;
let tenant: Tenant;

async function load(name: string, total: number, concurrency: number, send: (i: number) => Promise<Response>): Promise<void> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        const response = await send(i);
        await response.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (!response.ok) failures += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
  process.stdout.write(`PERF ${name}: ${total} @${concurrency}: ${(total / seconds).toFixed(1)} req/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, failures ${failures}\n`);
}

run('API load (HERALD_PERF=1)', () => {
  beforeAll(async () => {
    h = await createHarness({ worker: false });
    tenant = await h.tenant({ linkedin: true });
    // 500 posts in one month, two targets with three parts each: what a busy calendar month reads.
    const conn = h.orm.em.getConnection();
    await conn.execute(
      `insert into posts (business_id, created_by_user_id, content, platforms, status, scheduled_for, timezone, workflow_id)
       select ?, ?, repeat('Seeded post number ' || g || '. ', 12), '{twitter,linkedin}', 'scheduled', '2030-01-01T00:00:00Z'::timestamptz + g * interval '80 minutes', 'UTC', 'post-seed-' || g || '-' || ?
       from generate_series(1, 500) g`,
      [tenant.businessId, tenant.userId, randomUUID()],
    );
    await conn.execute(
      `insert into post_targets (post_id, platform, account_id, status)
       select p.id, pl, null, 'pending' from posts p, unnest('{twitter,linkedin}'::text[]) pl where p.business_id = ?`,
      [tenant.businessId],
    );
    await conn.execute(
      `insert into post_parts (post_id, platform, part_index, text, content_fingerprint)
       select t.post_id, t.platform, i, 'part ' || i, md5(t.post_id || t.platform || i) from post_targets t join posts p on p.id = t.post_id, generate_series(0, 2) i where p.business_id = ?`,
      [tenant.businessId],
    );
  });
  afterAll(async () => h?.close());

  const headers = () => ({ Authorization: `Bearer ${tenant.apiKey}`, 'Content-Type': 'application/json' });
  const scheduleBody = () =>
    JSON.stringify({ businessId: tenant.businessId, content: `Load post ${randomUUID()}`, platforms: ['twitter', 'linkedin'], scheduledFor: new Date(Date.now() + 86_400_000 * 30).toISOString() });

  test('statements of one POST /schedule', async () => {
    const knex = (h.orm.em.getConnection() as unknown as { getKnex(): { on(e: string, f: (q: { sql: string }) => void): void; off(e: string, f: unknown): void } }).getKnex();
    const seen: string[] = [];
    const listener = (q: { sql: string }) => seen.push(q.sql.replace(/\s+/g, ' ').slice(0, 90));
    knex.on('query', listener);
    const response = await fetch(`${h.app.url}/api/v2/schedule`, { method: 'POST', headers: { ...headers(), 'Idempotency-Key': randomUUID() }, body: scheduleBody() });
    expect(response.status).toBe(201);
    knex.off('query', listener);
    process.stdout.write(`PERF statements for one keyed POST /schedule (2 platforms): ${seen.length}\n${seen.map((s) => `  ${s}`).join('\n')}\n`);
  });

  test('auth only: GET /businesses', async () => {
    await load('GET /businesses (auth + 1 query)', 2000, 16, () => fetch(`${h.app.url}/api/v2/businesses`, { headers: headers() }));
  });

  test('POST /schedule', async () => {
    await load('POST /schedule (2 platforms, keyed)', 600, 16, () =>
      fetch(`${h.app.url}/api/v2/schedule`, { method: 'POST', headers: { ...headers(), 'Idempotency-Key': randomUUID() }, body: scheduleBody() }),
    );
  });

  test('GET /scheduled, 500 posts an answer', async () => {
    const base = `${h.app.url}/api/v2/scheduled?businessId=${tenant.businessId}&from=2030-01-01T00:00:00Z&to=2030-02-01T00:00:00Z&limit=500`;
    const first = (await (await fetch(base, { headers: headers() })).json()) as { posts: unknown[] };
    expect(first.posts).toHaveLength(500);
    await load('GET /scheduled full (500 posts)', 150, 16, () => fetch(base, { headers: headers() }));
    const summary = await fetch(`${base}&view=summary`, { headers: headers() });
    const page = (summary.ok ? await summary.json() : {}) as { posts?: Array<{ excerpt?: string }> };
    if (page.posts?.[0]?.excerpt !== undefined) {
      await load('GET /scheduled?view=summary (500 posts)', 150, 16, () => fetch(`${base}&view=summary`, { headers: headers() }));
    }
  });
});
