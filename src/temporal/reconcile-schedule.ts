/**
 * The `herald-reconcile` Temporal Schedule (docs/EXACTLY-ONCE.md "The reconciler"): created or
 * updated by every worker at start, like the token refresh schedule.
 */
import type { Client } from '@temporalio/client';
import { ensureSchedule } from './schedules';

/** Kept equal to the names in workflows/reconcile-posts.ts (not imported: that module is workflow code). */
export const RECONCILE_SCHEDULE_ID = 'herald-reconcile';
export const RECONCILE_WORKFLOW_TYPE = 'reconcilePostsWorkflow';

export interface ReconcileScheduleOptions {
  taskQueue: string;
  intervalSeconds: number;
  graceSeconds: number;
  orphanSweepMinutes: number;
  scheduleId?: string;
}

export async function ensureReconcileSchedule(client: Client, options: ReconcileScheduleOptions): Promise<string> {
  const scheduleId = options.scheduleId ?? RECONCILE_SCHEDULE_ID;
  return ensureSchedule(client, {
    scheduleId,
    everyMs: options.intervalSeconds * 1000,
    action: {
      type: 'startWorkflow',
      workflowType: RECONCILE_WORKFLOW_TYPE,
      workflowId: `${scheduleId}-run`,
      args: [{ graceSeconds: options.graceSeconds, orphanSweepMinutes: options.orphanSweepMinutes }],
      taskQueue: options.taskQueue,
      workflowExecutionTimeout: Math.max(options.intervalSeconds * 5, 300) * 1000,
    },
  });
}
