/**
 * What operators do in Temporal itself (Web UI buttons, the CLI) and what old or foreign workflows
 * can do, against the real dev server, Postgres and the fakes: cancel, terminate and reset leave the
 * post's stored state true and never publish a cancelled post; workflow ids are unique for all time,
 * so a workflow from a restored or re-created database can never publish a post that is not its own.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defaultCliPath } from '../../src/temporal/dev-server';
import { createHarness, eventually, longText, postHandle, workflowIdOf, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(150_000);

const run = promisify(execFile);
let h: Harness;
let tenant: Tenant;

beforeAll(async () => {
  h = await createHarness();
  tenant = await h.tenant();
});
afterAll(async () => h?.close());
afterEach(() => h.fakeX.clearFaults());

const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
const uniqueText = (label: string) => `${label} ${Date.now()} ${Math.random().toString(36).slice(2, 8)}`;

async function schedule(content: string, scheduledFor: string) {
  const response = await tenant.call('POST', '/api/v2/schedule', { businessId: tenant.businessId, content, platforms: ['twitter'], scheduledFor });
  expect(response.status).toBe(201);
  return response.body as { id: number; workflowId: string };
}

async function postInState(postId: number, statuses: string[], timeoutMs = 30_000) {
  return eventually(async () => {
    const { body } = await tenant.call('GET', `/api/v2/posts/${postId}`);
    return statuses.includes(body.status) ? body : undefined;
  }, timeoutMs, `post ${postId} to be ${statuses.join(' or ')}`);
}

/** One run of the reconciler, as the herald-reconcile Schedule would start it. */
async function reconcileNow(options: { orphanSweep?: boolean } = {}) {
  if (options.orphanSweep) await h.orm.em.getConnection().execute(`delete from herald_state where key = 'reconcile.orphans_swept_at'`);
  return h.temporal.workflow.execute('reconcilePostsWorkflow', {
    taskQueue: h.taskQueue, workflowId: `reconcile-test-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`,
    args: [{ graceSeconds: 0, orphanSweepMinutes: options.orphanSweep ? 1 : 1440 }],
  });
}

/** The run's close, bounded: the post's stored state can be seen a moment before it. */
async function runClosedAs(handle: ReturnType<Harness['temporal']['workflow']['getHandle']>, status: string) {
  await eventually(async () => ((await handle.describe()).status.name === status ? true : undefined), 15_000, `run ${handle.workflowId} to be ${status}`);
}

const tweetsWith = (content: string) => h.fakeX.tweetsBy(tenant.xUserId).filter((t) => t.text === content);

describe('cancel, terminate and reset in Temporal', () => {
  test('when a waiting post is cancelled in Temporal, then its run ends cancelled and the API says cancelled', async () => {
    const content = uniqueText('Cancelled by an operator');
    const post = await schedule(content, inSeconds(3600));
    const handle = h.temporal.workflow.getHandle(post.workflowId);

    await handle.cancel();

    const done = await postInState(post.id, ['cancelled']);
    expect(done.targets[0].status).toBe('cancelled');
    // The state is written before the run closes (its last task follows the write): wait for the close.
    await runClosedAs(handle, 'CANCELLED');
    expect(tweetsWith(content)).toHaveLength(0);
  });

  test('when a waiting post is terminated in Temporal, then the reconciler records it cancelled, with the reason', async () => {
    const content = uniqueText('Terminated by an operator');
    const post = await schedule(content, inSeconds(3600));

    await h.temporal.workflow.getHandle(post.workflowId).terminate('wrong campaign');
    const summary = await reconcileNow();

    expect(summary).toMatchObject({ settled: expect.any(Number) });
    const done = await postInState(post.id, ['cancelled'], 5000);
    expect(done.targets[0]).toMatchObject({ status: 'cancelled', error: expect.stringContaining('terminated in Temporal ("wrong campaign")') });
    expect(tweetsWith(content)).toHaveLength(0);
  });

  test('when a thread is terminated halfway, then the reconciler records the parts that went out and the post is partly published', async () => {
    h.fakeX.injectFault({ kind: 'slow', delayMs: 800 }, 20);
    const content = longText(14);
    const started = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    const handle = await postHandle(h, started.body.id);
    await eventually(async () => {
      const [row] = await h.orm.em.getConnection().execute('select count(platform_post_id)::int as n from post_parts where post_id = ?', [started.body.id]);
      return row.n >= 2 ? true : undefined;
    }, 30_000, 'two parts recorded');

    await handle.terminate('stop this thread');
    // The part on its way when the run stopped is looked up once its send deadline has passed.
    const done = await eventually(async () => {
      await reconcileNow();
      const { body } = await tenant.call('GET', `/api/v2/posts/${started.body.id}`);
      return body.status === 'partially_published' ? body : undefined;
    }, 30_000, 'the reconciler to settle the stopped thread');
    const live = done.targets[0].parts.filter((p: { platformPostId: string | null }) => p.platformPostId !== null);
    expect(done.targets[0]).toMatchObject({ status: 'cancelled', error: expect.stringContaining(`${live.length} of 5 part(s) had been published`) });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const onX = h.fakeX.tweetsBy(tenant.xUserId).filter((t) => live.some((p: { text: string }) => p.text === t.text));
    expect(onX.map((t) => t.id).sort()).toEqual(live.map((p: { platformPostId: string }) => p.platformPostId).sort());
  });

  test('when a run is terminated while its send is unaccounted for, then the reconciler looks the part up on the platform and records it', async () => {
    // X creates the post and drops the connection: the ledger knows a send left, not that it landed.
    h.fakeX.injectFault({ kind: 'accept_then_drop' });
    const content = uniqueText('Landed as the run was stopped');
    const started = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    await eventually(async () => (tweetsWith(content).length === 1 ? true : undefined), 10_000, 'X to have the post');
    await (await postHandle(h, started.body.id)).terminate('stopped mid-send');
    const [row] = await h.orm.em.getConnection().execute('select platform_post_id, send_started_at from post_parts where post_id = ?', [started.body.id]);
    expect(row.platform_post_id).toBeNull();
    expect(row.send_started_at).not.toBeNull();

    await eventually(async () => {
      await reconcileNow();
      const { body } = await tenant.call('GET', `/api/v2/posts/${started.body.id}`);
      return body.status === 'published' ? body : undefined;
    }, 20_000, 'the reconciler to find the part on X');

    const { body } = await tenant.call('GET', `/api/v2/posts/${started.body.id}`);
    expect(body.targets[0]).toMatchObject({ status: 'published' });
    expect(body.targets[0].parts[0].platformPostId).toBe(tweetsWith(content)[0]!.id);
  });

  test('when a post is cancelled in Temporal while its thread publishes, then the part in flight completes, no further part is sent, and the state says so', async () => {
    h.fakeX.injectFault({ kind: 'slow', delayMs: 1000 }, 20);
    const content = longText(14);
    const started = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    const handle = await postHandle(h, started.body.id);
    const createsOf = () => h.fakeX.requests.filter((r) => r.method === 'POST' && r.path === '/2/tweets').length;
    const before = createsOf();
    await eventually(async () => (createsOf() - before >= 2 ? true : undefined), 30_000, 'the second part on its way');

    await handle.cancel();

    const done = await postInState(started.body.id, ['partially_published', 'cancelled']);
    // The state is written before the run closes (its last task follows the write): wait for the close.
    await runClosedAs(handle, 'CANCELLED');
    const live = done.targets[0].parts.filter((p: { platformPostId: string | null }) => p.platformPostId !== null);
    expect(live.length).toBeGreaterThanOrEqual(2);
    expect(live.length).toBeLessThan(5);
    expect(done.targets[0]).toMatchObject({ status: 'cancelled', error: expect.stringContaining('the rest were not sent') });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(createsOf() - before).toBe(live.length);
  });

  test('when a post the user cancelled is reset in Temporal without its signals, then the new run does not publish it', async () => {
    const content = uniqueText('Cancelled, then reset');
    const post = await schedule(content, inSeconds(3));
    const cancelled = await tenant.call('DELETE', `/api/v2/schedule/${post.id}`);
    expect(cancelled.body.status).toBe('cancelled');

    await run(defaultCliPath, [
      'workflow', 'reset', '--address', h.temporalAddress, '--namespace', 'default', '--workflow-id', post.workflowId,
      '--type', 'FirstWorkflowTask', '--reapply-exclude', 'Signal', '--reason', 'replaying an old run',
    ]);

    const result = await eventually(async () => {
      const description = await h.temporal.workflow.getHandle(post.workflowId).describe();
      return description.status.name === 'COMPLETED' ? h.temporal.workflow.getHandle(post.workflowId).result() : undefined;
    }, 30_000, 'the reset run to finish');
    expect(result).toMatchObject({ status: 'cancelled' });
    expect(tweetsWith(content)).toHaveLength(0);
    expect((await tenant.call('GET', `/api/v2/posts/${post.id}`)).body.status).toBe('cancelled');
  });
});

describe('workflow ids unique for all time', () => {
  test('when an old workflow post-<n> from a previous database still runs, then a new post numbered n gets a workflow of its own', async () => {
    const connection = h.orm.em.getConnection();
    const [reserved] = await connection.execute(`select nextval('posts_id_seq')::int as n`);
    const n: number = reserved.n;
    await connection.execute(`select setval('posts_id_seq', ?, false)`, [n]);
    const old = await h.temporal.workflow.start('publishPostWorkflow', {
      taskQueue: h.taskQueue, workflowId: `post-${n}`,
      args: [{ postId: n, businessId: tenant.businessId, platforms: ['twitter'], scheduledFor: inSeconds(3600) }],
    });

    const content = uniqueText('New database, new post');
    const post = await schedule(content, inSeconds(2));

    expect(post.id).toBe(n);
    expect(post.workflowId).not.toBe(`post-${n}`);
    await postInState(post.id, ['published']);
    expect(tweetsWith(content)).toHaveLength(1);
    expect((await old.describe()).status.name).toBe('RUNNING');
    await old.terminate('test cleanup');
  });

  test('when a post row now belongs to another workflow (a re-created database), then the old workflow publishes nothing when it fires', async () => {
    const content = uniqueText('Not yours any more');
    const post = await schedule(content, inSeconds(3));
    await h.orm.em.getConnection().execute(`update posts set workflow_id = ? where id = ?`, [`post-${post.id}-someoneelse`, post.id]);

    const result = await h.temporal.workflow.getHandle(post.workflowId).result();

    expect(result.targets[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('no row for this workflow') });
    expect(tweetsWith(content)).toHaveLength(0);
    expect((await tenant.call('GET', `/api/v2/posts/${post.id}`)).body.status).toBe('scheduled');
  });

  test('when an open post workflow has no post row at all, then the reconciler ends it', async () => {
    const orphan = await h.temporal.workflow.start('publishPostWorkflow', {
      taskQueue: h.taskQueue, workflowId: `post-999999999-orphan${Date.now().toString(36)}`,
      args: [{ postId: 999_999_999, businessId: tenant.businessId, platforms: ['twitter'], scheduledFor: inSeconds(3600) }],
    });
    await eventually(async () => {
      for await (const found of h.temporal.workflow.list({ query: `WorkflowId = '${orphan.workflowId}'` })) return found;
      return undefined;
    }, 10_000, 'the orphan to be visible');

    const summary = await reconcileNow({ orphanSweep: true });

    expect(summary.orphansEnded).toBeGreaterThanOrEqual(1);
    expect((await orphan.describe()).status.name).toBe('TERMINATED');
    expect(await workflowIdOf(h.orm, (await schedule(uniqueText('still fine'), inSeconds(3600))).id)).toMatch(/^post-\d+-[a-z0-9]{8}$/);
  });
});
