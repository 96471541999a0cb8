/**
 * Exactly-once publishing (docs/EXACTLY-ONCE.md), against the real Postgres ledger and the platform
 * fakes: fenced attempts (no second send while an earlier one may still reach the platform), adoption
 * only of a part's own earlier send, one platform post per ledger row, and the user-visible outcome
 * of posting the same text twice.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import type { SendWindow } from '../../activities/publish-part';
import { openOrm } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import type { PublishPartInput } from '../../workflows/contract';
import { createHarness, eventually, postHandle, type Harness, type Tenant } from '../support/harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

jest.setTimeout(120_000);

let h: Harness;
const logger = createLogger('silent');

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());
afterEach(() => {
  h.fakeX.clearFaults();
  h.fakeLinkedIn.clearFaults();
});

const uniqueText = (label: string) => `${label} ${Date.now()} ${Math.random().toString(36).slice(2, 8)}`;
const createsAtX = () => h.fakeX.requests.filter((r) => r.method === 'POST' && r.path === '/2/tweets').length;

async function finalPost(tenant: Tenant, postId: number) {
  return eventually(async () => {
    const { body } = await tenant.call('GET', `/api/v2/posts/${postId}`);
    return ['published', 'partially_published', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
  }, 60_000, `post ${postId} to finish`);
}

/**
 * A post whose workflow is out of the way (terminated), so the test plays the attempts itself by
 * calling the activities, as two workers would: `preparePublication` freezes its parts.
 */
async function postDrivenByHand(tenant: Tenant, content: string, activities = createActivities({ orm: h.orm, publishers: h.publishers, cipher: h.cipher, logger })) {
  const created = await tenant.call('POST', '/api/v2/schedule', {
    businessId: tenant.businessId, content, platforms: ['twitter'], scheduledFor: new Date(Date.now() + 3600_000).toISOString(),
  });
  expect(created.status).toBe(201);
  await (await postHandle(h, created.body.id)).terminate('the test drives this post by hand');
  const [plan] = await activities.preparePublication({ postId: created.body.id });
  const input: PublishPartInput = { postId: created.body.id, platform: 'twitter', partIndex: 0, partCount: 1, accountId: plan!.accountId! };
  return { postId: created.body.id as number, input };
}

async function failureOf(attempt: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome = await attempt.then(() => undefined, (err: unknown) => err);
  expect(outcome).toBeInstanceOf(ApplicationFailure);
  return outcome as ApplicationFailure;
}

describe('fenced attempts', () => {
  test('when an attempt timed out while X was still creating the post, then the next attempt neither reconciles nor sends before the deadline, and afterwards adopts that post', async () => {
    const tenant = await h.tenant();
    const window: SendWindow = { budgetMs: 2000, httpTimeoutMs: 500, settleMs: 2500 };
    const publishers = { ...h.publishers };
    const { XPublisher } = await import('../../src/platforms/x');
    publishers.twitter = new XPublisher({ baseUrl: h.fakeX.baseUrl, timeoutMs: window.httpTimeoutMs });
    const activities = createActivities({ orm: h.orm, publishers, cipher: h.cipher, logger, sendWindow: window });
    const { input } = await postDrivenByHand(tenant, uniqueText('Slow to land'), activities);
    const before = createsAtX();
    // X takes 1.2 s to act on the request; our side gives up after 0.5 s.
    h.fakeX.injectFault({ kind: 'slow_before_create', delayMs: 1200 });

    const first = await failureOf(activities.publishPart(input));
    expect(first.type).toBe('unknown_outcome');
    const second = await failureOf(activities.publishPart(input));
    expect(second.type).toBe('fenced');
    expect(second.nextRetryDelay).toBeDefined();
    expect(createsAtX() - before).toBe(1);
    expect(h.fakeX.tweetsBy(tenant.xUserId)).toHaveLength(0);

    await eventually(async () => (h.fakeX.tweetsBy(tenant.xUserId).length === 1 ? true : undefined), 5000, 'X to create the slow post');
    await new Promise((resolve) => setTimeout(resolve, window.settleMs));
    const third = await activities.publishPart(input);

    const [tweet] = h.fakeX.tweetsBy(tenant.xUserId);
    expect(third).toMatchObject({ index: 0, platformPostId: tweet!.id });
    expect(createsAtX() - before).toBe(1);
  });

  test('when the worker is held up between its claim and its send past the send budget, then it does not send, and a later attempt publishes once', async () => {
    const tenant = await h.tenant();
    // This worker reaches Postgres through a proxy that holds every packet for 400 ms: the claim comes
    // back after the 300 ms budget, as if the process had been paused right after claiming.
    const proxy: TcpProxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(h.databaseUrl).port || 5432) });
    const url = new URL(h.databaseUrl);
    url.port = String(proxy.port);
    const slowOrm = await openOrm(url.toString(), { pool: { min: 0, max: 2 } });
    try {
      const window: SendWindow = { budgetMs: 300, httpTimeoutMs: 1000, settleMs: 500 };
      const stalled = createActivities({ orm: slowOrm, publishers: h.publishers, cipher: h.cipher, logger, sendWindow: window });
      const { input } = await postDrivenByHand(tenant, uniqueText('Held up'));
      const before = createsAtX();
      proxy.setDelay(400);

      const late = await failureOf(stalled.publishPart(input));

      expect(late.type).toBe('retryable');
      expect(late.message).toMatch(/send window closed/);
      expect(createsAtX() - before).toBe(0);
      proxy.setDelay(0);
      const healthy = createActivities({ orm: h.orm, publishers: h.publishers, cipher: h.cipher, logger, sendWindow: window });
      const published = await healthy.publishPart(input);
      expect(published).toMatchObject({ index: 0 });
      expect(h.fakeX.tweetsBy(tenant.xUserId)).toHaveLength(1);
      expect(createsAtX() - before).toBe(1);
    } finally {
      await slowOrm.close(true);
      await proxy.close();
    }
  });
});

describe('adopting a platform post', () => {
  test('when the same text is published twice as two posts, then the second fails as a duplicate of an earlier post and does not show the first post as its own', async () => {
    const tenant = await h.tenant();
    const content = uniqueText('Say it once');
    const first = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    expect(first.body.status).toBe('published');

    const second = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    const done = await finalPost(tenant, second.body.id);

    expect(done.status).toBe('failed');
    expect(done.targets[0].error).toMatch(/duplicate of an earlier post/);
    expect(done.targets[0].parts[0].platformPostId).toBeNull();
    expect(done.targets[0].url).toBeNull();
    expect(h.fakeX.tweetsBy(tenant.xUserId)).toHaveLength(1);
  });

  test('when a retry finds a post with the same text that another post already owns, then it is not adopted', async () => {
    const tenant = await h.tenant();
    const content = uniqueText('Owned by the first');
    const first = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    expect(first.body.status).toBe('published');

    // The second post's first send ends in an ambiguous 503: its retry reconciles and finds the first post's tweet.
    h.fakeX.injectFault({ kind: 'server_error', status: 503 });
    const second = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    const done = await finalPost(tenant, second.body.id);

    expect(done.status).toBe('failed');
    expect(done.targets[0].error).toMatch(/duplicate of an earlier post/);
    expect(done.targets[0].parts[0].platformPostId).toBeNull();
    expect(h.fakeX.tweetsBy(tenant.xUserId)).toHaveLength(1);
  });

  test('when LinkedIn refuses a retry as a duplicate of this part\'s own lost send, then that post is adopted', async () => {
    const tenant = await h.tenant({ linkedin: true });
    // Without r_member_social the account's posts cannot be listed: only the 422 names the post.
    h.fakeLinkedIn.addAuthor(tenant.linkedin!.urn, tenant.linkedin!.token, { canReadPosts: false });
    h.fakeLinkedIn.injectFault({ kind: 'accept_then_drop' });
    const response = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content: uniqueText('Lost answer'), platforms: ['linkedin'] });
    const done = await finalPost(tenant, response.body.id);

    const posts = h.fakeLinkedIn.postsBy(tenant.linkedin!.urn);
    expect(posts).toHaveLength(1);
    expect(done.status).toBe('published');
    expect(done.targets[0].parts[0].platformPostId).toBe(posts[0]!.urn);
  });

  test('when LinkedIn refuses a first send as a duplicate of another post, then the target fails and the other post is not adopted', async () => {
    const tenant = await h.tenant({ linkedin: true });
    const content = uniqueText('LinkedIn once');
    const first = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content, platforms: ['linkedin'] });
    expect(first.body.status).toBe('published');

    const second = await tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['linkedin'] });
    const done = await finalPost(tenant, second.body.id);

    expect(done.status).toBe('failed');
    expect(done.targets[0].error).toMatch(/duplicate of an earlier post/);
    expect(done.targets[0].parts[0].platformPostId).toBeNull();
  });

  test('when two ledger rows of one account would hold the same platform post, then the database refuses the second', async () => {
    const tenant = await h.tenant();
    const a = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content: uniqueText('First row'), platforms: ['twitter'] });
    const b = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content: uniqueText('Second row'), platforms: ['twitter'] });
    const idOfA = a.body.targets[0].parts[0].platformPostId as string;

    const write = h.orm.em.getConnection().execute('update post_parts set platform_post_id = ? where post_id = ?', [idOfA, b.body.id]);

    await expect(write).rejects.toMatchObject({ code: '23505' });
  });
});

describe('bookkeeping from a stale workflow task', () => {
  test('when a stalled worker\'s bookkeeping call arrives after the final state, then it changes nothing', async () => {
    const tenant = await h.tenant();
    const published = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content: uniqueText('Final is final'), platforms: ['twitter'] });
    expect(published.body.status).toBe('published');
    const activities = createActivities({ orm: h.orm, publishers: h.publishers, cipher: h.cipher, logger });
    // What the stale task would send: versions from before the run's last write.
    const staleVersion = `${String(Date.now() - 60_000).padStart(15, '0')}-000001`;

    const plans = await activities.preparePublication({ postId: published.body.id, version: staleVersion });
    await activities.recordPostState({ postId: published.body.id, status: 'publishing', scheduledFor: published.body.scheduledFor, publishedAt: null, targets: [], version: staleVersion });

    expect(plans[0]!.outcome).toBe('orphaned');
    const { body } = await tenant.call('GET', `/api/v2/posts/${published.body.id}`);
    expect(body.status).toBe('published');
    expect(body.targets[0].status).toBe('published');
  });
});
