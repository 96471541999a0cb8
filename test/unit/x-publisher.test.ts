import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import vm from 'node:vm';
import { FakeXServer, renderXText } from '../fakes/x-fake';
import { XPublisher } from '../../src/platforms/x';
import {
  PublishError,
  classifyNetworkError,
  comparableText,
  truncate,
  type PartToPublish,
  type PublisherCredentials,
} from '../../src/platforms/publisher';

const USER = '2244994945';
const TOKEN = 'user-token-s3cr3t-9f8e7d';
const OTHER_USER = '783214';
const OTHER_TOKEN = 'user-token-other-4c4c4c';
const APP_TOKEN = 'app-only-token-b0b0b0';
/** A whole second, so that X's epoch-second reset header maps to exact milliseconds. */
const START = Date.parse('2025-03-01T12:00:00.000Z');
const TIMEOUT_MS = 2_000;

let clock: number;
let fake: FakeXServer;
let baseUrl: string;
let publisher: XPublisher;

function credentials(accessToken = TOKEN, platformUserId = USER): PublisherCredentials {
  return { accountId: 1, platformUserId, accessToken };
}

function part(text: string, extra: Partial<PartToPublish> = {}): PartToPublish {
  return { text, partIndex: 0, partCount: 1, ...extra };
}

/** Awaits a promise that must reject with a PublishError whose message never leaks `secret`. */
async function failureOf(promise: Promise<unknown>, secret = TOKEN): Promise<PublishError> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: value }),
    (err: unknown) => ({ rejected: err }),
  );
  expect(outcome).not.toHaveProperty('resolved');
  const err = (outcome as { rejected: unknown }).rejected;
  expect(err).toBeInstanceOf(PublishError);
  const error = err as PublishError;
  expect(error.message).not.toContain(secret);
  return error;
}

async function startFake(options: ConstructorParameters<typeof FakeXServer>[0] = {}): Promise<void> {
  fake = new FakeXServer({ now: () => clock, ...options });
  baseUrl = await fake.start();
  fake.addUser(USER, TOKEN, 'herald_test');
  fake.addUser(OTHER_USER, OTHER_TOKEN);
  fake.addAppOnlyToken(APP_TOKEN);
  publisher = new XPublisher({ baseUrl, timeoutMs: TIMEOUT_MS, now: () => clock });
}

/** A base URL on which nothing listens: a server is started (to get a free port) and stopped. */
async function closedBaseUrl(): Promise<string> {
  const other = new FakeXServer();
  const url = await other.start();
  await other.stop();
  return url;
}

beforeEach(async () => {
  clock = START;
  await startFake();
});

afterEach(async () => {
  await fake.stop();
});

describe('XPublisher.publishPart', () => {
  it('when X accepts the text, then it returns the new id and its x.com URL, and X stored exactly that text for the user', async () => {
    const ref = await publisher.publishPart(credentials(), part('Hello from Herald 👋 — café'));

    expect(fake.tweets).toHaveLength(1);
    const stored = fake.tweets[0]!;
    expect(ref).toEqual({ platformPostId: stored.id, url: `https://x.com/i/web/status/${stored.id}` });
    expect(stored.text).toBe('Hello from Herald 👋 — café');
    expect(stored.authorId).toBe(USER);
    expect(stored.inReplyToTweetId).toBeUndefined();
  });

  it('when ids are beyond Number.MAX_SAFE_INTEGER, then the returned id is X\'s id string, digit for digit', async () => {
    await publisher.publishPart(credentials(), part('first'));
    const ref = await publisher.publishPart(credentials(), part('second'));

    const id = fake.tweets[1]!.id;
    expect(BigInt(id)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
    expect(String(Number(id))).not.toBe(id); // the id would be corrupted by a round trip through a number
    expect(ref.platformPostId).toBe(id);
    expect(ref.url).toBe(`https://x.com/i/web/status/${id}`);
  });

  it('when the part replies to an earlier part, then X records the reply target (a thread is a reply chain)', async () => {
    const first = await publisher.publishPart(credentials(), part('Thread 1/2', { partCount: 2 }));
    const second = await publisher.publishPart(
      credentials(),
      part('Thread 2/2', { partIndex: 1, partCount: 2, replyToPlatformPostId: first.platformPostId }),
    );

    expect(fake.tweets.map((t) => t.id)).toEqual([first.platformPostId, second.platformPostId]);
    expect(fake.tweets[0]!.inReplyToTweetId).toBeUndefined();
    expect(fake.tweets[1]!.inReplyToTweetId).toBe(first.platformPostId);
  });

  it('when it posts, then the request is a POST /2/tweets with a Bearer token and a JSON content type (the fake refuses anything else)', async () => {
    await publisher.publishPart(credentials(), part('headers check'));

    expect(fake.requests).toEqual([
      expect.objectContaining({ method: 'POST', path: '/2/tweets', authorization: 'Bearer [redacted]', status: 201 }),
    ]);
    expect(fake.tweets).toHaveLength(1); // the fake answers 400 without Content-Type: application/json
  });

  it('when X does not know the token (401), then it fails as auth, asks to reconnect, has not posted and never repeats the token', async () => {
    const revoked = 'revoked-token-7a7a7a7a';
    const err = await failureOf(publisher.publishPart(credentials(revoked), part('hello')), revoked);

    expect(err.failureClass).toBe('auth');
    expect(err.httpStatus).toBe(401);
    expect(err.mayHavePosted).toBe(false);
    expect(err.duplicate).toBe(false);
    expect(err.message).toMatch(/reconnect/i);
    expect(err.message).toContain('401');
    expect(fake.tweets).toHaveLength(0);
  });

  it('when X answers 401 for a known token, then it fails as auth without the token in the message', async () => {
    fake.injectFault({ kind: 'unauthorized' });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('auth');
    expect(err.httpStatus).toBe(401);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/reconnect/i);
  });

  it('when the token is app-only (403 unsupported authentication), then it fails as auth and asks to reconnect', async () => {
    const err = await failureOf(publisher.publishPart(credentials(APP_TOKEN), part('hello')), APP_TOKEN);

    expect(err.failureClass).toBe('auth');
    expect(err.httpStatus).toBe(403);
    expect(err.mayHavePosted).toBe(false);
    expect(err.duplicate).toBe(false);
    expect(err.message).toMatch(/user-context/);
    expect(err.message).toMatch(/reconnect/i);
    expect(fake.tweets).toHaveLength(0);
  });

  it('when X rate-limits (429), then it is retryable after the reset plus a one-second margin, and nothing was posted', async () => {
    fake.injectFault({ kind: 'rate_limit', resetInSeconds: 120 });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('retryable');
    expect(err.httpStatus).toBe(429);
    expect(err.retryAfterMs).toBe(120_000 + 1_000);
    expect(err.mayHavePosted).toBe(false);
    expect(err.duplicate).toBe(false);
    expect(err.message).toMatch(/rate limit/i);
    expect(fake.tweets).toHaveLength(0);
  });

  it('when the wait is measured, then it uses the publisher\'s clock rather than the server\'s', async () => {
    fake.injectFault({ kind: 'rate_limit', resetInSeconds: 120 });
    const later = new XPublisher({ baseUrl, timeoutMs: TIMEOUT_MS, now: () => START + 30_000 });

    const err = await failureOf(later.publishPart(credentials(), part('hello')));

    expect(err.retryAfterMs).toBe(90_000 + 1_000);
  });

  it('when the reset is already in the past by the publisher\'s clock, then it waits only the margin', async () => {
    fake.injectFault({ kind: 'rate_limit', resetInSeconds: 60 });
    const late = new XPublisher({ baseUrl, timeoutMs: TIMEOUT_MS, now: () => START + 10 * 60_000 });

    const err = await failureOf(late.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('retryable');
    expect(err.retryAfterMs).toBe(1_000);
  });

  it('when the user really exhausts the create window, then the wait runs to the end of X\'s window', async () => {
    await fake.stop();
    await startFake({ rateLimitPerWindow: 1, windowSeconds: 900 });
    await publisher.publishPart(credentials(), part('the only one allowed'));

    const err = await failureOf(publisher.publishPart(credentials(), part('one too many')));

    expect(err.failureClass).toBe('retryable');
    expect(err.retryAfterMs).toBe(900_000 + 1_000);
    expect(err.mayHavePosted).toBe(false);
    expect(fake.tweets.map((t) => t.text)).toEqual(['the only one allowed']);
  });

  it('when the app\'s usage cap is reached (429 usage-capped), then it is rejected, not retried at the rate-limit reset', async () => {
    fake.injectFault({ kind: 'usage_capped' });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('rejected');
    expect(err.httpStatus).toBe(429);
    expect(err.retryAfterMs).toBeUndefined();
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/usage cap/i);
    expect(err.message).toContain('Usage cap exceeded');
  });

  it.each([500, 502, 503] as const)(
    'when X answers %i, then the outcome is unknown and the post may exist',
    async (status) => {
      fake.injectFault({ kind: 'server_error', status });

      const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

      expect(err.failureClass).toBe('unknown_outcome');
      expect(err.httpStatus).toBe(status);
      expect(err.mayHavePosted).toBe(true);
      expect(err.duplicate).toBe(false);
      expect(err.message).toContain(`(${status})`);
    },
  );

  it('when the server error has no explicit status, then the fake\'s 503 is classified as an unknown outcome', async () => {
    fake.injectFault({ kind: 'server_error' });

    const err = await failureOf(publisher.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.httpStatus).toBe(503);
    expect(err.message).toContain('Service Unavailable');
  });

  it('when the text is too long (400), then it is rejected with X\'s answer in the message and nothing was posted', async () => {
    const err = await failureOf(publisher.publishPart(credentials(), part('a'.repeat(300))));

    expect(err.failureClass).toBe('rejected');
    expect(err.httpStatus).toBe(400);
    expect(err.mayHavePosted).toBe(false);
    expect(err.duplicate).toBe(false);
    expect(err.message).toContain('(400)');
    expect(err.message).toContain('X said: Your Tweet text is too long.');
    expect(fake.tweets).toHaveLength(0);
  });

  // Known bug: classify() prefers the generic `detail` of X's invalid-request problem over
  // `errors[0].message`, so the reason ("Your Tweet text is too long…") never reaches the user.
  it('when the text is too long (400), then the message carries X\'s specific reason', async () => {
    const err = await failureOf(publisher.publishPart(credentials(), part('a'.repeat(300))));

    expect(err.message).toMatch(/too long/i);
  });

  it('when the same text was posted before (403 duplicate), then it is rejected and marked as a duplicate', async () => {
    await publisher.publishPart(credentials(), part('Same words twice'));

    const err = await failureOf(publisher.publishPart(credentials(), part('Same words twice')));

    expect(err.failureClass).toBe('rejected');
    expect(err.duplicate).toBe(true);
    expect(err.httpStatus).toBe(403);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/duplicate/i);
    expect(fake.tweets).toHaveLength(1);
  });

  it('when the part replies to a tweet that does not exist (403), then it is rejected and not a duplicate', async () => {
    const err = await failureOf(
      publisher.publishPart(credentials(), part('orphan reply', { partIndex: 1, partCount: 2, replyToPlatformPostId: '1234567890123456789' })),
    );

    expect(err.failureClass).toBe('rejected');
    expect(err.duplicate).toBe(false);
    expect(err.httpStatus).toBe(403);
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toContain('reply to a Tweet that is deleted or not visible');
    expect(fake.tweets).toHaveLength(0);
  });

  it('when X accepts the post and then drops the connection, then the outcome is unknown (and the post does exist)', async () => {
    fake.injectFault({ kind: 'accept_then_drop' });

    const err = await failureOf(publisher.publishPart(credentials(), part('accepted then dropped')));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
    expect(err.httpStatus).toBeUndefined();
    expect(err.message).toMatch(/dropped the connection \([A-Z_]+\) after the request was sent/);
    expect(fake.tweets.map((t) => t.text)).toEqual(['accepted then dropped']);
  });

  it('when X answers slower than timeoutMs, then the outcome is unknown and the message says it did not answer in time', async () => {
    fake.injectFault({ kind: 'slow', delayMs: 5_000 });
    const impatient = new XPublisher({ baseUrl, timeoutMs: 200, now: () => clock });

    const started = Date.now();
    const err = await failureOf(impatient.publishPart(credentials(), part('slow one')));

    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
    expect(err.message).toMatch(/did not answer in time/);
    expect(fake.tweets.map((t) => t.text)).toEqual(['slow one']); // why it may have posted
  });

  it('when nothing listens at the base URL, then it is retryable and certainly not posted', async () => {
    const closed = new XPublisher({ baseUrl: await closedBaseUrl(), timeoutMs: TIMEOUT_MS });

    const err = await failureOf(closed.publishPart(credentials(), part('hello')));

    expect(err.failureClass).toBe('retryable');
    expect(err.mayHavePosted).toBe(false);
    expect(err.httpStatus).toBeUndefined();
    expect(err.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
  });

  describe('when X sends the 201 headers but the body never completes', () => {
    let stalling: Server;
    let stallingUrl: string;

    beforeEach(async () => {
      stalling = createServer((_req, res) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.write('{"data":');
      });
      await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
      stallingUrl = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`;
    });

    afterEach(async () => {
      const closed = new Promise<void>((resolve) => stalling.close(() => resolve()));
      stalling.closeAllConnections();
      await closed;
    });

    // Known bug: the timeout covers reading the body, but only fetch() itself is inside the
    // try/catch, so a stall while reading the 201 body escapes as a raw DOMException.
    it('then it throws a classified PublishError', async () => {
      const stalled = new XPublisher({ baseUrl: stallingUrl, timeoutMs: 200 });

      const err = await failureOf(stalled.publishPart(credentials(), part('hello')));

      expect(err.failureClass).toBe('unknown_outcome');
    });
  });
});

describe('XPublisher.findPublished', () => {
  it('when the part was posted earlier with identical text, then it finds that post', async () => {
    await publisher.publishPart(credentials(), part('an unrelated earlier post'));
    const posted = await publisher.publishPart(credentials(), part('Launch day! Our new menu is live.'));
    await publisher.publishPart(credentials(), part('an unrelated later post'));

    const found = await publisher.findPublished(credentials(), part('Launch day! Our new menu is live.'));

    expect(found).toEqual(posted);
  });

  it('when it searches, then it reads the user\'s timeline with a Bearer token', async () => {
    await publisher.findPublished(credentials(), part('anything'));

    expect(fake.requests).toEqual([
      expect.objectContaining({ method: 'GET', path: `/2/users/${USER}/tweets`, authorization: 'Bearer [redacted]', status: 200 }),
    ]);
  });

  it('when the text contains a URL that X rewrote as a t.co link, then it still finds the post', async () => {
    const text = 'Read the story: https://example.com/articles/42?ref=herald&utm=x and tell us';
    const posted = await publisher.publishPart(credentials(), part(text));
    expect(renderXText(text, posted.platformPostId)).toContain('https://t.co/'); // X's copy differs

    const found = await publisher.findPublished(credentials(), part(text));

    expect(found).toEqual(posted);
  });

  it('when the text contains & and < which X HTML-escapes, then it still finds the post', async () => {
    const text = 'Fish & chips < £5 > yesterday';
    const posted = await publisher.publishPart(credentials(), part(text));
    expect(renderXText(text, posted.platformPostId)).toContain('&amp;'); // X's copy differs

    const found = await publisher.findPublished(credentials(), part(text));

    expect(found).toEqual(posted);
  });

  it('when the text is in decomposed Unicode and X returns it composed (NFC), then it still finds the post', async () => {
    const decomposed = 'Cafe\u0301 opens at noon';
    const posted = await publisher.publishPart(credentials(), part(decomposed));

    const found = await publisher.findPublished(credentials(), part(decomposed));

    expect(found).toEqual(posted);
  });

  // Known bug: X wraps scheme-less URLs ("example.com") as t.co links too, but comparableText only
  // replaces http(s):// URLs, so such a post is never recognised after an unknown outcome.
  it('when the text contains a URL without a scheme, then it still finds the post', async () => {
    const posted = await publisher.publishPart(credentials(), part('Visit example.com today'));

    const found = await publisher.findPublished(credentials(), part('Visit example.com today'));

    expect(found).toEqual(posted);
  });

  it('when a post with the same text replies to a different tweet, then it is not this part', async () => {
    const root = await publisher.publishPart(credentials(), part('Root 1/2', { partCount: 2 }));
    const otherRoot = await publisher.publishPart(credentials(), part('Other root'));
    const reply = await publisher.publishPart(
      credentials(),
      part('Same continuation', { partIndex: 1, partCount: 2, replyToPlatformPostId: root.platformPostId }),
    );

    const asReplyToOther = await publisher.findPublished(
      credentials(),
      part('Same continuation', { partIndex: 1, partCount: 2, replyToPlatformPostId: otherRoot.platformPostId }),
    );
    const asFirstPart = await publisher.findPublished(credentials(), part('Same continuation'));
    const asReplyToRoot = await publisher.findPublished(
      credentials(),
      part('Same continuation', { partIndex: 1, partCount: 2, replyToPlatformPostId: root.platformPostId }),
    );

    expect(asReplyToOther).toBeNull();
    expect(asFirstPart).toBeNull();
    expect(asReplyToRoot).toEqual(reply);
  });

  it('when a first part (no reply target) is searched for but only a reply has that text, then it is not found', async () => {
    const root = await publisher.publishPart(credentials(), part('root'));
    await publisher.publishPart(credentials(), part('shared text', { replyToPlatformPostId: root.platformPostId }));

    await expect(publisher.findPublished(credentials(), part('shared text'))).resolves.toBeNull();
  });

  it('when no post has that text, then it returns null', async () => {
    await publisher.publishPart(credentials(), part('something else entirely'));

    await expect(publisher.findPublished(credentials(), part('never posted'))).resolves.toBeNull();
  });

  it('when the timeline is empty, then it returns null', async () => {
    await expect(publisher.findPublished(credentials(), part('never posted'))).resolves.toBeNull();
  });

  it('when another user posted that text, then it is not found on this user\'s timeline', async () => {
    await publisher.publishPart(credentials(OTHER_TOKEN, OTHER_USER), part('the other user said this'));

    await expect(publisher.findPublished(credentials(), part('the other user said this'))).resolves.toBeNull();
  });

  it('when the post is older than the first send (beyond the 5-second skew allowance), then it is someone else\'s and excluded', async () => {
    await publisher.publishPart(credentials(), part('timed post'));

    const found = await publisher.findPublished(credentials(), part('timed post', { notBefore: new Date(START + 6_000) }));

    expect(found).toBeNull();
  });

  it('when notBefore is later than the post but within the 5-second skew allowance (X gives seconds), then the post is found', async () => {
    const posted = await publisher.publishPart(credentials(), part('timed post'));

    const found = await publisher.findPublished(credentials(), part('timed post', { notBefore: new Date(START + 4_000) }));

    expect(found).toEqual(posted);
  });

  it('when the attempt\'s send window has closed before the request leaves, then nothing is sent and it is retryable without reconciliation', async () => {
    const err = await failureOf(publisher.publishPart(credentials(), part('too late to send', { sendBy: Date.now() - 1 })));

    expect(err.failureClass).toBe('retryable');
    expect(err.mayHavePosted).toBe(false);
    expect(fake.tweets).toHaveLength(0);
  });

  it('when notBefore is before the post was created, then the post is found', async () => {
    clock = START + 60_000;
    const posted = await publisher.publishPart(credentials(), part('timed post'));

    const found = await publisher.findPublished(credentials(), part('timed post', { notBefore: new Date(START) }));

    expect(found).toEqual(posted);
  });

  it('when the token is rejected while searching, then it throws an auth PublishError without the token', async () => {
    const revoked = 'revoked-token-find-1234';

    const err = await failureOf(publisher.findPublished(credentials(revoked), part('x')), revoked);

    expect(err.failureClass).toBe('auth');
    expect(err.httpStatus).toBe(401);
  });

  it('when nothing listens at the base URL, then searching throws a retryable PublishError', async () => {
    const closed = new XPublisher({ baseUrl: await closedBaseUrl(), timeoutMs: TIMEOUT_MS });

    const err = await failureOf(closed.findPublished(credentials(), part('x')));

    expect(err.failureClass).toBe('retryable');
    expect(err.mayHavePosted).toBe(false);
  });
});

describe('XPublisher.findPublished on a busy account (bounded by time, paginated)', () => {
  /** The timeline requests' query parameters, as sent (the fake's log keeps paths only). */
  function timelineQueries(spy: jest.SpiedFunction<typeof fetch>): URLSearchParams[] {
    return spy.mock.calls.map(([input]) => new URL(String(input))).filter((url) => url.pathname.endsWith('/tweets')).map((url) => url.searchParams);
  }

  async function postMany(count: number, prefix: string): Promise<void> {
    for (let i = 0; i < count; i++) await publisher.publishPart(credentials(), part(`${prefix} ${i}`));
  }

  beforeEach(async () => {
    await fake.stop();
    await startFake({ rateLimitPerWindow: 1000 });
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('when the part is older than the newest 100 posts but newer than notBefore, then findPublished still finds it on a later page', async () => {
    const posted = await publisher.publishPart(credentials(), part('the lost part'));
    clock += 1_000;
    await postMany(150, 'a later post');
    clock = START + 10 * 60_000;
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part('the lost part', { notBefore: new Date(START) }));

    expect(found).toEqual(posted);
    const queries = timelineQueries(spy);
    expect(queries).toHaveLength(2);
    expect(Object.fromEntries(queries[0]!)).toEqual({
      max_results: '100',
      'tweet.fields': 'created_at,referenced_tweets',
      start_time: '2025-03-01T11:59:55Z',
    });
    expect(queries[1]!.get('pagination_token')).toEqual(expect.any(String));
    expect(queries[1]!.get('start_time')).toBe('2025-03-01T11:59:55Z');
  });

  it('when the post predates notBefore by more than the skew, then it is not found, and start_time kept X from listing the older posts at all', async () => {
    await publisher.publishPart(credentials(), part('an old post'));
    await postMany(150, 'another old post');
    clock = START + 10 * 60_000;
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part('an old post', { notBefore: new Date(START + 6_000) }));

    expect(found).toBeNull();
    expect(timelineQueries(spy)).toHaveLength(1);
    expect(timelineQueries(spy)[0]!.get('start_time')).toBe('2025-03-01T12:00:01Z');
  });

  it('when notBefore is ahead of the clock, then start_time is a minute before now in whole seconds, which X accepts', async () => {
    clock = START + 123;
    const spy = jest.spyOn(globalThis, 'fetch');

    await expect(publisher.findPublished(credentials(), part('x', { notBefore: new Date(START + 60_000) }))).resolves.toBeNull();

    expect(timelineQueries(spy)[0]!.get('start_time')).toBe('2025-03-01T11:59:00Z');
  });

  it('when the pagination bound is reached before the posts since notBefore end, then it is an unknown outcome, not "not there"', async () => {
    await publisher.publishPart(credentials(), part('the lost part'));
    await postMany(100, 'a later post');
    const bounded = new XPublisher({ baseUrl, timeoutMs: TIMEOUT_MS, now: () => clock, lookupMaxPages: 1 });

    const err = await failureOf(bounded.findPublished(credentials(), part('the lost part', { notBefore: new Date(START) })));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
    await expect(publisher.findPublished(credentials(), part('the lost part', { notBefore: new Date(START) }))).resolves.not.toBeNull();
  });

  it('when the timeline since notBefore ends within the bound without the part, then it is certainly not there (null)', async () => {
    await postMany(120, 'a later post');
    const bounded = new XPublisher({ baseUrl, timeoutMs: TIMEOUT_MS, now: () => clock, lookupMaxPages: 2 });

    await expect(bounded.findPublished(credentials(), part('never sent', { notBefore: new Date(START) }))).resolves.toBeNull();
  });
});

describe('PublishError', () => {
  it('when constructed, then it is an Error named PublishError carrying its class and details', () => {
    const err = new PublishError('retryable', 'try later', { retryAfterMs: 5_000, httpStatus: 429, mayHavePosted: false });

    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('PublishError');
    expect(err.message).toBe('try later');
    expect(err.failureClass).toBe('retryable');
    expect(err.retryAfterMs).toBe(5_000);
    expect(err.httpStatus).toBe(429);
    expect(err.duplicate).toBe(false);
  });

  it.each([
    ['unknown_outcome', true],
    ['retryable', false],
    ['rejected', false],
    ['auth', false],
  ] as const)('when mayHavePosted is not given for %s, then it defaults to %s', (failureClass, expected) => {
    expect(new PublishError(failureClass, 'm').mayHavePosted).toBe(expected);
  });

  it('when mayHavePosted is given explicitly, then it overrides the default of the class', () => {
    expect(new PublishError('unknown_outcome', 'm', { mayHavePosted: false }).mayHavePosted).toBe(false);
    expect(new PublishError('retryable', 'm', { mayHavePosted: true }).mayHavePosted).toBe(true);
  });

  it('when the message is longer than 300 characters, then it is truncated to 300 ending with an ellipsis', () => {
    const err = new PublishError('rejected', `X said: ${'z'.repeat(1_000)}`);

    expect(err.message).toHaveLength(300);
    expect(err.message.endsWith('…')).toBe(true);
    expect(err.message.startsWith('X said: zzz')).toBe(true);
  });

  it('when the message is exactly 300 characters, then it is kept whole', () => {
    const message = 'm'.repeat(300);

    expect(new PublishError('rejected', message).message).toBe(message);
  });
});

describe('truncate', () => {
  it('when the text fits, then it is returned unchanged', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('exactly10!', 10)).toBe('exactly10!');
  });

  it('when the text is longer than max, then it is cut to max characters including a trailing ellipsis', () => {
    expect(truncate('abcdefghijk', 5)).toBe('abcd…');
    expect(truncate('abcdefghijk', 5)).toHaveLength(5);
  });
});

describe('classifyNetworkError', () => {
  const withCause = (code: string): Error => new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])(
    'when fetch failed before reaching the platform (%s), then it is retryable and certainly not posted',
    (code) => {
      const err = classifyNetworkError('X', withCause(code));

      expect(err).toBeInstanceOf(PublishError);
      expect(err.failureClass).toBe('retryable');
      expect(err.mayHavePosted).toBe(false);
      expect(err.message).toBe(`X could not be reached (${code}).`);
    },
  );

  it('when the code is on the error itself rather than its cause, then it is still recognised', () => {
    const err = classifyNetworkError('LinkedIn', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }));

    expect(err.failureClass).toBe('retryable');
    expect(err.message).toBe('LinkedIn could not be reached (ECONNREFUSED).');
  });

  it.each(['TimeoutError', 'AbortError'])('when the request was aborted (%s), then the outcome is unknown: it did not answer in time', (name) => {
    const aborted = new Error('The operation was aborted');
    aborted.name = name;

    const err = classifyNetworkError('X', aborted);

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
    expect(err.message).toBe('X did not answer in time after the request was sent; checking before retrying.');
  });

  it('when the connection was reset after sending, then the outcome is unknown and the code is named', () => {
    const err = classifyNetworkError('X', withCause('ECONNRESET'));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
    expect(err.message).toBe('X dropped the connection (ECONNRESET) after the request was sent; checking before retrying.');
  });

  // Known bug: networkErrorCode() tests `err instanceof Error`, which is false for errors made in
  // another realm (Node's fetch seen from jest's vm sandbox), so their code and name are ignored.
  it('when the refused-connection error comes from another realm, then it is still retryable', () => {
    const foreign: unknown = vm.runInNewContext(
      "const e = new TypeError('fetch failed'); e.cause = Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }); e",
    );
    expect(foreign instanceof Error).toBe(false);

    expect(classifyNetworkError('X', foreign).failureClass).toBe('retryable');
  });

  it('when the timeout error comes from another realm, then it still says the platform did not answer in time', () => {
    const foreign: unknown = vm.runInNewContext("const e = new Error('aborted'); e.name = 'TimeoutError'; e");

    expect(classifyNetworkError('X', foreign).message).toMatch(/did not answer in time/);
  });

  it('when the thrown value is not an Error, then it is an unknown outcome described as a network error', () => {
    const err = classifyNetworkError('X', 'boom');

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.message).toContain('dropped the connection (network error)');
  });
});

describe('comparableText', () => {
  it('when the text is decomposed Unicode, then it equals its NFC form', () => {
    expect(comparableText('Cafe\u0301')).toBe('Caf\u00e9');
    expect(comparableText('Cafe\u0301')).toBe(comparableText('Caf\u00e9'));
  });

  it('when the text contains &amp; &lt; &gt;, then they become & < >', () => {
    expect(comparableText('Fish &amp; chips &lt;3 &gt;_&lt;')).toBe('Fish & chips <3 >_<');
  });

  it('when the text contains http or https URLs, then each becomes a <url> placeholder', () => {
    expect(comparableText('see https://example.com/a?b=1&c=2 and http://t.co/AbCdEf123')).toBe('see <url> and <url>');
    expect(comparableText('https://example.com/long/path')).toBe(comparableText('https://t.co/xyz'));
  });

  it('when the text has runs of whitespace, tabs, newlines or edges, then they collapse to single spaces and are trimmed', () => {
    expect(comparableText('  one\n\ntwo\t three   four \n')).toBe('one two three four');
  });

  it('when the text is already plain, then it is unchanged', () => {
    expect(comparableText('Plain text, nothing to do.')).toBe('Plain text, nothing to do.');
  });
});
