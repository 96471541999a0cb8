import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeLinkedInServer } from '../fakes/linkedin-fake';
import {
  LinkedInPublisher,
  msUntilNextUtcMidnight,
  type LinkedInPublisherOptions,
} from '../../src/platforms/linkedin';
import { escapeLittleText, unescapeLittleText } from '../../src/platforms/little-text';
import { plainTextRules, splitPostThenComments } from '../../src/domain/thread';
import { PublishError, type PartToPublish, type PublishedRef, type PublisherCredentials } from '../../src/platforms/publisher';

const MEMBER = 'urn:li:person:AbC123xyz';
const TOKEN = 'li-member-token-s3cr3t-77aa';
const ORGANIZATION = 'urn:li:organization:2414183';
const ORG_TOKEN = 'li-org-token-s3cr3t-88bb';
const OTHER_MEMBER = 'urn:li:person:Other999';
const OTHER_TOKEN = 'li-other-token-s3cr3t-99cc';
const VERSION = '202502';
/** Noon UTC: LinkedIn's daily limits reset in exactly 12 hours. */
const START = Date.parse('2025-03-01T12:00:00.000Z');
const TIMEOUT_MS = 2_000;
const EVERY_RESERVED = 'Launch day! #tag (note) @me *bold* _x_ ~y~ [a] {b} <c> | \\ done.';

let clock: number;
let fake: FakeLinkedInServer;
let baseUrl: string;
let publisher: LinkedInPublisher;

function credentials(accessToken = TOKEN, platformUserId = MEMBER): PublisherCredentials {
  return { accountId: 1, platformUserId, accessToken };
}

function part(text: string, extra: Partial<PartToPublish> = {}): PartToPublish {
  return { text, partIndex: 0, partCount: 1, ...extra };
}

function newPublisher(options: Partial<LinkedInPublisherOptions> = {}): LinkedInPublisher {
  return new LinkedInPublisher({ baseUrl, apiVersion: VERSION, timeoutMs: TIMEOUT_MS, now: () => clock, ...options });
}

async function failureOf(promise: Promise<unknown>, secret = TOKEN): Promise<PublishError> {
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

/** Sentences of about 100 characters, so that splits fall at sentence ends. */
function longText(characters: number): string {
  const sentences: string[] = [];
  for (let i = 1; sentences.join(' ').length < characters; i++) {
    sentences.push(`Sentence number ${String(i).padStart(3, '0')} tells a little more of the story of the launch we planned.`);
  }
  return sentences.join(' ');
}

beforeEach(async () => {
  clock = START;
  fake = new FakeLinkedInServer({ now: () => clock });
  baseUrl = await fake.start();
  fake.addAuthor(MEMBER, TOKEN);
  fake.addAuthor(ORGANIZATION, ORG_TOKEN);
  fake.addAuthor(OTHER_MEMBER, OTHER_TOKEN);
  publisher = newPublisher();
});

afterEach(async () => {
  await fake.stop();
});

describe('LinkedInPublisher.publishPart (posts)', () => {
  it('when LinkedIn accepts the post, then it returns the decoded URN and its feed URL, and LinkedIn stored it for the author', async () => {
    const ref = await publisher.publishPart(credentials(), part('Hello from Herald 👋 — café'));

    expect(fake.posts).toHaveLength(1);
    const stored = fake.posts[0]!;
    expect(ref).toEqual({ platformPostId: stored.urn, url: `https://www.linkedin.com/feed/update/${stored.urn}/` });
    expect(stored.urn).toMatch(/^urn:li:share:\d+$/);
    expect(stored.author).toBe(MEMBER);
    expect(stored.commentary).toBe('Hello from Herald 👋 — café');
    expect(stored.visibility).toBe('PUBLIC');
    expect(stored.lifecycleState).toBe('PUBLISHED');
  });

  it('when x-restli-id comes URL-encoded one time and plain the next, then both URNs are decoded', async () => {
    const first = await publisher.publishPart(credentials(), part('first post'));
    const second = await publisher.publishPart(credentials(), part('second post'));

    expect([first.platformPostId, second.platformPostId]).toEqual(fake.posts.map((p) => p.urn));
    expect(first.platformPostId).not.toContain('%');
  });

  it('when it posts, then it sends the Bearer token to POST /rest/posts (the fake refuses missing versions, protocol headers and bad bodies)', async () => {
    await publisher.publishPart(credentials(), part('headers check'));

    expect(fake.requests).toEqual([expect.objectContaining({ method: 'POST', path: '/rest/posts', authorization: 'Bearer [redacted]', status: 201 })]);
  });

  it('when the author is an organization, then the post is created as the organization', async () => {
    const ref = await publisher.publishPart(credentials(ORG_TOKEN, ORGANIZATION), part('Company news'));

    expect(fake.postsBy(ORGANIZATION).map((p) => p.urn)).toEqual([ref.platformPostId]);
  });

  it('when the text contains every little-format reserved character, then it arrives complete: the stored commentary un-escapes to the original', async () => {
    await publisher.publishPart(credentials(), part(EVERY_RESERVED));

    const stored = fake.posts[0]!;
    expect(stored.truncated).toBe(false);
    expect(stored.commentary).toBe(escapeLittleText(EVERY_RESERVED));
    expect(unescapeLittleText(stored.commentary)).toBe(EVERY_RESERVED);
  });

  it('when the same commentary was posted before (422 DUPLICATE_POST), then it is a rejected duplicate naming the existing post, for the caller to judge, and no second post exists', async () => {
    const first = await publisher.publishPart(credentials(), part('Same words twice'));

    const err = await failureOf(publisher.publishPart(credentials(), part('Same words twice')));

    expect(err).toMatchObject({ failureClass: 'rejected', duplicate: true, mayHavePosted: false, existingPlatformPostId: first.platformPostId });
    expect(fake.posts).toHaveLength(1);
    expect(fake.requests.map((r) => r.status)).toEqual([201, 422]);
  });

  it('when the token is unknown (401, 65600), then it fails as auth, asks to reconnect and never repeats the token', async () => {
    const unknown = 'li-unknown-token-1234';
    const err = await failureOf(publisher.publishPart(credentials(unknown), part('hello')), unknown);

    expect(err.failureClass).toBe('auth');
    expect(err.httpStatus).toBe(401);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/invalid or expired \(401\): reconnect the LinkedIn account/);
    expect(err.message).toContain('INVALID_ACCESS_TOKEN');
  });

  it('when the member revoked the app (401, 65601), then it fails as auth saying the token was revoked', async () => {
    fake.revokeToken(TOKEN);

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('auth');
    expect(err.message).toMatch(/was revoked \(401\): reconnect/);
    expect(fake.posts).toHaveLength(0);
  });

  it('when an unauthorized fault names 65601, then the message says revoked', async () => {
    fake.injectFault({ kind: 'unauthorized', serviceErrorCode: 65601 });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('auth');
    expect(err.message).toMatch(/revoked/);
  });

  it('when the token may not post as the author (403), then it is rejected naming the permission it needs', async () => {
    const err = await failureOf(publisher.publishPart(credentials(TOKEN, ORGANIZATION), part('not my company')));

    expect(err.failureClass).toBe('rejected');
    expect(err.httpStatus).toBe(403);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toContain(ORGANIZATION);
    expect(err.message).toMatch(/w_organization_social/);
    expect(fake.posts).toHaveLength(0);
  });

  it('when the configured version is not served (426 NONEXISTENT_VERSION), then it is rejected with an operator message naming the version and LINKEDIN_API_VERSION', async () => {
    const outdated = newPublisher({ apiVersion: '202301' });

    const err = await failureOf(outdated.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('rejected');
    expect(err.httpStatus).toBe(426);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/API version 202301 \(426 NONEXISTENT_VERSION\): set LINKEDIN_API_VERSION/);
  });

  it('when LinkedIn throttles (429, serviceErrorCode 101), then it is retryable exactly until the next 00:00 UTC', async () => {
    fake.injectFault({ kind: 'throttle' });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('retryable');
    expect(err.httpStatus).toBe(429);
    expect(err.retryAfterMs).toBe(12 * 60 * 60_000);
    expect(err.mayHavePosted).toBe(false);
  });

  it('when the clock is a minute before midnight, then the throttle wait is one minute', async () => {
    clock = Date.parse('2025-03-01T23:59:00.000Z');
    fake.injectFault({ kind: 'throttle' });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.retryAfterMs).toBe(60_000);
  });

  it('when throttleBackoffMs is configured, then it overrides the wait until midnight', async () => {
    fake.injectFault({ kind: 'throttle' });

    const err = await failureOf(newPublisher({ throttleBackoffMs: 90_000 }).publishPart(credentials(), part('hello')));

    expect(err.retryAfterMs).toBe(90_000);
  });

  it('when the author really exhausts the daily limit, then the wait also runs to midnight', async () => {
    await fake.stop();
    fake = new FakeLinkedInServer({ now: () => clock, dailyPostLimit: 1 });
    baseUrl = await fake.start();
    fake.addAuthor(MEMBER, TOKEN);
    publisher = newPublisher();
    await publisher.publishPart(credentials(), part('the only one today'));

    const err = await failureOf(publisher.publishPart(credentials(), part('one too many')));

    expect(err.failureClass).toBe('retryable');
    expect(err.retryAfterMs).toBe(12 * 60 * 60_000);
    expect(fake.posts).toHaveLength(1);
  });

  it('when the text is over 3000 characters (400 FIELD_ARRAY_SIZE_TOO_HIGH), then it is rejected as too long', async () => {
    const err = await failureOf(publisher.publishPart(credentials(), part('a'.repeat(3001))));

    expect(err.failureClass).toBe('rejected');
    expect(err.httpStatus).toBe(400);
    expect(err.message).toMatch(/too long \(FIELD_ARRAY_SIZE_TOO_HIGH/);
    expect(fake.posts).toHaveLength(0);
  });

  it('when escaping takes a text of 2990 characters over 3000, then LinkedIn refuses it — which is why split measures escaped text', async () => {
    const text = `${'a'.repeat(2970)}${'('.repeat(20)}`;

    const err = await failureOf(publisher.publishPart(credentials(), part(text)));

    expect(err.message).toMatch(/FIELD_ARRAY_SIZE_TOO_HIGH/);
    expect(publisher.split(text, {}).parts.length).toBeGreaterThan(1);
  });

  it.each([500, 502, 503, 504] as const)('when LinkedIn answers %i, then the outcome is unknown and the post may exist', async (status) => {
    fake.injectFault({ kind: 'server_error', status });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.httpStatus).toBe(status);
    expect(err.mayHavePosted).toBe(true);
  });

  it('when LinkedIn accepts and then drops the connection, then the outcome is unknown and findPublished finds the one post', async () => {
    fake.injectFault({ kind: 'accept_then_drop' });

    const err = await failureOf(publisher.publishPart(credentials(), part(EVERY_RESERVED)));
    const found = await publisher.findPublished(credentials(), part(EVERY_RESERVED, { notBefore: new Date(START) }));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(fake.posts).toHaveLength(1);
    expect(found).toEqual({ platformPostId: fake.posts[0]!.urn, url: `https://www.linkedin.com/feed/update/${fake.posts[0]!.urn}/` });
  });

  it('when LinkedIn answers slower than timeoutMs, then the outcome is unknown (it did not answer in time)', async () => {
    fake.injectFault({ kind: 'slow', delayMs: 5_000 });

    const err = await failureOf(newPublisher({ timeoutMs: 200 }).publishPart(credentials(), part('slow one')));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.message).toMatch(/did not answer in time/);
    expect(fake.posts).toHaveLength(1);
  });

  it('when nothing listens at the base URL, then it is retryable and certainly not posted', async () => {
    await fake.stop();

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('retryable');
    expect(err.mayHavePosted).toBe(false);
  });
});

describe('LinkedInPublisher threads: a post and the author\'s own comments', () => {
  it('when a long text is published part by part, then part 0 is the post and the others are comments on it by the author, in order', async () => {
    const { parts } = publisher.split(longText(5000), {});
    expect(parts.length).toBeGreaterThanOrEqual(3);

    const refs: PublishedRef[] = [];
    for (const threadPart of parts) {
      refs.push(
        await publisher.publishPart(
          credentials(),
          part(threadPart.text, {
            partIndex: threadPart.index,
            partCount: parts.length,
            replyToPlatformPostId: refs.at(-1)?.platformPostId,
            rootPlatformPostId: refs[0]?.platformPostId,
          }),
        ),
      );
    }

    const root = fake.posts[0]!;
    expect(fake.posts).toHaveLength(1);
    expect(unescapeLittleText(root.commentary)).toBe(parts[0]!.text);
    expect(fake.comments.map((c) => ({ actor: c.actor, postUrn: c.postUrn, text: c.text }))).toEqual(
      parts.slice(1).map((p) => ({ actor: MEMBER, postUrn: root.urn, text: p.text })),
    );
    expect(refs.slice(1).map((r) => r.platformPostId)).toEqual(fake.comments.map((c) => c.urn));
    expect(refs[1]!.url).toBe(`https://www.linkedin.com/feed/update/${root.urn}/?commentUrn=${encodeURIComponent(fake.comments[0]!.urn)}`);
  });

  it('when a comment part has no root post id, then it is rejected before anything is sent', async () => {
    const err = await failureOf(publisher.publishPart(credentials(), part('orphan', { partIndex: 1, partCount: 2 })));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/no root post URN/);
    expect(fake.requests).toHaveLength(0);
  });

  it('when a comment contains reserved characters, then it is sent as plain text (comments are not little text)', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));

    await publisher.publishPart(credentials(), part('(more) #tags', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId }));

    expect(fake.comments[0]!.text).toBe('(more) #tags');
  });

  it('when LinkedIn accepts a comment and drops the connection, then findPublished finds that comment by the author', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    const comment = part('a comment', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId, replyToPlatformPostId: root.platformPostId });
    fake.injectFault({ kind: 'accept_then_drop' });

    const err = await failureOf(publisher.publishPart(credentials(), comment));
    const found = await publisher.findPublished(credentials(), comment);

    expect(err.failureClass).toBe('unknown_outcome');
    expect(found?.platformPostId).toBe(fake.comments[0]!.urn);
  });

  it('when the thread already has more comments than LinkedIn lists by default, then findPublished still finds the lost one', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    const comment = (index: number): PartToPublish => part(`comment ${index}`, { partIndex: index, partCount: 13, rootPlatformPostId: root.platformPostId });
    for (let index = 1; index <= 11; index++) await publisher.publishPart(credentials(), comment(index));
    fake.injectFault({ kind: 'accept_then_drop' });
    await failureOf(publisher.publishPart(credentials(), comment(12)));

    const found = await publisher.findPublished(credentials(), comment(12));

    expect(found?.platformPostId).toBe(fake.comments.at(-1)!.urn);
  });

  it('when a comment fails with a server error, then the outcome is unknown and findPublished finds nothing', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    const comment = part('a comment', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId });
    fake.injectFault({ kind: 'server_error' });

    const err = await failureOf(publisher.publishPart(credentials(), comment));

    expect(err.failureClass).toBe('unknown_outcome');
    await expect(publisher.findPublished(credentials(), comment)).resolves.toBeNull();
  });
});

describe('LinkedInPublisher.split', () => {
  it('when the escaped text fits 3000 characters, then it is one part', () => {
    const { parts, warnings } = publisher.split(EVERY_RESERVED, {});

    expect(parts).toEqual([{ index: 0, text: EVERY_RESERVED, length: escapeLittleText(EVERY_RESERVED).length }]);
    expect(warnings).toEqual([]);
  });

  it('when the text is long, then the post fits 3000 escaped characters, each comment 1250, and cuts fall at sentence ends', () => {
    const text = longText(7000).replace(/story/g, '(story)');

    const { parts, warnings } = publisher.split(text, {});

    expect(warnings).toEqual([]);
    expect(escapeLittleText(parts[0]!.text).length).toBeLessThanOrEqual(3000);
    expect(escapeLittleText(parts[0]!.text).length).toBeGreaterThan(2800);
    for (const comment of parts.slice(1)) expect(comment.text.length).toBeLessThanOrEqual(1250);
    for (const threadPart of parts) expect(threadPart.text).toMatch(/planned\.$/);
    expect(parts.map((p) => p.text).join(' ')).toBe(text);
  });

  it('when numbering is asked for, then every part ends with " i/n" and still fits its limit', () => {
    const { parts } = publisher.split(longText(5000), { numbering: true });

    parts.forEach((p, i) => expect(p.text.endsWith(` ${i + 1}/${parts.length}`)).toBe(true));
    expect(escapeLittleText(parts[0]!.text).length).toBeLessThanOrEqual(3000);
    for (const comment of parts.slice(1)) expect(comment.length).toBeLessThanOrEqual(1250);
  });


  it('when the text is empty, then there are no parts and an empty warning', () => {
    expect(publisher.split('   ', {}).warnings.map((w) => w.code)).toEqual(['empty']);
  });
});

describe('splitPostThenComments', () => {
  it('when a comment part has to be cut inside a word, then the warning names that part of the whole thread', () => {
    const text = `${'short. '.repeat(2)}${'x'.repeat(25)}`;

    const { parts, warnings } = splitPostThenComments(text, plainTextRules(10), plainTextRules(10), {});

    expect(parts.map((p) => p.text)).toEqual(['short.', 'short.', 'xxxxxxxxxx', 'xxxxxxxxxx', 'xxxxx']);
    expect(warnings.map((w) => [w.code, w.partIndex, w.message.slice(0, 6)])).toEqual([
      ['hard_split', 2, 'Part 3'],
      ['hard_split', 3, 'Part 4'],
    ]);
  });

  it('when numbering needs two digits, then room for " ii/nn" is reserved in every part', () => {
    const text = 'word '.repeat(60).trim();

    const { parts } = splitPostThenComments(text, plainTextRules(20), plainTextRules(20), { numbering: true });

    expect(parts.length).toBeGreaterThanOrEqual(10);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(20);
    expect(parts.at(-1)!.text.endsWith(` ${parts.length}/${parts.length}`)).toBe(true);
  });

  it('when a post is measured, then the backslashes of its escapes count', () => {
    expect(publisher.split('(a)', {}).parts[0]!.length).toBe(5);
  });
});

describe('LinkedInPublisher.findPublished', () => {
  it('when the post exists, then it is found by its commentary (compared after un-escaping)', async () => {
    const posted = await publisher.publishPart(credentials(), part(EVERY_RESERVED));

    await expect(publisher.findPublished(credentials(), part(EVERY_RESERVED))).resolves.toEqual(posted);
  });

  it('when no post has that text, then it returns null', async () => {
    await publisher.publishPart(credentials(), part('something else'));

    await expect(publisher.findPublished(credentials(), part('never posted'))).resolves.toBeNull();
  });

  it('when another author posted that text, then it is not found for this author', async () => {
    await publisher.publishPart(credentials(OTHER_TOKEN, OTHER_MEMBER), part('shared words'));

    await expect(publisher.findPublished(credentials(), part('shared words'))).resolves.toBeNull();
  });

  it('when notBefore is more than five minutes after the post, then that post is not this part', async () => {
    await publisher.publishPart(credentials(), part('timed'));

    await expect(publisher.findPublished(credentials(), part('timed', { notBefore: new Date(START + 10 * 60_000) }))).resolves.toBeNull();
  });

  it('when the app may not read the member\'s posts (403), then it answers null — and posting again is refused as a duplicate that names the existing post', async () => {
    fake.addAuthor(MEMBER, TOKEN, { canReadPosts: false });
    fake.injectFault({ kind: 'accept_then_drop' });
    await failureOf(publisher.publishPart(credentials(), part('made it after all')));

    const found = await publisher.findPublished(credentials(), part('made it after all'));
    const again = await failureOf(publisher.publishPart(credentials(), part('made it after all')));

    expect(found).toBeNull();
    expect(fake.posts).toHaveLength(1);
    expect(again.existingPlatformPostId).toBe(fake.posts[0]!.urn);
  });

  it('when the token is rejected while searching, then it throws an auth PublishError without the token', async () => {
    const revoked = 'li-revoked-find-5678';

    const err = await failureOf(publisher.findPublished(credentials(revoked), part('x')), revoked);

    expect(err.failureClass).toBe('auth');
  });
});

describe('LinkedInPublisher.findPublished on a busy account (bounded by time, paginated)', () => {
  /** The listing requests' query parameters, as sent (the fake's log keeps paths only). */
  function listings(spy: jest.SpiedFunction<typeof fetch>, pathEnd: string): URLSearchParams[] {
    return spy.mock.calls
      .filter(([, init]) => (init?.method ?? 'GET') === 'GET')
      .map(([input]) => new URL(String(input)))
      .filter((url) => url.pathname.endsWith(pathEnd))
      .map((url) => url.searchParams);
  }

  async function postMany(count: number, prefix: string): Promise<void> {
    for (let i = 0; i < count; i++) await publisher.publishPart(credentials(), part(`${prefix} ${i}`));
  }

  async function readersComment(rootUrn: string, count: number): Promise<void> {
    const readers = newPublisher();
    for (let i = 0; i < count; i++) {
      await readers.publishPart(credentials(OTHER_TOKEN, OTHER_MEMBER), part(`a reader's comment ${i}`, { partIndex: 1, partCount: 2, rootPlatformPostId: rootUrn }));
    }
  }

  beforeEach(async () => {
    await fake.stop();
    fake = new FakeLinkedInServer({ now: () => clock, dailyPostLimit: 1000 });
    baseUrl = await fake.start();
    fake.addAuthor(MEMBER, TOKEN);
    fake.addAuthor(OTHER_MEMBER, OTHER_TOKEN);
    publisher = newPublisher();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('when the post is older than the author\'s newest 100 posts but newer than notBefore, then findPublished pages with start and finds it', async () => {
    const posted = await publisher.publishPart(credentials(), part('the lost post'));
    clock += 1_000;
    await postMany(130, 'a later post');
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part('the lost post', { notBefore: new Date(START) }));

    expect(found).toEqual(posted);
    const queries = listings(spy, '/rest/posts').map((q) => Object.fromEntries(q));
    expect(queries).toEqual([
      { author: MEMBER, q: 'author', count: '100', sortBy: 'LAST_MODIFIED', start: '0' },
      { author: MEMBER, q: 'author', count: '100', sortBy: 'LAST_MODIFIED', start: '100' },
    ]);
  });

  it('when a whole page of posts predates notBefore by more than the skew, then the search stops there: the older post is not this part', async () => {
    await publisher.publishPart(credentials(), part('an old post'));
    await postMany(150, 'another old post');
    clock = START + 10 * 60_000;
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part('an old post', { notBefore: new Date(clock) }));

    expect(found).toBeNull();
    expect(listings(spy, '/rest/posts')).toHaveLength(1);
  });

  it('when the pagination bound is reached before the posts since notBefore end, then it is an unknown outcome, not "not there"', async () => {
    await publisher.publishPart(credentials(), part('the lost post'));
    clock += 1_000;
    await postMany(100, 'a later post');

    const err = await failureOf(newPublisher({ lookupMaxPages: 1 }).findPublished(credentials(), part('the lost post', { notBefore: new Date(START) })));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
  });

  it('when the author\'s posts end within the bound without the part, then it is certainly not there (null)', async () => {
    await postMany(120, 'a later post');

    await expect(newPublisher({ lookupMaxPages: 2 }).findPublished(credentials(), part('never sent', { notBefore: new Date(START) }))).resolves.toBeNull();
  });

  it('when the lost comment comes after more than 100 readers\' comments, then findPublished pages through the comments and finds it', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    await readersComment(root.platformPostId, 120);
    const comment = part('our lost comment', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId, notBefore: new Date(START) });
    fake.injectFault({ kind: 'accept_then_drop' });
    await failureOf(publisher.publishPart(credentials(), comment));
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), comment);

    expect(found?.platformPostId).toBe(fake.comments.at(-1)!.urn);
    expect(listings(spy, '/comments').map((q) => Object.fromEntries(q))).toEqual([
      { start: '0', count: '100' },
      { start: '100', count: '100' },
    ]);
  });

  it('when LinkedIn answers a short page with a next link, then the next page starts where the link says, not after the short page', async () => {
    const starts: string[] = [];
    const stub = createServer((req, res) => {
      const start = new URL(req.url ?? '/', 'http://stub.invalid').searchParams.get('start') ?? '';
      starts.push(start);
      const post = (id: number, commentary: string): Record<string, unknown> => ({ id: `urn:li:share:${id}`, author: MEMBER, commentary, createdAt: START, lastModifiedAt: START });
      const body =
        start === '0'
          ? { elements: [post(1, 'first')], paging: { start: 0, count: 100, links: [{ rel: 'next', type: 'application/json', href: '/rest/posts?q=author&start=100&count=100' }] } }
          : { elements: [post(2, 'the lost post')], paging: { start: 100, count: 100, links: [{ rel: 'prev', type: 'application/json', href: '/rest/posts?q=author&start=0&count=100' }] } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    try {
      const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;

      const found = await newPublisher({ baseUrl: stubUrl }).findPublished(credentials(), part('the lost post', { notBefore: new Date(START) }));

      expect(found?.platformPostId).toBe('urn:li:share:2');
      expect(starts).toEqual(['0', '100']);
    } finally {
      await new Promise((resolve) => stub.close(resolve));
    }
  });

  it('when the comments run past the pagination bound without the part, then it is an unknown outcome', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    await readersComment(root.platformPostId, 101);
    const comment = part('our lost comment', { partIndex: 1, partCount: 2, rootPlatformPostId: root.platformPostId, notBefore: new Date(START) });

    const err = await failureOf(newPublisher({ lookupMaxPages: 1 }).findPublished(credentials(), comment));

    expect(err.failureClass).toBe('unknown_outcome');
    await expect(publisher.findPublished(credentials(), comment)).resolves.toBeNull();
  });
});

describe('msUntilNextUtcMidnight', () => {
  it('when it is exactly midnight, then the next reset is a full day away', () => {
    expect(msUntilNextUtcMidnight(Date.parse('2025-03-02T00:00:00.000Z'))).toBe(24 * 60 * 60_000);
  });
});
