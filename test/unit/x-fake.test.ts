import { FakeXServer, renderXText, type XFault } from '../fakes/x-fake';
import { FaultQueue, delay, redactAuthorization } from '../fakes/http-faults';

const USER = '2244994945';
const TOKEN = 'user-token-abc';
const OTHER_USER = '783214';
const OTHER_TOKEN = 'user-token-other';
const APP_TOKEN = 'app-only-token';
const START = Date.parse('2025-03-01T12:00:00.000Z');
const TOO_MANY = { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 };

type Json = Record<string, any>;  

let clock: number;
let x: FakeXServer;
let base: string;

async function startFake(options: ConstructorParameters<typeof FakeXServer>[0] = {}): Promise<void> {
  await x?.stop();
  x = new FakeXServer({ now: () => clock, ...options });
  base = await x.start();
  x.addUser(USER, TOKEN, 'herald_test');
  x.addUser(OTHER_USER, OTHER_TOKEN);
  x.addAppOnlyToken(APP_TOKEN);
}

interface PostInit {
  token?: string | null;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function post(body: unknown, init: PostInit = {}): Promise<Response> {
  const token = init.token === undefined ? TOKEN : init.token;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return fetch(`${base}/2/tweets`, { method: 'POST', headers, body: JSON.stringify(body), signal: init.signal });
}

function get(path: string, token: string | null = TOKEN): Promise<Response> {
  return fetch(`${base}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
}

async function created(text: string, replyTo?: string, token = TOKEN): Promise<string> {
  const res = await post(replyTo ? { text, reply: { in_reply_to_tweet_id: replyTo } } : { text }, { token });
  expect(res.status).toBe(201);
  return ((await res.json()) as Json).data.id as string;
}

beforeEach(async () => {
  clock = START;
  await startFake();
});

afterEach(async () => {
  await x.stop();
});

describe('POST /2/tweets', () => {
  it('when a user token posts valid text, then it answers 201 with X\'s data shape and stores the tweet', async () => {
    const res = await post({ text: 'Hello from Herald' });

    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Json;
    expect(body).toEqual({
      data: { id: expect.stringMatching(/^[0-9]{19}$/), text: 'Hello from Herald', edit_history_tweet_ids: [body.data.id] },
    });
    expect(x.tweets).toEqual([
      { id: body.data.id, text: 'Hello from Herald', authorId: USER, createdAt: new Date(START), receivedAt: new Date(START) },
    ]);
    expect(x.tweetsBy(USER)).toHaveLength(1);
    expect(x.tweetsBy(OTHER_USER)).toHaveLength(0);
  });

  it('when a response is sent, then it carries the window and 24-hour rate-limit headers and no Retry-After', async () => {
    const res = await post({ text: 'headers' });

    expect(res.headers.get('x-rate-limit-limit')).toBe('100');
    expect(res.headers.get('x-rate-limit-remaining')).toBe('99');
    expect(res.headers.get('x-rate-limit-reset')).toBe(String(START / 1000 + 900));
    expect(res.headers.get('x-user-limit-24hour-limit')).toBe('2400');
    expect(res.headers.get('x-user-limit-24hour-remaining')).toBe('2399');
    expect(res.headers.get('x-user-limit-24hour-reset')).toBe(String(START / 1000 + 86400));
    expect(res.headers.get('x-app-limit-24hour-limit')).toBe('10000');
    expect(res.headers.get('x-app-limit-24hour-remaining')).toBe('9999');
    expect(res.headers.get('x-app-limit-24hour-reset')).toBe(String(START / 1000 + 86400));
    expect(res.headers.get('retry-after')).toBeNull();
  });

  it('when tweets are created, then ids are increasing digit strings that are not safe JS integers', async () => {
    const ids = [await created('one'), await created('two'), await created('three')];

    expect(ids.map((id) => BigInt(id))).toEqual([...ids.map((id) => BigInt(id))].sort((a, b) => (a < b ? -1 : 1)));
    expect(new Set(ids).size).toBe(3);
    expect(ids.some((id) => String(Number(id)) !== id)).toBe(true);
  });

  it('when the text has URLs and &, then data.text is rendered as X does (t.co links, HTML escapes)', async () => {
    const res = await post({ text: 'Tom & Jerry <3 https://example.com/a/very/long/path?q=1' });
    const body = (await res.json()) as Json;

    expect(body.data.text).toMatch(/^Tom &amp; Jerry &lt;3 https:\/\/t\.co\/[0-9A-Za-z]{10}$/);
    expect(x.tweets[0]!.text).toBe('Tom & Jerry <3 https://example.com/a/very/long/path?q=1');
  });

  it('when the Content-Type is not application/json, then it answers 400 problem JSON and stores nothing', async () => {
    const res = await fetch(`${base}/2/tweets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ text: 'no content type' }), // fetch sends text/plain;charset=UTF-8
    });

    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await res.json()) as Json).type).toBe('https://api.twitter.com/2/problems/invalid-request');
    expect(res.headers.get('x-rate-limit-remaining')).not.toBeNull();
    expect(x.tweets).toHaveLength(0);
  });

  it('when the body is not JSON, then it answers 400 invalid request', async () => {
    const res = await fetch(`${base}/2/tweets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"text": ',
    });

    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).title).toBe('Invalid Request');
  });

  it('when the token is unknown or missing, then it answers 401 Unauthorized problem JSON', async () => {
    for (const token of ['not-a-token', null]) {
      const res = await post({ text: 'who am I' }, { token });

      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
      expect(res.headers.get('x-rate-limit-limit')).toBe('100');
    }
    expect(x.tweets).toHaveLength(0);
  });

  it('when an app-only bearer token posts, then it answers 403 Unsupported Authentication', async () => {
    const res = await post({ text: 'as the app' }, { token: APP_TOKEN });

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      title: 'Unsupported Authentication',
      detail:
        'Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].',
      type: 'https://api.twitter.com/2/problems/unsupported-authentication',
      status: 403,
    });
    expect(x.tweets).toHaveLength(0);
  });

  it('when the body has an unknown field, then the OpenAPI schema rejects it with 400 invalid request', async () => {
    const res = await post({ text: 'hi', scheduled_at: '2025-01-01' });
    const body = (await res.json()) as Json;

    expect(res.status).toBe(400);
    expect(body).toMatchObject({
      title: 'Invalid Request',
      detail: 'One or more parameters to your request was invalid.',
      type: 'https://api.twitter.com/2/problems/invalid-request',
    });
    expect(body.errors[0].message).toContain('$.scheduled_at');
    expect(body.errors[0].parameters).toHaveProperty('scheduled_at');
    expect(x.tweets).toHaveLength(0);
  });

  it('when a field has the wrong type or pattern, then the schema error names the field', async () => {
    const res = await post({ text: 'hi', reply: { in_reply_to_tweet_id: 'not-digits' } });
    const body = (await res.json()) as Json;

    expect(res.status).toBe(400);
    expect(body.errors[0].message).toBe('$.reply.in_reply_to_tweet_id: does not match the regex pattern ^[0-9]{1,19}$');
    expect((await post({ text: 42 })).status).toBe(400);
  });

  it('when there is neither text nor an attachment, then it answers 400', async () => {
    expect((await post({})).status).toBe(400);
    expect((await post({ text: '' })).status).toBe(400);
    expect(x.tweets).toHaveLength(0);
  });

  it('when media ids are attached, then the tweet is stored with them', async () => {
    const res = await post({ text: 'with a picture', media: { media_ids: ['1146654567674912769'] } });

    expect(res.status).toBe(201);
    expect(x.tweets[0]!.mediaIds).toEqual(['1146654567674912769']);
  });

  it('when edit_options is sent, then the fake refuses it rather than pretending to edit', async () => {
    const id = await created('original');
    const res = await post({ text: 'edited', edit_options: { previous_post_id: id } });

    expect(res.status).toBe(400);
    expect(x.tweets).toHaveLength(1);
  });

  describe('weighted length (twitter-text)', () => {
    const url = 'https://example.com/' + 'p'.repeat(60); // counts 23 whatever its length
    const cases = [
      { label: 'plain ASCII', weight: 280, text: 'a'.repeat(280), status: 201 },
      { label: 'plain ASCII', weight: 281, text: 'a'.repeat(281), status: 400 },
      { label: 'a URL counting 23', weight: 280, text: 'a'.repeat(256) + ' ' + url, status: 201 },
      { label: 'a URL counting 23', weight: 281, text: 'a'.repeat(257) + ' ' + url, status: 400 },
      { label: 'emoji counting 2', weight: 280, text: '😀'.repeat(140), status: 201 },
      { label: 'emoji counting 2 and ASCII', weight: 280, text: '😀'.repeat(139) + 'ab', status: 201 },
      { label: 'emoji counting 2', weight: 281, text: '😀'.repeat(140) + 'a', status: 400 },
    ];

    it.each(cases)('when the text has $label weighing $weight, then it answers $status', async ({ text, status }) => {
      const res = await post({ text });

      expect(res.status).toBe(status);
      if (status === 400) {
        const body = (await res.json()) as Json;
        expect(body.type).toBe('https://api.twitter.com/2/problems/invalid-request');
        expect(body.errors[0].message).toMatch(/text is too long/);
        expect(x.tweets).toHaveLength(0);
      } else {
        expect(x.tweets).toHaveLength(1);
      }
    });
  });

  it('when replying to a tweet id that does not exist, then it answers 403 as X does and stores nothing', async () => {
    const res = await post({ text: 'reply into the void', reply: { in_reply_to_tweet_id: '1234567890123456789' } });

    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      title: 'Forbidden',
      detail: 'You attempted to reply to a Tweet that is deleted or not visible to you.',
      type: 'about:blank',
      status: 403,
    });
    expect(x.tweets).toHaveLength(0);
  });

  it('when a thread is posted as a chain of replies, then each part points at the previous one', async () => {
    const first = await created('1/3 thread');
    const second = await created('2/3 thread', first);
    const third = await created('3/3 thread', second);

    expect(x.tweets.map((t) => [t.id, t.inReplyToTweetId])).toEqual([
      [first, undefined],
      [second, first],
      [third, second],
    ]);
  });

  it('when the same author repeats a text within 24 h, then it answers 403 duplicate content without the existing id', async () => {
    const id = await created('Same words');
    const res = await post({ text: 'Same words' });
    const body = (await res.json()) as Json;

    expect(res.status).toBe(403);
    expect(body).toEqual({
      detail: 'You are not allowed to create a Tweet with duplicate content.',
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
    });
    expect(JSON.stringify(body)).not.toContain(id);
    expect(x.tweets).toHaveLength(1);
  });

  it('when the repeated text differs only in Unicode normalization, then it is still a duplicate', async () => {
    await created('caf\u00e9 opening');
    expect((await post({ text: 'cafe\u0301 opening' })).status).toBe(403);
  });

  it('when another user posts the same text, or 24 h have passed, then it is not a duplicate', async () => {
    await created('Good morning');
    await created('Good morning', undefined, OTHER_TOKEN);
    clock += 24 * 60 * 60 * 1000 + 1000;
    await created('Good morning');

    expect(x.tweets).toHaveLength(3);
  });

  it('when the per-user window is exhausted, then it answers 429 with remaining 0 and the reset, until the window ends', async () => {
    await startFake({ rateLimitPerWindow: 2, windowSeconds: 60 });
    await created('first');
    clock += 10_000;
    const second = await post({ text: 'second' });
    expect(second.headers.get('x-rate-limit-remaining')).toBe('0');

    const third = await post({ text: 'third' });
    expect(third.status).toBe(429);
    expect(await third.json()).toEqual(TOO_MANY);
    expect(third.headers.get('x-rate-limit-limit')).toBe('2');
    expect(third.headers.get('x-rate-limit-remaining')).toBe('0');
    expect(third.headers.get('x-rate-limit-reset')).toBe(String(START / 1000 + 60));
    expect(third.headers.get('retry-after')).toBeNull();
    expect(x.tweets).toHaveLength(2);

    expect((await post({ text: 'other user is unaffected' }, { token: OTHER_TOKEN })).status).toBe(201);
    clock = START + 60_000;
    const afterReset = await post({ text: 'third' });
    expect(afterReset.status).toBe(201);
    expect(afterReset.headers.get('x-rate-limit-remaining')).toBe('1');
  });

  it('when the 24-hour user limit is exhausted, then it answers 429 while the window still has room', async () => {
    await startFake({ userDailyLimit: 1 });
    await created('only one today');
    const res = await post({ text: 'one more' });

    expect(res.status).toBe(429);
    expect(res.headers.get('x-user-limit-24hour-remaining')).toBe('0');
    expect(Number(res.headers.get('x-rate-limit-remaining'))).toBeGreaterThan(0);
  });
});

describe('injected faults', () => {
  it('when rate_limit is injected, then it answers 429 with remaining 0 and reset now+N, and stores nothing', async () => {
    x.injectFault({ kind: 'rate_limit', resetInSeconds: 120 });
    const res = await post({ text: 'limited' });

    expect(res.status).toBe(429);
    expect(await res.json()).toEqual(TOO_MANY);
    expect(res.headers.get('x-rate-limit-remaining')).toBe('0');
    expect(res.headers.get('x-rate-limit-reset')).toBe(String(START / 1000 + 120));
    expect(res.headers.get('retry-after')).toBeNull();
    expect(x.tweets).toHaveLength(0);
  });

  it('when usage_capped is injected, then it answers 429 with the usage-capped problem type', async () => {
    x.injectFault({ kind: 'usage_capped' });
    const res = await post({ text: 'capped' });

    expect(res.status).toBe(429);
    expect(((await res.json()) as Json).type).toBe('https://api.twitter.com/2/problems/usage-capped');
    expect(x.tweets).toHaveLength(0);
  });

  it('when server_error is injected, then it answers that 5xx (503 by default) before accepting anything', async () => {
    x.injectFault({ kind: 'server_error' });
    x.injectFault({ kind: 'server_error', status: 500 });

    expect((await post({ text: 'a' })).status).toBe(503);
    expect((await post({ text: 'a' })).status).toBe(500);
    expect(x.tweets).toHaveLength(0);
    expect((await post({ text: 'a' })).status).toBe(201);
  });

  it('when unauthorized is injected, then a valid token gets 401 once', async () => {
    x.injectFault({ kind: 'unauthorized' });

    expect((await post({ text: 'revoked?' })).status).toBe(401);
    expect((await post({ text: 'revoked?' })).status).toBe(201);
  });

  it('when accept_then_drop is injected, then fetch rejects AND the tweet was stored', async () => {
    x.injectFault({ kind: 'accept_then_drop' });

    const failure = await post({ text: 'did it post?' }).then(
      () => undefined,
      (err: unknown) => err as Error & { cause?: { code?: string } },
    );
    expect(failure?.message).toBe('fetch failed'); // undici: the socket closed without a response
    expect(failure?.cause?.code).toBe('UND_ERR_SOCKET');
    expect(x.tweets.map((t) => t.text)).toEqual(['did it post?']);
    expect(x.requests.at(-1)).toMatchObject({ method: 'POST', path: '/2/tweets', status: 0 });
    const retry = await post({ text: 'did it post?' });
    expect(retry.status).toBe(403); // a blind retry is a duplicate: reconcile instead
  });

  it('when slow is injected and the client times out first, then fetch aborts AND the tweet was stored', async () => {
    x.injectFault({ kind: 'slow', delayMs: 400 });

    await expect(post({ text: 'slow one' }, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(x.tweets.map((t) => t.text)).toEqual(['slow one']);
  });

  it('when slow is injected and the client waits, then it gets the normal 201 after the delay', async () => {
    x.injectFault({ kind: 'slow', delayMs: 150 });
    const started = Date.now();
    const res = await post({ text: 'patient' });

    expect(res.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('when a fault is queued several times, then it applies to that many requests, in order, after auth', async () => {
    const faults: XFault[] = [{ kind: 'server_error', status: 502 }, { kind: 'usage_capped' }];
    x.injectFault(faults[0]!, 2);
    x.injectFault(faults[1]!);

    expect((await post({ text: 'a' }, { token: 'bad-token' })).status).toBe(401); // does not consume a fault
    expect((await post({ text: 'a' }, { token: APP_TOKEN })).status).toBe(403); // nor does app-only auth
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post({ text: 'a' })).status);
    expect(statuses).toEqual([502, 502, 429, 201]);
  });

  it('when faults are cleared, then requests are answered normally', async () => {
    x.injectFault({ kind: 'server_error' }, 3);
    x.clearFaults();

    expect((await post({ text: 'fine' })).status).toBe(201);
  });
});

/** Polls until `condition` holds (for effects that happen after the client stopped waiting). */
async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(5);
  }
}

describe('faults for the chaos soak', () => {
  it('when slow_before_create is injected, then the tweet appears only after the delay, created then, and the answer is the normal 201', async () => {
    x.injectFault({ kind: 'slow_before_create', delayMs: 200 });
    const started = Date.now();
    const pending = post({ text: 'late create' });
    await until(() => x.requests.length === 1);

    expect(x.tweets).toHaveLength(0);
    clock += 5_000; // the platform's clock moves on while it holds the request
    const res = await pending;

    expect(res.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(res.headers.get('x-rate-limit-remaining')).toBe('99');
    expect(x.tweets).toEqual([
      { id: ((await res.json()) as Json).data.id, text: 'late create', authorId: USER, createdAt: new Date(START + 5_000), receivedAt: new Date(START) },
    ]);
  });

  it('when slow_before_create is injected and the client aborts first, then the tweet is still created after the delay', async () => {
    x.injectFault({ kind: 'slow_before_create', delayMs: 250 });

    await expect(post({ text: 'nobody waits' }, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(x.tweets).toHaveLength(0);

    await until(() => x.tweets.length === 1);
    expect(x.tweets[0]).toMatchObject({ text: 'nobody waits', authorId: USER });
    expect(x.requests[0]).toMatchObject({ method: 'POST', path: '/2/tweets', status: 0 });
  });

  it('when slow_before_create holds a text that another request posts meanwhile, then the late create is refused as a duplicate (403)', async () => {
    x.injectFault({ kind: 'slow_before_create', delayMs: 200 });
    const late = post({ text: 'twice?' });
    await until(() => x.requests.length === 1);

    expect((await post({ text: 'twice?' })).status).toBe(201);
    const refused = await late;

    expect(refused.status).toBe(403);
    expect(((await refused.json()) as Json).detail).toMatch(/duplicate content/);
    expect(x.tweets.map((t) => t.text)).toEqual(['twice?']);
  });

  it('when the fake stops while slow_before_create is pending, then stop() ends promptly and the tweet is never created', async () => {
    x.injectFault({ kind: 'slow_before_create', delayMs: 300 });
    const pending = post({ text: 'never' }).then(
      () => 'answered',
      () => 'dropped',
    );
    await until(() => x.requests.length === 1);

    const stopping = Date.now();
    await x.stop();

    expect(Date.now() - stopping).toBeLessThan(250);
    await expect(pending).resolves.toBe('dropped');
    await delay(400);
    expect(x.tweets).toHaveLength(0);
  });

  it('when ambiguous_500 is injected, then the tweet IS created and the answer is a 500 problem JSON; a blind retry is a duplicate', async () => {
    x.injectFault({ kind: 'ambiguous_500' });

    const res = await post({ text: 'created anyway' });

    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toEqual({ title: 'Internal Server Error', detail: 'Internal Server Error', type: 'about:blank', status: 500 });
    expect(res.headers.get('x-rate-limit-remaining')).toBe('99'); // the create counted
    expect(x.tweets.map((t) => t.text)).toEqual(['created anyway']);
    expect((await post({ text: 'created anyway' })).status).toBe(403);
  });

  it('when ambiguous_500 meets a create X refuses, then the refusal is answered and nothing is created', async () => {
    x.injectFault({ kind: 'ambiguous_500' });

    const res = await post({ text: 'x'.repeat(281) });

    expect(res.status).toBe(400);
    expect(x.tweets).toHaveLength(0);
  });

  it('when a random plan with rate 1 is set, then every authenticated create gets one of its kinds and faultStats counts them', async () => {
    x.setRandomFaults({ rate: 1, seed: 7, kinds: [{ kind: 'server_error', status: 502 }] });

    expect((await post({ text: 'a' }, { token: 'bad-token' })).status).toBe(401); // refused before faults: no draw
    const statuses = [];
    for (const text of ['a', 'b', 'c']) statuses.push((await post({ text })).status);

    expect(statuses).toEqual([502, 502, 502]);
    expect(x.faultStats()).toEqual({ server_error: 3 });
    expect(x.tweets).toHaveLength(0);
  });

  it('when a random plan is set, then queued faults still come first and both are counted', async () => {
    x.setRandomFaults({ rate: 1, seed: 7, kinds: [{ kind: 'rate_limit', resetInSeconds: 60 }] });
    x.injectFault({ kind: 'ambiguous_500' });

    const statuses = [(await post({ text: 'a' })).status, (await post({ text: 'b' })).status];

    expect(statuses).toEqual([500, 429]);
    expect(x.faultStats()).toEqual({ ambiguous_500: 1, rate_limit: 1 });
  });

  it('when the same seed is replayed after reset(), then the same creates fail the same way; reset() also forgets the plan and the stats', async () => {
    const plan = {
      rate: 0.3,
      seed: 20250301,
      kinds: [{ kind: 'server_error' }, { kind: 'rate_limit', resetInSeconds: 1 }, { kind: 'ambiguous_500' }] as XFault[],
    };
    const run = async (): Promise<number[]> => {
      const statuses = [];
      for (let i = 0; i < 30; i++) statuses.push((await post({ text: `part ${i}` })).status);
      return statuses;
    };

    x.setRandomFaults(plan);
    const first = await run();
    const stats = x.faultStats();
    x.reset();
    expect(x.faultStats()).toEqual({});
    x.setRandomFaults(plan);
    const second = await run();

    expect(second).toEqual(first);
    expect(x.faultStats()).toEqual(stats);
    const faulted = Object.values(stats).reduce((a, b) => a + b, 0);
    expect(faulted).toBeGreaterThan(0);
    expect(first.filter((s) => s !== 201)).toHaveLength(faulted);
    expect(first.filter((s) => s === 201).length).toBeGreaterThan(10);
    x.reset();
    expect((await post({ text: 'after reset' })).status).toBe(201);
  });

  it('when clearFaults() is called, then the random plan is off too but the stats are kept', async () => {
    x.setRandomFaults({ rate: 1, seed: 1, kinds: [{ kind: 'usage_capped' }] });
    expect((await post({ text: 'a' })).status).toBe(429);

    x.clearFaults();

    expect((await post({ text: 'b' })).status).toBe(201);
    expect(x.faultStats()).toEqual({ usage_capped: 1 });
  });
});

describe('GET /2/users/:id/tweets', () => {
  it('when the user has tweets, then they come newest first with referenced_tweets only when asked', async () => {
    const first = await created('first');
    clock += 5_000;
    const reply = await created('second, a reply', first);

    const plain = (await (await get(`/2/users/${USER}/tweets`)).json()) as Json;
    expect(plain.data.map((t: Json) => t.id)).toEqual([reply, first]);
    expect(plain.data[0]).toEqual({ id: reply, text: 'second, a reply', edit_history_tweet_ids: [reply] });
    expect(plain.meta).toEqual({ result_count: 2, newest_id: reply, oldest_id: first });

    const res = await get(`/2/users/${USER}/tweets?max_results=5&tweet.fields=created_at,referenced_tweets,author_id`);
    const rich = (await res.json()) as Json;
    expect(res.headers.get('x-rate-limit-remaining')).not.toBeNull();
    expect(rich.data[0]).toEqual({
      id: reply,
      text: 'second, a reply',
      edit_history_tweet_ids: [reply],
      created_at: new Date(START + 5_000).toISOString(),
      author_id: USER,
      referenced_tweets: [{ type: 'replied_to', id: first }],
    });
    expect(rich.data[1]).not.toHaveProperty('referenced_tweets');
  });

  it('when the user has no tweets, then it answers meta.result_count 0 and no data key', async () => {
    await created('someone else', undefined, OTHER_TOKEN);
    const res = await get(`/2/users/${USER}/tweets`, APP_TOKEN);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ meta: { result_count: 0 } });
  });

  it('when there are more tweets than max_results, then it pages with next_token', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await created(`tweet ${i}`));
    const newestFirst = [...ids].reverse();

    const page1 = (await (await get(`/2/users/${USER}/tweets?max_results=5`)).json()) as Json;
    expect(page1.data.map((t: Json) => t.id)).toEqual(newestFirst.slice(0, 5));
    expect(page1.meta.next_token).toEqual(expect.any(String));
    const page2 = (await (await get(`/2/users/${USER}/tweets?max_results=5&pagination_token=${page1.meta.next_token}`)).json()) as Json;
    expect(page2.data.map((t: Json) => t.id)).toEqual(newestFirst.slice(5));
    expect(page2.meta).not.toHaveProperty('next_token');

    const since = (await (await get(`/2/users/${USER}/tweets?since_id=${ids[4]}`)).json()) as Json;
    expect(since.data.map((t: Json) => t.id)).toEqual([ids[6], ids[5]]);
  });

  it('when max_results is out of 5..100 or a parameter is unknown, then it answers 400 invalid request', async () => {
    const low = await get(`/2/users/${USER}/tweets?max_results=2`);
    expect(low.status).toBe(400);
    expect(((await low.json()) as Json).errors[0].message).toBe('The `max_results` query parameter value [2] is not between 5 and 100');

    expect((await get(`/2/users/${USER}/tweets?max_results=101`)).status).toBe(400);
    expect((await get(`/2/users/${USER}/tweets?tweet.fields=bogus`)).status).toBe(400);
    expect((await get(`/2/users/${USER}/tweets?count=5`)).status).toBe(400);
  });

  it('when start_time is given, then only tweets created at or after it (to the second) are listed, and next_token pages within that range', async () => {
    const before = await created('before the range');
    clock += 10_000;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await created(`in range ${i}`));
    const newestFirst = [...ids].reverse();
    const startTime = new Date(START + 10_000).toISOString().replace('.000Z', 'Z');

    const page1 = (await (await get(`/2/users/${USER}/tweets?max_results=5&start_time=${startTime}`)).json()) as Json;
    const page2 = (await (await get(`/2/users/${USER}/tweets?max_results=5&start_time=${startTime}&pagination_token=${page1.meta.next_token}`)).json()) as Json;
    const withMillis = (await (await get(`/2/users/${USER}/tweets?start_time=2025-03-01T12:00:10.999Z`)).json()) as Json;

    expect(page1.data.map((t: Json) => t.id)).toEqual(newestFirst.slice(0, 5));
    expect(page2.data.map((t: Json) => t.id)).toEqual(newestFirst.slice(5));
    expect(page2.meta).not.toHaveProperty('next_token');
    expect(withMillis.data.map((t: Json) => t.id)).toEqual(newestFirst);
    expect(withMillis.data.map((t: Json) => t.id)).not.toContain(before);
  });

  it('when start_time is later than the request, before 2010-11-06 or not before end_time, then it answers 400 invalid request naming it', async () => {
    const future = await get(`/2/users/${USER}/tweets?start_time=2025-03-01T12:00:01Z`);
    const ancient = await get(`/2/users/${USER}/tweets?start_time=2010-11-05T23:59:59Z`);
    const reversed = await get(`/2/users/${USER}/tweets?start_time=2025-03-01T11:00:00Z&end_time=2025-03-01T10:00:00Z`);
    const notADate = await get(`/2/users/${USER}/tweets?start_time=yesterday`);
    const now = await get(`/2/users/${USER}/tweets?start_time=2025-03-01T12:00:00Z`);

    expect(future.status).toBe(400);
    expect(((await future.json()) as Json).errors[0]).toEqual({
      parameters: { start_time: ['2025-03-01T12:00:01Z'] },
      message: "Invalid 'start_time':'2025-03-01T12:00:01Z'. 'start_time' must be on or before the time of the request",
    });
    expect(ancient.status).toBe(400);
    expect(((await ancient.json()) as Json).errors[0].message).toMatch(/must be on or after 2010-11-06T00:00Z/);
    expect(reversed.status).toBe(400);
    expect(notADate.status).toBe(400);
    expect(now.status).toBe(200);
  });

  it('when the token is missing, then it answers 401', async () => {
    expect((await get(`/2/users/${USER}/tweets`, null)).status).toBe(401);
  });

  it('when the user does not exist, then it answers 200 with a resource-not-found error', async () => {
    const body = (await (await get('/2/users/999/tweets')).json()) as Json;

    expect(body.errors[0]).toMatchObject({ resource_type: 'user', resource_id: '999', parameter: 'id' });
    expect(body).not.toHaveProperty('data');
  });
});

describe('GET /2/tweets/:id', () => {
  it('when the tweet exists, then it answers 200 with data', async () => {
    const id = await created('look me up');
    const res = await get(`/2/tweets/${id}?tweet.fields=author_id`);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { id, text: 'look me up', edit_history_tweet_ids: [id], author_id: USER } });
  });

  it('when the tweet does not exist, then it answers 200 with X\'s resource-not-found error', async () => {
    const res = await get('/2/tweets/1111111111111111111');

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      errors: [
        {
          value: '1111111111111111111',
          detail: 'Could not find tweet with id: [1111111111111111111].',
          title: 'Not Found Error',
          resource_type: 'tweet',
          parameter: 'id',
          resource_id: '1111111111111111111',
          type: 'https://api.twitter.com/2/problems/resource-not-found',
        },
      ],
    });
  });
});

describe('other routes and bookkeeping', () => {
  it('when the route is unknown, then it answers 404 problem JSON', async () => {
    const res = await get('/2/nothing-here');

    expect(res.status).toBe(404);
    expect(((await res.json()) as Json).status).toBe(404);
  });

  it('when the user token asks /2/users/me, then it answers the user id and username', async () => {
    expect(await (await get('/2/users/me')).json()).toEqual({ data: { id: USER, name: 'herald_test', username: 'herald_test' } });
  });

  it('when requests are made, then every one is logged with its status and without the token', async () => {
    await post({ text: 'logged' });
    await post({ text: 'logged' }, { token: null });
    await get('/2/tweets/1');

    const log = x.requests;
    expect(log.map((r) => [r.method, r.path, r.status, r.authorization])).toEqual([
      ['POST', '/2/tweets', 201, 'Bearer [redacted]'],
      ['POST', '/2/tweets', 401, undefined],
      ['GET', '/2/tweets/1', 200, 'Bearer [redacted]'],
    ]);
    expect(JSON.stringify(log)).not.toContain(TOKEN);
  });

  it('when reset, then tweets, requests, faults and counters are forgotten but users are kept', async () => {
    await startFake({ rateLimitPerWindow: 1 });
    await created('before reset');
    x.injectFault({ kind: 'server_error' });
    x.reset();

    expect(x.tweets).toEqual([]);
    expect(x.requests).toEqual([]);
    const res = await post({ text: 'before reset' });
    expect(res.status).toBe(201);
  });

  it('when the fake is not started, then baseUrl throws', () => {
    expect(() => new FakeXServer().baseUrl).toThrow(/not started/);
  });

  it('renders text the way X does', () => {
    expect(renderXText('a & b https://x.com/i', '1860000000000000000')).toMatch(/^a &amp; b https:\/\/t\.co\/\w{10}$/);
  });
});

describe('http-faults helpers', () => {
  it('when faults are pushed with times, then next() yields them in order and then undefined', () => {
    const q = new FaultQueue<string>();
    q.push('a', 2);
    q.push('b');

    expect([q.next(), q.next(), q.next(), q.next()]).toEqual(['a', 'a', 'b', undefined]);
    expect(() => q.push('c', 0)).toThrow(RangeError);
  });

  it('when an Authorization header is redacted, then only the scheme remains', () => {
    expect(redactAuthorization('Bearer secret-token')).toBe('Bearer [redacted]');
    expect(redactAuthorization(undefined)).toBeUndefined();
  });

  it('when a delay is aborted, then it resolves false early', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = delay(10_000, controller.signal);
    controller.abort();

    expect(await pending).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await delay(1)).toBe(true);
  });
});
