/**
 * What the bench asks the engine and the database to tell whether posts and workflows are done:
 * visibility counts and close times (the server's own clock) and post statuses from Postgres.
 */
import { eventually } from './lib';
import type { Stack } from './stack';

export async function countWorkflows(stack: Stack, query: string): Promise<number> {
  const { count } = await stack.temporal.workflow.count(query);
  return count;
}

/** Waits until `query` counts `expected` workflows; returns how long that took to notice. */
export async function waitForCount(stack: Stack, query: string, expected: number, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  await eventually(async () => ((await countWorkflows(stack, query)) >= expected ? true : undefined), timeoutMs, what, 250);
  return Date.now() - started;
}

export interface ClosedWorkflow {
  workflowId: string;
  status: string;
  startMs: number;
  closeMs: number;
}

/** Every workflow matching `query`, with the server's start and close times. Bounded by `limit`. */
export async function closedWorkflows(stack: Stack, query: string, limit: number): Promise<ClosedWorkflow[]> {
  const found: ClosedWorkflow[] = [];
  for await (const info of stack.temporal.workflow.list({ query, pageSize: 1000 })) {
    found.push({
      workflowId: info.workflowId,
      status: info.status.name,
      startMs: info.startTime.getTime(),
      closeMs: info.closeTime?.getTime() ?? NaN,
    });
    if (found.length >= limit) break;
  }
  return found;
}

/** Post counts by status for one business, straight from Postgres. */
export async function postStatusCounts(stack: Stack, businessId: number): Promise<Record<string, number>> {
  const rows: Array<{ status: string; n: number }> = await stack.orm.em
    .getConnection()
    .execute('select status, count(*)::int as n from posts where business_id = ? group by status', [businessId]);
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

export function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(', ') || 'none';
}

/**
 * Runs `work` with a bare worker (bench/bare-worker.ts, same slot and cache settings as Herald's)
 * polling its own task queue, visible to the CPU meter as `bareWorker`; stops it afterwards.
 */
export async function withBareWorker<T>(stack: Stack, taskQueue: string, work: () => Promise<T>): Promise<T> {
  const worker = await stack.startBareWorker(taskQueue);
  stack.bareWorkerPid = worker.pid;
  try {
    return await work();
  } finally {
    await worker.stop();
    stack.bareWorkerPid = undefined;
  }
}
