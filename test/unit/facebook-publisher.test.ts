import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeMetaGraphServer } from '../fakes/meta-fake';
import { FacebookPublisher, type FacebookPublisherOptions } from '../../src/platforms/facebook';
import { classifyGraphError, regainAccessMs } from '../../src/platforms/meta-graph';
import { PublishError, type PartToPublish, type PublishedRef, type PublisherCredentials } from '../../src/platforms/publisher';

const PAGE = '104857600000001';
const PAGE_TOKEN = 'EAAG-page-token-s3cr3t-aa11';
const OTHER_PAGE = '104857600000002';
const OTHER_TOKEN = 'EAAG-other-page-token-bb22';
const VERSION = 'v21.0';
const START = Date.parse('2025-03-01T12:00:00.000Z');
const TIMEOUT_MS = 2_000;

let clock: number;
let fake: FakeMetaGraphServer;
let baseUrl: string;
let publisher: FacebookPublisher;

function credentials(accessToken = PAGE_TOKEN, platformUserId = PAGE): PublisherCredentials {
  return { accountId: 1, platformUserId, accessToken };
}

function part(text: string, extra: Partial<PartToPublish> = {}): PartToPublish {
  return { text, partIndex: 0, partCount: 1, ...extra };
}

function newPublisher(options: Partial<FacebookPublisherOptions> = {}): FacebookPublisher {
  return new FacebookPublisher({ baseUrl, apiVersion: VERSION, timeoutMs: TIMEOUT_MS, now: () => clock, ...options });
}

async function failureOf(promise: Promise<unknown>, secret = PAGE_TOKEN): Promise<PublishError> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: value }),
    (err: unknown) => ({ rejected: err }),
  );
  expect(outcome).not.toHaveProperty('resolved');
  const err = (outcome as { rejected: unknown }).rejected;
  expect(err).toBeInstanceOf(PublishError);
  expect((err as PublishError).message).not.toContain(secret);
  return err as PublishError;
}

function sentences(characters: number): string {
  const out: string[] = [];
  for (let i = 1; out.join(' ').length < characters; i++) out.push(`Sentence ${i} of the long announcement for our Page.`);
  return out.join(' ');
}

beforeEach(async () => {
  clock = START;
  fake = new FakeMetaGraphServer({ now: () => clock });
  baseUrl = await fake.start();
  fake.addPage(PAGE, PAGE_TOKEN);
  fake.addPage(OTHER_PAGE, OTHER_TOKEN);
  publisher = newPublisher();
});

afterEach(async () => {
  await fake.stop();
});

describe('FacebookPublisher.publishPart', () => {
  it('when Facebook accepts the post, then it returns the <page>_<post> id and the permalink, and the Page has exactly that message', async () => {
    const ref = await publisher.publishPart(credentials(), part('Hello Page followers 👋 (and friends) #launch'));

    expect(fake.pagePosts).toHaveLength(1);
    const stored = fake.pagePosts[0]!;
    expect(stored).toMatchObject({ pageId: PAGE, message: 'Hello Page followers 👋 (and friends) #launch' });
    expect(ref.platformPostId).toBe(stored.id);
    expect(ref.platformPostId).toMatch(new RegExp(`^${PAGE}_\\d+$`));
    expect(ref.url).toBe(`https://www.facebook.com/${PAGE}/posts/${stored.id.split('_')[1]}`);
  });

  it('when it posts, then the version is in the path and the token goes in a Bearer header (never in the URL)', async () => {
    await publisher.publishPart(credentials(), part('headers'));

    expect(fake.requests.map((r) => [r.method, r.path, r.authorization])).toEqual([
      ['POST', `/${VERSION}/${PAGE}/feed`, 'Bearer [redacted]'],
      ['GET', `/${VERSION}/${fake.pagePosts[0]!.id}`, 'Bearer [redacted]'],
    ]);
  });

  it('when the token is invalid (190), then it fails as auth and asks to reconnect without the token', async () => {
    const unknown = 'EAAG-unknown-token-cc33';

    const err = await failureOf(publisher.publishPart(credentials(unknown), part('hello')), unknown);

    expect(err.failureClass).toBe('auth');
    expect(err.httpStatus).toBe(400);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/invalid or expired \(code 190\): reconnect/);
  });

  it('when the token expired (190/463), then it fails as auth and Facebook\'s fbtrace_id is kept for support', async () => {
    fake.injectFault({ kind: 'token_expired' });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('auth');
    expect(err.message).toMatch(/Session has expired/);
    expect(err.message).toMatch(/\[190\/463\]/);
    expect(err.message).toMatch(/fbtrace_id A\w+Z/);
    expect(fake.pagePosts).toHaveLength(0);
  });

  it.each([4, 17, 32, 613] as const)('when Facebook throttles with code %i, then it is retryable after the usage header\'s estimated_time_to_regain_access', async (code) => {
    fake.injectFault({ kind: 'throttle', code, regainAfterMinutes: 7 });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('retryable');
    expect(err.retryAfterMs).toBe(7 * 60_000);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toContain(`code ${code}`);
    expect(fake.pagePosts).toHaveLength(0);
  });

  it('when the usage headers give no estimate, then the default backoff (15 minutes) or the configured one applies', async () => {
    fake.injectFault({ kind: 'throttle', code: 4, regainAfterMinutes: 0 }, 2);

    const byDefault = await failureOf(publisher.publishPart(credentials(), part('hello')));
    const configured = await failureOf(newPublisher({ throttleBackoffMs: 45_000 }).publishPart(credentials(), part('hello')));

    expect(byDefault.retryAfterMs).toBe(15 * 60_000);
    expect(configured.retryAfterMs).toBe(45_000);
  });

  it('when the same message was posted on the Page recently (506), then it is rejected as a duplicate and only one post exists', async () => {
    await publisher.publishPart(credentials(), part('Same words twice'));

    const err = await failureOf(publisher.publishPart(credentials(), part('Same words twice')));

    expect(err.failureClass).toBe('rejected');
    expect(err.duplicate).toBe(true);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/duplicate/i);
    expect(fake.pagePosts).toHaveLength(1);
  });

  it('when the token belongs to another Page (200), then it is rejected naming the permissions to grant', async () => {
    const err = await failureOf(publisher.publishPart(credentials(OTHER_TOKEN, PAGE), part('not my page')), OTHER_TOKEN);

    expect(err.failureClass).toBe('rejected');
    expect(err.httpStatus).toBe(403);
    expect(err.message).toMatch(/lacks a permission \(code 200\); reconnect it granting pages_manage_posts/);
  });

  it('when a parameter is refused (100), then it is rejected as an invalid parameter', async () => {
    const err = await failureOf(publisher.publishPart(credentials(), part('')));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/refused a parameter of the post \(code 100\)/);
  });

  it('when the API version is unknown, then it is rejected pointing at META_GRAPH_API_VERSION', async () => {
    const err = await failureOf(newPublisher({ apiVersion: 'v2.0' }).publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/check META_GRAPH_API_VERSION \(now v2\.0\)/);
  });

  it.each([1, 2] as const)('when Facebook answers 500 with code %i after creating the post, then the outcome is unknown and findPublished finds the one post', async (code) => {
    fake.injectFault({ kind: 'ambiguous_500', code });

    const err = await failureOf(publisher.publishPart(credentials(), part('ambiguous one')));
    const found = await publisher.findPublished(credentials(), part('ambiguous one', { notBefore: new Date(START) }));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.httpStatus).toBe(500);
    expect(err.mayHavePosted).toBe(true);
    expect(fake.pagePosts).toHaveLength(1);
    expect(found?.platformPostId).toBe(fake.pagePosts[0]!.id);
  });

  it('when Facebook answers 500 without creating the post, then the outcome is unknown and findPublished finds nothing', async () => {
    fake.injectFault({ kind: 'server_error' });

    const err = await failureOf(publisher.publishPart(credentials(), part('not created')));

    expect(err.failureClass).toBe('unknown_outcome');
    await expect(publisher.findPublished(credentials(), part('not created'))).resolves.toBeNull();
  });

  it('when Facebook accepts and drops the connection, then the outcome is unknown and the post is found', async () => {
    fake.injectFault({ kind: 'accept_then_drop' });

    const err = await failureOf(publisher.publishPart(credentials(), part('dropped')));

    expect(err.failureClass).toBe('unknown_outcome');
    expect((await publisher.findPublished(credentials(), part('dropped')))?.platformPostId).toBe(fake.pagePosts[0]!.id);
  });

  it('when Facebook answers slower than timeoutMs, then the outcome is unknown', async () => {
    fake.injectFault({ kind: 'slow', delayMs: 5_000 });

    const err = await failureOf(newPublisher({ timeoutMs: 200 }).publishPart(credentials(), part('slow')));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.message).toMatch(/did not answer in time/);
  });
});

describe('FacebookPublisher threads (comment chain on request)', () => {
  it('when commentChainAt is given, then the post takes at most that many characters and the rest follows as the Page\'s comments on it', async () => {
    const text = sentences(1500);
    const { parts } = publisher.split(text, {}, { commentChainAt: 400 });
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(parts[0]!.length).toBeLessThanOrEqual(400);

    const refs: PublishedRef[] = [];
    for (const p of parts) {
      refs.push(await publisher.publishPart(credentials(), part(p.text, { partIndex: p.index, partCount: parts.length, rootPlatformPostId: refs[0]?.platformPostId, replyToPlatformPostId: refs.at(-1)?.platformPostId })));
    }

    expect(fake.pagePosts.map((p) => p.message)).toEqual([parts[0]!.text]);
    expect(fake.pageComments.map((c) => [c.postId, c.fromId, c.message])).toEqual(parts.slice(1).map((p) => [refs[0]!.platformPostId, PAGE, p.text]));
    expect(refs[1]!.url).toMatch(/\?comment_id=\d+$/);
  });

  it('when a comment was created but the answer was lost, then findPublished finds it among the root post\'s comments', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    const comment = part('the rest', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId });
    fake.injectFault({ kind: 'ambiguous_500' });

    await failureOf(publisher.publishPart(credentials(), comment));

    expect((await publisher.findPublished(credentials(), comment))?.platformPostId).toBe(fake.pageComments[0]!.id);
  });

  it('when the post already has more than 100 readers\' comments, then findPublished looks at the newest ones and finds the lost comment', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    for (let i = 0; i < 101; i++) {
      const body = new URLSearchParams({ message: `reader comment ${i}` });
      await fetch(`${baseUrl}/${VERSION}/${root.platformPostId}/comments`, { method: 'POST', headers: { Authorization: `Bearer ${PAGE_TOKEN}` }, body });
    }
    const comment = part('the rest of our post', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId });
    fake.injectFault({ kind: 'ambiguous_500' });
    await failureOf(publisher.publishPart(credentials(), comment));

    const found = await publisher.findPublished(credentials(), comment);

    expect(fake.pageComments).toHaveLength(102);
    expect(found?.platformPostId).toBe(fake.pageComments.at(-1)!.id);
  });
});

describe('FacebookPublisher.split and validate', () => {
  it('when no comment chain is asked for, then even a very long text is one part (with a too_long warning past 63,206)', () => {
    const long = 'a'.repeat(63_207);

    const { parts, warnings } = publisher.split(long, {});

    expect(parts).toHaveLength(1);
    expect(warnings.map((w) => w.code)).toEqual(['too_long']);
    expect(publisher.split(sentences(10_000), {}).parts).toHaveLength(1);
  });

  it('when the text is over 63,206 characters without a comment chain, then validate points at content and suggests commentChainAt', () => {
    expect(publisher.validate('a'.repeat(63_207), undefined)).toEqual([
      { path: 'content', message: expect.stringMatching(/at most 63206.*platformParams\.facebook\.commentChainAt/) },
    ]);
  });

  it.each([0, -5, 1.5, '400', 70_000])('when commentChainAt is %p, then validate names platformParams.facebook.commentChainAt', (value) => {
    expect(publisher.validate('hello', { commentChainAt: value })).toEqual([{ path: 'platformParams.facebook.commentChainAt', message: expect.any(String) }]);
  });

  it('when everything is in order, then validate finds no problem', () => {
    expect(publisher.validate('hello', { commentChainAt: 500 })).toEqual([]);
    expect(publisher.validate('a'.repeat(63_207), { commentChainAt: 500 })).toEqual([]);
  });
});

describe('FacebookPublisher.findPublished', () => {
  it('when the post exists, then it is found with its permalink', async () => {
    const posted = await publisher.publishPart(credentials(), part('findable  words\n'));

    await expect(publisher.findPublished(credentials(), part('findable words'))).resolves.toEqual(posted);
  });

  it('when another Page posted that message, then it is not found on this Page', async () => {
    await publisher.publishPart(credentials(OTHER_TOKEN, OTHER_PAGE), part('shared'));

    await expect(publisher.findPublished(credentials(), part('shared'))).resolves.toBeNull();
  });

  it('when notBefore is well after the post, then it is not this part', async () => {
    await publisher.publishPart(credentials(), part('timed'));

    await expect(publisher.findPublished(credentials(), part('timed', { notBefore: new Date(START + 10 * 60_000) }))).resolves.toBeNull();
  });

  it('when the token is rejected while reading the feed, then it throws an auth PublishError without the token', async () => {
    const err = await failureOf(publisher.findPublished(credentials('EAAG-unknown'), part('x')), 'EAAG-unknown');

    expect(err.failureClass).toBe('auth');
  });
});

describe('FacebookPublisher.findPublished on a busy Page (bounded by time, paginated)', () => {
  /** The list requests' query parameters, as sent (the fake's log keeps paths only). */
  function listings(spy: jest.SpiedFunction<typeof fetch>, pathEnd: string): Array<Record<string, string>> {
    return spy.mock.calls
      .filter(([, init]) => (init?.method ?? 'GET') === 'GET')
      .map(([input]) => new URL(String(input)))
      .filter((url) => url.pathname.endsWith(pathEnd))
      .map((url) => Object.fromEntries(url.searchParams));
  }

  async function postMany(count: number, prefix: string): Promise<void> {
    for (let i = 0; i < count; i++) await publisher.publishPart(credentials(), part(`${prefix} ${i}`));
  }

  async function readersComment(rootId: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const body = new URLSearchParams({ message: `reader comment ${i}` });
      await fetch(`${baseUrl}/${VERSION}/${rootId}/comments`, { method: 'POST', headers: { Authorization: `Bearer ${PAGE_TOKEN}` }, body });
    }
  }

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('when the post is older than the Page\'s newest 100 posts but newer than notBefore, then findPublished follows the after cursor and finds it', async () => {
    const posted = await publisher.publishPart(credentials(), part('the lost post'));
    clock += 1_000;
    await postMany(130, 'a later post');
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part('the lost post', { notBefore: new Date(START) }));

    expect(found).toEqual(posted);
    const feed = listings(spy, '/feed');
    expect(feed).toHaveLength(2);
    expect(feed[0]).toEqual({ fields: 'id,message,created_time,from', limit: '100', since: String(START / 1000 - 6) });
    expect(feed[1]).toEqual({ ...feed[0], after: expect.any(String) });
  });

  it('when the post predates notBefore by more than the skew, then it is not found, and since kept Facebook from listing the older posts at all', async () => {
    await publisher.publishPart(credentials(), part('an old post'));
    await postMany(150, 'another old post');
    clock = START + 10 * 60_000;
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part('an old post', { notBefore: new Date(clock) }));

    expect(found).toBeNull();
    expect(listings(spy, '/feed')).toHaveLength(1);
  });

  it('when the pagination bound is reached while Facebook still has a next page, then it is an unknown outcome, not "not there"', async () => {
    await publisher.publishPart(credentials(), part('the lost post'));
    clock += 1_000;
    await postMany(100, 'a later post');

    const err = await failureOf(newPublisher({ lookupMaxPages: 1 }).findPublished(credentials(), part('the lost post', { notBefore: new Date(START) })));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
  });

  it('when the feed since notBefore ends within the bound without the part, then it is certainly not there (null)', async () => {
    await postMany(120, 'a later post');

    await expect(newPublisher({ lookupMaxPages: 2 }).findPublished(credentials(), part('never sent', { notBefore: new Date(START) }))).resolves.toBeNull();
  });

  it('when more than 100 readers commented after our lost comment, then findPublished pages newest first with since and finds it', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    const comment = part('the rest of our post', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId, notBefore: new Date(START) });
    fake.injectFault({ kind: 'ambiguous_500' });
    await failureOf(publisher.publishPart(credentials(), comment));
    clock += 1_000;
    await readersComment(root.platformPostId, 120);
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), comment);

    expect(found?.platformPostId).toBe(fake.pageComments[0]!.id);
    const comments = listings(spy, '/comments');
    expect(comments).toHaveLength(2);
    expect(comments[0]).toEqual({ fields: 'id,message,created_time,from', limit: '100', since: String(START / 1000 - 6), order: 'reverse_chronological' });
    expect(comments[1]).toEqual({ ...comments[0], after: expect.any(String) });
  });

  it('when a page links its next page without cursors (time-based paging), then the next link\'s parameters are followed, never its token', async () => {
    const asked: Array<{ path: string; query: Record<string, string>; authorization?: string }> = [];
    const stub = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://stub.invalid');
      asked.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization });
      const item = (id: string, message: string): Record<string, unknown> => ({ id, message, created_time: '2025-03-01T12:00:00+0000', from: { id: PAGE } });
      let body: unknown;
      if (!url.pathname.endsWith('/feed')) body = { id: url.pathname.split('/').at(-1), permalink_url: 'https://www.facebook.com/found' };
      else if (url.searchParams.has('until')) body = { data: [item(`${PAGE}_2`, 'the lost post')] };
      else body = { data: [item(`${PAGE}_1`, 'another post')], paging: { next: `https://graph.facebook.com/${VERSION}/${PAGE}/feed?access_token=EAAG-leaked&limit=100&until=1740830000&__paging_token=tok` } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    try {
      const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;

      const found = await newPublisher({ baseUrl: stubUrl }).findPublished(credentials(), part('the lost post', { notBefore: new Date(START) }));

      expect(found).toEqual({ platformPostId: `${PAGE}_2`, url: 'https://www.facebook.com/found' });
      expect(asked[1]).toEqual({ path: `/${VERSION}/${PAGE}/feed`, query: { limit: '100', until: '1740830000', __paging_token: 'tok' }, authorization: `Bearer ${PAGE_TOKEN}` });
    } finally {
      await new Promise((resolve) => stub.close(resolve));
    }
  });

  it('when the comments run past the pagination bound without the part, then it is an unknown outcome', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    await readersComment(root.platformPostId, 101);
    const comment = part('never sent', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId, notBefore: new Date(START) });

    const err = await failureOf(newPublisher({ lookupMaxPages: 1 }).findPublished(credentials(), comment));

    expect(err.failureClass).toBe('unknown_outcome');
    await expect(publisher.findPublished(credentials(), comment)).resolves.toBeNull();
  });
});

describe('meta-graph classification', () => {
  const context = { effect: 'publishes' as const, secret: 'tok-123', apiVersion: VERSION };

  it('when X-Business-Use-Case-Usage has several entries, then the longest estimate wins', () => {
    const headers = new Headers({
      'x-business-use-case-usage': JSON.stringify({ 1: [{ estimated_time_to_regain_access: 3 }], 2: [{ estimated_time_to_regain_access: 12 }] }),
      'x-app-usage': JSON.stringify({ call_count: 100 }),
    });

    expect(regainAccessMs(headers)).toBe(12 * 60_000);
  });

  it('when the usage headers are absent or unreadable, then there is no estimate', () => {
    expect(regainAccessMs(new Headers())).toBeUndefined();
    expect(regainAccessMs(new Headers({ 'x-business-use-case-usage': 'not json' }))).toBeUndefined();
  });

  it('when a business-use-case throttle (80001) comes back, then it is retryable like the classic codes', () => {
    expect(classifyGraphError('Facebook', 400, { code: 80001, message: 'too many calls' }, new Headers(), context).failureClass).toBe('retryable');
  });

  it('when the platform echoes the token, then the message has it redacted', () => {
    const err = classifyGraphError('Facebook', 400, { code: 100, message: 'bad token tok-123 here' }, new Headers(), context);

    expect(err.message).not.toContain('tok-123');
    expect(err.message).toContain('[redacted]');
  });

  it('when a call that publishes nothing meets a 500, then it is retryable rather than unknown', () => {
    const err = classifyGraphError('Instagram', 500, { code: 2, message: 'unexpected' }, new Headers(), { ...context, effect: 'harmless' });

    expect(err.failureClass).toBe('retryable');
    expect(err.mayHavePosted).toBe(false);
  });

  it('when permission code 10 comes from Instagram, then the message names instagram_content_publish', () => {
    expect(classifyGraphError('Instagram', 403, { code: 10, message: 'no' }, new Headers(), context).message).toMatch(/instagram_content_publish/);
  });
});
