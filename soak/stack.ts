/**
 * The whole Herald the soak tortures, started from nothing and torn down at the end: its own
 * PostgreSQL, Redis and Temporal dev server (soak/services.ts), the fakes of X, LinkedIn and Meta
 * in this process, the API and two workers as supervised child processes running the real entry
 * point (`node --import tsx src/main.ts --api|--worker`), and tenants with accounts on every platform.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Client, Connection } from '@temporalio/client';
import { bootstrap } from '../src/admin';
import { parseConfig } from '../src/config';
import { ensureDatabase, migrate, openOrm } from '../src/db/orm';
import { heraldDataConverter, payloadKeysFor } from '../src/temporal/payload-codec';
import { heraldChildEnvironment } from '../bench/lib';
import { Cleanup, lastMonthsLinkedInVersion, projectRoot, tailOf } from '../bench/stack';
import { FakeLinkedInServer } from '../test/fakes/linkedin-fake';
import { FakeMetaGraphServer } from '../test/fakes/meta-fake';
import { FakeXServer } from '../test/fakes/x-fake';
import { freePort } from '../test/support/ports';
import { answersOk, SupervisedChild } from './children';
import { OwnDevServer, OwnPostgres, OwnRedis, sleep } from './services';

const HUGE_LIMIT = 1_000_000_000;

export interface Fakes {
  x: FakeXServer;
  linkedin: FakeLinkedInServer;
  meta: FakeMetaGraphServer;
}

/** One business with an API key and an account on each platform (ids as the fakes know them). */
export interface Tenant {
  businessId: number;
  apiKey: string;
  xUserId: string;
  linkedinUrn: string;
  facebookPageId: string;
  instagramId: string;
}

export interface StackSettings {
  /** PLATFORM_HTTP_TIMEOUT_MS of the children: faults are sized against it. */
  httpTimeoutMs: number;
  /** WORKER_UNREACHABLE_EXIT_AFTER_MS: a little above the dev server outage the soak injects. */
  unreachableExitAfterMs: number;
  tenants: number;
}

export interface SoakStack {
  runTag: string;
  workDir: string;
  logDir: string;
  postgres: OwnPostgres;
  redis: OwnRedis;
  devServer: OwnDevServer;
  /** The soak's own Temporal client (with Herald's data converter: payloads are encrypted). */
  temporal: Client;
  /** The soak's own database connection: tenants at the start, the post list at the end. */
  orm: MikroORM;
  fakes: Fakes;
  api: SupervisedChild & { url: string };
  workers: SupervisedChild[];
  tenants: Tenant[];
  taskQueue: string;
  /** The environment the Herald children got, secrets masked. */
  childEnv: Record<string, string>;
}

export async function startSoakStack(settings: StackSettings, cleanup: Cleanup, log: (line: string) => void): Promise<SoakStack> {
  const runTag = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const workDir = mkdtempSync(join(tmpdir(), 'herald-soak-'));
  const logDir = join(workDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  log(`work folder (SQLite file, logs of the child processes): ${workDir}`);

  const postgres = await OwnPostgres.start(log);
  cleanup.add('PostgreSQL', () => postgres.stop());
  await ensureDatabase(postgres.url);
  const orm = await openOrm(postgres.url, { pool: { min: 0, max: 4 } });
  cleanup.add('the soak database connection', () => orm.close(true));
  await migrate(orm);

  const redis = await OwnRedis.start(logDir, log);
  cleanup.add('Redis', () => redis.stop());

  const devServer = await OwnDevServer.start(workDir, log);
  cleanup.add('the Temporal dev server', () => devServer.stop());

  const fakes: Fakes = {
    x: new FakeXServer({ rateLimitPerWindow: HUGE_LIMIT, userDailyLimit: HUGE_LIMIT, appDailyLimit: HUGE_LIMIT }),
    linkedin: new FakeLinkedInServer({ dailyPostLimit: HUGE_LIMIT }),
    meta: new FakeMetaGraphServer({ processingDelayMs: 300, defaultQuotaTotal: HUGE_LIMIT }),
  };
  await fakes.x.start();
  cleanup.add('the fake X', () => fakes.x.stop());
  await fakes.linkedin.start();
  cleanup.add('the fake LinkedIn', () => fakes.linkedin.stop());
  await fakes.meta.start();
  cleanup.add('the fake Meta Graph API', () => fakes.meta.stop());

  const taskQueue = `herald-soak-${runTag}`;
  const apiPort = await freePort();
  const env = childEnvironment({ databaseUrl: postgres.url, redisUrl: redis.url, temporalAddress: devServer.address, taskQueue, apiPort, fakes, settings });
  const dataConverter = heraldDataConverter(payloadKeysFor(parseConfig(env)));
  const connection = await Connection.connect({ address: devServer.address });
  cleanup.add('the soak Temporal connection', () => connection.close());
  const temporal = new Client({ connection, namespace: 'default', dataConverter });

  const appDir = snapshotEngine(workDir);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = Object.assign(
    new SupervisedChild('api', ['src/main.ts', '--api'], env, logDir, log, () => answersOk(`${apiUrl}/health`), appDir),
    { url: apiUrl },
  );
  const workers: SupervisedChild[] = [];
  for (const name of ['worker-1', 'worker-2']) {
    const healthPort = await freePort();
    const workerEnv = { ...env, WORKER_HEALTH_PORT: String(healthPort), WORKER_SDK_METRICS_PORT: String(await freePort()) };
    workers.push(new SupervisedChild(name, ['src/main.ts', '--worker'], workerEnv, logDir, log, () => answersOk(`http://127.0.0.1:${healthPort}/readyz`), appDir));
  }
  // The first worker migrates nothing new (done above) but creates the Schedules; start it first so
  // that two processes do not race on creating them.
  for (const child of [workers[0]!, api, workers[1]!]) {
    child.start();
    cleanup.add(`the ${child.name} process`, () => child.stop());
    if (child === workers[0]) await sleep(2000);
  }
  for (const child of [api, ...workers]) {
    // A child that cannot even start (a broken build) ends the run at once instead of after the timeout.
    const ready = await child.waitReady(240_000, 250, () => child.exits.length >= 2);
    if (ready === undefined) throw new Error(`${child.name} did not become ready (${child.exits.length} exits; log: ${child.logFile}):\n${tailOf(child.logFile, 15)}`);
  }
  log(`API pid ${api.pid} on ${apiUrl}; workers pids ${workers.map((w) => w.pid).join(', ')} polling "${taskQueue}"`);

  const tenants: Tenant[] = [];
  for (let index = 1; index <= settings.tenants; index++) tenants.push(await createTenant(orm, fakes, apiUrl, runTag, index));
  log(`${tenants.length} tenant(s), each with X, LinkedIn, Facebook and Instagram accounts`);

  return {
    runTag,
    workDir,
    logDir,
    postgres,
    redis,
    devServer,
    temporal,
    orm,
    fakes,
    api,
    workers,
    tenants,
    taskQueue,
    childEnv: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, k === 'TOKEN_ENCRYPTION_KEYS' ? 'soak:<random>' : v])),
  };
}

/**
 * The engine's code as it is when the soak starts, copied into the work folder: a child restarted
 * by the soak (after a SIGKILL) runs the same code as the one it replaces, even while someone edits
 * the working tree during a long run. Dependencies and tools are linked, not copied.
 */
function snapshotEngine(workDir: string): string {
  const appDir = join(workDir, 'app');
  mkdirSync(appDir, { recursive: true });
  // test/fakes too: the sandbox mode (off here, but imported by the entry point) is built on them.
  for (const entry of ['src', 'activities', 'workflows', 'test/fakes', 'package.json', 'tsconfig.json']) {
    cpSync(join(projectRoot, entry), join(appDir, entry), { recursive: true });
  }
  for (const entry of ['node_modules', '.tools', 'web', 'spec']) {
    if (existsSync(join(projectRoot, entry))) symlinkSync(join(projectRoot, entry), join(appDir, entry));
  }
  return appDir;
}

interface EnvInputs {
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
  taskQueue: string;
  apiPort: number;
  fakes: Fakes;
  settings: StackSettings;
}

/** Exactly what the children get (bench/lib.ts heraldChildEnvironment), pointing at the soak's own services and fakes. */
function childEnvironment(inputs: EnvInputs): Record<string, string> {
  return {
    ...heraldChildEnvironment({
      purpose: 'soak',
      ...inputs,
      twitterApiBaseUrl: inputs.fakes.x.baseUrl,
      linkedinApiBaseUrl: inputs.fakes.linkedin.baseUrl,
      metaGraphApiBaseUrl: inputs.fakes.meta.baseUrl,
      linkedinApiVersion: lastMonthsLinkedInVersion(),
    }),
    PLATFORM_HTTP_TIMEOUT_MS: String(inputs.settings.httpTimeoutMs),
    // LinkedIn's daily limit resets at 00:00 UTC; the soak's throttles reset after 20 s.
    LINKEDIN_THROTTLE_BACKOFF_MS: '20000',
    WORKER_UNREACHABLE_EXIT_AFTER_MS: String(inputs.settings.unreachableExitAfterMs),
    // The reconciler (docs/EXACTLY-ONCE.md) runs often enough to settle what the soak breaks within the drain.
    RECONCILE_INTERVAL_SECONDS: '10',
    RECONCILE_GRACE_SECONDS: '15',
  };
}

async function createTenant(orm: MikroORM, fakes: Fakes, apiUrl: string, runTag: string, index: number): Promise<Tenant> {
  const created = await bootstrap(orm, { business: `Soak ${runTag} tenant ${index}`, email: `soak-${runTag}-${index}@example.test` });
  const digits = (base: number) => String(base + index * 1_000 + Math.floor(Math.random() * 1_000));
  const tenant: Tenant = {
    businessId: created.businessId,
    apiKey: created.apiKey,
    xUserId: digits(4_200_000),
    linkedinUrn: `urn:li:organization:${digits(7_700_000)}`,
    facebookPageId: digits(555_000_000),
    instagramId: `1784${digits(10_000_000)}`,
  };
  const token = (platform: string) => `${platform}-soak-token-${runTag}-${index}`;
  fakes.x.addUser(tenant.xUserId, token('x'), `soak_${index}`);
  fakes.linkedin.addAuthor(tenant.linkedinUrn, token('li'), { canReadPosts: true });
  fakes.meta.addPage(tenant.facebookPageId, token('fb'));
  fakes.meta.addInstagramAccount(tenant.instagramId, token('ig'), { quotaTotal: HUGE_LIMIT });
  const accounts = [
    { platform: 'twitter', platformUserId: tenant.xUserId, accessToken: token('x') },
    { platform: 'linkedin', platformUserId: tenant.linkedinUrn, accessToken: token('li') },
    { platform: 'facebook', platformUserId: tenant.facebookPageId, accessToken: token('fb') },
    { platform: 'instagram', platformUserId: tenant.instagramId, accessToken: token('ig') },
  ];
  for (const account of accounts) {
    const response = await fetch(`${apiUrl}/api/v2/accounts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tenant.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ businessId: tenant.businessId, displayName: `${account.platform} soak ${index}`, ...account }),
      signal: AbortSignal.timeout(15_000),
    });
    if (response.status !== 201) throw new Error(`connecting ${account.platform} for tenant ${index} failed: ${response.status} ${await response.text()}`);
  }
  return tenant;
}
