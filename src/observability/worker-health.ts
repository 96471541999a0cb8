/**
 * A worker process's own health: a watchdog that notices when Temporal can no longer be reached
 * (the SDK core retries polls forever, so a worker cut off from its server would otherwise idle
 * silently), and an HTTP server for orchestrators and Prometheus:
 *   GET /healthz  liveness: the process answers and its worker has not failed
 *   GET /readyz   readiness: the worker is RUNNING and Temporal answered the last check
 *   GET /metrics  Herald's metrics, followed by the Temporal SDK's own (worker, pollers, slots, requests)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { State as WorkerState } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger';
import { isForwarded } from '../security/credentials';
import { metricsAccess } from './metrics-access';

export interface ConnectionStatus {
  /** Undefined until the first check has answered. */
  reachable: boolean | undefined;
  /** When the current outage began. */
  unreachableSince?: Date;
  lastError?: string;
  lastCheckedAt?: Date;
}

export interface TemporalWatchdog {
  status(): ConnectionStatus;
  stop(): void;
}

export interface WatchdogOptions {
  /** Resolves when Temporal answered (e.g. `connection.workflowService.getSystemInfo({})`). */
  probe: () => Promise<unknown>;
  unreachableExitAfterMs: number;
  /** Called once, when Temporal has been unreachable for `unreachableExitAfterMs`. */
  onGiveUp: (outage: { unreachableForMs: number; lastError: string }) => void;
  logger: Logger;
  now?: () => number;
}

type ProbeOutcome = { ok: true } | { ok: false; error: string };

/**
 * Checks often enough to notice an outage several times before giving up, never more than every
 * 5 s (a check is one cheap RPC), and treats a check that does not answer in time as a failure:
 * the SDK core retries a call to a vanished server for many seconds before it rejects.
 */
export function startTemporalWatchdog(options: WatchdogOptions): TemporalWatchdog {
  const now = options.now ?? Date.now;
  const exitAfterMs = options.unreachableExitAfterMs;
  const intervalMs = clamp(exitAfterMs / 6, 200, 5000);
  const probeTimeoutMs = clamp(exitAfterMs / 4, 200, 5000);
  const status: ConnectionStatus = { reachable: undefined };
  let inFlight: Promise<ProbeOutcome> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  // One check at a time: a slow check is awaited again by the next tick instead of piling up calls.
  const checkOnce = async (): Promise<ProbeOutcome> => {
    inFlight ??= options.probe().then(
      (): ProbeOutcome => ({ ok: true }),
      (err: unknown): ProbeOutcome => ({ ok: false, error: describeError(err) }),
    ).finally(() => { inFlight = undefined; });
    return withTimeout(inFlight, probeTimeoutMs, { ok: false, error: `no answer within ${probeTimeoutMs} ms` });
  };

  const record = (outcome: ProbeOutcome): void => {
    const at = now();
    status.lastCheckedAt = new Date(at);
    if (outcome.ok) {
      if (status.reachable === false) {
        options.logger.info({ unreachableForMs: at - (status.unreachableSince?.getTime() ?? at) }, 'Temporal is reachable again');
      }
      Object.assign(status, { reachable: true, unreachableSince: undefined, lastError: undefined });
      return;
    }
    if (status.reachable !== false) {
      status.unreachableSince = new Date(at);
      options.logger.warn({ error: outcome.error, exitAfterMs }, 'Temporal is unreachable from this worker');
    }
    status.reachable = false;
    status.lastError = outcome.error;
  };

  const outageLongEnough = (): boolean =>
    status.reachable === false && now() - (status.unreachableSince?.getTime() ?? now()) >= exitAfterMs;

  const tick = async (): Promise<void> => {
    record(await checkOnce());
    if (stopped) return;
    if (outageLongEnough()) {
      stopped = true;
      options.onGiveUp({ unreachableForMs: now() - status.unreachableSince!.getTime(), lastError: status.lastError ?? 'unknown' });
      return;
    }
    timer = setTimeout(() => void tick(), intervalMs);
    timer.unref();
  };

  void tick();
  return {
    status: () => ({ ...status }),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export interface WorkerHealthSources {
  workerState: () => WorkerState;
  connection: () => ConnectionStatus;
  /** The text served at /metrics. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** METRICS_TOKEN: who may read /metrics (see metrics-access.ts); loopback only when unset. */
  metricsToken?: string;
  /** Where failures of this server go (the answer itself carries no error text). */
  logError?: (err: unknown, path: string) => void;
}

export interface WorkerHealthServer {
  url: string;
  stop(): Promise<void>;
}

export function startWorkerHealthServer(sources: WorkerHealthSources, port: number, host: string): Promise<WorkerHealthServer> {
  const server = createServer((req, res) => void answer(sources, req, res));
  return new Promise((resolveStart, rejectStart) => {
    server.once('error', rejectStart);
    server.listen(port, host, () => {
      server.off('error', rejectStart);
      const { port: actual } = server.address() as AddressInfo;
      resolveStart({ url: `http://${host}:${actual}`, stop: () => closeServer(server) });
    });
  });
}

async function answer(sources: WorkerHealthSources, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'use GET' });
    if (path === '/healthz') return sendLiveness(sources, res);
    if (path === '/readyz') return sendReadiness(sources, res);
    if (path === '/metrics') {
      const access = metricsAccess(
        { authorization: req.headers.authorization, peerAddress: req.socket.remoteAddress, forwarded: isForwarded(req.headers) },
        sources.metricsToken,
      );
      if (!access.allowed) return sendJson(res, 401, { error: access.reason });
      const { contentType, body } = await sources.metrics();
      res.writeHead(200, { 'Content-Type': contentType }).end(body);
      return;
    }
    sendJson(res, 404, { error: 'not found; try /healthz, /readyz or /metrics' });
  } catch (err) {
    sources.logError?.(err, path ?? '/');
    sendJson(res, 500, { error: 'internal error; see the worker log' });
  }
}

/** Alive unless the worker failed for good: an orchestrator restarts what is not alive. */
function sendLiveness(sources: WorkerHealthSources, res: ServerResponse): void {
  const workerState = sources.workerState();
  sendJson(res, workerState === 'FAILED' ? 503 : 200, { status: workerState === 'FAILED' ? 'failing' : 'ok', workerState });
}

/** Ready only while tasks can flow: the worker runs and Temporal answered the latest check. */
function sendReadiness(sources: WorkerHealthSources, res: ServerResponse): void {
  const workerState = sources.workerState();
  const connection = sources.connection();
  const ready = workerState === 'RUNNING' && connection.reachable === true;
  sendJson(res, ready ? 200 : 503, {
    status: ready ? 'ready' : 'not_ready',
    workerState,
    // What is down, not why: the error text (hosts, ports) stays in the worker's log.
    temporal: connection.reachable === undefined ? 'not checked yet' : connection.reachable ? 'ok' : 'unreachable',
    ...(connection.unreachableSince ? { unreachableSince: connection.unreachableSince.toISOString() } : {}),
  });
}

/**
 * Herald's registry, then the Temporal SDK's exporter (bound on loopback) when it runs. Both are
 * the Prometheus text format with distinct names (`herald_*`/Node's vs `temporal_*`), so they concatenate.
 */
export function workerMetricsSource(registry: Registry, sdkMetricsUrl: string | undefined): WorkerHealthSources['metrics'] {
  return async () => {
    const herald = await registry.metrics();
    const sdk = sdkMetricsUrl ? await scrapeSdkMetrics(sdkMetricsUrl) : '';
    return { contentType: registry.contentType, body: joinExpositions(herald, sdk) };
  };
}

async function scrapeSdkMetrics(url: string): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.text();
  } catch (err) {
    // A comment line: scrapers ignore it, a person reading the page learns why SDK metrics are missing.
    return `# Temporal SDK metrics unavailable: ${describeError(err)}\n`;
  }
}

function joinExpositions(...parts: string[]): string {
  return parts.filter(Boolean).map((part) => (part.endsWith('\n') ? part : `${part}\n`)).join('');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolveStop) => {
    server.close(() => resolveStop());
    server.closeAllConnections();
  });
}

/** One short line: error texts end up in logs, JSON and metric comments. */
function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').slice(0, 200);
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolveTimeout) => { timer = setTimeout(() => resolveTimeout(fallback), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}
