/**
 * Media uploads (issue #13, first slice) against real Postgres and the real API: the type comes from
 * the bytes (a PNG named .jpg with a lying Content-Type is a PNG; text named .png is refused), facts
 * are read (dimensions, frames, duration, codecs), refusals are 400 naming the rule with nothing
 * stored, bytes come back byte for byte across chunks and by range, alt text is set and bounded, and
 * a delete takes the chunks with it. A second API instance reads what the first stored.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import { createLogger } from '../../src/logger';
import { CHUNK_BYTES } from '../../src/media/storage';
import { call, createHarness, type Harness, type Tenant } from '../support/harness';
import { animatedGif, jpeg, noisePng, png, video, webp } from '../support/media-files';

jest.setTimeout(120_000);

let h: Harness;
let owner: Tenant;
let small: RunningApp;
let other: RunningApp;
const logger = createLogger(process.env.HERALD_TEST_LOG_LEVEL ?? 'silent');
const SMALL_LIMITS = { image: 100 * 1024, gif: 100 * 1024, video: 200 * 1024 };

beforeAll(async () => {
  h = await createHarness({ worker: false });
  owner = await h.tenant({ x: false });
  const deps = { orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger };
  // An instance with small limits (the refusals), and a plain second instance (shared storage).
  small = await startApp(createApp({ ...deps, media: { limits: SMALL_LIMITS } }), 0);
  other = await startApp(createApp(deps), 0);
});
afterAll(async () => {
  await small?.stop();
  await other?.stop();
  await h?.close();
});

interface Upload {
  bytes: Buffer;
  filename?: string;
  contentType?: string;
  altText?: string;
  altTextAfter?: boolean;
  baseUrl?: string;
  businessId?: number;
}

async function upload(options: Upload): Promise<{ status: number; body: any; headers: Headers }> {
  const form = new FormData();
  const file = new Blob([options.bytes], { type: options.contentType ?? 'application/octet-stream' });
  if (options.altText !== undefined && !options.altTextAfter) form.append('altText', options.altText);
  form.append('file', file, options.filename ?? 'upload.bin');
  if (options.altText !== undefined && options.altTextAfter) form.append('altText', options.altText);
  const response = await fetch(`${options.baseUrl ?? h.app.url}/api/v2/media?businessId=${options.businessId ?? owner.businessId}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${owner.apiKey}` },
    body: form,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

async function content(id: number, range?: string, baseUrl = h.app.url) {
  const response = await fetch(`${baseUrl}/api/v2/media/${id}/content`, { headers: { Authorization: `Bearer ${owner.apiKey}`, ...(range ? { Range: range } : {}) } });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

async function counts(): Promise<{ media: number; chunks: number }> {
  const [row] = await h.orm.em.fork().getConnection().execute(
    `select (select count(*) from media where business_id = ?)::int as media,
            (select count(*) from media_chunks c join media m on m.id = c.media_id where m.business_id = ?)::int as chunks`,
    [owner.businessId, owner.businessId],
  );
  return { media: row.media, chunks: row.chunks };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('upload: the type comes from the bytes', () => {
  test('when JPEG, PNG, WebP and an animated GIF are uploaded, then each is stored with its kind, type, dimensions and frames', async () => {
    const cases = [
      { bytes: await jpeg(64, 48), expect: { kind: 'image', mime: 'image/jpeg', width: 64, height: 48, frameCount: 1 } },
      { bytes: await png(40, 30), expect: { kind: 'image', mime: 'image/png', width: 40, height: 30, frameCount: 1 } },
      { bytes: await webp(50, 20), expect: { kind: 'image', mime: 'image/webp', width: 50, height: 20, frameCount: 1 } },
      { bytes: await animatedGif(3, 16, 16), expect: { kind: 'gif', mime: 'image/gif', width: 16, height: 16, frameCount: 3 } },
    ];
    for (const item of cases) {
      const answer = await upload({ bytes: item.bytes, altText: 'A test image' });
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({ ...item.expect, businessId: owner.businessId, bytes: item.bytes.length, sha256: sha256(item.bytes), altText: 'A test image', durationMs: null, codecs: [], uploadedBy: owner.userId });
      expect(answer.headers.get('location')).toBe(`/api/v2/media/${answer.body.id}`);
      const read = await call(h.app.url, owner.apiKey, 'GET', `/api/v2/media/${answer.body.id}`);
      expect(read.body).toEqual(answer.body);
    }
  });

  test('when an MP4 made by ffmpeg is uploaded, then it is a video with its duration, size and codecs', async () => {
    const clip = video({ seconds: 2, width: 320, height: 240 });
    const answer = await upload({ bytes: clip, filename: 'clip.mp4', contentType: 'video/mp4' });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ kind: 'video', mime: 'video/mp4', width: 320, height: 240, codecs: ['avc1', 'mp4a'], frameCount: null, bytes: clip.length });
    expect(answer.body.durationMs).toBeGreaterThanOrEqual(1900);
    expect(answer.body.durationMs).toBeLessThanOrEqual(2100);
    const mov = video({ seconds: 1, audio: false, mov: true });
    const movAnswer = await upload({ bytes: mov, filename: 'clip.mov' });
    expect(movAnswer.body).toMatchObject({ kind: 'video', mime: 'video/quicktime', codecs: ['avc1'] });
  });

  test('when a PNG is named photo.jpg and sent as image/jpeg, then it is stored as the PNG it is and served as image/png', async () => {
    const bytes = await png(12, 12);
    const answer = await upload({ bytes, filename: 'photo.jpg', contentType: 'image/jpeg' });
    expect(answer.status).toBe(201);
    expect(answer.body.mime).toBe('image/png');
    const served = await content(answer.body.id);
    expect(served.headers.get('content-type')).toBe('image/png');
  });
});

describe('upload: refusals name the rule and store nothing', () => {
  test('when a text file is named .png, then 400 with rule "format" and nothing is stored', async () => {
    const before = await counts();
    const answer = await upload({ bytes: Buffer.from('I am plain text pretending to be an image.\n'.repeat(50)), filename: 'photo.png', contentType: 'image/png' });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details).toEqual([expect.objectContaining({ path: 'file', rule: 'format' })]);
    expect(await counts()).toEqual(before);
  });

  test('when a JPEG is cut short or a video is truncated, then 400 with rule "broken" and nothing is stored', async () => {
    const before = await counts();
    const photo = await jpeg(300, 300);
    const cut = await upload({ bytes: photo.subarray(0, Math.floor(photo.length / 2)), filename: 'cut.jpg' });
    expect(cut.status).toBe(400);
    expect(cut.body.error.details[0]).toMatchObject({ path: 'file', rule: 'broken' });
    const clip = video({ seconds: 1 });
    const truncated = await upload({ bytes: clip.subarray(0, clip.length - 500), filename: 'cut.mp4' });
    expect(truncated.status).toBe(400);
    expect(truncated.body.error.details[0]).toMatchObject({ path: 'file', rule: 'broken' });
    const empty = await upload({ bytes: Buffer.alloc(0) });
    expect(empty.body.error.details[0]).toMatchObject({ path: 'file', rule: 'empty' });
    expect(await counts()).toEqual(before);
  });

  test('when a file is larger than its kind allows, then 400 with rule "too_large" and the limit, while streaming, and no row or chunk is written', async () => {
    const before = await counts();
    const big = await noisePng(200, 200);
    expect(big.length).toBeGreaterThan(SMALL_LIMITS.image);
    expect(big.length).toBeLessThan(SMALL_LIMITS.video);
    const answer = await upload({ bytes: big, baseUrl: small.url });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details[0]).toMatchObject({ path: 'file', rule: 'too_large', limitBytes: SMALL_LIMITS.image });
    // Far beyond every limit: refused from the declared length, before a byte is read.
    const huge = await upload({ bytes: Buffer.concat([await png(), Buffer.alloc(600 * 1024)]), baseUrl: small.url });
    expect(huge.status).toBe(400);
    expect(huge.body.error.details[0]).toMatchObject({ rule: 'too_large' });
    expect(await counts()).toEqual(before);
    // The instance still serves after refusing mid-stream.
    expect((await upload({ bytes: await png(), baseUrl: small.url })).status).toBe(201);
  });

  test('when an endless upload (chunked, no Content-Length) passes the limit, then the 400 comes while the client is still sending, and nothing is kept', async () => {
    const before = await counts();
    const boundary = 'endless';
    const url = new URL(`${small.url}/api/v2/media?businessId=${owner.businessId}`);
    const outcome = await new Promise<{ status: number; body: any; sentWhenAnswered: number }>((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = httpRequest(url, { method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Transfer-Encoding': 'chunked' } });
      req.on('response', (response) => {
        answered = true;
        const sentWhenAnswered = sent;
        let text = '';
        response.on('data', (piece: Buffer) => (text += piece.toString()));
        response.on('end', () => {
          req.destroy();
          resolve({ status: response.statusCode!, body: JSON.parse(text), sentWhenAnswered });
        });
      });
      req.on('error', (err) => (answered ? undefined : reject(err)));
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="endless.png"\r\n\r\n`);
      req.write(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      const piece = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        // Up to 200 MB, 64 KiB at a time, as fast as the server reads; stops once answered.
        while (!answered && sent < 200 * 1024 * 1024) {
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
    expect(outcome.status).toBe(400);
    expect(outcome.body.error.details[0]).toMatchObject({ path: 'file', rule: 'too_large', limitBytes: SMALL_LIMITS.image });
    // Answered long before 200 MB: the limit is 100 KiB, and socket buffers hold a few MB at most.
    expect(outcome.sentWhenAnswered).toBeLessThan(20 * 1024 * 1024);
    expect(await counts()).toEqual(before);
  });

  test('when the body is not multipart, has no file, or the alt text is too long, then 415 or 400 naming it, and nothing is kept', async () => {
    const before = await counts();
    const json = await call(h.app.url, owner.apiKey, 'POST', `/api/v2/media?businessId=${owner.businessId}`, { file: 'x' });
    expect(json.status).toBe(415);
    const form = new FormData();
    form.append('altText', 'no file here');
    const noFile = await fetch(`${h.app.url}/api/v2/media?businessId=${owner.businessId}`, { method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}` }, body: form });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as any).error.details[0].path).toBe('file');
    const longAlt = await upload({ bytes: await png(), altText: 'x'.repeat(1001) });
    expect(longAlt.status).toBe(400);
    expect(longAlt.body.error.details[0].path).toBe('altText');
    const longAltAfter = await upload({ bytes: await png(), altText: 'y'.repeat(1001), altTextAfter: true });
    expect(longAltAfter.status).toBe(400);
    expect(await counts()).toEqual(before);
  });
});

describe('malformed requests', () => {
  const raw = async (body: string, method = 'POST', path = `/api/v2/media?businessId=${owner.businessId}`) => {
    const response = await fetch(`${h.app.url}${path}`, { method, headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'multipart/form-data; boundary=XyZ' }, body });
    return { status: response.status, body: (await response.json()) as any };
  };

  test('when the multipart body is malformed, cut off, or has its file under another name, then 400 and the API keeps answering', async () => {
    const before = await counts();
    const malformed = await raw('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG\r\n--XyZ\r\nBroken header without colon\r\n\r\nx\r\n--XyZ--\r\n');
    expect(malformed.status).toBe(400);
    const cutOff = await raw('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG\r\n\x1a\n');
    expect(cutOff.status).toBe(400);
    const otherName = await raw('--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\nabc\r\n--XyZ--\r\n');
    expect(otherName.status).toBe(400);
    expect(otherName.body.error.details[0].path).toBe('file');
    // Another method with a multipart body: 405, as on every documented path.
    expect((await raw('--XyZ--\r\n', 'PUT')).status).toBe(405);
    expect(await counts()).toEqual(before);
    expect((await upload({ bytes: await png() })).status).toBe(201);
  });
});

describe('uploads in flight', () => {
  test('when an instance is already storing as many uploads as it may, then the next is 429 with Retry-After, and the first still completes', async () => {
    const deps = { orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger };
    const single = await startApp(createApp({ ...deps, media: { maxConcurrentUploads: 1 } }), 0);
    try {
      const image = await png();
      const boundary = 'herald-test-boundary';
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.png"\r\nContent-Type: image/png\r\n\r\n`);
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      // The first upload sends its head and half the image, then waits: it is in flight.
      const slowBody = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(Buffer.concat([head, image.subarray(0, 20)]));
          await released;
          controller.enqueue(Buffer.concat([image.subarray(20), tail]));
          controller.close();
        },
      });
      const first = fetch(`${single.url}/api/v2/media?businessId=${owner.businessId}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
        body: slowBody,
        duplex: 'half',
      } as RequestInit);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const second = await upload({ bytes: image, baseUrl: single.url });
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('5');
      expect(second.body.error).toMatchObject({ code: 'rate_limited', details: { bucket: 'media-uploads', limit: 1 } });
      release();
      expect((await first).status).toBe(201);
      expect((await upload({ bytes: image, baseUrl: single.url })).status).toBe(201);
    } finally {
      await single.stop();
    }
  });
});

describe('storage shared by every instance', () => {
  test('when a file of more than two chunks is uploaded, then it is stored in 1 MiB chunks and comes back byte for byte, from another instance too', async () => {
    const bytes = await noisePng(1100, 1000);
    expect(bytes.length).toBeGreaterThan(2 * CHUNK_BYTES);
    const answer = await upload({ bytes });
    expect(answer.status).toBe(201);
    const [row] = await h.orm.em.fork().getConnection().execute('select count(*)::int as n, max(length(data))::int as largest from media_chunks where media_id = ?', [answer.body.id]);
    expect(row).toEqual({ n: Math.ceil(bytes.length / CHUNK_BYTES), largest: CHUNK_BYTES });
    for (const baseUrl of [h.app.url, other.url]) {
      const whole = await content(answer.body.id, undefined, baseUrl);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('accept-ranges')).toBe('bytes');
      expect(whole.headers.get('content-length')).toBe(String(bytes.length));
      expect(whole.bytes.equals(bytes)).toBe(true);
    }
  });

  test('when ranges are asked, then 206 with Content-Range and exactly those bytes (across chunk boundaries too); past the end 416', async () => {
    const bytes = await noisePng(1000, 800, 7);
    const { body } = await upload({ bytes });
    const size = bytes.length;
    const cases: Array<[string, number, number]> = [
      ['bytes=0-9', 0, 9],
      [`bytes=${CHUNK_BYTES - 5}-${CHUNK_BYTES + 4}`, CHUNK_BYTES - 5, CHUNK_BYTES + 4],
      [`bytes=${CHUNK_BYTES}-`, CHUNK_BYTES, size - 1],
      ['bytes=-100', size - 100, size - 1],
      [`bytes=${size - 1}-${size + 1000}`, size - 1, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const answer = await content(body.id, range);
      expect({ range, status: answer.status, contentRange: answer.headers.get('content-range') }).toEqual({ range, status: 206, contentRange: `bytes ${start}-${end}/${size}` });
      expect(answer.bytes.equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    const past = await content(body.id, `bytes=${size}-`);
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
    expect(past.headers.get('content-type')).toMatch(/^application\/json/);
    // Not a single byte range: the whole media.
    const several = await content(body.id, 'bytes=0-1,5-6');
    expect(several.status).toBe(200);
    expect(several.bytes.length).toBe(size);
  });

  test('when the alt text is patched, cleared or too long, then it is set, cleared, or 400 naming altText', async () => {
    const { body } = await upload({ bytes: await png() });
    const set = await call(h.app.url, owner.apiKey, 'PATCH', `/api/v2/media/${body.id}`, { altText: 'A blue square' });
    expect(set.status).toBe(200);
    expect(set.body.altText).toBe('A blue square');
    const later = await upload({ bytes: await png(), altText: 'given after the file', altTextAfter: true });
    expect(later.body.altText).toBe('given after the file');
    const tooLong = await call(h.app.url, owner.apiKey, 'PATCH', `/api/v2/media/${body.id}`, { altText: 'z'.repeat(1001) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.details[0].path).toBe('altText');
    const cleared = await call(h.app.url, owner.apiKey, 'PATCH', `/api/v2/media/${body.id}`, { altText: null });
    expect(cleared.body.altText).toBeNull();
  });

  test('when a media is deleted, then 204, its chunks are gone, and it is 404 everywhere', async () => {
    const bytes = await noisePng(700, 700, 3);
    const { body } = await upload({ bytes });
    const chunkCount = async () => (await h.orm.em.fork().getConnection().execute('select count(*)::int as n from media_chunks where media_id = ?', [body.id]))[0].n;
    expect(await chunkCount()).toBeGreaterThan(1);
    const deleted = await call(h.app.url, owner.apiKey, 'DELETE', `/api/v2/media/${body.id}`);
    expect(deleted.status).toBe(204);
    expect(await chunkCount()).toBe(0);
    expect((await call(other.url, owner.apiKey, 'GET', `/api/v2/media/${body.id}`)).status).toBe(404);
    expect((await content(body.id)).status).toBe(404);
    expect((await call(h.app.url, owner.apiKey, 'DELETE', `/api/v2/media/${body.id}`)).status).toBe(404);
  });
});
