/**
 * What `npm start` runs: with no TEMPORAL_ADDRESS, an embedded Temporal dev server (Web UI on :8233,
 * SQLite file so restarts keep workflows), then the API and the worker in one process.
 * `--api` or `--worker` runs one role only (scale workers by running more of them).
 */
import { Connection, Client } from '@temporalio/client';
import { createActivities } from '../activities';
import { DEFAULT_SEND_WINDOW } from '../activities/publish-part';
import { loadConfig, type Config } from './config';
import { ensureDatabase, migrate, openOrm } from './db/orm';
import { createLogger, type Logger } from './logger';
import { createPublishers } from './platforms/registry';
import { tokenKeysFor } from './security/dev-secrets';
import { TokenCipher } from './security/token-cipher';
import type { HeraldEvents } from './observability/events';
import { fanOutEvents } from './observability/fan-out';
import { createLogEvents } from './observability/log-events';
import { createMetricsEvents, createMetricsRegistry } from './observability/metrics';
import { startTemporalWatchdog, startWorkerHealthServer, workerMetricsSource } from './observability/worker-health';
import { temporalTarget, type TemporalTarget } from './temporal/connection';
import { startDevServer, type DevServer } from './temporal/dev-server';
import { installTemporalRuntime } from './temporal/runtime-logging';
import { startWorker, type HeraldWorker } from './temporal/worker';
import { heraldDataConverter, payloadKeysFor, type AesGcmPayloadCodec } from './temporal/payload-codec';
import type { Sandbox } from './sandbox';
import { oauthProvidersFromConfig, oauthSettingsFromConfig, type OAuthProviders } from './oauth/providers';
import { ensureTokenRefreshSchedule } from './oauth/refresh-schedule';
import { ensureReconcileSchedule } from './temporal/reconcile-schedule';
import type { SandboxOAuth } from './oauth/sandbox';
import type { Registry } from 'prom-client';
// The API's modules (express, its routes, ioredis) are loaded only where the API runs: a worker
// process does not carry them (src/main.ts startApi).
import type { RunningApp } from './api/app';

type Role = 'api' | 'worker';

function rolesFrom(argv: string[]): Set<Role> {
  if (argv.includes('--api')) return new Set(['api']);
  if (argv.includes('--worker')) return new Set(['worker']);
  return new Set(['api', 'worker']);
}

async function main(): Promise<void> {
  const roles = rolesFrom(process.argv.slice(2));
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { roles: [...roles].join('+') });
  const stoppers: Array<() => Promise<unknown>> = [];
  const shutdown = onceShutdown(logger, stoppers);
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  try {
    // The SDK's exporter runs only where a worker runs: the API uses the pure-JS client, not the native runtime.
    installTemporalRuntime(logger, { prometheusBindAddress: roles.has('worker') ? sdkMetricsAddress(config) : undefined });
    // Client and worker share one data converter: payloads and failure messages are encrypted.
    const dataConverter = heraldDataConverter(payloadKeysFor(config));
    const devServer = await maybeStartDevServer(config, roles, logger);
    if (devServer) stoppers.unshift(() => devServer.stop());
    const target = temporalTarget(config.temporal, devServer?.address ?? config.temporal.address ?? `127.0.0.1:${config.temporal.dev.port}`, dataConverter);

    await ensureDatabase(config.databaseUrl);
    const orm = await openOrm(config.databaseUrl);
    stoppers.unshift(() => orm.close(true));
    const applied = await migrate(orm);
    if (applied.length > 0) logger.info({ applied }, 'database migrations applied');

    const { sandbox, sandboxOAuth } = config.sandbox ? await startSandboxMode(config, orm, logger) : { sandbox: undefined, sandboxOAuth: undefined };
    if (sandbox) stoppers.unshift(() => sandbox.stop());
    if (sandboxOAuth) stoppers.unshift(() => sandboxOAuth.stop());
    const oauth = sandboxOAuth?.providers ?? oauthProvidersFromConfig(config);
    const publishers = createPublishers(withSandbox(config, sandbox));
    const cipher = new TokenCipher(tokenKeysFor(config));
    if (sandbox) sandbox.useCipher(cipher);

    const metricsRegistry = createMetricsRegistry({ processMetrics: true });
    const events = heraldEvents(metricsRegistry, logger);
    const deps: RoleDeps = { orm, publishers, cipher, logger, events, metricsRegistry, oauth };

    if (roles.has('worker')) {
      const worker = await startHeraldWorker(config, target, deps);
      stoppers.unshift(() => worker.shutdown());
      await ensureSchedules(config, target, worker, logger);
      // A worker that stops ends its process, 1 when it failed, so that an orchestrator restarts it.
      worker.running.then(
        () => void shutdown(0),
        () => void shutdown(1),
      );
      const health = await startWorkerHealth(config, worker, deps, () => void shutdown(1));
      stoppers.unshift(health.stop);
    }
    if (roles.has('api')) {
      const api = await startApi(config, target, deps, sandbox, dataConverter.payloadCodecs[0]);
      stoppers.unshift(api.stop);
      logger.info({ url: api.url, temporalUi: devServer?.uiUrl ?? config.temporal.webUiUrl, sandbox: Boolean(sandbox) }, 'Herald is running');
    }
  } catch (err) {
    logger.fatal({ err }, 'Herald could not start');
    await shutdown(1);
  }
}

/** Loopback only: the SDK's metrics reach scrapers through the worker health port, next to Herald's. */
function sdkMetricsAddress(config: Config): string | undefined {
  const port = config.workerHealth.sdkMetricsPort;
  return port === 0 ? undefined : `127.0.0.1:${port}`;
}

/** Metrics and structured logs hear every domain event; one object goes to the activities and the API. */
function heraldEvents(registry: Registry, logger: Logger): HeraldEvents {
  return fanOutEvents([createMetricsEvents(registry), createLogEvents(logger)], (event, err) =>
    logger.warn({ event, err: err instanceof Error ? err.message : String(err) }, 'a telemetry sink failed'),
  );
}

async function maybeStartDevServer(config: Config, roles: Set<Role>, logger: Logger): Promise<DevServer | undefined> {
  if (config.temporal.address || roles.size < 2) return undefined;
  logger.info({ port: config.temporal.dev.port, uiPort: config.temporal.dev.uiPort, dbFile: config.temporal.dev.dbFile }, 'starting the embedded Temporal dev server');
  return startDevServer({
    cliPath: config.temporal.cliPath,
    port: config.temporal.dev.port,
    uiPort: config.temporal.dev.uiPort,
    dbFile: config.temporal.dev.dbFile,
    namespace: config.temporal.namespace,
    // The dev Web UI decodes (decrypts) payloads in the browser through the API's codec endpoint.
    codecEndpoint: `${apiBaseUrl(config)}/codec`,
  });
}

/** Where a browser on this machine reaches the API (a wildcard bind is reached on localhost). */
function apiBaseUrl(config: Config): string {
  const host = ['0.0.0.0', '::', ''].includes(config.http.host) ? 'localhost' : config.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
}

/**
 * The sandbox's fakes are loaded only in sandbox mode: the production image leaves them out (they
 * live with the tests), so HERALD_SANDBOX there fails with this message instead of a module error.
 */
async function startSandboxMode(config: Config, orm: RoleDeps['orm'], logger: Logger): Promise<{ sandbox: Sandbox; sandboxOAuth: SandboxOAuth }> {
  let modules: [typeof import('./sandbox'), typeof import('./oauth/sandbox')];
  try {
    modules = await Promise.all([import('./sandbox'), import('./oauth/sandbox')]);
  } catch (err) {
    throw new Error(`sandbox mode (HERALD_SANDBOX) is not part of this build: its platform fakes are test code (${err instanceof Error ? err.message : String(err)})`);
  }
  const [{ startSandbox }, { startSandboxOAuth }] = modules;
  const sandbox = await startSandbox({ orm, logger });
  try {
    return { sandbox, sandboxOAuth: await startSandboxOAuth(logger, config.platforms.httpTimeoutMs) };
  } catch (err) {
    await sandbox.stop();
    throw err;
  }
}

function withSandbox(config: Config, sandbox: Sandbox | undefined): Pick<Config, 'platforms'> {
  if (!sandbox) return config;
  const { twitter, linkedin, meta } = sandbox.baseUrls;
  return { platforms: { ...config.platforms, twitterApiBaseUrl: twitter, linkedinApiBaseUrl: linkedin, metaGraphApiBaseUrl: meta } };
}

interface RoleDeps {
  orm: Awaited<ReturnType<typeof openOrm>>;
  publishers: ReturnType<typeof createPublishers>;
  cipher: TokenCipher;
  logger: Logger;
  events: HeraldEvents;
  metricsRegistry: Registry;
  /** Token endpoints (OAuth refresh in the worker); the sandbox's fake OAuth server in sandbox mode. */
  oauth: OAuthProviders;
}

/** The herald-token-refresh and herald-reconcile Schedules, created or updated by every worker at start; a failure is logged, not fatal. */
async function ensureSchedules(config: Config, target: TemporalTarget, worker: HeraldWorker, logger: Logger): Promise<void> {
  const client = new Client({ connection: worker.connection, namespace: target.namespace, dataConverter: target.dataConverter });
  const taskQueue = config.temporal.taskQueue;
  try {
    const { intervalMinutes, windowMinutes } = config.oauth.refresh;
    const scheduleId = await ensureTokenRefreshSchedule(client, { taskQueue, intervalMinutes, windowMinutes });
    logger.info({ scheduleId, intervalMinutes, windowMinutes }, 'token refresh schedule ready');
  } catch (err) {
    logger.error({ err }, 'could not create the token refresh schedule: expiring tokens are refreshed only when a publish needs it');
  }
  try {
    const scheduleId = await ensureReconcileSchedule(client, { taskQueue, ...config.reconcile });
    logger.info({ scheduleId, ...config.reconcile }, 'reconcile schedule ready');
  } catch (err) {
    logger.error({ err }, 'could not create the reconcile schedule: posts whose start was not confirmed wait until a worker creates it');
  }
}

async function startHeraldWorker(config: Config, target: TemporalTarget, deps: RoleDeps): Promise<HeraldWorker> {
  return startWorker({
    target,
    taskQueue: config.temporal.taskQueue,
    activities: createActivities({ ...deps, sendWindow: { ...DEFAULT_SEND_WINDOW, budgetMs: config.platforms.httpTimeoutMs, httpTimeoutMs: config.platforms.httpTimeoutMs } }),
    logger: deps.logger,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
  });
}

/**
 * /healthz, /readyz and /metrics on WORKER_HEALTH_PORT, and the watchdog that ends the process
 * (through `giveUp`) once Temporal has been unreachable for WORKER_UNREACHABLE_EXIT_AFTER_MS.
 */
async function startWorkerHealth(config: Config, worker: HeraldWorker, deps: RoleDeps, giveUp: () => void): Promise<{ stop(): Promise<void> }> {
  const watchdog = startTemporalWatchdog({
    probe: () => worker.checkTemporal(),
    unreachableExitAfterMs: config.workerHealth.unreachableExitAfterMs,
    logger: deps.logger,
    onGiveUp: (outage) => {
      deps.logger.fatal(outage, 'Temporal has been unreachable for too long: stopping the worker so that it gets restarted');
      giveUp();
    },
  });
  const sdkAddress = sdkMetricsAddress(config);
  const sources = {
    workerState: () => worker.worker.getState(),
    connection: () => watchdog.status(),
    metrics: workerMetricsSource(deps.metricsRegistry, sdkAddress && `http://${sdkAddress}/metrics`),
    metricsToken: config.metricsToken,
    logError: (err: unknown, path: string) => deps.logger.error({ err, path }, 'worker health request failed'),
  };
  try {
    const server = await startWorkerHealthServer(sources, config.workerHealth.port, config.http.host);
    deps.logger.info({ url: server.url }, 'worker health: /healthz, /readyz, /metrics');
    return {
      async stop() {
        watchdog.stop();
        await server.stop();
      },
    };
  } catch (err) {
    watchdog.stop();
    throw err;
  }
}

async function startApi(config: Config, target: TemporalTarget, deps: RoleDeps, sandbox: Sandbox | undefined, codec: AesGcmPayloadCodec): Promise<RunningApp> {
  const [{ createApp, startApp }, { isLoopbackHost }, { Redis }] = await Promise.all([import('./api/app'), import('./api/routes/codec'), import('ioredis')]);
  const connection = await Connection.connect({ address: target.address, apiKey: target.apiKey, tls: target.tls });
  const temporal = new Client({ connection, namespace: target.namespace, dataConverter: target.dataConverter });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
  redis.on('error', (err) => deps.logger.warn({ err: err.message }, 'redis error'));
  const codecRoute = {
    codec,
    namespace: target.namespace,
    corsOrigins: config.temporal.codec.corsOrigins,
    operatorKey: config.temporal.codec.apiKey,
    // Explicit (TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED, set by `npm start`), refused in production by the config.
    allowLoopbackUi: config.temporal.codec.allowUnauthenticated && config.env !== 'production' && isLoopbackHost(config.http.host),
    maxBodyBytes: config.temporal.codec.maxBodyBytes,
  };
  if (codecRoute.allowLoopbackUi) {
    deps.logger.warn('codec: the local dev Web UI may decode payloads without Authorization (TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED, loopback only)');
  }
  const app = createApp({
    ...deps,
    temporal,
    redis,
    taskQueue: config.temporal.taskQueue,
    sandbox,
    codec: codecRoute,
    oauth: oauthSettingsFromConfig(config, deps.oauth),
    metricsToken: config.metricsToken,
  });
  const running = await startApp(app, config.http.port, config.http.host);
  return {
    ...running,
    stop: async () => {
      await running.stop();
      redis.disconnect();
      await connection.close();
    },
  };
}

/** A stopper that hangs (a server that vanished mid-call) must not keep a dead process around. */
const SHUTDOWN_DEADLINE_MS = 30_000;

function onceShutdown(logger: Logger, stoppers: Array<() => Promise<unknown>>) {
  let started = false;
  return async (code: number) => {
    if (started) return;
    started = true;
    logger.info({ exitCode: code }, 'shutting down');
    setTimeout(() => {
      logger.error({ exitCode: code, deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time: exiting anyway');
      process.exit(code);
    }, SHUTDOWN_DEADLINE_MS).unref();
    for (const stop of stoppers) {
      await stop().catch((err: unknown) => logger.warn({ err }, 'error while stopping'));
    }
    process.exit(code);
  };
}

void main();
