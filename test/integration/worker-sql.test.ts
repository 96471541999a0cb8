/**
 * The worker's database cost per post (issue #12): a single-part X post, published through the real
 * workflow, costs the worker a handful of SQL statements. The count guards the hot path against
 * growing back; the exactly-once guarantees themselves are the other integration tests' and the soak's.
 */
import { readFileSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createActivities } from '../../activities';
import { openOrm } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { startWorker, type HeraldWorker } from '../../src/temporal/worker';
import { createHarness, env, longText, postHandle, testSendWindow, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

let h: Harness;
let tenant: Tenant;
let workerOrm: MikroORM;
let worker: HeraldWorker;
const statements: string[] = [];

beforeAll(async () => {
  h = await createHarness({ worker: false });
  tenant = await h.tenant();
  // The worker gets an ORM of its own, so that only its statements are counted (not the API's).
  workerOrm = await openOrm(h.databaseUrl, { pool: { min: 0, max: 5 } });
  const knex = workerOrm.em.getConnection().getKnex();
  knex.on('query', (query: { sql: string }) => statements.push(query.sql));
  worker = await startWorker({
    target: { address: h.temporalAddress, namespace: 'default', dataConverter: h.dataConverter },
    taskQueue: h.taskQueue,
    activities: createActivities({ orm: workerOrm, publishers: h.publishers, cipher: h.cipher, logger: createLogger('silent'), oauth: h.oauth, sendWindow: testSendWindow(3000) }),
    logger: createLogger('silent'),
    workflowBundle: { code: readFileSync(env('HERALD_TEST_WORKFLOW_BUNDLE'), 'utf8') },
  });
});
afterAll(async () => {
  await worker?.shutdown();
  await workerOrm?.close(true);
  await h?.close();
});

async function publish(content: string, extra: Record<string, unknown> = {}, as: Tenant = tenant) {
  statements.length = 0;
  const response = await as.call('POST', '/api/v2/publish?wait=30', { businessId: as.businessId, content, platforms: ['twitter'], ...extra });
  expect(response.status).toBe(200);
  return { body: response.body, statements: [...statements] };
}

async function publishOne(content: string): Promise<string[]> {
  const { body, statements: counted } = await publish(content);
  expect(body.status).toBe('published');
  expect(body.targets[0].parts).toHaveLength(1);
  return counted;
}

describe('the worker\'s SQL per post', () => {
  test('when a single-part X post is published, then the worker runs at most 6 statements for it', async () => {
    await publishOne(`Warm-up ${Date.now()}`);
    const counted = await publishOne(`Counted ${Date.now()}`);
    if (process.env.HERALD_TEST_PRINT_SQL) console.log(`${counted.length} statements:\n${counted.join('\n')}`);
    expect(counted.length).toBeLessThanOrEqual(Number(process.env.HERALD_TEST_MAX_WORKER_SQL ?? 6));
  });

  test('when a single-part X post is published, then its run records no patch marker and one bookkeeping round trip (the part records the final state)', async () => {
    const { body } = await publish(`Commands ${Date.now()}`);
    expect(body.status).toBe('published');
    const history = await (await postHandle(h, body.id)).fetchHistory();
    const events = history.events ?? [];
    const markers = events.filter((e) => e.markerRecordedEventAttributes).map((e) => e.markerRecordedEventAttributes!.markerName);
    // Version 3 runs decide every behaviour from their input: no core_patch marker, no TemporalChangeVersion upsert.
    expect(markers).toEqual(['core_local_activity']);
    const upserts = events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes);
    expect(upserts).toHaveLength(2); // HeraldPostStatus: publishing, then published
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(1);
    // The final state is in Postgres all the same, with its event.
    const [row] = await h.orm.em.getConnection().execute('select status, published_at from posts where id = ?', [body.id]);
    expect(row.status).toBe('published');
    expect(row.published_at).not.toBeNull();
  });

  test('when a thread is published, then each further part costs the worker at most 2 statements', async () => {
    const { body, statements: counted } = await publish(longText(8), { thread: { numbering: true } });
    expect(body.status).toBe('published');
    const parts = body.targets[0].parts.length;
    expect(parts).toBeGreaterThan(1);
    expect(counted.length).toBeLessThanOrEqual(6 + 2 * (parts - 1));
  });

  test('when the stored token cannot be decrypted, then the target fails and the part\'s ledger row is as before: no claim, no first send', async () => {
    const other = await h.tenant();
    // Another account's ciphertext: bound to that account, it does not decrypt for this one.
    await h.orm.em.getConnection().execute('update social_accounts set access_token_enc = (select access_token_enc from social_accounts where id = ?) where id = ?', [tenant.accountId, other.accountId]);
    const { body } = await publish(`Undecryptable ${Date.now()}`, {}, other);
    expect(body.status).toBe('failed');
    expect(body.targets[0]).toMatchObject({ status: 'failed', errorClass: 'auth' });
    expect(body.targets[0].error).toMatch(/cannot be decrypted/);
    expect(h.fakeX.tweetsBy(other.xUserId)).toEqual([]);
    const rows = await h.orm.em.getConnection().execute(
      'select claim_token, send_started_at, send_deadline, first_sent_at, attempts from post_parts where post_id = ?', [body.id],
    );
    expect(rows).toEqual([{ claim_token: null, send_started_at: null, send_deadline: null, first_sent_at: null, attempts: 0 }]);
  });
});
