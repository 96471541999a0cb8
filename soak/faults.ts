/**
 * The nemesis: platform faults on about a tenth of the fakes' creates (a seeded random plan), and
 * process faults on a schedule spread over the run, each aimed at the moment a wave of posts is due
 * (when work is in flight): SIGKILL of a worker or of the API (the supervisor restarts them),
 * SIGSTOP of a worker for longer than its heartbeat timeout while its requests are open, the
 * Temporal dev server killed and started again on its file, PostgreSQL restarted, Redis killed and
 * started again. Only processes the soak started are signalled, by pid.
 */
import { seededRandom } from '../bench/lib';
import type { LinkedInFault } from '../test/fakes/linkedin-fake';
import type { MetaFault } from '../test/fakes/meta-fake';
import type { XFault } from '../test/fakes/x-fake';
import { redisAnswers, sleep } from './services';
import type { SoakStack } from './stack';
import { sleepUntil } from './workload';

export type ProcessFaultKind = 'kill_worker' | 'kill_api' | 'stop_worker' | 'kill_dev_server' | 'restart_postgres' | 'kill_redis';

export interface ScheduledFault {
  kind: ProcessFaultKind;
  /** Epoch ms: a wave's due time. */
  at: number;
}

export interface FaultRecord {
  kind: ProcessFaultKind;
  target: string;
  /** Epoch ms: when the fault was injected, and when the component was back (ready, answering). */
  injectedAt: number;
  backAt?: number;
  detail: string;
  error?: string;
}

export const PROCESS_FAULT_COUNTS: Record<'short' | 'long', Record<ProcessFaultKind, number>> = {
  short: { kill_worker: 1, kill_api: 1, stop_worker: 1, kill_dev_server: 1, restart_postgres: 1, kill_redis: 1 },
  long: { kill_worker: 3, kill_api: 1, stop_worker: 2, kill_dev_server: 1, restart_postgres: 1, kill_redis: 1 },
};

/**
 * Faults spread evenly over the waves (not the first two or the last two: the run starts and ends
 * clean), in a seeded order, each on a wave's due time.
 */
export function scheduleFaults(counts: Record<ProcessFaultKind, number>, waveDueTimes: number[], seed: number): ScheduledFault[] {
  const random = seededRandom(seed ^ 0x5eed);
  const kinds = (Object.entries(counts) as Array<[ProcessFaultKind, number]>).flatMap(([kind, count]) => Array<ProcessFaultKind>(count).fill(kind));
  kinds.sort(() => random() - 0.5);
  const usable = waveDueTimes.slice(2, Math.max(3, waveDueTimes.length - 2));
  return kinds.map((kind, i) => ({ kind, at: usable[Math.floor(((i + 0.5) * usable.length) / kinds.length)]! }));
}

export interface PlatformFaultSettings {
  rate: number;
  seed: number;
  /** The children's PLATFORM_HTTP_TIMEOUT_MS: late answers and late creates are sized against it. */
  httpTimeoutMs: number;
}

/**
 * Every kind the fakes offer on creates, in each platform's shape: throttling with a reset, a 5xx
 * that created nothing, a late answer (within and beyond the client's timeout), a create whose
 * connection is dropped, a 500 that still created the post, and a create that happens only after a
 * delay (shorter than the timeout plus the 10 s settle margin of docs/EXACTLY-ONCE.md).
 */
export function startPlatformFaults(stack: SoakStack, settings: PlatformFaultSettings): void {
  const h = settings.httpTimeoutMs;
  const late = [{ kind: 'slow' as const, delayMs: 1500 }, { kind: 'slow' as const, delayMs: h + 2000 }];
  const lateCreates = [{ kind: 'slow_before_create' as const, delayMs: 1500 }, { kind: 'slow_before_create' as const, delayMs: h + 7000 }];
  const common = [...late, ...lateCreates, { kind: 'accept_then_drop' as const }, { kind: 'ambiguous_500' as const }];
  const x: XFault[] = [{ kind: 'rate_limit', resetInSeconds: 3 }, { kind: 'server_error', status: 503 }, ...common];
  // LinkedIn's 429 is its daily limit (reset at 00:00 UTC); the children wait LINKEDIN_THROTTLE_BACKOFF_MS instead.
  const linkedin: LinkedInFault[] = [{ kind: 'throttle' }, { kind: 'server_error', status: 503 }, ...common];
  // Meta says when access comes back (X-Business-Use-Case-Usage, in minutes): one minute, the shortest.
  const meta: MetaFault[] = [{ kind: 'throttle', code: 4, regainAfterMinutes: 1 }, { kind: 'server_error', status: 500 }, ...common];
  stack.fakes.x.setRandomFaults({ rate: settings.rate, seed: settings.seed, kinds: x });
  stack.fakes.linkedin.setRandomFaults({ rate: settings.rate, seed: settings.seed + 1, kinds: linkedin });
  stack.fakes.meta.setRandomFaults({ rate: settings.rate, seed: settings.seed + 2, kinds: meta });
}

export function stopPlatformFaults(stack: SoakStack): void {
  stack.fakes.x.setRandomFaults(undefined);
  stack.fakes.linkedin.setRandomFaults(undefined);
  stack.fakes.meta.setRandomFaults(undefined);
}

export function platformFaultStats(stack: SoakStack): Record<string, Record<string, number>> {
  return { x: stack.fakes.x.faultStats(), linkedin: stack.fakes.linkedin.faultStats(), meta: stack.fakes.meta.faultStats() };
}

export interface NemesisSettings {
  seed: number;
  /** How long a stopped worker stays stopped (min, max), longer than its 10 s heartbeat timeout. */
  stopMs: [number, number];
  /** How long the dev server and Redis stay down before they are started again. */
  downMs: number;
  httpTimeoutMs: number;
  log: (line: string) => void;
}

/** Runs the schedule; resolves when every fault was injected and its component is back (or gave up). */
export async function runNemesis(stack: SoakStack, schedule: ScheduledFault[], settings: NemesisSettings): Promise<FaultRecord[]> {
  const random = seededRandom(settings.seed ^ 0xfa17);
  const records: FaultRecord[] = [];
  let workerTurn = 0;
  for (const fault of [...schedule].sort((a, b) => a.at - b.at)) {
    const worker = stack.workers[workerTurn++ % stack.workers.length]!;
    if (fault.kind === 'stop_worker') {
      // Requests must be open when the worker stops: slow answers on the next creates of each fake.
      await sleepUntil(fault.at - 800);
      const slow = { kind: 'slow' as const, delayMs: 4000 };
      stack.fakes.x.injectFault(slow, 3);
      stack.fakes.linkedin.injectFault(slow, 2);
      stack.fakes.meta.injectFault(slow, 2);
      await sleepUntil(fault.at + 1200);
    } else {
      await sleepUntil(fault.at + 200);
    }
    const record = await inject(stack, fault.kind, worker, settings, random).catch((err: unknown): FaultRecord => ({
      kind: fault.kind, target: '?', injectedAt: Date.now(), detail: 'injection failed', error: err instanceof Error ? err.message : String(err),
    }));
    const back = record.backAt ? `back after ${((record.backAt - record.injectedAt) / 1000).toFixed(1)} s` : `NOT back${record.error ? `: ${record.error}` : ''}`;
    settings.log(`fault ${record.kind} on ${record.target} (${record.detail}): ${back}`);
    records.push(record);
  }
  return records;
}

async function inject(
  stack: SoakStack,
  kind: ProcessFaultKind,
  worker: SoakStack['workers'][number],
  settings: NemesisSettings,
  random: () => number,
): Promise<FaultRecord> {
  const readyWithin = 180_000;
  switch (kind) {
    case 'kill_worker': {
      const pid = worker.pid;
      const injectedAt = Date.now();
      worker.signal('SIGKILL');
      await sleep(500);
      return { kind, target: worker.name, injectedAt, backAt: await worker.waitReady(readyWithin), detail: `SIGKILL pid ${pid}` };
    }
    case 'kill_api': {
      const pid = stack.api.pid;
      const injectedAt = Date.now();
      stack.api.signal('SIGKILL');
      await sleep(500);
      return { kind, target: 'api', injectedAt, backAt: await stack.api.waitReady(readyWithin), detail: `SIGKILL pid ${pid}` };
    }
    case 'stop_worker': {
      const pid = worker.pid;
      const stopMs = Math.round(settings.stopMs[0] + random() * (settings.stopMs[1] - settings.stopMs[0]));
      const injectedAt = Date.now();
      worker.signal('SIGSTOP');
      await sleep(stopMs);
      // The supervisor may have replaced it meanwhile (it cannot exit while stopped, but be safe).
      if (worker.pid === pid) worker.signal('SIGCONT');
      return { kind, target: worker.name, injectedAt, backAt: await worker.waitReady(readyWithin), detail: `SIGSTOP pid ${pid} for ${(stopMs / 1000).toFixed(1)} s, then SIGCONT` };
    }
    case 'kill_dev_server': {
      const pid = stack.devServer.pid;
      const injectedAt = Date.now();
      stack.devServer.kill();
      await stack.devServer.waitGone();
      await sleep(settings.downMs);
      await stack.devServer.startServer();
      return { kind, target: 'temporal dev server', injectedAt, backAt: Date.now(), detail: `SIGKILL pid ${pid}, down ${settings.downMs / 1000} s, started again on its SQLite file (pid ${stack.devServer.pid})` };
    }
    case 'restart_postgres': {
      const injectedAt = Date.now();
      await stack.postgres.restart();
      return { kind, target: 'postgres', injectedAt, backAt: Date.now(), detail: 'pg_ctl restart -m fast' };
    }
    case 'kill_redis': {
      const pid = stack.redis.pid;
      const injectedAt = Date.now();
      stack.redis.kill();
      await sleep(settings.downMs);
      await stack.redis.startServer();
      const backAt = (await redisAnswers(stack.redis.port)) ? Date.now() : undefined;
      return { kind, target: 'redis', injectedAt, backAt, detail: `SIGKILL pid ${pid}, down ${settings.downMs / 1000} s, started again empty (pid ${stack.redis.pid})` };
    }
  }
}
