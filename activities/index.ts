/**
 * Activities: one side effect each, dependencies injected by the process entry point.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { Context } from '@temporalio/activity';
import { isFinalPostStatus } from '../src/domain/types';
import type { Logger } from '../src/logger';
import type { OAuthProviders } from '../src/oauth/providers';
import { noEvents, type HeraldEvents } from '../src/observability/events';
import type { PublisherRegistry } from '../src/platforms/publisher';
import type { TokenCipher } from '../src/security/token-cipher';
import type { LivePostState, PartInProgress, PublishPartInput, TargetPlan } from '../workflows/contract';
import { callingWorkflowId, preparePublication, recordPartLedger, writePostState, type PartLedgerWrite } from './bookkeeping';
import { publishPart, type PublishedPart, type SendWindow } from './publish-part';
import { createReconcileActivities } from './reconcile';
import { createRefreshActivities } from './refresh-tokens';

export interface ActivityDeps {
  orm: MikroORM;
  publishers: PublisherRegistry;
  cipher: TokenCipher;
  logger: Logger;
  clock?: () => Date;
  events?: HeraldEvents;
  /** Token endpoints for refreshing access tokens (the refresh schedule, and once on an auth failure). */
  oauth?: OAuthProviders;
  /** The fence's numbers (docs/EXACTLY-ONCE.md); the HTTP timeout must be the publishers' own. */
  sendWindow?: SendWindow;
}

export function createActivities(deps: ActivityDeps) {
  const clock = deps.clock ?? (() => new Date());
  const events = deps.events ?? noEvents;
  return {
    ...createRefreshActivities(deps),
    ...createReconcileActivities(deps),

    /** Mirrors the workflow's state into Postgres, where the API lists and reads posts. */
    async recordPostState(state: LivePostState): Promise<void> {
      const written = await writePostState(deps, state, clock());
      if (written && isFinalPostStatus(state.status)) {
        events.postFinished({
          postId: state.postId,
          workflowId: callingWorkflowId(),
          status: state.status,
          targets: state.targets.map((t) => ({ platform: t.platform, status: t.status, errorClass: t.errorClass })),
        });
      }
    },

    /**
     * Marks the post as publishing, freezes each target's parts in the ledger (once: a retry reuses
     * the frozen parts) and says which parts an earlier run already published.
     */
    async preparePublication({ postId, version }: { postId: number; version?: string }): Promise<TargetPlan[]> {
      return preparePublication(deps, postId, clock(), version);
    },

    /** Publishes one part exactly once (activities/publish-part.ts). */
    async publishPart(input: PublishPartInput): Promise<PublishedPart | PartInProgress> {
      const stopHeartbeats = keepHeartbeating();
      try {
        return await publishPart(deps, deps.publishers, input);
      } finally {
        stopHeartbeats();
      }
    },

    /** The ledger write a publish attempt could not make; retried until the database answers. */
    async recordPartLedger(write: PartLedgerWrite): Promise<void> {
      await recordPartLedger(deps, write);
    },
  };
}

export type HeraldActivities = ReturnType<typeof createActivities>;

/**
 * Heartbeats let Temporal notice a dead worker within the heartbeat timeout, not the whole
 * start-to-close timeout. The heartbeat timeout runs from the start even before the first beat, so
 * the first one waits for the interval: most parts publish well within it, and an immediate beat
 * would cost the server one more RPC per part.
 */
function keepHeartbeating(): () => void {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return () => undefined; // called outside an activity (unit tests)
  }
  const timer = setInterval(() => context.heartbeat(), 2000);
  return () => clearInterval(timer);
}
