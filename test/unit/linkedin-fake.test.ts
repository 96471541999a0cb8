import { FakeLinkedInServer, cutAtUnescapedReserved, type FakeLinkedInServerOptions, type LinkedInFault } from '../fakes/linkedin-fake';
import { delay } from '../fakes/http-faults';

const MEMBER = 'urn:li:person:AbC123xyz';
const TOKEN = 'li-fake-test-token-1111';
const ORGANIZATION = 'urn:li:organization:2414183';
const VERSION = '202502';
const START = Date.parse('2025-03-01T12:00:00.000Z');
const DAY_MS = 24 * 60 * 60_000;

let clock: number;
let fake: FakeLinkedInServer;
let baseUrl: string;

async function startFake(options: FakeLinkedInServerOptions = {}): Promise<void> {
  fake = new FakeLinkedInServer({ now: () => clock, ...options });
  baseUrl = await fake.start();
  fake.addAuthor(MEMBER, TOKEN);
}

function headers(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const all: Record<string, string | undefined> = {
    Authorization: `Bearer ${TOKEN}`,
    'LinkedIn-Version': VERSION,
    'X-Restli-Protocol-Version': '2.0.0',
    'Content-Type': 'application/json',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

function postBody(commentary: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    author: MEMBER,
    commentary,
    visibility: 'PUBLIC',
    distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
    lifecycleState: 'PUBLISHED',
    isReshareDisabledByAuthor: false,
    ...overrides,
  };
}

async function createPost(commentary: string, init: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Response> {
  return fetch(`${baseUrl}/rest/posts`, { method: 'POST', headers: init.headers ?? headers(), body: JSON.stringify(init.body ?? postBody(commentary)) });
}

async function json(response: Response): Promise<any> {
  return response.json();
}

function commentsUrl(postUrn: string): string {
  return `${baseUrl}/rest/socialActions/${encodeURIComponent(postUrn)}/comments`;
}

async function createComment(postUrn: string, text: string, actor = MEMBER): Promise<Response> {
  return fetch(commentsUrl(postUrn), { method: 'POST', headers: headers(), body: JSON.stringify({ actor, object: postUrn, message: { text } }) });
}

beforeEach(async () => {
  clock = START;
  await startFake();
});

afterEach(async () => {
  await fake.stop();
});

describe('FakeLinkedInServer: headers every call must carry', () => {
  it('when LinkedIn-Version is missing, then it answers 426 NONEXISTENT_VERSION', async () => {
    const response = await createPost('x', { headers: headers({ 'LinkedIn-Version': undefined }) });

    expect(response.status).toBe(426);
    expect(await json(response)).toMatchObject({ status: 426, code: 'NONEXISTENT_VERSION' });
  });

  it.each(['202301', '202604', '2025-02', '202513'])('when LinkedIn-Version is %s (sunset, future or malformed), then it answers 426 naming it', async (version) => {
    const response = await createPost('x', { headers: headers({ 'LinkedIn-Version': version }) });

    expect(response.status).toBe(426);
    expect((await json(response)).message).toBe(`Requested version ${version} is not active`);
  });

  it('when the version is eleven months old, then it is still served; at twelve months it is not', () => {
    expect(fake.isActiveVersion('202404')).toBe(true);
    expect(fake.isActiveVersion('202403')).toBe(false);
  });

  it('when activeVersions is given, then exactly those versions are served', async () => {
    await fake.stop();
    await startFake({ activeVersions: ['202001'] });

    expect((await createPost('old', { headers: headers({ 'LinkedIn-Version': '202001' }) })).status).toBe(201);
    expect((await createPost('new', { headers: headers({ 'LinkedIn-Version': VERSION }) })).status).toBe(426);
  });

  it('when X-Restli-Protocol-Version is not 2.0.0, then it answers 400 and stores nothing', async () => {
    const response = await createPost('x', { headers: headers({ 'X-Restli-Protocol-Version': undefined }) });

    expect(response.status).toBe(400);
    expect((await json(response)).message).toMatch(/X-Restli-Protocol-Version/);
    expect(fake.posts).toHaveLength(0);
  });

  it('when there is no token or an unknown one, then it answers 401 with serviceErrorCode 65600', async () => {
    for (const authorization of [undefined, 'Bearer nope-nope']) {
      const response = await createPost('x', { headers: headers({ Authorization: authorization }) });
      expect(response.status).toBe(401);
      expect(await json(response)).toEqual({ status: 401, serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN', message: 'Invalid access token' });
    }
  });

  it('when the token was revoked, then it answers 401 with serviceErrorCode 65601', async () => {
    fake.revokeToken(TOKEN);

    const response = await createPost('x');

    expect(response.status).toBe(401);
    expect((await json(response)).serviceErrorCode).toBe(65601);
  });

  it('when the body is not JSON, then it answers 400', async () => {
    const response = await fetch(`${baseUrl}/rest/posts`, { method: 'POST', headers: headers({ 'Content-Type': 'text/plain' }), body: 'hi' });

    expect(response.status).toBe(400);
  });
});

describe('FakeLinkedInServer: creating posts', () => {
  it('when the post is valid, then it answers 201 with an empty body and the URN in x-restli-id, URL-encoded every other time', async () => {
    const first = await createPost('one');
    const second = await createPost('two');

    expect(first.status).toBe(201);
    expect(await first.text()).toBe('');
    const [urn1, urn2] = fake.posts.map((p) => p.urn);
    expect(first.headers.get('x-restli-id')).toBe(encodeURIComponent(urn1!));
    expect(second.headers.get('x-restli-id')).toBe(urn2);
    expect(urn1).toMatch(/^urn:li:share:\d{19}$/);
  });

  it.each(['always', 'never'] as const)('when encodeRestliId is %s, then every x-restli-id follows it', async (mode) => {
    await fake.stop();
    await startFake({ encodeRestliId: mode });

    const ids = [(await createPost('a')).headers.get('x-restli-id'), (await createPost('b')).headers.get('x-restli-id')];

    expect(ids.map((id) => id!.includes('%3A'))).toEqual(mode === 'always' ? [true, true] : [false, false]);
  });

  it('when the commentary has an unescaped reserved character, then LinkedIn still answers 201 but keeps only the text before it', async () => {
    const response = await createPost('Hello (world) and more');

    expect(response.status).toBe(201);
    expect(fake.posts[0]).toMatchObject({ commentary: 'Hello ', sentCommentary: 'Hello (world) and more', truncated: true });
  });

  it('when every reserved character is escaped, then the whole commentary is kept', async () => {
    await createPost('Hello \\(world\\) \\#tag \\\\ end');

    expect(fake.posts[0]).toMatchObject({ commentary: 'Hello \\(world\\) \\#tag \\\\ end', truncated: false });
  });

  it('when cutAtUnescapedReserved meets an escaped backslash before a bracket, then it cuts at the bracket', () => {
    expect(cutAtUnescapedReserved('a\\\\[b')).toBe('a\\\\');
  });

  it('when the commentary is over 3000 characters, then it answers 400 FIELD_ARRAY_SIZE_TOO_HIGH in LinkedIn\'s error shape', async () => {
    const response = await createPost('é'.repeat(3001));
    const body = await json(response);

    expect(response.status).toBe(400);
    expect(body).toMatchObject({ status: 400, serviceErrorCode: 100, code: 'FIELD_ARRAY_SIZE_TOO_HIGH' });
    expect(body.message).toMatch(/\/commentary/);
    expect(body.errorDetails.inputErrors[0]).toMatchObject({ code: 'FIELD_ARRAY_SIZE_TOO_HIGH', input: { inputPath: { fieldPath: '/commentary' } } });
    expect((await createPost('🙂'.repeat(3000))).status).toBe(201); // counted in characters, not UTF-16 units
  });

  it.each([
    ['visibility missing', { visibility: undefined }, 'MISSING_FIELD', '/visibility'],
    ['distribution missing', { distribution: undefined }, 'MISSING_FIELD', '/distribution'],
    ['lifecycleState wrong', { lifecycleState: 'LIVE' }, 'INVALID_VALUE_FOR_FIELD', '/lifecycleState'],
    ['feedDistribution wrong', { distribution: { feedDistribution: 'EVERYWHERE' } }, 'INVALID_VALUE_FOR_FIELD', '/distribution/feedDistribution'],
    ['author not a URN', { author: 'AbC123xyz' }, 'INVALID_VALUE_FOR_FIELD', '/author'],
    ['an unknown field', { text: 'hi' }, 'UNRECOGNIZED_FIELD', '/text'],
  ])('when the body has %s, then it answers 400 naming the field', async (_name, overrides, code, fieldPath) => {
    const body = JSON.parse(JSON.stringify(postBody('x', overrides)));

    const response = await createPost('x', { body });

    expect(response.status).toBe(400);
    expect((await json(response)).errorDetails.inputErrors).toContainEqual(expect.objectContaining({ code, input: { inputPath: { fieldPath } } }));
    expect(fake.posts).toHaveLength(0);
  });

  it('when the author is not the token\'s member or organization, then it answers 403 ACCESS_DENIED', async () => {
    const response = await createPost('x', { body: postBody('x', { author: ORGANIZATION }) });

    expect(response.status).toBe(403);
    expect(await json(response)).toMatchObject({ status: 403, code: 'ACCESS_DENIED' });
  });

  it('when the same author posts the same commentary within 24 hours, then it answers 422 DUPLICATE_POST naming the existing URN; after 24 hours it is accepted', async () => {
    await createPost('twice');
    clock += DAY_MS - 1000;
    const duplicate = await createPost('twice');
    clock += 2000;
    const later = await createPost('twice');

    expect(duplicate.status).toBe(422);
    expect(await json(duplicate)).toEqual({ status: 422, code: 'DUPLICATE_POST', message: `Content is a duplicate of ${fake.posts[0]!.urn}` });
    expect(later.status).toBe(201);
  });

  it('when an author exceeds the daily limit, then it answers 429 serviceErrorCode 101 without rate-limit headers, until 00:00 UTC', async () => {
    await fake.stop();
    await startFake({ dailyPostLimit: 1 });
    await createPost('one');

    const throttled = await createPost('two');
    clock = Date.parse('2025-03-02T00:00:00.000Z');
    const nextDay = await createPost('three');

    expect(throttled.status).toBe(429);
    expect((await json(throttled)).serviceErrorCode).toBe(101);
    expect([...throttled.headers.keys()].filter((name) => /rate|retry/i.test(name))).toEqual([]);
    expect(nextDay.status).toBe(201);
  });
});

describe('FakeLinkedInServer: comments and listings', () => {
  it('when the author comments on a post, then it answers 201 with the comment and its URN in x-restli-id', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;

    const response = await createComment(postUrn, 'first comment (plain text)');
    const body = await json(response);

    expect(response.status).toBe(201);
    expect(body).toMatchObject({ actor: MEMBER, object: postUrn, message: { text: 'first comment (plain text)' } });
    expect(body.commentUrn).toBe(fake.comments[0]!.urn);
    expect(decodeURIComponent(response.headers.get('x-restli-id')!)).toBe(body.commentUrn);
  });

  it('when the post URN in the path is not URL-encoded, then it answers 400', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;

    const response = await fetch(`${baseUrl}/rest/socialActions/${postUrn}/comments`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ actor: MEMBER, object: postUrn, message: { text: 'x' } }),
    });

    expect(response.status).toBe(400);
  });

  it('when the post does not exist, the object differs from the path, the actor is not the token\'s, or the text is too long, then it refuses', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;
    const mismatched = await fetch(commentsUrl(postUrn), {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ actor: MEMBER, object: 'urn:li:share:1', message: { text: 'x' } }),
    });

    expect((await createComment('urn:li:share:1', 'x')).status).toBe(404);
    expect(mismatched.status).toBe(400);
    expect((await createComment(postUrn, 'x', ORGANIZATION)).status).toBe(403);
    expect((await createComment(postUrn, 'x'.repeat(1251))).status).toBe(400);
    expect(fake.comments).toHaveLength(0);
  });

  it('when comments are listed, then they come back oldest first with actor, URN and text', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;
    await createComment(postUrn, 'c1');
    await createComment(postUrn, 'c2');

    const body = await json(await fetch(commentsUrl(postUrn), { headers: headers() }));

    expect(body.elements.map((c: any) => [c.actor, c.message.text, c.commentUrn])).toEqual(fake.comments.map((c) => [MEMBER, c.text, c.urn]));
  });

  it('when more comments exist than count (default 10), then only a page of them is listed', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;
    for (let i = 0; i < 12; i++) await createComment(postUrn, `c${i}`);

    const byDefault = await json(await fetch(commentsUrl(postUrn), { headers: headers() }));
    const second = await json(await fetch(`${commentsUrl(postUrn)}?start=10&count=10`, { headers: headers() }));

    expect(byDefault.elements).toHaveLength(10);
    expect(byDefault.paging).toMatchObject({ start: 0, count: 10, total: 12 });
    expect(byDefault.paging.links).toEqual([{ rel: 'next', type: 'application/json', href: expect.stringContaining('start=10') }]);
    expect(second.elements.map((c: any) => c.message.text)).toEqual(['c10', 'c11']);
    expect(second.paging.links.map((l: any) => l.rel)).toEqual(['prev']);
  });

  it('when the author\'s posts are listed (q=author), then they come newest first with commentary as stored, limited by count', async () => {
    await createPost('older');
    clock += 60_000;
    await createPost('newer \\(escaped\\)');

    const query = new URLSearchParams({ author: MEMBER, q: 'author', count: '1', sortBy: 'LAST_MODIFIED' });
    const body = await json(await fetch(`${baseUrl}/rest/posts?${query}`, { headers: headers() }));

    expect(body.elements).toHaveLength(1);
    expect(body.elements[0]).toMatchObject({ id: fake.posts[1]!.urn, author: MEMBER, commentary: 'newer \\(escaped\\)', createdAt: START + 60_000 });
    expect(body.paging).toMatchObject({ start: 0, count: 1, total: 2 });
  });

  it('when a listing has more than one page, then paging has start, count, total and Rest.li links: next while more follow, prev after the first page', async () => {
    for (let i = 0; i < 5; i++) {
      await createPost(`post ${i}`);
      clock += 1000;
    }
    const url = (start: number): string =>
      `${baseUrl}/rest/posts?${new URLSearchParams({ author: MEMBER, q: 'author', count: '2', sortBy: 'LAST_MODIFIED', start: String(start) })}`;

    const first = await json(await fetch(url(0), { headers: headers() }));
    const middle = await json(await fetch(url(2), { headers: headers() }));
    const last = await json(await fetch(url(4), { headers: headers() }));
    const beyond = await json(await fetch(url(6), { headers: headers() }));

    expect(first.elements.map((p: any) => p.commentary)).toEqual(['post 4', 'post 3']);
    expect(first.paging).toEqual({
      start: 0,
      count: 2,
      total: 5,
      links: [{ rel: 'next', type: 'application/json', href: expect.stringMatching(/^\/rest\/posts\?.*start=2/) }],
    });
    expect(middle.paging.links.map((l: any) => l.rel)).toEqual(['prev', 'next']);
    expect(new URL(middle.paging.links[1].href, baseUrl).searchParams.get('author')).toBe(MEMBER);
    expect(last.elements.map((p: any) => p.commentary)).toEqual(['post 0']);
    expect(last.paging.links.map((l: any) => l.rel)).toEqual(['prev']);
    expect(beyond.elements).toEqual([]);
  });

  it('when start or count is not a valid page window, then it answers 400', async () => {
    const query = (extra: Record<string, string>): string => `${baseUrl}/rest/posts?${new URLSearchParams({ author: MEMBER, q: 'author', ...extra })}`;

    expect((await fetch(query({ start: '-1' }), { headers: headers() })).status).toBe(400);
    expect((await fetch(query({ start: 'x' }), { headers: headers() })).status).toBe(400);
    expect((await fetch(query({ count: '101' }), { headers: headers() })).status).toBe(400);
    expect((await fetch(query({ count: '100' }), { headers: headers() })).status).toBe(200);
  });

  it('when the listing lacks q=author or names someone else, then it refuses (400, 403)', async () => {
    const noFinder = await fetch(`${baseUrl}/rest/posts?${new URLSearchParams({ author: MEMBER })}`, { headers: headers() });
    const otherAuthor = await fetch(`${baseUrl}/rest/posts?${new URLSearchParams({ author: ORGANIZATION, q: 'author' })}`, { headers: headers() });

    expect(noFinder.status).toBe(400);
    expect(otherAuthor.status).toBe(403);
  });

  it('when the app may not read the author\'s posts, then the listing answers 403', async () => {
    fake.addAuthor(MEMBER, TOKEN, { canReadPosts: false });

    const response = await fetch(`${baseUrl}/rest/posts?${new URLSearchParams({ author: MEMBER, q: 'author' })}`, { headers: headers() });

    expect(response.status).toBe(403);
  });
});

describe('FakeLinkedInServer: faults and inspection', () => {
  it('when faults are injected, then each create consumes one, in order, and only accepted ones are stored', async () => {
    fake.injectFault({ kind: 'throttle' });
    fake.injectFault({ kind: 'server_error', status: 503 });
    fake.injectFault({ kind: 'unauthorized', serviceErrorCode: 65601 });

    const statuses = [];
    for (const text of ['a', 'b', 'c', 'd']) statuses.push((await createPost(text)).status);

    expect(statuses).toEqual([429, 503, 401, 201]);
    expect(fake.posts.map((p) => p.sentCommentary)).toEqual(['d']);
  });

  it('when accept_then_drop is injected, then the post is stored and the connection is dropped without an answer', async () => {
    fake.injectFault({ kind: 'accept_then_drop' });

    await expect(createPost('dropped')).rejects.toThrow();
    expect(fake.posts.map((p) => p.sentCommentary)).toEqual(['dropped']);
  });

  it('when slow is injected, then the post is stored and the answer comes after the delay', async () => {
    fake.injectFault({ kind: 'slow', delayMs: 150 });

    const started = Date.now();
    const response = await createPost('slowly');

    expect(response.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('when the server stops during a slow answer, then stop() does not hang', async () => {
    fake.injectFault({ kind: 'slow', delayMs: 60_000 });
    const pending = createPost('never answered').catch(() => 'dropped');

    await fake.stop();

    await expect(pending).resolves.toBe('dropped');
  });

  it('when requests are inspected, then the token never appears, only the scheme', async () => {
    await createPost('logged');

    expect(fake.requests).toEqual([expect.objectContaining({ method: 'POST', path: '/rest/posts', status: 201, authorization: 'Bearer [redacted]' })]);
    expect(JSON.stringify(fake.requests)).not.toContain(TOKEN);
  });

  it('when reset, then posts, comments, requests and faults are gone', async () => {
    await createPost('root');
    await createComment(fake.posts[0]!.urn, 'c');
    fake.injectFault({ kind: 'throttle' });

    fake.reset();

    expect([fake.posts, fake.comments, fake.requests]).toEqual([[], [], []]);
    expect((await createPost('after reset')).status).toBe(201);
  });

  it('when authenticate knows an unknown token, then the token may post as that author from then on', async () => {
    await fake.stop();
    const asked: string[] = [];
    await startFake({
      authenticate: async (token) => {
        asked.push(token);
        return token === 'sandbox-token' ? ORGANIZATION : undefined;
      },
    });

    const response = await createPost('sandbox', { headers: headers({ Authorization: 'Bearer sandbox-token' }), body: postBody('sandbox', { author: ORGANIZATION }) });
    const unknown = await createPost('x', { headers: headers({ Authorization: 'Bearer other' }) });

    expect(response.status).toBe(201);
    expect(unknown.status).toBe(401);
    expect(asked).toEqual(['sandbox-token', 'other']);
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

describe('FakeLinkedInServer: faults for the chaos soak', () => {
  it('when slow_before_create is injected, then the post appears only after the delay, created then, with the normal 201 and x-restli-id', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 200 });
    const started = Date.now();
    const pending = createPost('late create');
    await until(() => fake.requests.length === 1);

    expect(fake.posts).toHaveLength(0);
    clock += 5_000;
    const response = await pending;

    expect(response.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(decodeURIComponent(response.headers.get('x-restli-id')!)).toBe(fake.posts[0]!.urn);
    expect(fake.posts[0]).toMatchObject({ author: MEMBER, sentCommentary: 'late create', createdAt: new Date(START + 5_000), receivedAt: new Date(START) });
  });

  it('when slow_before_create is injected and the client aborts first, then the post is still created after the delay', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 250 });

    const aborted = fetch(`${baseUrl}/rest/posts`, { method: 'POST', headers: headers(), body: JSON.stringify(postBody('nobody waits')), signal: AbortSignal.timeout(50) });

    await expect(aborted).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(fake.posts).toHaveLength(0);
    await until(() => fake.posts.length === 1);
    expect(fake.posts[0]).toMatchObject({ author: MEMBER, sentCommentary: 'nobody waits' });
    expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/rest/posts', status: 0 });
  });

  it('when slow_before_create holds a comment, then the comment appears after the delay on its post', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;
    fake.injectFault({ kind: 'slow_before_create', delayMs: 150 });

    const pending = createComment(postUrn, 'late reply');
    await until(() => fake.requests.length === 2);
    expect(fake.comments).toHaveLength(0);

    expect((await pending).status).toBe(201);
    expect(fake.comments).toEqual([expect.objectContaining({ postUrn, actor: MEMBER, text: 'late reply' })]);
  });

  it('when slow_before_create holds a commentary that is posted meanwhile, then the late create is refused 422 DUPLICATE_POST naming the first', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 200 });
    const late = createPost('twice?');
    await until(() => fake.requests.length === 1);

    expect((await createPost('twice?')).status).toBe(201);
    const refused = await late;

    expect(refused.status).toBe(422);
    expect(await json(refused)).toMatchObject({ code: 'DUPLICATE_POST', message: `Content is a duplicate of ${fake.posts[0]!.urn}` });
    expect(fake.posts).toHaveLength(1);
  });

  it('when the fake stops while slow_before_create is pending, then stop() ends promptly and the post is never created', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 300 });
    const pending = createPost('never').then(
      () => 'answered',
      () => 'dropped',
    );
    await until(() => fake.requests.length === 1);

    const stopping = Date.now();
    await fake.stop();

    expect(Date.now() - stopping).toBeLessThan(250);
    await expect(pending).resolves.toBe('dropped');
    await delay(400);
    expect(fake.posts).toHaveLength(0);
  });

  it('when ambiguous_500 is injected, then the post IS created, the answer is LinkedIn\'s 500 without x-restli-id, and a retry is a DUPLICATE_POST naming it', async () => {
    fake.injectFault({ kind: 'ambiguous_500' });

    const response = await createPost('created anyway');

    expect(response.status).toBe(500);
    expect(await json(response)).toEqual({ status: 500, message: 'Internal Server Error' });
    expect(response.headers.get('x-restli-id')).toBeNull();
    expect(fake.posts.map((p) => p.sentCommentary)).toEqual(['created anyway']);
    const retry = await createPost('created anyway');
    expect(retry.status).toBe(422);
    expect((await json(retry)).message).toBe(`Content is a duplicate of ${fake.posts[0]!.urn}`);
  });

  it('when ambiguous_500 hits a comment, then the comment IS created and the answer is 500', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;
    fake.injectFault({ kind: 'ambiguous_500' });

    const response = await createComment(postUrn, 'reply anyway');

    expect(response.status).toBe(500);
    expect(response.headers.get('x-restli-id')).toBeNull();
    expect(fake.comments.map((c) => [c.postUrn, c.text])).toEqual([[postUrn, 'reply anyway']]);
  });

  it('when ambiguous_500 meets a create LinkedIn refuses, then the refusal is answered and nothing is created', async () => {
    fake.injectFault({ kind: 'ambiguous_500' });

    const response = await createPost('x'.repeat(3001));

    expect(response.status).toBe(400);
    expect(fake.posts).toHaveLength(0);
  });

  it('when a random plan with rate 1 is set, then every create (post or comment) gets one of its kinds and faultStats counts them', async () => {
    await createPost('root');
    const postUrn = fake.posts[0]!.urn;
    fake.setRandomFaults({ rate: 1, seed: 3, kinds: [{ kind: 'throttle' }] });

    const statuses = [(await createPost('a')).status, (await createComment(postUrn, 'b')).status];
    const listing = await fetch(`${baseUrl}/rest/posts?q=author&author=${encodeURIComponent(MEMBER)}`, { headers: headers() });

    expect(statuses).toEqual([429, 429]);
    expect(listing.status).toBe(200); // reads never draw a fault
    expect(fake.faultStats()).toEqual({ throttle: 2 });
  });

  it('when a random plan is set, then queued faults come first; setRandomFaults(undefined) turns it off', async () => {
    fake.setRandomFaults({ rate: 1, seed: 3, kinds: [{ kind: 'server_error', status: 503 }] });
    fake.injectFault({ kind: 'accept_then_drop' });

    await expect(createPost('dropped')).rejects.toThrow();
    expect((await createPost('random')).status).toBe(503);
    fake.setRandomFaults(undefined);
    expect((await createPost('normal')).status).toBe(201);

    expect(fake.faultStats()).toEqual({ accept_then_drop: 1, server_error: 1 });
    expect(fake.posts.map((p) => p.sentCommentary)).toEqual(['dropped', 'normal']);
  });

  it('when the same seed is replayed after reset(), then the same creates fail the same way', async () => {
    const kinds: LinkedInFault[] = [{ kind: 'throttle' }, { kind: 'server_error' }, { kind: 'ambiguous_500' }];
    const run = async (): Promise<number[]> => {
      fake.setRandomFaults({ rate: 0.3, seed: 99, kinds });
      const statuses = [];
      for (let i = 0; i < 30; i++) statuses.push((await createPost(`part ${i}`)).status);
      return statuses;
    };

    const first = await run();
    const stats = fake.faultStats();
    fake.reset();
    const second = await run();

    expect(second).toEqual(first);
    expect(fake.faultStats()).toEqual(stats);
    expect(first.filter((status) => status !== 201)).toHaveLength(Object.values(stats).reduce((a, b) => a + b, 0));
    expect(Object.keys(stats).length).toBeGreaterThan(0);
  });
});
