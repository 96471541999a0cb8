/**
 * HeraldEvents as structured JSON log lines. Every line names the post the way operators search
 * for it: `postId`, `workflowId` (`post-<id>-<suffix>`, as in the Temporal Web UI; absent when the source did not know it), `platform` and
 * `failureClass` (null when nothing failed). Fields are picked one by one, never spread from the
 * event, so a token or a post's text can never slip into a log line through these events.
 */
import type { Logger } from '../logger';
import type { HeraldEvents } from './events';

export function createLogEvents(logger: Logger): HeraldEvents {
  const log = logger.child({ component: 'herald-events' });
  return {
    postCreated(event) {
      log.info(
        {
          event: 'post_created',
          postId: event.postId,
          workflowId: event.workflowId,
          businessId: event.businessId,
          platforms: [...event.platforms],
          scheduledFor: event.scheduledFor.toISOString(),
          immediate: event.immediate,
        },
        'post created',
      );
    },
    partPublished(event) {
      log.info(
        {
          event: 'part_published',
          postId: event.postId,
          workflowId: event.workflowId,
          platform: event.platform,
          partIndex: event.partIndex,
          failureClass: null,
          reconciled: event.reconciled,
          ...(event.latenessMs === undefined ? {} : { latenessMs: event.latenessMs }),
        },
        'part published',
      );
    },
    partFailed(event) {
      // A retry is routine (info); a part given up on needs a person (warn).
      const level = event.final ? 'warn' : 'info';
      log[level](
        {
          event: 'part_failed',
          postId: event.postId,
          workflowId: event.workflowId,
          platform: event.platform,
          partIndex: event.partIndex,
          failureClass: event.failureClass,
          final: event.final,
          attempt: event.attempt,
        },
        event.final ? 'part failed, no retry' : 'part failed, will retry',
      );
    },
    postFinished(event) {
      log.info(
        {
          event: 'post_finished',
          postId: event.postId,
          workflowId: event.workflowId,
          status: event.status,
          targets: event.targets.map((target) => ({ platform: target.platform, status: target.status, failureClass: target.errorClass })),
        },
        'post finished',
      );
    },
  };
}
