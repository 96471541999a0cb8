/**
 * Postgres going away under a worker, for real: the worker reaches the real Postgres through a TCP
 * proxy the test can cut or slow down (test/support/tcp-proxy.ts), while the API and the checks use a
 * direct connection. A part the platform accepted stays published whatever the database does, and a
 * reschedule that arrives while the previous one is being recorded is recorded too.
 */
import { readFileSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createActivities } from '../../activities';
import { openOrm } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { ScheduledForAttribute } from '../../src/temporal/search-attributes';
import { startWorker, type HeraldWorker } from '../../src/temporal/worker';
import { createHarness, env, eventually, postHandle, testSendWindow, type Harness, type Tenant } from '../support/harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

jest.setTimeout(150_000);

let h: Harness;
let tenant: Tenant;
let proxy: TcpProxy;
let proxiedOrm: MikroORM;
let worker: HeraldWorker;

beforeAll(async () => {
  h = await createHarness({ worker: false });
  tenant = await h.tenant();
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(h.databaseUrl).port || 5432) });
  const url = new URL(h.databaseUrl);
  url.port = String(proxy.port);
  proxiedOrm = await openOrm(url.toString(), { pool: { min: 0, max: 4, acquireTimeoutMillis: 2000 } });
  worker = await startWorker({
    target: { address: h.temporalAddress, namespace: 'default', dataConverter: h.dataConverter },
    taskQueue: h.taskQueue,
    activities: createActivities({ orm: proxiedOrm, publishers: h.publishers, cipher: h.cipher, logger: createLogger('silent'), sendWindow: testSendWindow(3000) }),
    logger: createLogger('silent'),
    workflowBundle: { code: readFileSync(env('HERALD_TEST_WORKFLOW_BUNDLE'), 'utf8') },
  });
});
afterAll(async () => {
  await worker?.shutdown();
  await proxiedOrm?.close(true);
  await proxy?.close();
  await h?.close();
});
afterEach(() => {
  proxy.restore();
  proxy.setDelay(0);
  h.fakeX.clearFaults();
});

describe('Postgres down after the platform accepted a part', () => {
  test('when the ledger cannot be written, then the part still counts as published, is recorded once the database is back, and X is not asked again', async () => {
    // X accepts at once but answers 1.5 s later: the database goes away in between.
    h.fakeX.injectFault({ kind: 'slow', delayMs: 1500 });
    const content = `Live before the outage ${Date.now()}`;
    const started = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    expect(started.status).toBe(202);
    await eventually(async () => (h.fakeX.tweetsBy(tenant.xUserId).length === 1 ? true : undefined), 20_000, 'X to accept the part');
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 6000));
    proxy.restore();

    const done = await eventually(async () => {
      const { body } = await tenant.call('GET', `/api/v2/posts/${started.body.id}`);
      return body.status === 'published' ? body : undefined;
    }, 90_000, 'the post to be recorded as published');

    const [tweet] = h.fakeX.tweetsBy(tenant.xUserId);
    expect(done.targets[0].parts[0].platformPostId).toBe(tweet!.id);
    expect(h.fakeX.tweetsBy(tenant.xUserId)).toHaveLength(1);
    const timelineReads = h.fakeX.requests.filter((r) => r.method === 'GET' && r.path === `/2/users/${tenant.xUserId}/tweets`);
    expect(timelineReads).toHaveLength(0);
  });
});

describe('a reschedule that arrives while the previous one is being recorded', () => {
  test('when two moves come in quick succession over a slow database, then the second is the one in Postgres and in the search attribute', async () => {
    const created = await tenant.call('POST', '/api/v2/schedule', {
      businessId: tenant.businessId, content: `Moved twice ${Date.now()}`, platforms: ['twitter'], scheduledFor: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect(created.status).toBe(201);
    const handle = await postHandle(h, created.body.id);
    await eventually(async () => (await handle.query<{ status: string }>('status')).status === 'scheduled' || undefined, 20_000, 'the workflow to run');
    const firstMove = new Date(Date.now() + 7200_000);
    const secondMove = new Date(Date.now() + 10_800_000);
    // Every packet to Postgres waits 2 s: recording the first move (a local activity) takes longer than
    // a workflow task may, so the worker heartbeats the task and the second signal is delivered while
    // the first move is still being recorded.
    proxy.setDelay(2000);

    await handle.signal('reschedule', { scheduledFor: firstMove.toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await handle.signal('reschedule', { scheduledFor: secondMove.toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    proxy.setDelay(0);

    await eventually(async () => {
      const [row] = await h.orm.em.getConnection().execute('select scheduled_for from posts where id = ?', [created.body.id]);
      return new Date(row.scheduled_for).getTime() === secondMove.getTime() ? true : undefined;
    }, 60_000, 'Postgres to hold the second move');
    // The upsert goes out when the workflow task completes, just after its local activity wrote Postgres.
    await eventually(async () => {
      const attribute = (await handle.describe()).typedSearchAttributes.get(ScheduledForAttribute);
      return attribute?.getTime() === secondMove.getTime() ? true : undefined;
    }, 10_000, 'the search attribute to hold the second move');
    const { body } = await tenant.call('GET', `/api/v2/posts/${created.body.id}`);
    expect(body.scheduledFor).toBe(secondMove.toISOString());
    await handle.terminate('test cleanup');
  });
});
