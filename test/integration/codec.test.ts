/**
 * Payload encryption end to end: a real post workflow through the API, the worker and Temporal;
 * its history as the server stores it holds ciphertext only, and the codec endpoint the Web UI
 * calls turns that ciphertext back into the plain payloads, for the right callers only.
 */
import { randomBytes } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import { createLogger } from '../../src/logger';
import { ENCRYPTED_ENCODING, payloadToJson, type JsonPayload } from '../../src/temporal/payload-codec';
import { createHarness, eventually, postHandle, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

type History = temporal.api.history.v1.IHistory;
type Payload = temporal.api.common.v1.IPayload;

let h: Harness;
let tenant: Tenant;
let other: Tenant;

beforeAll(async () => {
  h = await createHarness();
  tenant = await h.tenant();
  other = await h.tenant();
});
afterAll(async () => h?.close());
afterEach(() => h.fakeX.clearFaults());

const UI_ORIGIN = 'http://localhost:8233';

/** Every Payload in a history, with where it sits; search attributes apart (no codec touches them). */
function payloadsOf(node: unknown, path = '', found: Array<{ path: string; payload: Payload }> = []) {
  if (Array.isArray(node)) node.forEach((child, i) => payloadsOf(child, `${path}[${i}]`, found));
  else if (node && typeof node === 'object' && !(node instanceof Uint8Array)) {
    const record = node as Record<string, unknown>;
    if (record.data instanceof Uint8Array && record.metadata && typeof record.metadata === 'object') {
      found.push({ path, payload: record as Payload });
      return found;
    }
    for (const [key, value] of Object.entries(record)) payloadsOf(value, `${path}.${key}`, found);
  }
  return found;
}

const utf8 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const encodingOf = (payload: Payload) => utf8(payload.metadata?.encoding);
const decodedText = (json: JsonPayload) => Buffer.from(json.data ?? '', 'base64').toString('utf8');

async function codec(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${h.app.url}/codec${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

async function publishAndFetchHistory(content: string): Promise<{ postId: number; post: any; history: History }> {
  const response = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content, platforms: ['twitter'] });
  expect([200, 202]).toContain(response.status);
  const postId = response.body.id as number;
  const post = await eventually(async () => {
    const { body } = await tenant.call('GET', `/api/v2/posts/${postId}`);
    return ['published', 'failed'].includes(body.status) ? body : undefined;
  }, 60_000, `post ${postId} to finish`);
  const history = await (await postHandle(h, postId)).fetchHistory();
  return { postId, post, history };
}

describe('a published post in Temporal history', () => {
  let postId: number;
  let post: any;
  let history: History;
  let raw: Array<{ path: string; payload: Payload }>;
  const content = `Secret launch announcement ${Date.now()} for the codec test`;

  beforeAll(async () => {
    ({ postId, post, history } = await publishAndFetchHistory(content));
    raw = payloadsOf(history);
  });

  test('when the history is read from the server, then every payload but the search attributes and SDK marker metadata is encrypted', () => {
    expect(post.status).toBe('published');
    // Markers carry the SDK's own bookkeeping in the clear: a patch's id ("patch-data") and a local
    // activity's type/id/attempt ("data"). Their results (".details.result") go through the codec;
    // the secret scan below covers the clear ones too.
    const sdkMarkerData = (path: string) => /markerRecordedEventAttributes\.details\.(patch-data|data)\./.test(path);
    const codecPayloads = raw.filter(({ path }) => !path.includes('searchAttributes') && !sdkMarkerData(path));
    expect(codecPayloads.length).toBeGreaterThan(5);
    expect(codecPayloads.some(({ path }) => path.includes('markerRecordedEventAttributes.details.result'))).toBe(true);
    const plain = codecPayloads.filter(({ payload }) => encodingOf(payload) !== ENCRYPTED_ENCODING).map(({ path }) => path);
    expect(plain).toEqual([]);
    // The workflow summary (user metadata) goes through the codec too.
    expect(codecPayloads.some(({ path }) => path.includes('userMetadata.summary'))).toBe(true);

    const everything = raw.map(({ payload }) => `${JSON.stringify(payloadToJson(payload as never))}\n${utf8(payload.data)}`).join('\n');
    const tweetId = post.targets[0].parts[0].platformPostId as string;
    for (const secret of [content, tenant.xToken, tenant.apiKey, `Post ${postId} to twitter`, `"postId":${postId}`, tweetId]) {
      expect(everything).not.toContain(secret);
    }
  });

  test('when the Web UI posts the raw payloads to /codec/decode, then it gets the plain JSON back', async () => {
    const payloads = raw.filter(({ path }) => !path.includes('searchAttributes')).map(({ payload }) => payloadToJson(payload as never));
    const response = await codec('/decode', { payloads }, { Origin: UI_ORIGIN });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const decoded = response.body.payloads as JsonPayload[];
    expect(decoded).toHaveLength(payloads.length);
    for (const payload of decoded) expect(Buffer.from(payload.metadata!.encoding!, 'base64').toString()).not.toBe(ENCRYPTED_ENCODING);
    const texts = decoded.map(decodedText);
    const tweetId = post.targets[0].parts[0].platformPostId as string;
    expect(texts.some((text) => text.includes(`Post ${postId} to twitter`))).toBe(true); // the static summary
    expect(texts.some((text) => text.includes(`"postId":${postId}`))).toBe(true); // the workflow input
    expect(texts.some((text) => text.includes(tweetId))).toBe(true); // the publish activity's result
    expect(texts.some((text) => text.includes('twitter part 1 of 1'))).toBe(true); // an activity summary
    expect(texts.join('\n')).not.toContain(tenant.xToken);
  });

  test('when the API key of the owning business decodes, then it may; a foreign business gets 404', async () => {
    const payloads = raw.filter(({ path }) => path.includes('workflowExecutionStartedEventAttributes.input')).map(({ payload }) => payloadToJson(payload as never));
    expect(payloads).toHaveLength(1);
    const own = await codec('/decode', { payloads }, { Authorization: `Bearer ${tenant.apiKey}` });
    expect(own.status).toBe(200);
    expect(JSON.parse(decodedText(own.body.payloads[0]))).toMatchObject({ postId, businessId: tenant.businessId });

    const foreign = await codec('/decode', { payloads }, { Authorization: `Bearer ${other.apiKey}` });
    expect(foreign.status).toBe(404);
    expect(JSON.stringify(foreign.body)).not.toContain(`"postId"`);

    const bogus = await codec('/decode', { payloads }, { Authorization: 'Bearer hk_not-a-key' });
    expect(bogus.status).toBe(401);
  });

  test('when X-Namespace names another namespace or is missing, then the codec refuses', async () => {
    const payloads = raw.slice(0, 1).map(({ payload }) => payloadToJson(payload as never));
    const wrong = await codec('/decode', { payloads }, { Origin: UI_ORIGIN, 'X-Namespace': 'someone-else' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/X-Namespace/);
    const missing = await fetch(`${h.app.url}/codec/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: UI_ORIGIN }, body: JSON.stringify({ payloads }) });
    expect(missing.status).toBe(400);
  });

  test('when a tampered payload is sent, then decoding answers 400 and reveals nothing', async () => {
    const [first] = raw.filter(({ payload }) => encodingOf(payload) === ENCRYPTED_ENCODING).map(({ payload }) => payloadToJson(payload as never));
    const data = Buffer.from(first!.data!, 'base64');
    data[data.length - 1] = data[data.length - 1]! ^ 0xff;
    const response = await codec('/decode', { payloads: [{ ...first, data: data.toString('base64') }] }, { Origin: UI_ORIGIN });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
  });
});

describe('a failed post in Temporal history', () => {
  test('when an activity fails, then the failure message is encrypted and decodes through the codec', async () => {
    h.fakeX.injectFault({ kind: 'unauthorized' }, 5);
    const { post, history } = await publishAndFetchHistory(`Bad token ${Date.now()}`);
    expect(post.status).toBe('failed');
    const failed = history.events!.find((event) => event.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes;
    expect(failed).toBeDefined();
    const failure = failed!.failure!;
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace ?? '').toBe('');
    expect(encodingOf(failure.encodedAttributes!)).toBe(ENCRYPTED_ENCODING);

    const response = await codec('/decode', { payloads: [payloadToJson(failure.encodedAttributes as never)] }, { Origin: UI_ORIGIN });
    expect(response.status).toBe(200);
    const attributes = JSON.parse(decodedText(response.body.payloads[0])) as { message: string };
    expect(attributes.message.length).toBeGreaterThan(5);
    expect(attributes.message).not.toBe('Encoded failure');
    expect(post.targets[0].error).toContain(attributes.message.slice(0, 10));
  });
});

describe('the codec endpoint for the Web UI', () => {
  test('when the browser sends the CORS preflight from the UI origin, then it is allowed with the UI headers', async () => {
    for (const path of ['/codec/decode', '/codec/encode']) {
      const response = await fetch(`${h.app.url}${path}`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://127.0.0.1:8233', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
      expect(response.headers.get('access-control-allow-methods')).toContain('POST');
      const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const header of ['x-namespace', 'content-type', 'authorization']) expect(allowed).toContain(header);
    }
  });

  test('when another origin asks, then no CORS permission is given and an unauthenticated call is refused', async () => {
    const preflight = await fetch(`${h.app.url}/codec/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const call = await codec('/decode', { payloads: [] }, { Origin: 'http://evil.example' });
    expect(call.status).toBe(401);
    const noOrigin = await codec('/decode', { payloads: [] });
    expect(noOrigin.status).toBe(401);
  });

  test('when the UI encodes a value (e.g. a signal argument), then decode gives it back', async () => {
    const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"scheduledFor":"2030-01-01T00:00:00Z"}').toString('base64') };
    const encoded = await codec('/encode', { payloads: [plain] }, { Origin: UI_ORIGIN });
    expect(encoded.status).toBe(200);
    expect(Buffer.from(encoded.body.payloads[0].metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    expect(encoded.body.payloads[0].data).not.toBe(plain.data);
    const decoded = await codec('/decode', encoded.body, { Origin: UI_ORIGIN });
    expect(decoded.body.payloads).toEqual([plain]);
  });
});

describe('who may reach the codec, and how much', () => {
  const opened: RunningApp[] = [];
  afterAll(async () => {
    for (const app of opened) await app.stop();
  });
  const logger = createLogger(process.env.HERALD_TEST_LOG_LEVEL ?? 'silent');
  const runPrefix = `herald:rl:codec-test:${process.pid}:${Date.now()}:`;
  /** Another API on the same services, with the codec options (and limits) the test gives. */
  async function codecApp(options: { allowLoopbackUi: boolean; maxBodyBytes?: number; limit?: number }): Promise<RunningApp> {
    const codecOptions = { codec: h.payloadCodec, namespace: 'default', corsOrigins: [UI_ORIGIN], allowLoopbackUi: options.allowLoopbackUi, maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024 };
    const rule = { limit: options.limit ?? 1000, windowMs: 60_000 };
    const rateLimits = { enabled: true, keyPrefix: runPrefix + randomBytes(3).toString('hex') + ':', publish: rule, multiPlatform: rule, schedule: rule, list: rule, cancel: rule, accounts: rule, codec: rule };
    const app = await startApp(createApp({ orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger, codec: codecOptions, rateLimits }), 0);
    opened.push(app);
    return app;
  }
  const post = async (app: RunningApp, path: string, body: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${app.url}/codec${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as any, headers: response.headers };
  };
  const plain = JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"x"').toString('base64') }] });

  test('when unauthenticated decoding is not turned on, then the loopback UI origin alone is refused with 401', async () => {
    const app = await codecApp({ allowLoopbackUi: false });
    const response = await post(app, '/encode', plain, { Origin: UI_ORIGIN });
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('unauthorized');
    // With a credential it works: the operator surface is not gone, only the open door.
    const withKey = await post(app, '/encode', plain, { Origin: UI_ORIGIN, Authorization: `Bearer ${tenant.apiKey}` });
    expect(withKey.status).toBe(200);
  });

  test('when it is turned on, then a request forwarded by a proxy on loopback still needs a credential', async () => {
    const app = await codecApp({ allowLoopbackUi: true });
    expect((await post(app, '/encode', plain, { Origin: UI_ORIGIN })).status).toBe(200);
    expect((await post(app, '/encode', plain, { Origin: UI_ORIGIN, 'X-Forwarded-For': '203.0.113.7' })).status).toBe(401);
    expect((await post(app, '/encode', plain, { Origin: UI_ORIGIN, Forwarded: 'for=203.0.113.7' })).status).toBe(401);
  });

  test('when a large body comes without a credential, then the answer is 401 before the body is read; with one, beyond the limit is 413', async () => {
    const app = await codecApp({ allowLoopbackUi: false, maxBodyBytes: 64 * 1024 });
    const big = JSON.stringify({ payloads: [{ data: Buffer.alloc(200 * 1024, 1).toString('base64') }] });
    const anonymous = await post(app, '/decode', big);
    expect(anonymous.status).toBe(401);
    const bad = await post(app, '/decode', big, { Authorization: 'Bearer hk_not-a-key' });
    expect(bad.status).toBe(401);
    const tooLarge = await post(app, '/decode', big, { Authorization: `Bearer ${tenant.apiKey}` });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('payload_too_large');
    // Malformed JSON from an authenticated caller is a 400, not a 500.
    const broken = await post(app, '/decode', '{"payloads": [', { Authorization: `Bearer ${tenant.apiKey}` });
    expect(broken.status).toBe(400);
  });

  test('when one caller exceeds RATE_LIMIT_CODEC, then it gets 429 with Retry-After while another caller still passes', async () => {
    const app = await codecApp({ allowLoopbackUi: false, limit: 3 });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await post(app, '/encode', plain, { Authorization: `Bearer ${tenant.apiKey}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await post(app, '/encode', plain, { Authorization: `Bearer ${tenant.apiKey}` });
    expect(refused.body.error.details).toEqual(expect.objectContaining({ bucket: 'codec', limit: 3 }));
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await post(app, '/encode', plain, { Authorization: `Bearer ${other.apiKey}` })).status).toBe(200);
  });
});
