/**
 * Publishing through the real workflow against the fake X API: threads as reply chains, and every
 * failure class ending in exactly one post per part or a failed target with a reason.
 */
import { createHarness, eventually, longText, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

let h: Harness;
let tenant: Tenant;

beforeAll(async () => {
  h = await createHarness();
  tenant = await h.tenant();
});
afterAll(async () => h?.close());
afterEach(() => h.fakeX.clearFaults());

async function publishNow(content: string, extra: Record<string, unknown> = {}) {
  return tenant.call('POST', '/api/v2/publish?wait=0', { businessId: tenant.businessId, content, platforms: ['twitter'], ...extra });
}

async function finalPost(postId: number, timeoutMs = 60_000) {
  return eventually(async () => {
    const { body } = await tenant.call('GET', `/api/v2/posts/${postId}`);
    return ['published', 'partially_published', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
  }, timeoutMs, `post ${postId} to finish`);
}

const postsAttempts = () => h.fakeX.requests.filter((r) => r.method === 'POST' && r.path === '/2/tweets');

describe('publishing to X', () => {
  test('when the text needs 5 parts, then they are posted in order as a reply chain', async () => {
    const content = longText(14);
    const response = await publishNow(content, { thread: { numbering: true } });
    expect(response.status).toBe(202);
    const done = await finalPost(response.body.id);
    expect(done.status).toBe('published');

    const parts = done.targets[0].parts;
    expect(parts).toHaveLength(5);
    const tweets = h.fakeX.tweetsBy(tenant.xUserId).filter((t) => parts.some((p: { platformPostId: string }) => p.platformPostId === t.id));
    expect(tweets.map((t) => t.id)).toEqual(parts.map((p: { platformPostId: string }) => p.platformPostId));
    expect(tweets[0]!.inReplyToTweetId).toBeUndefined();
    for (let i = 1; i < tweets.length; i++) expect(tweets[i]!.inReplyToTweetId).toBe(tweets[i - 1]!.id);
    expect(tweets.map((t) => t.text)).toEqual(parts.map((p: { text: string }) => p.text));
    expect(tweets[4]!.text.endsWith(' 5/5')).toBe(true);
    expect(done.targets[0].url).toBe(`https://x.com/i/web/status/${tweets[0]!.id}`);
  });

  test('when publish is asked to wait, then it answers 200 with the published post', async () => {
    const response = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content: `Waited for ${Date.now()}`, platforms: ['twitter'] });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('published');
    expect(response.body.targets[0].parts[0].platformPostId).toMatch(/^\d+$/);
  });

  test('when X answers 429, then the part waits for the reset and is posted exactly once', async () => {
    h.fakeX.injectFault({ kind: 'rate_limit', resetInSeconds: 3 });
    const faultAt = Date.now();
    const content = `Throttled ${Date.now()}`;
    const response = await publishNow(content);
    const done = await finalPost(response.body.id);
    expect(done.status).toBe('published');
    const matching = h.fakeX.tweets.filter((t) => t.text === content);
    expect(matching).toHaveLength(1);
    // The reset is whole epoch seconds, at least 2 s after the fault was armed.
    expect(matching[0]!.receivedAt.getTime()).toBeGreaterThanOrEqual(Math.floor(faultAt / 1000) * 1000 + 2000);
  });

  test('when X answers 503 twice, then the part is retried and posted once', async () => {
    h.fakeX.injectFault({ kind: 'server_error', status: 503 }, 2);
    const content = `Flaky server ${Date.now()}`;
    const before = postsAttempts().length;
    const response = await publishNow(content);
    const done = await finalPost(response.body.id);
    expect(done.status).toBe('published');
    expect(h.fakeX.tweets.filter((t) => t.text === content)).toHaveLength(1);
    expect(postsAttempts().length - before).toBe(3);
  });

  test('when the token is rejected (401), then the target fails with "reconnect" and is not retried', async () => {
    h.fakeX.injectFault({ kind: 'unauthorized' }, 5);
    const before = postsAttempts().length;
    const response = await publishNow(`Bad token ${Date.now()}`);
    const done = await finalPost(response.body.id);
    expect(done.status).toBe('failed');
    expect(done.targets[0]).toMatchObject({ status: 'failed', errorClass: 'auth' });
    expect(done.targets[0].error).toMatch(/reconnect/i);
    expect(postsAttempts().length - before).toBe(1);
    expect(JSON.stringify(done)).not.toContain(tenant.xToken);
  });

  test('when X accepts the post and drops the connection, then reconciliation finds it: exactly one post', async () => {
    const content = longText(7);
    h.fakeX.injectFault({ kind: 'accept_then_drop' });
    const response = await publishNow(content);
    const done = await finalPost(response.body.id);
    expect(done.status).toBe('published');
    const parts = done.targets[0].parts;
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(h.fakeX.tweets.filter((t) => t.text === part.text)).toHaveLength(1);
    }
    const chain = parts.map((p: { platformPostId: string }) => h.fakeX.tweets.find((t) => t.id === p.platformPostId)!);
    for (let i = 1; i < chain.length; i++) expect(chain[i].inReplyToTweetId).toBe(chain[i - 1].id);
  });

  test('when X is slower than our timeout but accepted the post, then it is not posted twice', async () => {
    const content = `Slow but accepted ${Date.now()}`;
    h.fakeX.injectFault({ kind: 'slow', delayMs: 4000 });
    const response = await publishNow(content);
    const done = await finalPost(response.body.id);
    expect(done.status).toBe('published');
    expect(h.fakeX.tweets.filter((t) => t.text === content)).toHaveLength(1);
  });

  test('when the account is disconnected before the post fires, then the target fails with a clear reason', async () => {
    const other = await h.tenant();
    const scheduled = await other.call('POST', '/api/v2/schedule', {
      businessId: other.businessId, content: `Account gone ${Date.now()}`, platforms: ['twitter'], scheduledFor: new Date(Date.now() + 2000).toISOString(),
    });
    expect(scheduled.status).toBe(201);
    expect((await other.call('DELETE', `/api/v2/accounts/${other.accountId}`)).status).toBe(200);
    const done = await eventually(async () => {
      const { body } = await other.call('GET', `/api/v2/posts/${scheduled.body.id}`);
      return body.status === 'failed' ? body : undefined;
    }, 30_000, 'the post to fail');
    expect(done.targets[0].error).toMatch(/disconnected/);
    expect(h.fakeX.tweetsBy(other.xUserId)).toHaveLength(0);
  });
});
