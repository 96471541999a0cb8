/**
 * One post to X, LinkedIn, a Facebook Page and Instagram at once, through the real workflow on the
 * real Temporal dev server, against fakes that follow PLATFORMS.md: threads and comment chains,
 * Instagram's container processing on durable timers, partial success, and exactly-once publishing
 * when a platform accepts a post and the answer is lost.
 */
import { unescapeLittleText } from '../../src/platforms/little-text';
import { createHarness, eventually, longText, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

let h: Harness;
let tenant: Tenant;
const imageUrl = 'https://images.example.test/launch.jpg';

beforeAll(async () => {
  h = await createHarness();
  tenant = await h.tenant({ linkedin: true, facebook: true, instagram: true });
});
afterAll(async () => h?.close());
afterEach(() => {
  h.fakeX.clearFaults();
  h.fakeLinkedIn.clearFaults();
  h.fakeMeta.clearFaults();
});

async function publish(t: Tenant, content: string, platforms: string[], extra: Record<string, unknown> = {}) {
  const response = await t.call('POST', '/api/v2/publish?wait=0', { businessId: t.businessId, content, platforms, ...extra });
  expect(response.status).toBe(202);
  return finalPost(t, response.body.id);
}

async function finalPost(t: Tenant, postId: number) {
  return eventually(async () => {
    const { body } = await t.call('GET', `/api/v2/posts/${postId}`);
    return ['published', 'partially_published', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
  }, 90_000, `post ${postId} to finish`);
}

const target = (post: any, platform: string) => post.targets.find((t: { platform: string }) => t.platform === platform);

describe('one post to every platform', () => {
  test('when published to X, LinkedIn, Facebook and Instagram, then each gets exactly what its rules make of it', async () => {
    const content = `Launch day ${Date.now()}! Our #1 feature (finally) ships for @everyone: *fast*, _simple_, ~free~ [beta] {v2} <3 | \\o/`;
    const post = await publish(tenant, content, ['twitter', 'linkedin', 'facebook', 'instagram'], { platformParams: { instagram: { imageUrl } } });
    expect(post.status).toBe('published');

    const x = target(post, 'twitter');
    expect(h.fakeX.tweets.filter((t) => t.id === x.parts[0].platformPostId)).toHaveLength(1);

    const linkedIn = h.fakeLinkedIn.posts.filter((p) => p.author === tenant.linkedin!.urn);
    expect(linkedIn).toHaveLength(1);
    expect(linkedIn[0]!.truncated).toBe(false);
    expect(unescapeLittleText(linkedIn[0]!.commentary)).toBe(content); // every reserved character escaped: nothing silently cut
    expect(target(post, 'linkedin').url).toBe(`https://www.linkedin.com/feed/update/${linkedIn[0]!.urn}/`);

    const facebook = h.fakeMeta.pagePosts.filter((p) => p.pageId === tenant.facebook!.pageId);
    expect(facebook.map((p) => p.message)).toEqual([content]);
    expect(target(post, 'facebook').parts[0].platformPostId).toBe(facebook[0]!.id);

    const media = h.fakeMeta.igMedia.filter((m) => m.igId === tenant.instagram!.igId);
    expect(media).toHaveLength(1);
    expect(media[0]).toMatchObject({ caption: content, imageUrl });
    expect(target(post, 'instagram')).toMatchObject({ status: 'published', url: media[0]!.permalink });
  });

  test('when Instagram is still processing the media, then the workflow waits on durable timers and publishes once', async () => {
    const content = `Processing takes a moment ${Date.now()}`;
    const post = await publish(tenant, content, ['instagram'], { platformParams: { instagram: { imageUrl } } });
    expect(post.status).toBe('published');
    const containers = h.fakeMeta.containers.filter((c) => c.caption === content);
    expect(containers).toHaveLength(1);
    expect(containers[0]!.status).toBe('PUBLISHED');
    expect(h.fakeMeta.igMedia.filter((m) => m.caption === content)).toHaveLength(1);

    const history = await h.temporal.workflow.getHandle(post.workflowId).fetchHistory();
    const timers = history.events!.filter((event) => event.timerStartedEventAttributes);
    expect(timers.length).toBeGreaterThanOrEqual(1);
  });

  test('when a LinkedIn text is longer than 3000 characters, then it becomes a post and the author\'s comments, in order', async () => {
    const content = longText(45);
    expect(content.length).toBeGreaterThan(3000);
    const post = await publish(tenant, content, ['linkedin']);
    expect(post.status).toBe('published');
    const parts = target(post, 'linkedin').parts;
    expect(parts.length).toBeGreaterThan(1);
    const root = h.fakeLinkedIn.posts.find((p) => p.urn === parts[0].platformPostId)!;
    expect(root.commentary).toBe(parts[0].text);
    const comments = h.fakeLinkedIn.comments.filter((c) => c.postUrn === root.urn);
    expect(comments.map((c) => c.text)).toEqual(parts.slice(1).map((p: { text: string }) => p.text));
    expect(new Set(comments.map((c) => c.actor))).toEqual(new Set([tenant.linkedin!.urn]));
  });
});

describe('partial success', () => {
  test('when the Facebook token has expired, then the post is partially published and Facebook says to reconnect', async () => {
    const other = await h.tenant({ linkedin: true, facebook: true });
    h.fakeMeta.expireToken(other.facebook!.token);
    const content = `Partial ${Date.now()}`;
    const post = await publish(other, content, ['twitter', 'linkedin', 'facebook']);
    expect(post.status).toBe('partially_published');
    expect(target(post, 'twitter').status).toBe('published');
    expect(target(post, 'linkedin').status).toBe('published');
    expect(target(post, 'facebook')).toMatchObject({ status: 'failed', errorClass: 'auth' });
    expect(target(post, 'facebook').error).toMatch(/reconnect/i);
    expect(JSON.stringify(post)).not.toContain(other.facebook!.token);
    expect(h.fakeMeta.pagePosts.filter((p) => p.pageId === other.facebook!.pageId)).toHaveLength(0);
  });
});

describe('exactly once when the answer is lost', () => {
  test('when LinkedIn accepts the post and drops the connection, then exactly one post exists', async () => {
    const content = `LinkedIn drop ${Date.now()}`;
    h.fakeLinkedIn.injectFault({ kind: 'accept_then_drop' });
    const post = await publish(tenant, content, ['linkedin']);
    expect(post.status).toBe('published');
    expect(h.fakeLinkedIn.posts.filter((p) => p.commentary === content)).toHaveLength(1);
  });

  test('when Facebook answers 500 after creating the post, then reconciliation adopts it: exactly one post', async () => {
    const content = `Facebook ambiguous ${Date.now()}`;
    h.fakeMeta.injectFault({ kind: 'ambiguous_500', code: 2 });
    const post = await publish(tenant, content, ['facebook']);
    expect(post.status).toBe('published');
    const created = h.fakeMeta.pagePosts.filter((p) => p.message === content);
    expect(created).toHaveLength(1);
    expect(target(post, 'facebook').parts[0].platformPostId).toBe(created[0]!.id);
  });

  test('when Instagram publishes the container and drops the answer, then the container status prevents a second publish', async () => {
    const content = `Instagram drop ${Date.now()}`;
    // Writes in order: create container, then media_publish. Only the publish answer is lost.
    h.fakeMeta.injectFault({ kind: 'slow', delayMs: 0 });
    h.fakeMeta.injectFault({ kind: 'accept_then_drop' });
    const post = await publish(tenant, content, ['instagram'], { platformParams: { instagram: { imageUrl } } });
    expect(post.status).toBe('published');
    const media = h.fakeMeta.igMedia.filter((m) => m.caption === content);
    expect(media).toHaveLength(1);
    expect(target(post, 'instagram').parts[0].platformPostId).toBe(media[0]!.id);
  });
});

describe('refused before anything is stored', () => {
  test('when Instagram has no image, then 400 names platformParams.instagram.imageUrl', async () => {
    const response = await tenant.call('POST', '/api/v2/schedule', {
      businessId: tenant.businessId, content: 'No picture', platforms: ['instagram'], scheduledFor: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details.map((d: { path: string }) => d.path)).toContain('platformParams.instagram.imageUrl');
  });

  test('when an Instagram caption has more than 30 hashtags, then 400 names content', async () => {
    const content = Array.from({ length: 31 }, (_, i) => `#tag${i}`).join(' ');
    const response = await tenant.call('POST', '/api/v2/schedule', {
      businessId: tenant.businessId, content, platforms: ['instagram'], platformParams: { instagram: { imageUrl } }, scheduledFor: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'content', message: expect.stringMatching(/hashtag/i) })]));
  });
});
