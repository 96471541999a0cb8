/**
 * The post workflow's public surface: input, signals, query and live state. Imported by the
 * workflow, the activities and the API, so it holds types and message definitions only.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FailureClass, Platform, PostStatus, TargetStatus } from '../src/domain/types';

export const publishPostWorkflowType = 'publishPostWorkflow';

/**
 * The id posts created before ids were made unique for all time got (`post-<id>`). New posts get
 * `post-<id>-<random>` (src/temporal/post-workflow.ts); the row's `workflow_id` is always the truth.
 */
export function legacyPostWorkflowId(postId: number): string {
  return `post-${postId}`;
}

/** The post id in a post workflow's id, old form or new. */
export function postIdOfWorkflowId(workflowId: string): number | undefined {
  const match = /^post-(\d+)(?:-[a-z0-9]+)?$/.exec(workflowId);
  return match ? Number(match[1]) : undefined;
}

/**
 * The behaviour a run is started with. Runs started before this field existed say nothing and take
 * each later behaviour through its `patched()` check (which records a marker and a
 * TemporalChangeVersion search-attribute upsert in every run that passes it); a run started as
 * version 3 has all of them (workflows/publish-post.ts `since`) and records no marker. Workers must
 * be deployed before the API and the reconciler start version-3 runs (docs/EXACTLY-ONCE.md).
 */
export const POST_WORKFLOW_VERSION = 3;

/** Ids and times only: never text, never tokens. */
export interface PublishPostInput {
  postId: number;
  businessId: number;
  platforms: Platform[];
  /** ISO 8601 UTC. */
  scheduledFor: string;
  /** POST_WORKFLOW_VERSION when the run was started; absent before version 3. */
  workflowVersion?: number;
}

export interface RescheduleSignal {
  scheduledFor: string;
}

export const cancelSignal = defineSignal('cancel');
export const rescheduleSignal = defineSignal<[RescheduleSignal]>('reschedule');

export interface LivePart {
  index: number;
  platformPostId: string;
  url: string | null;
  publishedAt: string;
  /** The platform accepted the part but the ledger could not be written: the workflow writes it. */
  ledgerPending?: true;
  /** The attempt also recorded the post's final state it was given (PublishPartInput `finishing`). */
  finished?: true;
}

export interface LiveTarget {
  platform: Platform;
  accountId: number | null;
  status: TargetStatus;
  url: string | null;
  error: string | null;
  errorClass: FailureClass | null;
  partCount: number | null;
  parts: LivePart[];
}

export interface LivePostState {
  postId: number;
  status: PostStatus;
  scheduledFor: string;
  publishedAt: string | null;
  targets: LiveTarget[];
  /** The version of the last bookkeeping write (see nextVersion in publish-post.ts); Postgres keeps the newest. */
  version?: string;
  revision?: number;
}

export const statusQuery = defineQuery<LivePostState>('status');

/** What the prepare activity decided for each platform, frozen into history before publishing. */
export interface TargetPlan {
  platform: Platform;
  accountId: number | null;
  partCount: number;
  /** Parts already published by an earlier attempt (ledger), in index order. */
  alreadyPublished: LivePart[];
  /** Set when the target cannot be published at all (no active account, rejected text, …). */
  failure?: { errorClass: FailureClass; message: string };
  /**
   * The stored post says not to publish at all: `cancelled` (a run reset after the user cancelled),
   * `orphaned` (no post row belongs to this workflow any more).
   */
  outcome?: 'cancelled' | 'orphaned';
}

export interface PublishPartInput {
  postId: number;
  platform: Platform;
  partIndex: number;
  partCount: number;
  accountId: number;
  /** The previous part's platform id: each part replies to the one before it. */
  replyToPlatformPostId?: string;
  /** The first part's platform id (threads made of comments attach to it). */
  rootPlatformPostId?: string;
  /**
   * Only on the last part of a post's only target (version 3 runs): the post's final state should
   * this part be published (its time and, for the first part, its link filled in by the attempt).
   * The attempt that publishes the part records it too, and the workflow ends without one more
   * bookkeeping round trip; any other outcome leaves the final state to the workflow, as before.
   */
  finishing?: LivePostState;
}

/** A multi-step publish not finished yet: the workflow waits on a durable timer and calls again. */
export interface PartInProgress {
  inProgress: true;
  checkAfterMs: number;
}
