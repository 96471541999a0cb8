import { FakeLinkedInServer, cutAtUnescapedReserved, type FakeLinkedInServerOptions } from '../fakes/linkedin-fake';

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
    expect(second.elements.map((c: any) => c.message.text)).toEqual(['c10', 'c11']);
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
