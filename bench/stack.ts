/**
 * The whole Herald the bench measures, started from nothing and torn down at the end:
 * a headless in-memory Temporal dev server (the project's CLI) on a free port, a fresh PostgreSQL
 * database (migrated here, dropped at the end), the local Redis, the fake X and LinkedIn servers in
 * this process, and the API and the worker as child processes running the real entry point as the
 * image runs it (`node dist/src/main.js --api|--worker`, compiled here when dist is older than the
 * sources; node itself so that /proc shows its memory). `BENCH_ENTRY=tsx` runs the TypeScript
 * sources through tsx instead (`npm start`'s way), the bare worker too, so that ratios compare like with like.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { MikroORM as CoreOrm } from '@mikro-orm/postgresql';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { configVariables, parseConfig } from '../src/config';
import { ensureDatabase, migrate, openOrm } from '../src/db/orm';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { FakeLinkedInServer } from '../test/fakes/linkedin-fake';
import { FakeXServer } from '../test/fakes/x-fake';
import { freePort } from '../test/support/ports';
import { eventually, heraldChildEnvironment } from './lib';

export const projectRoot = resolve(__dirname, '..');
const HUGE_LIMIT = 1_000_000_000;

/** Steps to undo, run last-in first-out, each bounded in time; safe to call more than once. */
export class Cleanup {
  private readonly steps: Array<{ name: string; run: () => Promise<unknown> }> = [];

  add(name: string, run: () => Promise<unknown>): void {
    this.steps.push({ name, run });
  }

  async runAll(log: (line: string) => void): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await withTimeout(step.run(), 30_000, `stopping ${step.name}`);
      } catch (err) {
        log(`cleanup: ${step.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Children still alive get SIGKILL when this process exits, whatever the reason. */
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

export interface BenchChild {
  name: string;
  pid: number;
  process: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export interface Stack {
  runTag: string;
  logDir: string;
  databaseUrl: string;
  /** The bench's own connection: tenants (admin bootstrap) and correctness checks. */
  orm: MikroORM;
  temporal: Client;
  temporalAddress: string;
  devServer: DevServer;
  fakeX: FakeXServer;
  fakeLinkedIn: FakeLinkedInServer;
  api: BenchChild & { url: string };
  worker: BenchChild & { healthUrl?: string };
  taskQueue: string;
  /** What the worker child runs with (parsed by the product's own config schema). */
  workerSettings: { maxConcurrentActivities: number; maxCachedWorkflows: number } & Record<string, unknown>;
  /** The environment the Herald children got, secrets masked. */
  childEnv: Record<string, string>;
  startBareWorker(taskQueue: string): Promise<BenchChild>;
  /** Set while the baseline's worker runs (for the CPU meter). */
  bareWorkerPid?: number;
  /** The worker's /metrics text (Herald's and the Temporal SDK's), when the worker serves it. */
  workerMetrics(): Promise<string | undefined>;
}

export async function startStack(cleanup: Cleanup, log: (line: string) => void): Promise<Stack> {
  const runTag = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const logDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  log(`logs of the child processes: ${logDir}`);

  const redisUrl = 'redis://127.0.0.1:6379';
  await pingRedis(redisUrl);

  const databaseUrl = `postgres://postgres@127.0.0.1:5432/herald_bench_${process.pid}_${Date.now()}`;
  await ensureDatabase(databaseUrl);
  cleanup.add('the bench database', () => dropDatabase(databaseUrl));
  const orm = await openOrm(databaseUrl, { pool: { min: 0, max: 6 } });
  cleanup.add('the bench database connection', () => orm.close(true));
  await migrate(orm);
  log(`database ${new URL(databaseUrl).pathname.slice(1)} created and migrated`);

  const devServer = await startDevServer({ port: await freePort(), logLevel: 'error', startTimeoutMs: 90_000 });
  trackChild(devServer.process);
  cleanup.add('the Temporal dev server', () => devServer.stop());
  log(`Temporal dev server (in-memory, headless) on ${devServer.address}, pid ${devServer.process.pid}`);
  const connection = await Connection.connect({ address: devServer.address });
  cleanup.add('the bench Temporal connection', () => connection.close());
  const temporal = new Client({ connection, namespace: 'default' });

  const fakeX = new FakeXServer({ rateLimitPerWindow: HUGE_LIMIT, userDailyLimit: HUGE_LIMIT, appDailyLimit: HUGE_LIMIT });
  await fakeX.start();
  cleanup.add('the fake X', () => fakeX.stop());
  const fakeLinkedIn = new FakeLinkedInServer({ dailyPostLimit: HUGE_LIMIT });
  await fakeLinkedIn.start();
  cleanup.add('the fake LinkedIn', () => fakeLinkedIn.stop());

  const taskQueue = `herald-bench-${runTag}`;
  const apiPort = await freePort();
  const env = await childEnvironment({ databaseUrl, redisUrl, temporalAddress: devServer.address, taskQueue, apiPort, fakeX, fakeLinkedIn });
  const settings = parseConfig(env);

  const entry = heraldEntry(log);
  const api = spawnNode('api', [entry, '--api'], env, logDir);
  cleanup.add('the API process', () => api.stop());
  // BENCH_WORKER_NODE_ARGS: node flags for the worker child only (e.g. V8 heap flags under test).
  const workerNodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // BENCH_WORKER_ENTRY: another entry for the worker alone (an experiment); otherwise the API's.
  const workerEntry = process.env.BENCH_WORKER_ENTRY ?? entry;
  const worker = spawnNode('worker', [...workerNodeArgs, workerEntry, '--worker'], env, logDir);
  cleanup.add('the worker process', () => worker.stop());
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const healthUrl = env.WORKER_HEALTH_PORT ? `http://127.0.0.1:${env.WORKER_HEALTH_PORT}` : undefined;
  await waitForHerald(apiUrl, healthUrl, [api, worker]);
  log(`API pid ${api.pid} on ${apiUrl}; worker pid ${worker.pid} polling "${taskQueue}"`);

  return {
    runTag,
    logDir,
    databaseUrl,
    orm,
    temporal,
    temporalAddress: devServer.address,
    devServer,
    fakeX,
    fakeLinkedIn,
    api: { ...api, url: apiUrl },
    worker: { ...worker, healthUrl },
    taskQueue,
    workerSettings: { ...settings.worker },
    childEnv: {
      ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, k === 'TOKEN_ENCRYPTION_KEYS' ? 'bench:<random>' : v])),
      ...(workerNodeArgs.length ? { BENCH_WORKER_NODE_ARGS: workerNodeArgs.join(' ') } : {}),
      BENCH_ENTRY: entry === COMPILED_ENTRY ? 'dist' : 'tsx',
      ...(process.env.BENCH_WORKER_ENTRY ? { BENCH_WORKER_ENTRY: workerEntry } : {}),
    },
    startBareWorker: (queue) => startBareWorker(queue, devServer.address, settings.worker, logDir, cleanup, entry === COMPILED_ENTRY ? compiledBareWorker() : 'bench/bare-worker.ts'),
    async workerMetrics() {
      if (!healthUrl) return undefined;
      const response = await fetch(`${healthUrl}/metrics`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      return response?.ok ? response.text() : undefined;
    },
  };
}

const COMPILED_ENTRY = 'dist/src/main.js';
/** What `tsc -p tsconfig.build.json` compiles (the Dockerfile's build stage), with the fakes src/sandbox imports. */
const BUILT_SOURCES = ['src', 'workflows', 'activities', 'test/fakes'];

/**
 * The API's and the worker's entry point: compiled JavaScript as the image runs it (Dockerfile
 * CMD `node dist/src/main.js`), built now if any source is newer than its output; `BENCH_ENTRY=tsx`
 * for the sources through tsx. Through tsx the worker measured ~30-40 MB more (its loader, also in
 * the SDK's workflow thread, which inherits the flags, and source maps).
 */
function heraldEntry(log: (line: string) => void): string {
  const mode = process.env.BENCH_ENTRY ?? 'dist';
  if (mode === 'tsx') return 'src/main.ts';
  if (mode !== 'dist') throw new Error(`BENCH_ENTRY is "dist" (the default, compiled as the image runs it) or "tsx", not "${mode}"`);
  const stale = staleOutputs();
  if (stale.length > 0) {
    log(`compiling Herald as the image does (tsc -p tsconfig.build.json): ${stale.length} file(s) newer than dist, e.g. ${stale[0]}`);
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    } catch (err) {
      const output = err && typeof err === 'object' && 'stdout' in err ? String((err as { stdout: unknown }).stdout).slice(0, 4000) : String(err);
      throw new Error(`the build failed, so dist would not be the code under test (BENCH_ENTRY=tsx runs the sources instead):\n${output}`);
    }
    const still = staleOutputs();
    if (still.length > 0) throw new Error(`dist is still older than the sources after the build: ${still.slice(0, 5).join(', ')}`);
  }
  return COMPILED_ENTRY;
}

/** Sources (.ts, not .d.ts) whose dist/…/.js is missing or older. */
function staleOutputs(): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(projectRoot, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const output = join(projectRoot, 'dist', path.replace(/\.ts$/, '.js'));
        if (!existsSync(output) || statSync(output).mtimeMs < statSync(join(projectRoot, path)).mtimeMs) stale.push(path);
      }
    }
  };
  for (const dir of BUILT_SOURCES) if (existsSync(join(projectRoot, dir))) walk(dir);
  return stale;
}

/**
 * The bare worker compiled like Herald's (no tsx loader in it or its workflow thread), so that the
 * worker CPU ratios compare like with like: its three files transpiled to dist/bench (the bare
 * workflow is bundled by the SDK from the .js file as Herald's is from dist/workflows).
 */
function compiledBareWorker(): string {
  const { options } = ts.convertCompilerOptionsFromJson(JSON.parse(readFileSync(join(projectRoot, 'tsconfig.json'), 'utf8')).compilerOptions, projectRoot);
  for (const name of ['bare-worker', 'bare-activities', 'bare-workflow']) {
    const source = join(projectRoot, 'bench', `${name}.ts`);
    const output = join(projectRoot, 'dist', 'bench', `${name}.js`);
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), { compilerOptions: { ...options, sourceMap: false, inlineSourceMap: false }, fileName: source });
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(output, outputText);
  }
  return relative(projectRoot, join(projectRoot, 'dist', 'bench', 'bare-worker.js'));
}

interface EnvInputs {
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
  taskQueue: string;
  apiPort: number;
  fakeX: FakeXServer;
  fakeLinkedIn: FakeLinkedInServer;
}

/** Exactly what the children get (bench/lib.ts heraldChildEnvironment), plus worker tuning set on the bench. */
async function childEnvironment(inputs: EnvInputs): Promise<Record<string, string>> {
  const env = heraldChildEnvironment({
    purpose: 'bench',
    ...inputs,
    twitterApiBaseUrl: inputs.fakeX.baseUrl,
    linkedinApiBaseUrl: inputs.fakeLinkedIn.baseUrl,
    linkedinApiVersion: lastMonthsLinkedInVersion(),
    // No Meta fake is needed; a closed loopback port keeps any stray call on this machine.
    metaGraphApiBaseUrl: 'http://127.0.0.1:9',
  });
  const known = new Set<string>(configVariables);
  for (const port of ['WORKER_HEALTH_PORT', 'WORKER_SDK_METRICS_PORT']) {
    if (known.has(port)) env[port] = String(await freePort());
  }
  // Tuning under test: `WORKER_MAX_CACHED_WORKFLOWS=200 npm run bench` reaches the worker child.
  for (const name of known) {
    const value = process.env[name];
    if (/^(WORKER_MAX_|PLATFORM_HTTP_TIMEOUT_MS$)/.test(name) && value !== undefined) env[name] = value;
  }
  // glibc's malloc tuning (MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_, …) must be in the environment before a
  // process starts: 2 arenas as the image and the npm scripts run Herald (MALLOC_ARENA_MAX=16 here is glibc's
  // default on 2 cores, to measure without), other MALLOC_* variables passed on for trying them.
  env.MALLOC_ARENA_MAX = HERALD_MALLOC_ARENA_MAX;
  for (const [name, value] of Object.entries(process.env)) if (/^MALLOC_[A-Z_]+$/.test(name) && value !== undefined) env[name] = value;
  return env;
}

/** LinkedIn serves monthly versions for about a year: last month's is always active. */
export function lastMonthsLinkedInVersion(): string {
  const date = new Date();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() - 1);
  return `${date.getUTCFullYear()}${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * glibc's malloc arenas for a Herald process (Dockerfile, package.json start scripts, the bench and
 * the soak): the Temporal core's Rust threads otherwise get an arena each (up to 8 per core), which
 * held ~115 MB of a worker's RSS with 10,000 waiting posts against ~40 MB with 2 (bench --only=memory).
 */
export const HERALD_MALLOC_ARENA_MAX = '2';

/**
 * `node --import tsx <script>` with node itself as the child (not a wrapper), output to a log file;
 * MALLOC_ARENA_MAX=2 unless `env` says otherwise.
 */
export function spawnNode(name: string, args: string[], env: Record<string, string>, logDir: string, stdout: 'log' | 'pipe' = 'log', cwd = projectRoot): BenchChild {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // BENCH_CPU_PROFILE=1: each child writes a V8 CPU profile (open in Chrome DevTools) into the log folder on exit.
    const profile = process.env.BENCH_CPU_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, `profile-${name}`)}`] : [];
    // Compiled JavaScript (a .js script) runs without the TypeScript loader.
    const loader = args.some((arg) => arg.endsWith('.js')) ? [] : ['--import', 'tsx'];
    child = spawn(process.execPath, [...profile, ...loader, ...args], { cwd, env: { MALLOC_ARENA_MAX: HERALD_MALLOC_ARENA_MAX, ...env }, stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd] });
  } finally {
    closeSync(fd);
  }
  trackChild(child);
  if (child.pid === undefined) throw new Error(`could not start the ${name} process`);
  return { name, pid: child.pid, process: child, logFile, stop: () => stopChild(child) };
}

/** SIGTERM (the entry point shuts down gracefully), SIGKILL after 15 s. */
export function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const giveUp = setTimeout(resolveStop, graceMs + 5000);
    child.once('exit', () => {
      clearTimeout(killer);
      clearTimeout(giveUp);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

function exitedEarly(children: BenchChild[]): BenchChild | undefined {
  return children.find((c) => c.process.exitCode !== null || c.process.signalCode !== null);
}

export function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Ready when the worker says so (/readyz) and the API's /health sees every dependency, the worker's polls included. */
async function waitForHerald(apiUrl: string, healthUrl: string | undefined, children: BenchChild[]): Promise<void> {
  await eventually(async () => {
    const dead = exitedEarly(children);
    if (dead) throw new Fatal(`the ${dead.name} process exited during start-up:\n${tailOf(dead.logFile)}`);
    if (healthUrl) {
      const ready = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
      if (!ready?.ok) return undefined;
    }
    const health = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    return health?.ok ? true : undefined;
  }, 240_000, 'the API and the worker to be ready', 500).catch((err: unknown) => {
    if (err instanceof Fatal) throw err;
    const tails = children.map((c) => `--- ${c.name} (${c.logFile}):\n${tailOf(c.logFile)}`).join('\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tails}`);
  });
}

class Fatal extends Error {}

/** The baseline's worker: a child of its own (like Herald's), same slot and cache settings. */
async function startBareWorker(
  taskQueue: string,
  address: string,
  settings: { maxConcurrentActivities: number; maxCachedWorkflows: number },
  logDir: string,
  cleanup: Cleanup,
  script: string,
): Promise<BenchChild> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    BENCH_TEMPORAL_ADDRESS: address,
    BENCH_TASK_QUEUE: taskQueue,
    BENCH_MAX_CONCURRENT_ACTIVITIES: String(settings.maxConcurrentActivities),
    BENCH_MAX_CACHED_WORKFLOWS: String(settings.maxCachedWorkflows),
  };
  const child = spawnNode('bare-worker', [script], env, logDir, 'pipe');
  cleanup.add('the bare worker process', () => child.stop());
  await new Promise<void>((resolveReady, rejectReady) => {
    let buffered = '';
    const timer = setTimeout(() => rejectReady(new Error(`the bare worker did not start within 120 s:\n${tailOf(child.logFile)}`)), 120_000);
    child.process.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      if (buffered.includes('BARE_WORKER_READY')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    child.process.once('exit', (code) => {
      clearTimeout(timer);
      rejectReady(new Error(`the bare worker exited with ${code}:\n${tailOf(child.logFile)}`));
    });
  });
  child.process.stdout?.resume();
  return child;
}

async function pingRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not answering at ${url} (start it first): ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    redis.disconnect();
  }
}

/** Drops the bench database, disconnecting whatever still holds it. */
async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^herald_bench_[A-Za-z0-9_]+$/.test(name)) throw new Error(`refusing to drop ${name}: not a bench database`);
  url.pathname = '/postgres';
  const admin = await CoreOrm.init({ clientUrl: url.toString(), entities: [], discovery: { warnWhenNoEntities: false }, pool: { min: 0, max: 1 } });
  try {
    await admin.em.getConnection().execute(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.close(true);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    }),
  ]);
}

