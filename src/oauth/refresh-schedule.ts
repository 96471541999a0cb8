/**
 * The `herald-token-refresh` Temporal Schedule (TEMPORAL.md "Recurring work"): every few minutes it
 * starts refreshTokensWorkflow on the worker's task queue. Created at worker start, updated in
 * place when it exists (so a changed interval or task queue takes effect), visible in the Web UI.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';

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
  const spec = { intervals: [{ every: options.intervalMinutes * 60_000 }] };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: REFRESH_TOKENS_WORKFLOW_TYPE,
    workflowId: `${scheduleId}-run`,
    args: [{ windowMinutes: options.windowMinutes }],
    taskQueue: options.taskQueue,
    // A run that cannot finish before the next one is due is not worth keeping.
    workflowExecutionTimeout: Math.max(options.intervalMinutes - 1, 1) * 60_000,
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60_000 };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
  }
  return scheduleId;
}
