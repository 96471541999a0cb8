/**
 * A whole Herald for one integration test file: real Temporal (the shared dev server), real
 * Postgres and Redis, the real API on port 0, a real worker on a task queue of its own, and the
 * fake X server in place of X.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Redis } from 'ioredis';
import { createActivities } from '../../activities';
import type { SendWindow } from '../../activities/publish-part';
import { createApp, startApp, type RunningApp } from '../../src/api/app';
import { bootstrap } from '../../src/admin';
import { openOrm } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import type { PublisherRegistry } from '../../src/platforms/publisher';
import { createPublishers } from '../../src/platforms/registry';
import { TokenCipher } from '../../src/security/token-cipher';
import { startWorker, type HeraldWorker } from '../../src/temporal/worker';
import { derivePayloadKeys, heraldDataConverter, type AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import type { DataConverter } from '@temporalio/common';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { FakeLinkedInServer } from '../fakes/linkedin-fake';
import { FakeMetaGraphServer } from '../fakes/meta-fake';
import { FakeOAuthServer } from '../fakes/oauth-fake';
import type { OAuthProviders } from '../../src/oauth/providers';
import { FakeXServer } from '../fakes/x-fake';

export interface Harness {
  orm: MikroORM;
  temporal: Client;
  redis: Redis;
  fakeX: FakeXServer;
  fakeLinkedIn: FakeLinkedInServer;
  fakeMeta: FakeMetaGraphServer;
  app: RunningApp;
  worker?: HeraldWorker;
  taskQueue: string;
  temporalAddress: string;
  databaseUrl: string;
  tokenKeysEnv: string;
  cipher: TokenCipher;
  publishers: PublisherRegistry;
  /** The fake OAuth servers of X, LinkedIn and Meta, and the providers config pointing at them (API and activities). */
  fakeOAuth: FakeOAuthServer;
  oauth: OAuthProviders;
  /** What client and worker encrypt payloads with: keys derived from the token key, as a `--worker` process given tokenKeysEnv derives them. */
  dataConverter: DataConverter;
  payloadCodec: AesGcmPayloadCodec;
  startWorker(): Promise<HeraldWorker>;
  /** A business with an API key, a connected X account (unless `x: false`) and the other platforms asked for. */
  tenant(options?: TenantOptions): Promise<Tenant>;
  close(): Promise<void>;
}

export interface TenantOptions {
  name?: string;
  x?: boolean;
  linkedin?: boolean;
  facebook?: boolean;
  instagram?: boolean;
}

export interface Tenant {
  businessId: number;
  userId: number;
  apiKey: string;
  xUserId: string;
  xToken: string;
  accountId?: number;
  /** The other platforms' ids (author URN, Page id, Instagram account id) and account ids, when connected. */
  linkedin?: { urn: string; token: string; accountId: number };
  facebook?: { pageId: string; token: string; accountId: number };
  instagram?: { igId: string; token: string; accountId: number };
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
}

export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run integration tests through jest (global setup)`);
  return value;
}

const workflowBundle = () => ({ code: readFileSync(env('HERALD_TEST_WORKFLOW_BUNDLE'), 'utf8') });
let tenantCounter = 0;

/** Tests stop servers on purpose: keep the SDK's retry warnings out of the output, errors stay. */
export function quietTemporalRuntime(): void {
  if (Runtime._instance) return;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }), forward: {} } },
  });
}

/**
 * The SDK shuts its core runtime down by itself when the last worker or native connection closes;
 * a harness without a worker never opened one, and the runtime's native threads would keep jest's
 * process alive after the last test. Shut it down once nothing uses it (a no-op while another
 * harness in the same file still runs a worker).
 */
async function shutdownRuntimeIfIdle(): Promise<void> {
  const runtime = Runtime._instance as unknown as { shutdownIfIdle(): Promise<void> } | undefined;
  await runtime?.shutdownIfIdle();
}

export async function createHarness(options: { worker?: boolean; temporalAddress?: string; httpTimeoutMs?: number; sandbox?: boolean } = {}): Promise<Harness> {
  quietTemporalRuntime();
  const databaseUrl = env('HERALD_TEST_DATABASE_URL');
  const temporalAddress = options.temporalAddress ?? env('HERALD_TEST_TEMPORAL_ADDRESS');
  const key = randomBytes(32);
  const tokenKeysEnv = `test1:${key.toString('base64')}`;
  const cipher = new TokenCipher([{ id: 'test1', key }]);
  const dataConverter = heraldDataConverter(derivePayloadKeys([{ id: 'test1', key }]));
  const payloadCodec = dataConverter.payloadCodecs[0];
  const logger = createLogger(process.env.HERALD_TEST_LOG_LEVEL ?? 'silent');
  const orm = await openOrm(databaseUrl, { pool: { min: 0, max: 5 } });
  const redis = new Redis(env('HERALD_TEST_REDIS_URL'), { maxRetriesPerRequest: 1 });
  const fakeX = new FakeXServer();
  await fakeX.start();
  const fakeLinkedIn = new FakeLinkedInServer();
  await fakeLinkedIn.start();
  const fakeMeta = new FakeMetaGraphServer({ processingDelayMs: 1500 });
  await fakeMeta.start();
  const publishers = createPublishers({
    platforms: {
      twitterApiBaseUrl: fakeX.baseUrl,
      linkedinApiBaseUrl: fakeLinkedIn.baseUrl,
      linkedinApiVersion: currentLinkedInVersion(),
      metaGraphApiBaseUrl: fakeMeta.baseUrl,
      metaGraphApiVersion: 'v21.0',
      httpTimeoutMs: options.httpTimeoutMs ?? 3000,
    },
  });
  const fakeOAuth = new FakeOAuthServer();
  await fakeOAuth.start();
  const oauth = fakeOAuth.providers();
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new Client({ connection, dataConverter });
  const taskQueue = `herald-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const codec = { codec: payloadCodec, namespace: 'default', corsOrigins: ['http://localhost:8233', 'http://127.0.0.1:8233'], allowLoopbackUi: true, maxBodyBytes: 1024 * 1024 };
  const app = await startApp(createApp({ orm, temporal, redis, taskQueue, publishers, cipher, logger, codec, oauth: { providers: oauth, stateTtlSeconds: 600 }, sandbox: options.sandbox ? { fakeX, fakeLinkedIn, fakeMeta } : undefined }), 0);

  const harness: Harness = {
    orm, temporal, redis, fakeX, fakeLinkedIn, fakeMeta, app, taskQueue, temporalAddress, databaseUrl, tokenKeysEnv, cipher, publishers, dataConverter, payloadCodec, fakeOAuth, oauth,
    async startWorker() {
      harness.worker = await startWorker({
        target: { address: temporalAddress, namespace: 'default', dataConverter },
        taskQueue,
        activities: createActivities({ orm, publishers, cipher, logger, oauth, sendWindow: testSendWindow(options.httpTimeoutMs ?? 3000) }),
        logger,
        workflowBundle: workflowBundle(),
      });
      return harness.worker;
    },
    tenant: (tenantOptions) => createTenant(harness, tenantOptions),
    async close() {
      await harness.worker?.shutdown();
      await app.stop();
      await fakeX.stop();
      await fakeLinkedIn.stop();
      await fakeMeta.stop();
      await fakeOAuth.stop();
      redis.disconnect();
      await connection.close();
      await orm.close(true);
      await shutdownRuntimeIfIdle();
    },
  };
  if (options.worker !== false) await harness.startWorker();
  return harness;
}

/** The fence's numbers scaled to the tests' platform timeout: a stalled attempt holds a part for budget + timeout + settle. */
export function testSendWindow(httpTimeoutMs: number): SendWindow {
  return { budgetMs: httpTimeoutMs, httpTimeoutMs, settleMs: 1000 };
}

/** LinkedIn serves monthly versions for about a year: use last month's, as a deployment would. */
function currentLinkedInVersion(): string {
  const date = new Date();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() - 1);
  return `${date.getUTCFullYear()}${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

async function connect(tenant: Tenant, platform: string, platformUserId: string, accessToken: string): Promise<number> {
  const response = await tenant.call('POST', '/api/v2/accounts', { businessId: tenant.businessId, platform, platformUserId, displayName: `${platform} ${platformUserId}`, accessToken });
  if (response.status !== 201) throw new Error(`connecting ${platform} failed: ${JSON.stringify(response.body)}`);
  return response.body.id;
}

async function connectOthers(harness: Harness, tenant: Tenant, options: TenantOptions, suffix: string): Promise<void> {
  const digits = () => String(100_000_000 + Math.floor(Math.random() * 800_000_000));
  if (options.linkedin) {
    const urn = `urn:li:organization:${digits()}`;
    const token = `li-token-${suffix}`;
    harness.fakeLinkedIn.addAuthor(urn, token, { canReadPosts: true });
    tenant.linkedin = { urn, token, accountId: await connect(tenant, 'linkedin', urn, token) };
  }
  if (options.facebook) {
    const pageId = digits();
    const token = `fb-page-token-${suffix}`;
    harness.fakeMeta.addPage(pageId, token);
    tenant.facebook = { pageId, token, accountId: await connect(tenant, 'facebook', pageId, token) };
  }
  if (options.instagram) {
    const igId = `1784${digits()}`;
    const token = `ig-token-${suffix}`;
    harness.fakeMeta.addInstagramAccount(igId, token);
    tenant.instagram = { igId, token, accountId: await connect(tenant, 'instagram', igId, token) };
  }
}

async function createTenant(harness: Harness, options: TenantOptions = {}): Promise<Tenant> {
  tenantCounter += 1;
  const suffix = `${process.pid}-${tenantCounter}-${randomBytes(3).toString('hex')}`;
  const created = await bootstrap(harness.orm, { business: options.name ?? `Business ${suffix}`, email: `owner-${suffix}@example.test` });
  const xUserId = String(1_000_000 + Math.floor(Math.random() * 1_000_000_000));
  const xToken = `x-user-token-${randomBytes(12).toString('hex')}`;
  const tenant: Tenant = {
    ...created,
    xUserId,
    xToken,
    call: (method, path, body) => call(harness.app.url, created.apiKey, method, path, body),
  };
  if (options.x !== false) {
    harness.fakeX.addUser(xUserId, xToken, `acme_${tenantCounter}`);
    const response = await tenant.call('POST', '/api/v2/accounts', {
      businessId: created.businessId, platform: 'twitter', platformUserId: xUserId, displayName: `@acme_${tenantCounter}`, accessToken: xToken,
    });
    if (response.status !== 201) throw new Error(`connecting X failed: ${JSON.stringify(response.body)}`);
    tenant.accountId = response.body.id;
  }
  await connectOthers(harness, tenant, options, suffix);
  return tenant;
}

export async function call(baseUrl: string, apiKey: string | undefined, method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed as any, headers: response.headers };
}

/** The post's workflow id, as stored on its row (`post-<id>-<random>`: unique for all time). */
export async function workflowIdOf(orm: MikroORM, postId: number): Promise<string> {
  const rows: Array<{ workflow_id: string }> = await orm.em.getConnection().execute('select workflow_id from posts where id = ?', [postId]);
  if (!rows[0]) throw new Error(`post ${postId} not found`);
  return rows[0].workflow_id;
}

/** A handle on the post's own workflow. */
export async function postHandle(h: { orm: MikroORM; temporal: Client }, postId: number) {
  return h.temporal.workflow.getHandle(await workflowIdOf(h.orm, postId));
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A thread-worthy text: `sentences` sentences of about 90 characters each. */
export function longText(sentences: number, tag = randomBytes(3).toString('hex')): string {
  return Array.from({ length: sentences }, (_, i) => `Sentence ${i + 1} of a long announcement ${tag}, written to fill the thread with enough words.`).join(' ');
}
