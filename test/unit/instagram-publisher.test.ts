import { FakeMetaGraphServer, type FakeMetaGraphServerOptions } from '../fakes/meta-fake';
import { InstagramPublisher, type InstagramPublisherOptions } from '../../src/platforms/instagram';
import {
  PublishError,
  isInProgress,
  type PartToPublish,
  type PublishedRef,
  type PublisherCredentials,
  type PublishInProgress,
} from '../../src/platforms/publisher';

const IG = '17841400000000001';
const TOKEN = 'EAAG-ig-token-s3cr3t-dd44';
const VERSION = 'v21.0';
const START = Date.parse('2025-03-01T12:00:00.000Z');
const IMAGE = 'https://cdn.example.com/launch.jpg';
const CAPTION = 'Launch day 🚀 #launch #herald';

let clock: number;
let fake: FakeMetaGraphServer;
let baseUrl: string;
let publisher: InstagramPublisher;

function credentials(accessToken = TOKEN): PublisherCredentials {
  return { accountId: 1, platformUserId: IG, accessToken };
}

function part(extra: Partial<PartToPublish> = {}): PartToPublish {
  return { text: CAPTION, partIndex: 0, partCount: 1, params: { imageUrl: IMAGE }, ...extra };
}

function newPublisher(options: Partial<InstagramPublisherOptions> = {}): InstagramPublisher {
  return new InstagramPublisher({ baseUrl, apiVersion: VERSION, timeoutMs: 2_000, now: () => clock, ...options });
}

async function startFake(options: FakeMetaGraphServerOptions = {}, quotaTotal?: number): Promise<void> {
  fake = new FakeMetaGraphServer({ now: () => clock, processingDelayMs: 1500, ...options });
  baseUrl = await fake.start();
  fake.addInstagramAccount(IG, TOKEN, { quotaTotal });
  publisher = newPublisher();
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

async function step(progress?: Record<string, string>, extra: Partial<PartToPublish> = {}): Promise<PublishedRef | PublishInProgress> {
  return publisher.publishPart(credentials(), part({ progress, ...extra }));
}

async function startContainer(extra: Partial<PartToPublish> = {}): Promise<PublishInProgress> {
  const started = await step(undefined, extra);
  if (!isInProgress(started)) throw new Error('expected a container in progress');
  return started;
}

/** Runs the state machine the way the workflow does: wait checkAfterMs on the clock, call again. */
async function publishToTheEnd(extra: Partial<PartToPublish> = {}): Promise<PublishedRef> {
  let result: PublishedRef | PublishInProgress = await step(undefined, extra);
  while (isInProgress(result)) {
    clock += result.checkAfterMs;
    result = await step(result.progress, extra);
  }
  return result;
}

const mediaPublishCalls = (): number => fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/media_publish')).length;

beforeEach(async () => {
  clock = START;
  await startFake();
});

afterEach(async () => {
  await fake.stop();
});

describe('InstagramPublisher: the container state machine', () => {
  it('when a post is published step by step, then it goes create → in progress → finished → published with the permalink', async () => {
    const created = await startContainer();
    expect(created).toEqual({
      inProgress: true,
      progress: { containerId: fake.containers[0]!.id, createdAt: new Date(START).toISOString(), checkAfterMs: '2000' },
      checkAfterMs: 2000,
    });

    clock += 1000; // the fake processes for 1.5 s
    const stillProcessing = await step(created.progress);
    expect(stillProcessing).toEqual({ inProgress: true, progress: { ...created.progress, checkAfterMs: '3000' }, checkAfterMs: 3000 });

    clock += 1000;
    const published = await step((stillProcessing as PublishInProgress).progress);

    const media = fake.igMedia;
    expect(media).toHaveLength(1);
    expect(published).toEqual({ platformPostId: media[0]!.id, url: media[0]!.permalink });
    expect(media[0]).toMatchObject({ caption: CAPTION, imageUrl: IMAGE, containerId: created.progress.containerId });
    expect(media[0]!.permalink).toMatch(/^https:\/\/www\.instagram\.com\/p\/[\w-]{11}\/$/);
    expect(fake.containers[0]!.status).toBe('PUBLISHED');
  });

  it('when the quota is checked first, then the calls are the quota, the container, its status, media_publish and the permalink, in that order', async () => {
    await publishToTheEnd();

    const container = fake.containers[0]!.id;
    const media = fake.igMedia[0]!.id;
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /${VERSION}/${IG}/content_publishing_limit`,
      `POST /${VERSION}/${IG}/media`,
      `GET /${VERSION}/${container}`,
      `POST /${VERSION}/${IG}/media_publish`,
      `GET /${VERSION}/${media}`,
    ]);
  });

  it('when processing goes on, then each wait is 1.5 times longer, up to 30 seconds', async () => {
    await fake.stop();
    await startFake({ processingDelayMs: 60_000 });
    const created = await startContainer();

    const waits: number[] = [];
    let progress = created.progress;
    for (let i = 0; i < 8; i++) {
      const next = (await step(progress)) as PublishInProgress;
      waits.push(next.checkAfterMs);
      progress = next.progress;
    }

    expect(waits).toEqual([3000, 4500, 6750, 10125, 15188, 22782, 30000, 30000]);
  });

  it('when the media is still processing after the processing timeout, then it is rejected saying how long Instagram took', async () => {
    await fake.stop();
    await startFake({ processingDelayMs: 60 * 60_000 });
    const created = await startContainer();
    clock += 6 * 60_000;

    const err = await failureOf(step(created.progress));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/still processing the media after 6 minutes/);
    expect(fake.igMedia).toHaveLength(0);
  });

  it('when processingTimeoutMs is configured, then that limit applies', async () => {
    await fake.stop();
    await startFake({ processingDelayMs: 60 * 60_000 });
    const created = await startContainer();
    clock += 2 * 60_000;

    const err = await failureOf(newPublisher({ processingTimeoutMs: 60_000 }).publishPart(credentials(), part({ progress: created.progress })));

    expect(err.message).toMatch(/after 2 minutes/);
  });

  it('when the image cannot be fetched (container ERROR), then it is rejected and nothing is published', async () => {
    const broken = { params: { imageUrl: 'https://cdn.example.com/broken.jpg' } };

    const err = await failureOf(publishToTheEnd(broken));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/could not process the image \(container ERROR: .*2207052/);
    expect(mediaPublishCalls()).toBe(0);
  });

  it('when the container expired, then it is rejected and media_publish is never called', async () => {
    const created = await startContainer();
    fake.expireContainer(created.progress.containerId!);
    clock += 5_000;

    const err = await failureOf(step(created.progress));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/expired/);
    expect(mediaPublishCalls()).toBe(0);
  });

  it('when media_publish got through but the answer was lost, then the retry finds the container PUBLISHED and returns that media: one media, one media_publish', async () => {
    const created = await startContainer();
    clock += 2000;
    fake.injectFault({ kind: 'accept_then_drop' });

    const lost = await failureOf(step(created.progress));
    const retried = await step(created.progress);

    expect(lost.failureClass).toBe('unknown_outcome');
    expect(lost.mayHavePosted).toBe(true);
    expect(fake.igMedia).toHaveLength(1);
    expect(retried).toEqual({ platformPostId: fake.igMedia[0]!.id, url: fake.igMedia[0]!.permalink });
    expect(mediaPublishCalls()).toBe(1);
  });

  it('when media_publish answers a 500 after publishing, then the outcome is unknown and the retry adopts the media', async () => {
    const created = await startContainer();
    clock += 2000;
    fake.injectFault({ kind: 'ambiguous_500', code: 2 });

    const err = await failureOf(step(created.progress));
    const retried = await step(created.progress);

    expect(err.failureClass).toBe('unknown_outcome');
    expect((retried as PublishedRef).platformPostId).toBe(fake.igMedia[0]!.id);
    expect(mediaPublishCalls()).toBe(1);
  });

  it('when media_publish times out, then the outcome is unknown (mayHavePosted)', async () => {
    const created = await startContainer();
    clock += 2000;
    fake.injectFault({ kind: 'slow', delayMs: 5_000 });

    const err = await failureOf(newPublisher({ timeoutMs: 200 }).publishPart(credentials(), part({ progress: created.progress })));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
  });

  it('when creating the container times out, then it is retryable and certainly not posted (a container is invisible)', async () => {
    fake.injectFault({ kind: 'slow', delayMs: 5_000 });

    const err = await failureOf(newPublisher({ timeoutMs: 200 }).publishPart(credentials(), part()));

    expect(err.failureClass).toBe('retryable');
    expect(err.mayHavePosted).toBe(false);
    expect(err.message).toMatch(/safe to repeat/);
  });

  it('when creating the container meets a 500, then it is retryable rather than unknown', async () => {
    fake.injectFault({ kind: 'server_error' });

    const err = await failureOf(step());

    expect(err.failureClass).toBe('retryable');
    expect(err.mayHavePosted).toBe(false);
  });
});

describe('InstagramPublisher: other failures', () => {
  it('when the daily publishing quota is used up, then it is rejected naming the number read from Instagram, before creating a container', async () => {
    await fake.stop();
    await startFake({}, 2);
    await publishToTheEnd({ text: 'one' });
    await publishToTheEnd({ text: 'two' });
    const containersBefore = fake.containers.length;

    const err = await failureOf(step(undefined, { text: 'three' }));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/daily publishing limit reached \(2 posts per 24 hours; 2 used\)/);
    expect(fake.containers).toHaveLength(containersBefore);
  });

  it('when the token expired (190), then it fails as auth without the token', async () => {
    const created = await startContainer();
    clock += 2000;
    fake.injectFault({ kind: 'token_expired' }); // hits the next write: media_publish

    const err = await failureOf(step(created.progress));

    expect(err.failureClass).toBe('auth');
    expect(fake.igMedia).toHaveLength(0);
  });

  it('when Instagram throttles, then it is retryable after the usage header\'s estimate', async () => {
    fake.injectFault({ kind: 'throttle', code: 4, regainAfterMinutes: 25 });

    const err = await failureOf(step());

    expect(err.failureClass).toBe('retryable');
    expect(err.retryAfterMs).toBe(25 * 60_000);
  });

  it('when the part has no image URL, then it is rejected before calling Instagram', async () => {
    const err = await failureOf(step(undefined, { params: {} }));

    expect(err.failureClass).toBe('rejected');
    expect(err.message).toMatch(/platformParams\.instagram\.imageUrl/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('InstagramPublisher.findPublished', () => {
  it('when the media exists, then it is found by its caption, with its permalink', async () => {
    const published = await publishToTheEnd();

    await expect(publisher.findPublished(credentials(), part({ notBefore: new Date(START) }))).resolves.toEqual(published);
  });

  it('when no media has that caption, then it returns null', async () => {
    await publishToTheEnd({ text: 'another caption' });

    await expect(publisher.findPublished(credentials(), part())).resolves.toBeNull();
  });
});

describe('InstagramPublisher.findPublished on a busy account (bounded by time, paginated)', () => {
  /** The media list requests' query parameters, as sent (the fake's log keeps paths only). */
  function mediaListings(spy: jest.SpiedFunction<typeof fetch>): Array<Record<string, string>> {
    return spy.mock.calls
      .filter(([, init]) => (init?.method ?? 'GET') === 'GET')
      .map(([input]) => new URL(String(input)))
      .filter((url) => url.pathname.endsWith(`/${IG}/media`))
      .map((url) => Object.fromEntries(url.searchParams));
  }

  /** Publishes straight on the fake (container, processing, media_publish); the clock moves 1.5 s each. */
  async function publishMany(count: number, prefix: string): Promise<void> {
    const headers = { Authorization: `Bearer ${TOKEN}` };
    for (let i = 0; i < count; i++) {
      const body = new URLSearchParams({ image_url: IMAGE, caption: `${prefix} ${i}` });
      const container = (await (await fetch(`${baseUrl}/${VERSION}/${IG}/media`, { method: 'POST', headers, body })).json()) as { id: string };
      clock += 1500;
      await fetch(`${baseUrl}/${VERSION}/${IG}/media_publish`, { method: 'POST', headers, body: new URLSearchParams({ creation_id: container.id }) });
    }
  }

  beforeEach(async () => {
    await fake.stop();
    await startFake({}, 1000);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('when the media is older than the account\'s newest 100 but newer than notBefore, then findPublished follows the after cursor and finds it', async () => {
    const published = await publishToTheEnd();
    await publishMany(130, 'a later post');
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part({ notBefore: new Date(START) }));

    expect(found).toEqual(published);
    const listings = mediaListings(spy);
    expect(listings).toHaveLength(2);
    expect(listings[0]).toEqual({ fields: 'id,caption,timestamp,permalink', limit: '100', since: String(START / 1000 - 6) });
    expect(listings[1]).toEqual({ ...listings[0], after: expect.any(String) });
  });

  it('when the media predates notBefore by more than the skew, then it is not found, and since kept Instagram from listing it at all', async () => {
    await publishToTheEnd();
    await publishMany(120, 'another old post');
    clock += 10 * 60_000;
    const spy = jest.spyOn(globalThis, 'fetch');

    const found = await publisher.findPublished(credentials(), part({ notBefore: new Date(clock) }));

    expect(found).toBeNull();
    expect(mediaListings(spy)).toHaveLength(1);
  });

  it('when the pagination bound is reached while Instagram still has a next page, then it is an unknown outcome, not "not there"', async () => {
    await publishToTheEnd();
    await publishMany(100, 'a later post');

    const err = await failureOf(newPublisher({ lookupMaxPages: 1 }).findPublished(credentials(), part({ notBefore: new Date(START) })));

    expect(err.failureClass).toBe('unknown_outcome');
    expect(err.mayHavePosted).toBe(true);
  });

  it('when the media since notBefore end within the bound without the part, then it is certainly not there (null)', async () => {
    await publishMany(120, 'a later post');

    await expect(newPublisher({ lookupMaxPages: 2 }).findPublished(credentials(), part({ notBefore: new Date(START) }))).resolves.toBeNull();
  });
});

describe('InstagramPublisher.split and validate', () => {
  it('when the caption is long, then it is still exactly one part (Instagram has no threads), flagged too long past 2200', () => {
    const { parts, warnings } = publisher.split('word '.repeat(500), { numbering: true });

    expect(parts).toHaveLength(1);
    expect(parts[0]!.text).toBe('word '.repeat(500).trim());
    expect(warnings.map((w) => w.code)).toEqual(['too_long']);
  });

  it('when the image URL is missing, then validate names platformParams.instagram.imageUrl', () => {
    expect(publisher.validate(CAPTION, undefined)).toEqual([
      { path: 'platformParams.instagram.imageUrl', message: expect.stringMatching(/^Instagram needs an image URL/) },
    ]);
  });

  it('when the image URL is not an http(s) URL, then validate names it', () => {
    expect(publisher.validate(CAPTION, { imageUrl: 'ftp://x/y.jpg' })).toEqual([{ path: 'platformParams.instagram.imageUrl', message: expect.any(String) }]);
  });

  it('when the caption is over 2200 characters or has more than 30 hashtags, then validate points at content', () => {
    const tooLong = 'é'.repeat(2201);
    const tooManyTags = Array.from({ length: 31 }, (_, i) => `#tag${i}`).join(' ');

    expect(publisher.validate(tooLong, { imageUrl: IMAGE })).toEqual([{ path: 'content', message: expect.stringMatching(/2201 characters.*2200/) }]);
    expect(publisher.validate(tooManyTags, { imageUrl: IMAGE })).toEqual([{ path: 'content', message: expect.stringMatching(/31 hashtags.*30/) }]);
    expect(publisher.validate('é'.repeat(2200), { imageUrl: IMAGE })).toEqual([]);
  });

  it('when # does not start a word, then it is not a hashtag: 30 tags plus C# and a lone # pass', () => {
    const thirtyTags = Array.from({ length: 30 }, (_, i) => `#tag${i}`).join(' ');

    expect(publisher.validate(`${thirtyTags} C# and # alone, issue#7`, { imageUrl: IMAGE })).toEqual([]);
  });
});
