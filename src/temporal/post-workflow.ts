/**
 * Starting a post's workflow, shared by the API (at creation) and the reconciler (posts whose start
 * was never confirmed). The id is unique for all time, `post-<id>-<random>`: a restored or re-created
 * database whose serials start again can never attach a new post to an old run.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { POST_WORKFLOW_VERSION, publishPostWorkflowType, type PublishPostInput } from '../../workflows/contract';
import type { publishPostWorkflow } from '../../workflows/publish-post';
import type { Platform } from '../domain/types';
import { BusinessIdAttribute, PlatformsAttribute, PostStatusAttribute, ScheduledForAttribute } from './search-attributes';

/** Lower-case letters and digits only, so ids stay readable and easy to type in the CLI. */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

export function newPostWorkflowId(postId: number): string {
  const bytes = randomBytes(8);
  const suffix = [...bytes].map((byte) => ALPHABET[byte % ALPHABET.length]).join('');
  return `post-${postId}-${suffix}`;
}

export interface StartablePost {
  id: number;
  businessId: number;
  platforms: Platform[];
  scheduledFor: Date;
  workflowId: string;
}

/**
 * Starts the post's workflow, or finds it started (the same id: a retried start never makes a second
 * run; a closed run is never started again). Resolves once Temporal has the workflow.
 */
export async function startPostWorkflow(client: Client, taskQueue: string, post: StartablePost): Promise<void> {
  const input: PublishPostInput = {
    postId: post.id,
    businessId: post.businessId,
    platforms: post.platforms,
    scheduledFor: post.scheduledFor.toISOString(),
    workflowVersion: POST_WORKFLOW_VERSION,
  };
  try {
    await client.workflow.start<typeof publishPostWorkflow>(publishPostWorkflowType, {
      workflowId: post.workflowId,
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: BusinessIdAttribute, value: post.businessId },
        { key: PlatformsAttribute, value: post.platforms },
        { key: ScheduledForAttribute, value: post.scheduledFor },
        { key: PostStatusAttribute, value: 'scheduled' },
      ],
      staticSummary: `Post ${post.id} to ${post.platforms.join(', ')} at ${post.scheduledFor.toISOString()}`,
      staticDetails: `Business ${post.businessId}. Cancel: signal "cancel". Move: signal "reschedule" {"scheduledFor": "<ISO time>"}.`,
    });
  } catch (err) {
    // A closed run with this id: the post's workflow existed and is over; it must not run again.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
