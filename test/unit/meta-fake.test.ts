import { FakeMetaGraphServer, type FakeMetaGraphServerOptions, type MetaFault } from '../fakes/meta-fake';
import { delay } from '../fakes/http-faults';

const PAGE = '104857600000001';
const PAGE_TOKEN = 'EAAG-fake-page-token-1111';
const OTHER_PAGE = '104857600000002';
const OTHER_TOKEN = 'EAAG-fake-other-token-2222';
const IG = '17841400000000001';
const IG_TOKEN = 'EAAG-fake-ig-token-3333';
const V = 'v21.0';
const START = Date.parse('2025-03-01T12:00:00.000Z');
const DAY_MS = 24 * 60 * 60_000;

let clock: number;
let fake: FakeMetaGraphServer;
let baseUrl: string;

async function startFake(options: FakeMetaGraphServerOptions = {}): Promise<void> {
  fake = new FakeMetaGraphServer({ now: () => clock, ...options });
  baseUrl = await fake.start();
  fake.addPage(PAGE, PAGE_TOKEN);
  fake.addPage(OTHER_PAGE, OTHER_TOKEN);
  fake.addInstagramAccount(IG, IG_TOKEN, { quotaTotal: 2 });
}

async function graph(method: 'GET' | 'POST', path: string, params: Record<string, string> = {}, token: string | null = PAGE_TOKEN): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const query = method === 'GET' && Object.keys(params).length > 0 ? `?${new URLSearchParams(params)}` : '';
  const response = await fetch(`${baseUrl}${path}${query}`, { method, headers, body: method === 'POST' ? new URLSearchParams(params) : undefined });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

async function pagePost(message: string, token = PAGE_TOKEN, page = PAGE): Promise<{ status: number; body: any; headers: Headers }> {
  return graph('POST', `/${V}/${page}/feed`, { message }, token);
}

async function newContainer(imageUrl = 'https://cdn.example.com/a.jpg', caption = 'caption'): Promise<string> {
  const created = await graph('POST', `/${V}/${IG}/media`, { image_url: imageUrl, caption }, IG_TOKEN);
  expect(created.status).toBe(200);
  return created.body.id as string;
}

async function containerStatus(id: string): Promise<string> {
  return (await graph('GET', `/${V}/${id}`, { fields: 'status_code' }, IG_TOKEN)).body.status_code as string;
}

async function publish(containerId: string): Promise<{ status: number; body: any; headers: Headers }> {
  return graph('POST', `/${V}/${IG}/media_publish`, { creation_id: containerId }, IG_TOKEN);
}

beforeEach(async () => {
  clock = START;
  await startFake();
});

afterEach(async () => {
  await fake.stop();
});

describe('FakeMetaGraphServer: versions, tokens and the error envelope', () => {
  it.each([`/${PAGE}/feed`, `/v99.0/${PAGE}/feed`, `/21.0/${PAGE}/feed`, `/${V}/${PAGE}/feed/extra`])('when the path is %s, then it answers the Graph error for an unknown path (2500)', async (path) => {
    const { status, body } = await graph('POST', path, { message: 'x' });

    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 2500, type: 'OAuthException', message: expect.stringContaining('Unknown path components') });
    expect(fake.pagePosts).toHaveLength(0);
  });

  it('when there is no token, then it answers code 104; an unknown one, code 190', async () => {
    expect((await graph('POST', `/${V}/${PAGE}/feed`, { message: 'x' }, null)).body.error.code).toBe(104);
    expect((await graph('POST', `/${V}/${PAGE}/feed`, { message: 'x' }, 'nope')).body.error.code).toBe(190);
  });

  it('when the error envelope comes back, then it has message, type, code and a fbtrace_id, different each time', async () => {
    const first = (await graph('GET', `/${V}/${PAGE}/feed`, {}, 'nope')).body.error;
    const second = (await graph('GET', `/${V}/${PAGE}/feed`, {}, 'nope')).body.error;

    expect(Object.keys(first).sort()).toEqual(['code', 'fbtrace_id', 'message', 'type']);
    expect(first.fbtrace_id).not.toBe(second.fbtrace_id);
  });

  it('when the token is an access_token parameter or an OAuth header, then it is accepted, and the request log never holds it', async () => {
    const asParam = await fetch(`${baseUrl}/${V}/${PAGE}/feed`, { method: 'POST', body: new URLSearchParams({ message: 'param token', access_token: PAGE_TOKEN }) });
    const asOAuth = await fetch(`${baseUrl}/${V}/${PAGE}/feed?message=oauth`, { method: 'POST', headers: { Authorization: `OAuth ${PAGE_TOKEN}` } });

    expect([asParam.status, asOAuth.status]).toEqual([200, 200]);
    expect(fake.pagePosts.map((p) => p.message)).toEqual(['param token', 'oauth']);
    expect(JSON.stringify(fake.requests)).not.toContain(PAGE_TOKEN);
  });

  it('when the parameters come as JSON, then they are read too', async () => {
    const response = await fetch(`${baseUrl}/${V}/${PAGE}/feed`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${PAGE_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'json body' }),
    });

    expect(response.status).toBe(200);
    expect(fake.pagePosts[0]!.message).toBe('json body');
  });

  it('when a token is expired for good, then every call answers 190 with subcode 463', async () => {
    fake.expireToken(PAGE_TOKEN);

    const { status, body } = await pagePost('x');

    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 190, error_subcode: 463 });
  });

  it('when any call is answered, then X-App-Usage is there, and X-Business-Use-Case-Usage for the Page the call concerns', async () => {
    const { headers } = await pagePost('usage');
    const failed = await graph('GET', `/${V}/${PAGE}/feed`, {}, 'nope');

    expect(JSON.parse(headers.get('x-app-usage')!)).toEqual({ call_count: expect.any(Number), total_cputime: expect.any(Number), total_time: expect.any(Number) });
    expect(JSON.parse(headers.get('x-business-use-case-usage')!)[PAGE]).toEqual([expect.objectContaining({ type: 'pages', estimated_time_to_regain_access: 0 })]);
    expect(failed.headers.get('x-app-usage')).not.toBeNull();
  });
});

describe('FakeMetaGraphServer: Facebook Pages', () => {
  it('when a Page posts, then the id is <page>_<post> and the node has a permalink_url', async () => {
    const created = await pagePost('hello');
    const node = await graph('GET', `/${V}/${created.body.id}`, { fields: 'permalink_url,message,created_time' });

    expect(created.body.id).toMatch(new RegExp(`^${PAGE}_\\d+$`));
    expect(node.body).toEqual({
      id: created.body.id,
      message: 'hello',
      created_time: '2025-03-01T12:00:00+0000',
      permalink_url: `https://www.facebook.com/${PAGE}/posts/${created.body.id.split('_')[1]}`,
    });
  });

  it('when a field the node does not have is asked for, then it answers code 100', async () => {
    const created = await pagePost('hello');

    const { status, body } = await graph('GET', `/${V}/${created.body.id}`, { fields: 'permalink' });

    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 100, message: expect.stringContaining('nonexisting field (permalink)') });
  });

  it('when the same message is posted on the same Page within the window, then it answers 506; on another Page or later, it is accepted', async () => {
    await pagePost('twice');
    const duplicate = await pagePost('twice');
    const otherPage = await pagePost('twice', OTHER_TOKEN, OTHER_PAGE);
    clock += DAY_MS + 1;
    const later = await pagePost('twice');

    expect(duplicate.status).toBe(400);
    expect(duplicate.body.error).toMatchObject({ code: 506, message: '(#506) Duplicate status message' });
    expect([otherPage.status, later.status]).toEqual([200, 200]);
  });

  it('when a token posts to a Page it does not manage, then it answers 403 code 200', async () => {
    const { status, body } = await pagePost('intruder', OTHER_TOKEN, PAGE);

    expect(status).toBe(403);
    expect(body.error.code).toBe(200);
  });

  it('when the message is missing or too long, then it answers code 100', async () => {
    expect((await graph('POST', `/${V}/${PAGE}/feed`, {})).body.error.code).toBe(100);
    expect((await pagePost('a'.repeat(63_207))).body.error.code).toBe(100);
    expect(fake.pagePosts).toHaveLength(0);
  });

  it('when comments are made and listed, then they belong to the post, come from the Page and have permalinks', async () => {
    const post = (await pagePost('root')).body.id as string;
    const comment = await graph('POST', `/${V}/${post}/comments`, { message: 'first comment' });
    const listed = await graph('GET', `/${V}/${post}/comments`, { fields: 'id,message,from,permalink_url' });

    expect(comment.status).toBe(200);
    expect(listed.body.data).toEqual([
      { id: comment.body.id, message: 'first comment', from: { id: PAGE, name: `Page ${PAGE}` }, permalink_url: expect.stringContaining('?comment_id=') },
    ]);
    expect(fake.pageComments).toEqual([expect.objectContaining({ postId: post, fromId: PAGE, message: 'first comment' })]);
  });

  it('when comments are listed, then they come oldest first unless order=reverse_chronological, 25 by default', async () => {
    const post = (await pagePost('root')).body.id as string;
    for (let i = 0; i < 30; i++) await graph('POST', `/${V}/${post}/comments`, { message: `c${i}` });

    const byDefault = await graph('GET', `/${V}/${post}/comments`, { fields: 'message' });
    const newestFirst = await graph('GET', `/${V}/${post}/comments`, { fields: 'message', order: 'reverse_chronological', limit: '2' });
    const badOrder = await graph('GET', `/${V}/${post}/comments`, { order: 'random' });

    expect(byDefault.body.data).toHaveLength(25);
    expect(byDefault.body.data[0].message).toBe('c0');
    expect(newestFirst.body.data.map((c: any) => c.message)).toEqual(['c29', 'c28']);
    expect(badOrder.body.error.code).toBe(100);
  });

  it('when the feed is read, then posts come newest first with the asked fields, limited by limit', async () => {
    await pagePost('older');
    clock += 1000;
    await pagePost('newer');

    const { body } = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'id,message,created_time', limit: '1' });

    expect(body.data).toEqual([{ id: fake.pagePosts[1]!.id, message: 'newer', created_time: '2025-03-01T12:00:01+0000' }]);
    expect(body.paging.cursors).toBeDefined();
  });

  it('when the feed has more than limit posts, then the after cursor pages through them and paging.next is there only while more follow', async () => {
    for (let i = 0; i < 5; i++) {
      await pagePost(`post ${i}`);
      clock += 1000;
    }

    const first = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', limit: '2' });
    const second = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', limit: '2', after: first.body.paging.cursors.after });
    const last = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', limit: '2', after: second.body.paging.cursors.after });
    const back = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', limit: '2', before: last.body.paging.cursors.before });

    expect(first.body.data.map((p: any) => p.message)).toEqual(['post 4', 'post 3']);
    expect(first.body.paging).not.toHaveProperty('previous');
    const next = new URL(first.body.paging.next);
    expect(next.pathname).toBe(`/${V}/${PAGE}/feed`);
    expect(Object.fromEntries(next.searchParams)).toEqual({ fields: 'message', limit: '2', after: first.body.paging.cursors.after });
    expect(second.body.data.map((p: any) => p.message)).toEqual(['post 2', 'post 1']);
    expect(second.body.paging.previous).toEqual(expect.stringContaining('before='));
    expect(last.body.data.map((p: any) => p.message)).toEqual(['post 0']);
    expect(last.body.paging).not.toHaveProperty('next');
    expect(back.body.data.map((p: any) => p.message)).toEqual(['post 2', 'post 1']);
  });

  it('when since and until are given (Unix seconds or a date), then only posts created in that range are listed, and an empty list has no paging', async () => {
    for (let i = 0; i < 4; i++) {
      await pagePost(`post ${i}`);
      clock += 60_000;
    }
    const at = (minutes: number): string => String((START + minutes * 60_000) / 1000);

    const since = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', since: at(1) });
    const range = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', since: at(1), until: at(2) });
    const asDate = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', since: '2025-03-01T12:02:00Z' });
    const none = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', since: at(10) });
    const paged = await graph('GET', `/${V}/${PAGE}/feed`, { fields: 'message', since: at(1), limit: '1' });
    const unreadable = await graph('GET', `/${V}/${PAGE}/feed`, { since: 'not a time' });

    expect(since.body.data.map((p: any) => p.message)).toEqual(['post 3', 'post 2', 'post 1']);
    expect(range.body.data.map((p: any) => p.message)).toEqual(['post 2', 'post 1']);
    expect(asDate.body.data.map((p: any) => p.message)).toEqual(['post 3', 'post 2']);
    expect(none.body).toEqual({ data: [] });
    expect(new URL(paged.body.paging.next).searchParams.get('since')).toBe(at(1));
    expect(unreadable.body.error.code).toBe(100);
  });

  it('when a cursor does not point at an item of the list, then it answers code 100', async () => {
    await pagePost('only');

    const { body } = await graph('GET', `/${V}/${PAGE}/feed`, { after: Buffer.from('no-such-post').toString('base64') });

    expect(body.error.code).toBe(100);
  });

  it('when comments are paged newest first with since, then the after cursor continues in that order within the range', async () => {
    const post = (await pagePost('root')).body.id as string;
    for (let i = 0; i < 5; i++) {
      await graph('POST', `/${V}/${post}/comments`, { message: `c${i}` });
      clock += 1000;
    }
    const query = { fields: 'message', order: 'reverse_chronological', limit: '2', since: String(START / 1000 + 1) };

    const first = await graph('GET', `/${V}/${post}/comments`, query);
    const second = await graph('GET', `/${V}/${post}/comments`, { ...query, after: first.body.paging.cursors.after });

    expect(first.body.data.map((c: any) => c.message)).toEqual(['c4', 'c3']);
    expect(second.body.data.map((c: any) => c.message)).toEqual(['c2', 'c1']);
    expect(second.body.paging).not.toHaveProperty('next');
  });

  it('when a post of another Page is read with this token, then it looks like it does not exist (100/33)', async () => {
    const post = (await pagePost('private')).body.id as string;

    const { body } = await graph('GET', `/${V}/${post}`, { fields: 'message' }, OTHER_TOKEN);

    expect(body.error).toMatchObject({ code: 100, error_subcode: 33 });
  });
});

describe('FakeMetaGraphServer: Instagram containers and publishing', () => {
  it('when a container is made, then it is IN_PROGRESS until processingDelayMs has passed, then FINISHED', async () => {
    const id = await newContainer();

    const early = await containerStatus(id);
    clock += 1499;
    const almost = await containerStatus(id);
    clock += 1;
    const done = await containerStatus(id);

    expect([early, almost, done]).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'FINISHED']);
  });

  it('when the image URL contains "broken", then the container ends in ERROR with a status detail', async () => {
    const id = await newContainer('https://cdn.example.com/broken.jpg');
    clock += 1500;

    const { body } = await graph('GET', `/${V}/${id}`, { fields: 'status_code,status' }, IG_TOKEN);

    expect(body).toMatchObject({ status_code: 'ERROR', status: expect.stringContaining('2207052') });
  });

  it('when a container is expired by the test or 24 hours pass, then it is EXPIRED', async () => {
    const expiredByTest = await newContainer();
    const expiredByTime = await newContainer('https://cdn.example.com/b.jpg');
    fake.expireContainer(expiredByTest);

    const now = await containerStatus(expiredByTest);
    clock += DAY_MS;

    expect([now, await containerStatus(expiredByTime)]).toEqual(['EXPIRED', 'EXPIRED']);
  });

  it('when a FINISHED container is published, then there is a media with a permalink and the container is PUBLISHED', async () => {
    const id = await newContainer('https://cdn.example.com/a.jpg', 'my caption');
    clock += 1500;

    const published = await publish(id);
    const media = await graph('GET', `/${V}/${published.body.id}`, { fields: 'permalink,caption' }, IG_TOKEN);

    expect(published.status).toBe(200);
    expect(await containerStatus(id)).toBe('PUBLISHED');
    expect(media.body).toEqual({ id: published.body.id, permalink: fake.igMedia[0]!.permalink, caption: 'my caption' });
  });

  it('when media_publish is called on a container that is not FINISHED, then it answers a Graph error and publishes nothing', async () => {
    const inProgress = await newContainer();
    const refusedEarly = await publish(inProgress);
    clock += 1500;
    await publish(inProgress);
    const refusedTwice = await publish(inProgress);

    expect(refusedEarly.body.error).toMatchObject({ code: 9007, error_subcode: 2207027 });
    expect(refusedTwice.body.error.message).toMatch(/status PUBLISHED/);
    expect(fake.igMedia).toHaveLength(1);
  });

  it('when the account has published its quota, then content_publishing_limit says so and media_publish answers code 9', async () => {
    for (const caption of ['one', 'two']) {
      const id = await newContainer('https://cdn.example.com/a.jpg', caption);
      clock += 1500;
      await publish(id);
    }
    const third = await newContainer('https://cdn.example.com/a.jpg', 'three');
    clock += 1500;

    const limit = await graph('GET', `/${V}/${IG}/content_publishing_limit`, { fields: 'quota_usage,config' }, IG_TOKEN);
    const refused = await publish(third);

    expect(limit.body).toEqual({ data: [{ quota_usage: 2, config: { quota_total: 2, quota_duration: 86400 } }] });
    expect(refused.body.error).toMatchObject({ code: 9, error_subcode: 2207042 });
    expect(fake.igMedia).toHaveLength(2);
  });

  it('when the caption is over 2200 characters or has more than 30 hashtags, or the image is missing, then it answers code 100', async () => {
    const tags = Array.from({ length: 31 }, (_, i) => `#t${i}`).join(' ');
    const answers = [
      await graph('POST', `/${V}/${IG}/media`, { image_url: 'https://cdn.example.com/a.jpg', caption: 'x'.repeat(2201) }, IG_TOKEN),
      await graph('POST', `/${V}/${IG}/media`, { image_url: 'https://cdn.example.com/a.jpg', caption: tags }, IG_TOKEN),
      await graph('POST', `/${V}/${IG}/media`, { caption: 'no image' }, IG_TOKEN),
    ];

    expect(answers.map((a) => a.body.error.code)).toEqual([100, 100, 100]);
    expect(fake.containers).toHaveLength(0);
  });

  it('when the media list is read, then the newest media comes first with caption, timestamp and permalink', async () => {
    const id = await newContainer('https://cdn.example.com/a.jpg', 'listed');
    clock += 1500;
    await publish(id);

    const { body } = await graph('GET', `/${V}/${IG}/media`, { fields: 'id,caption,timestamp,permalink' }, IG_TOKEN);

    expect(body.data).toEqual([{ id: fake.igMedia[0]!.id, caption: 'listed', timestamp: '2025-03-01T12:00:01+0000', permalink: fake.igMedia[0]!.permalink }]);
  });

  it('when media are listed with since and limit, then the after cursor pages through the newer ones, newest first', async () => {
    fake.addInstagramAccount(IG, IG_TOKEN, { quotaTotal: 10 });
    for (let i = 0; i < 4; i++) {
      const id = await newContainer('https://cdn.example.com/a.jpg', `media ${i}`);
      clock += 1500;
      expect((await publish(id)).status).toBe(200);
    }
    const since = String(Math.floor(fake.igMedia[1]!.publishedAt.getTime() / 1000));

    const first = await graph('GET', `/${V}/${IG}/media`, { fields: 'caption', limit: '2', since }, IG_TOKEN);
    const second = await graph('GET', `/${V}/${IG}/media`, { fields: 'caption', limit: '2', since, after: first.body.paging.cursors.after }, IG_TOKEN);

    expect(first.body.data.map((m: any) => m.caption)).toEqual(['media 3', 'media 2']);
    expect(first.body.paging.next).toEqual(expect.stringContaining('after='));
    expect(second.body.data.map((m: any) => m.caption)).toEqual(['media 1']);
    expect(second.body.paging).not.toHaveProperty('next');
  });

  it('when a Page token is used on the Instagram account, then it is refused', async () => {
    const { body } = await graph('POST', `/${V}/${IG}/media`, { image_url: 'https://cdn.example.com/a.jpg' }, PAGE_TOKEN);

    expect(body.error.code).toBe(10);
  });
});

describe('FakeMetaGraphServer: faults', () => {
  it.each([[4, 403], [17, 403], [32, 403], [613, 400]] as const)('when throttle code %i is injected, then it answers HTTP %i with the usage header estimate', async (code, httpStatus) => {
    fake.injectFault({ kind: 'throttle', code, regainAfterMinutes: 9 });

    const { status, body, headers } = await pagePost('throttled');

    expect(status).toBe(httpStatus);
    expect(body.error).toMatchObject({ code, is_transient: true });
    expect(JSON.parse(headers.get('x-business-use-case-usage')!)[PAGE][0]).toMatchObject({ call_count: 100, estimated_time_to_regain_access: 9 });
    expect(fake.pagePosts).toHaveLength(0);
  });

  it('when ambiguous_500 is injected, then the post IS created and the answer is HTTP 500 with code 1', async () => {
    fake.injectFault({ kind: 'ambiguous_500' });

    const { status, body } = await pagePost('created anyway');

    expect(status).toBe(500);
    expect(body.error).toMatchObject({ code: 1, is_transient: true });
    expect(fake.pagePosts.map((p) => p.message)).toEqual(['created anyway']);
  });

  it('when ambiguous_500 hits media_publish, then the media IS published', async () => {
    const id = await newContainer();
    clock += 1500;
    fake.injectFault({ kind: 'ambiguous_500', code: 2 });

    const { status, body } = await publish(id);

    expect(status).toBe(500);
    expect(body.error.code).toBe(2);
    expect(fake.igMedia).toHaveLength(1);
  });

  it('when server_error is injected, then nothing is created; token_expired answers 190', async () => {
    fake.injectFault({ kind: 'server_error', status: 503 });
    fake.injectFault({ kind: 'token_expired' });

    const first = await pagePost('a');
    const second = await pagePost('b');

    expect([first.status, first.body.error.code]).toEqual([503, 2]);
    expect([second.status, second.body.error.code, second.body.error.error_subcode]).toEqual([400, 190, 463]);
    expect(fake.pagePosts).toHaveLength(0);
  });

  it('when accept_then_drop is injected, then the post is created and the connection dropped', async () => {
    fake.injectFault({ kind: 'accept_then_drop' });

    await expect(pagePost('dropped')).rejects.toThrow();
    expect(fake.pagePosts.map((p) => p.message)).toEqual(['dropped']);
  });

  it('when faults are queued, then reads do not consume them', async () => {
    fake.injectFault({ kind: 'server_error' });

    const read = await graph('GET', `/${V}/${PAGE}/feed`);
    const write = await pagePost('x');

    expect([read.status, write.status]).toEqual([200, 500]);
  });

  it('when reset, then posts, comments, containers, media, requests and faults are gone', async () => {
    await pagePost('x');
    await newContainer();
    fake.injectFault({ kind: 'server_error' });

    fake.reset();

    expect([fake.pagePosts, fake.pageComments, fake.containers, fake.igMedia, fake.requests]).toEqual([[], [], [], [], []]);
    expect((await pagePost('after reset')).status).toBe(200);
  });

  it('when authenticate knows an unknown token, then the Page or Instagram account it names is usable with it', async () => {
    await fake.stop();
    await startFake({ authenticate: async (token) => ({ 'sandbox-page': '555', 'sandbox-ig': '777' })[token] });

    const post = await graph('POST', `/${V}/555/feed`, { message: 'sandbox' }, 'sandbox-page');
    const container = await graph('POST', `/${V}/777/media`, { image_url: 'https://cdn.example.com/a.jpg' }, 'sandbox-ig');
    const stranger = await graph('POST', `/${V}/555/feed`, { message: 'x' }, 'sandbox-ig');

    expect([post.status, container.status]).toEqual([200, 200]);
    expect(stranger.body.error.code).toBe(200);
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

/** A write the client gives up on after `timeoutMs`. */
function abandonedWrite(path: string, params: Record<string, string>, token: string, timeoutMs: number): Promise<Response> {
  const headers = { Authorization: `Bearer ${token}` };
  return fetch(`${baseUrl}${path}`, { method: 'POST', headers, body: new URLSearchParams(params), signal: AbortSignal.timeout(timeoutMs) });
}

describe('FakeMetaGraphServer: faults for the chaos soak', () => {
  it('when slow_before_create is injected, then the Page post appears only after the delay, created then, with the normal 200 { id }', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 200 });
    const started = Date.now();
    const pending = pagePost('late create');
    await until(() => fake.requests.length === 1);

    expect(fake.pagePosts).toHaveLength(0);
    clock += 5_000;
    const { status, body } = await pending;

    expect(status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(fake.pagePosts).toEqual([
      { id: body.id, pageId: PAGE, message: 'late create', createdAt: new Date(START + 5_000), receivedAt: new Date(START) },
    ]);
  });

  it('when slow_before_create is injected and the client aborts first, then the Page post and the comment are still created after the delay', async () => {
    const { body: root } = await pagePost('root');
    fake.injectFault({ kind: 'slow_before_create', delayMs: 250 }, 2);

    await expect(abandonedWrite(`/${V}/${PAGE}/feed`, { message: 'nobody waits' }, PAGE_TOKEN, 50)).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect(abandonedWrite(`/${V}/${root.id}/comments`, { message: 'nobody waits either' }, PAGE_TOKEN, 50)).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(fake.pagePosts).toHaveLength(1);

    await until(() => fake.pagePosts.length === 2 && fake.pageComments.length === 1);
    expect(fake.pagePosts[1]).toMatchObject({ pageId: PAGE, message: 'nobody waits' });
    expect(fake.pageComments[0]).toMatchObject({ postId: root.id, fromId: PAGE, message: 'nobody waits either' });
  });

  it('when slow_before_create holds a container and a media_publish the client gave up on, then both still happen', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 150 });
    await expect(abandonedWrite(`/${V}/${IG}/media`, { image_url: 'https://cdn.example.com/a.jpg', caption: 'late' }, IG_TOKEN, 30)).rejects.toThrow();
    await until(() => fake.containers.length === 1);
    const container = fake.containers[0]!;
    expect(container).toMatchObject({ igId: IG, caption: 'late', receivedAt: new Date(START), createdAt: new Date(START) });

    clock += 1500;
    fake.injectFault({ kind: 'slow_before_create', delayMs: 150 });
    await expect(abandonedWrite(`/${V}/${IG}/media_publish`, { creation_id: container.id }, IG_TOKEN, 30)).rejects.toThrow();
    expect(fake.igMedia).toHaveLength(0);

    await until(() => fake.igMedia.length === 1);
    expect(fake.igMedia[0]).toMatchObject({ igId: IG, containerId: container.id, caption: 'late', createdAt: new Date(START + 1500) });
    expect(fake.igMedia[0]!.createdAt).toEqual(fake.igMedia[0]!.publishedAt);
    expect(await containerStatus(container.id)).toBe('PUBLISHED');
  });

  it('when slow_before_create holds a message that is posted meanwhile, then the late create is refused 506', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 200 });
    const late = pagePost('twice?');
    await until(() => fake.requests.length === 1);

    expect((await pagePost('twice?')).status).toBe(200);
    const refused = await late;

    expect([refused.status, refused.body.error.code]).toEqual([400, 506]);
    expect(fake.pagePosts).toHaveLength(1);
  });

  it('when the fake stops while slow_before_create is pending, then stop() ends promptly and nothing is written', async () => {
    fake.injectFault({ kind: 'slow_before_create', delayMs: 300 });
    const pending = pagePost('never').then(
      () => 'answered',
      () => 'dropped',
    );
    await until(() => fake.requests.length === 1);

    const stopping = Date.now();
    await fake.stop();

    expect(Date.now() - stopping).toBeLessThan(250);
    await expect(pending).resolves.toBe('dropped');
    await delay(400);
    expect(fake.pagePosts).toHaveLength(0);
  });

  it('when ambiguous_500 hits a comment or a container, then it IS created and the answer is a Graph 500', async () => {
    const { body: root } = await pagePost('root');
    fake.injectFault({ kind: 'ambiguous_500', code: 2 }, 2);

    const comment = await graph('POST', `/${V}/${root.id}/comments`, { message: 'reply anyway' });
    const container = await graph('POST', `/${V}/${IG}/media`, { image_url: 'https://cdn.example.com/a.jpg', caption: 'c' }, IG_TOKEN);

    expect([comment.status, comment.body.error.code, container.status, container.body.error.code]).toEqual([500, 2, 500, 2]);
    expect(fake.pageComments.map((c) => c.message)).toEqual(['reply anyway']);
    expect(fake.containers.map((c) => c.caption)).toEqual(['c']);
  });

  it('when a random plan with rate 1 is set, then every write gets one of its kinds, reads draw none, and faultStats counts them', async () => {
    fake.setRandomFaults({ rate: 1, seed: 5, kinds: [{ kind: 'throttle', code: 32, regainAfterMinutes: 4 }] });

    const read = await graph('GET', `/${V}/${PAGE}/feed`);
    const write = await pagePost('throttled');

    expect([read.status, write.status, write.body.error.code]).toEqual([200, 403, 32]);
    expect(JSON.parse(write.headers.get('x-business-use-case-usage')!)[PAGE][0]).toMatchObject({ estimated_time_to_regain_access: 4 });
    expect(fake.faultStats()).toEqual({ throttle: 1 });
    expect(fake.pagePosts).toHaveLength(0);
  });

  it('when a random plan is set, then queued faults come first; clearFaults() turns both off and keeps the stats', async () => {
    fake.setRandomFaults({ rate: 1, seed: 5, kinds: [{ kind: 'ambiguous_500' }] });
    fake.injectFault({ kind: 'server_error', status: 503 });

    const statuses = [(await pagePost('a')).status, (await pagePost('b')).status];
    fake.clearFaults();
    statuses.push((await pagePost('c')).status);

    expect(statuses).toEqual([503, 500, 200]);
    expect(fake.pagePosts.map((p) => p.message)).toEqual(['b', 'c']);
    expect(fake.faultStats()).toEqual({ server_error: 1, ambiguous_500: 1 });
  });

  it('when the same seed is replayed after reset(), then the same writes fail the same way', async () => {
    const kinds: MetaFault[] = [{ kind: 'throttle' }, { kind: 'server_error' }, { kind: 'ambiguous_500' }];
    const run = async (): Promise<number[]> => {
      fake.setRandomFaults({ rate: 0.3, seed: 42, kinds });
      const statuses = [];
      for (let i = 0; i < 30; i++) statuses.push((await pagePost(`part ${i}`)).status);
      return statuses;
    };

    const first = await run();
    const stats = fake.faultStats();
    fake.reset();
    expect(fake.faultStats()).toEqual({});
    const second = await run();

    expect(second).toEqual(first);
    expect(fake.faultStats()).toEqual(stats);
    expect(first.filter((status) => status !== 200)).toHaveLength(Object.values(stats).reduce((a, b) => a + b, 0));
    expect(Object.keys(stats).length).toBeGreaterThan(0);
  });
});
