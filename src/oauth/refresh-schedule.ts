/**
 * The `herald-token-refresh` Temporal Schedule (TEMPORAL.md "Recurring work"): every few minutes it
 * starts refreshTokensWorkflow on the worker's task queue. Created at worker start, updated in
 * place when it exists (so a changed interval or task queue takes effect), visible in the Web UI.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import { PayloadDecryptionError } from '../temporal/payload-codec';

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
    const handle = client.schedule.getHandle(scheduleId);
    try {
      await handle.update((previous) => ({ ...previous, spec, action, policies }));
    } catch (updateErr) {
      // Updating decodes the stored action first. After the payload key that sealed it was dropped
      // (rotation), nothing could decode it, and neither could a worker decode the runs it starts:
      // the schedule holds nothing but this configuration, so it is made anew with today's key.
      if (!(updateErr instanceof PayloadDecryptionError)) throw updateErr;
      await handle.delete();
      await client.schedule.create({ scheduleId, spec, action, policies });
    }
  }
  return scheduleId;
}
