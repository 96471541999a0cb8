/**
 * `GET /health`: each dependency checked with a short timeout; `worker` is ok only while a worker
 * polls the task queue. The answer says what is down ("ok" or "failing" per check), never why: error
 * text names hosts, ports and drivers, which is nobody's business on the network. The reasons go
 * to the log (`problems`, logged by the route).
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Redis } from 'ioredis';

export interface HealthDeps {
  orm: MikroORM;
  redis: Redis;
  temporal: Client;
  taskQueue: string;
}

export type CheckResult = 'ok' | 'failing';
export type CheckName = 'postgres' | 'redis' | 'temporal' | 'worker';

export interface Health {
  status: 'ok' | 'failing';
  checks: Record<CheckName, CheckResult>;
  /** Why each failing check failed: for the log only, never for the response. */
  problems: Partial<Record<CheckName, string>>;
}

const CHECK_TIMEOUT_MS = 2000;
/** A poller seen within this window counts as polling (Temporal keeps pollers for a few minutes). */
const POLLER_FRESHNESS_MS = 90_000;

export async function checkHealth(deps: HealthDeps): Promise<Health> {
  const [postgres, redis, temporalCheck, worker] = await Promise.all([
    check(async () => { await deps.orm.em.getConnection().execute('select 1'); }),
    check(async () => { await deps.redis.ping(); }),
    check(async () => { await deps.temporal.connection.workflowService.getSystemInfo({}); }),
    check(() => assertWorkerPolling(deps)),
  ]);
  const outcomes = { postgres, redis, temporal: temporalCheck, worker };
  const checks = {} as Record<CheckName, CheckResult>;
  const problems: Health['problems'] = {};
  for (const [name, outcome] of Object.entries(outcomes) as [CheckName, string | undefined][]) {
    checks[name] = outcome === undefined ? 'ok' : 'failing';
    if (outcome !== undefined) problems[name] = outcome;
  }
  const status = Object.values(checks).every((value) => value === 'ok') ? 'ok' : 'failing';
  return { status, checks, problems };
}

async function assertWorkerPolling(deps: HealthDeps): Promise<void> {
  const response = await deps.temporal.workflowService.describeTaskQueue({
    namespace: deps.temporal.options.namespace,
    taskQueue: { name: deps.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const freshAfter = Date.now() - POLLER_FRESHNESS_MS;
  const fresh = (response.pollers ?? []).filter((poller) => {
    const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
    return seconds * 1000 >= freshAfter;
  });
  if (fresh.length === 0) throw new Error(`no worker is polling task queue "${deps.taskQueue}"`);
}

/** undefined when the probe succeeded in time, else why it did not. */
async function check(probe: () => Promise<void>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS); }),
    ]);
    return undefined;
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).slice(0, 200);
  } finally {
    clearTimeout(timer);
  }
}
