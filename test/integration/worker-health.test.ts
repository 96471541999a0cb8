/**
 * The worker process (`src/main.ts --worker`, spawned for real) reports its health on
 * WORKER_HEALTH_PORT, stops cleanly when asked, and exits non-zero when its Temporal server is
 * gone for WORKER_UNREACHABLE_EXIT_AFTER_MS, so that an orchestrator restarts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { env, eventually } from '../support/harness';
import { freePort } from '../support/ports';

jest.setTimeout(180_000);

const projectRoot = resolve(__dirname, '..', '..');
const EXIT_AFTER_MS = 3000;
const METRICS_TOKEN = `metrics-${randomBytes(12).toString('hex')}`;

interface WorkerProcess {
  child: ChildProcess;
  healthUrl: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  output(): string;
}

async function spawnWorker(temporalAddress: string): Promise<WorkerProcess> {
  const healthPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--worker'], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: `health-${randomBytes(4).toString('hex')}`,
      DATABASE_URL: env('HERALD_TEST_DATABASE_URL'),
      REDIS_URL: env('HERALD_TEST_REDIS_URL'),
      TWITTER_API_BASE_URL: 'http://127.0.0.1:1',
      TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      HERALD_SANDBOX: '0',
      WORKER_HEALTH_PORT: String(healthPort),
      WORKER_SDK_METRICS_PORT: String(await freePort()),
      WORKER_UNREACHABLE_EXIT_AFTER_MS: String(EXIT_AFTER_MS),
      METRICS_TOKEN,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal, at: Date.now() })),
  );
  return { child, healthUrl: `http://127.0.0.1:${healthPort}`, exited, output: () => chunks.join('') };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(3000) });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

async function untilReady(worker: WorkerProcess): Promise<void> {
  await eventually(async () => ((await get(`${worker.healthUrl}/readyz`)).status === 200 ? true : undefined), 90_000, `worker ready\n${worker.output()}`);
}

function stopIfRunning(worker: WorkerProcess | undefined): void {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
}

describe('a worker process with its Temporal server up', () => {
  let worker: WorkerProcess | undefined;
  afterAll(() => stopIfRunning(worker));

  test('when it polls, then /healthz and /readyz answer 200, /metrics serves Herald and SDK metrics, and SIGTERM ends it with 0', async () => {
    worker = await spawnWorker(env('HERALD_TEST_TEMPORAL_ADDRESS'));
    await untilReady(worker);

    const liveness = await get(`${worker.healthUrl}/healthz`);
    expect(liveness.status).toBe(200);
    expect(liveness.body).toEqual({ status: 'ok', workerState: 'RUNNING' });

    const readiness = await get(`${worker.healthUrl}/readyz`);
    expect(readiness.status).toBe(200);
    expect(readiness.body).toMatchObject({ status: 'ready', workerState: 'RUNNING', temporal: 'ok' });

    const metrics = await eventually(async () => {
      const scraped = await get(`${worker!.healthUrl}/metrics`, { Authorization: `Bearer ${METRICS_TOKEN}` });
      return /^temporal_num_pollers\{/m.test(scraped.text) ? scraped : undefined;
    }, 30_000, 'SDK metrics on the health port');
    // METRICS_TOKEN is set: without it (or with another), /metrics says nothing, even on loopback.
    const anonymous = await get(`${worker.healthUrl}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toContain('herald_');
    expect((await get(`${worker.healthUrl}/metrics`, { Authorization: 'Bearer not-the-metrics-token' })).status).toBe(401);
    expect(metrics.text).toContain('# TYPE herald_parts_published_total counter');
    expect(metrics.text).toContain('# TYPE herald_publish_lateness_seconds histogram');
    expect(metrics.text).toMatch(/^process_resident_memory_bytes /m);

    expect((await get(`${worker.healthUrl}/nothing-here`)).status).toBe(404);

    worker.child.kill('SIGTERM');
    const { code } = await worker.exited;
    expect(code).toBe(0);
  });
});

describe('a worker process whose Temporal server goes away', () => {
  let server: DevServer | undefined;
  let worker: WorkerProcess | undefined;
  afterAll(async () => {
    stopIfRunning(worker);
    await server?.stop();
  });

  test('when the server stays unreachable, then /readyz turns 503 and the process exits non-zero within the configured window', async () => {
    server = await startDevServer({ port: await freePort(), logLevel: 'error' });
    worker = await spawnWorker(server.address);
    await untilReady(worker);

    await server.stop();
    const stoppedAt = Date.now();

    const notReady = await eventually(async () => {
      const readiness = await get(`${worker!.healthUrl}/readyz`);
      return readiness.status === 503 ? readiness : undefined;
    }, EXIT_AFTER_MS, 'readiness to fail');
    expect(notReady.body).toMatchObject({ status: 'not_ready' });
    // What is down, not why: the error text stays in the worker's log.
    expect(notReady.body.temporal).toBe('unreachable');
    expect((await get(`${worker.healthUrl}/healthz`)).status).toBe(200);

    const { code, at } = await worker.exited;
    expect(code).toBe(1);
    // It waits for the window (less the first check's timeout) and does not linger much beyond it.
    expect(at - stoppedAt).toBeGreaterThanOrEqual(EXIT_AFTER_MS - 1000);
    expect(at - stoppedAt).toBeLessThan(EXIT_AFTER_MS + 12_000);
    expect(worker.output()).toContain('Temporal has been unreachable for too long');
  });
});
