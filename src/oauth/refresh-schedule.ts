/**
 * The `herald-token-refresh` Temporal Schedule (TEMPORAL.md "Recurring work"): every few minutes it
 * starts refreshTokensWorkflow on the worker's task queue.
 */
import type { Client } from '@temporalio/client';
import { ensureSchedule } from '../temporal/schedules';

/** Kept equal to the names in workflows/refresh-tokens.ts (not imported: that module is workflow code). */
export const TOKEN_REFRESH_SCHEDULE_ID = 'herald-token-refresh';
export const REFRESH_TOKENS_WORKFLOW_TYPE = 'refreshTokensWorkflow';

export interface RefreshScheduleOptions {
  taskQueue: string;
  intervalMinutes: number;
  windowMinutes: number;
  scheduleId?: string;
}

/** Creates the schedule, or updates it when it exists; returns its id. */
export async function ensureTokenRefreshSchedule(client: Client, options: RefreshScheduleOptions): Promise<string> {
  const scheduleId = options.scheduleId ?? TOKEN_REFRESH_SCHEDULE_ID;
  return ensureSchedule(client, {
    scheduleId,
    everyMs: options.intervalMinutes * 60_000,
    action: {
      type: 'startWorkflow',
      workflowType: REFRESH_TOKENS_WORKFLOW_TYPE,
      workflowId: `${scheduleId}-run`,
      args: [{ windowMinutes: options.windowMinutes }],
      taskQueue: options.taskQueue,
      // A run that cannot finish before the next one is due is not worth keeping.
      workflowExecutionTimeout: Math.max(options.intervalMinutes - 1, 1) * 60_000,
    },
  });
}
