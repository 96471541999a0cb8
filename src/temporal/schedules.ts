/**
 * Herald's recurring jobs are Temporal Schedules (visible in the Web UI under Schedules): created at
 * worker start, updated in place when they exist, so a changed interval or task queue takes effect.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import { PayloadDecryptionError } from './payload-codec';

export interface RecurringJob {
  scheduleId: string;
  everyMs: number;
  action: ScheduleOptionsAction;
}

/** Creates the schedule, or updates it when it exists; returns its id. */
export async function ensureSchedule(client: Client, job: RecurringJob): Promise<string> {
  const { scheduleId, action } = job;
  const spec = { intervals: [{ every: job.everyMs }] };
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
