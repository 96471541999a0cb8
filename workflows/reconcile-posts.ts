/**
 * Started every minute by the `herald-reconcile` Temporal Schedule: one activity starts posts whose
 * workflow start was never confirmed, records the final state of runs that closed without it, and
 * ends post workflows no post row references (activities/reconcile.ts). Counts only in and out.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createReconcileActivities, ReconcileInput, ReconcileSummary } from '../activities/reconcile';

export const reconcilePostsWorkflowType = 'reconcilePostsWorkflow';

const { reconcilePosts } = proxyActivities<ReturnType<typeof createReconcileActivities>>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', maximumAttempts: 3 },
});

export async function reconcilePostsWorkflow(input: ReconcileInput): Promise<ReconcileSummary> {
  return reconcilePosts(input);
}
