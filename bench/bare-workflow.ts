/**
 * The baseline for "how close does Herald run to the engine's limit": the least a workflow can do
 * on the same dev server — one workflow task, one no-op activity, one more workflow task, done.
 * Herald's post workflow does the same plumbing plus its real work (bookkeeping activities,
 * search-attribute upserts, the platform call), so Herald ÷ bare is the share of the engine's
 * throughput that Herald keeps.
 *
 * `benchBareDueWorkflow` is the bare form of a scheduled post: a durable timer until a time, then
 * one no-op activity that reports when it ran (the bare "published"). The create comparison starts
 * it a month ahead (it only waits); the burst comparison starts N of them due at one instant.
 */
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { bareActivities } from './bare-activities';

const { noop, stamp } = proxyActivities<typeof bareActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

export async function benchBareWorkflow(index: number): Promise<number> {
  return noop(index);
}

/** Sleeps until `dueAtMs` (epoch ms), then runs one no-op activity; returns when that activity ran. */
export async function benchBareDueWorkflow(dueAtMs: number): Promise<number> {
  const wait = dueAtMs - Date.now();
  if (wait > 0) await sleep(wait);
  return stamp();
}
