/**
 * The baseline for "how close does Herald run to the engine's limit": the least a workflow can do
 * on the same dev server — one workflow task, one no-op activity, one more workflow task, done.
 * Herald's post workflow does the same plumbing plus its real work (bookkeeping activities,
 * search-attribute upserts, the platform call), so Herald ÷ bare is the share of the engine's
 * throughput that Herald keeps.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { bareActivities } from './bare-activities';

const { noop } = proxyActivities<typeof bareActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

export async function benchBareWorkflow(index: number): Promise<number> {
  return noop(index);
}
