/**
 * The workflow's bookkeeping: mirror its state into Postgres, freeze the parts before publishing,
 * write a part's id when the publish attempt could not. Every write is conditional on the post's row
 * belonging to the calling workflow (`posts.workflow_id`): a workflow whose row is gone, or was
 * re-created for another workflow (a restored database), can never touch or publish another post.
 * A post whose stored state is `cancelled` is never published (a reset run, an operator's replay).
 */
import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Post, PostPart, PostTarget, SocialAccount } from '../src/db/entities';
import type { Platform } from '../src/domain/types';
import type { Logger } from '../src/logger';
import { comparableText, type PublisherRegistry } from '../src/platforms/publisher';
import type { LivePart, LivePostState, TargetPlan } from '../workflows/contract';
import { isUniqueViolation, PartLedger } from './ledger';

export interface BookkeepingDeps {
  orm: MikroORM;
  publishers: PublisherRegistry;
  logger: Logger;
  clock?: () => Date;
}

/** The calling workflow's id; undefined outside an activity (unit tests), where no ownership applies. */
export function callingWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}

/** `posts.workflow_id = ?` for the caller (rows from before workflow ids were stored match any caller). */
function ownedBy(workflowId: string | undefined): { sql: string; params: unknown[] } {
  if (workflowId === undefined) return { sql: 'true', params: [] };
  return { sql: '(workflow_id = ? or workflow_id is null)', params: [workflowId] };
}

/**
 * A write applies only if its version is at least the stored one (equal: the same call retried). A
 * stalled worker's stale workflow task may run a bookkeeping call after a newer one: it changes nothing.
 */
function newerThanStored(version: string | undefined): { sql: string; params: unknown[] } {
  if (version === undefined) return { sql: 'true', params: [] };
  return { sql: '(state_version is null or state_version <= ?)', params: [version] };
}

/** Mirrors the workflow's state into Postgres, where the API lists and reads posts. False when the row is not the caller's. */
export async function writePostState(deps: BookkeepingDeps, state: LivePostState, now: Date): Promise<boolean> {
  const owner = ownedBy(callingWorkflowId());
  return deps.orm.em.fork().transactional(async (tx) => {
    const connection = tx.getConnection();
    // Never turn a cancelled post back into a live one (a reset run replaying a reschedule).
    const fresher = newerThanStored(state.version);
    const updated: unknown[] = await connection.execute(
      `update posts set status = ?, scheduled_for = ?, published_at = ?, updated_at = ?, state_version = coalesce(?, state_version)
       where id = ? and ${owner.sql} and ${fresher.sql} and (status <> 'cancelled' or ? = 'cancelled') returning id`,
      [state.status, new Date(state.scheduledFor), state.publishedAt ? new Date(state.publishedAt) : null, now, state.version ?? null,
        state.postId, ...owner.params, ...fresher.params, state.status],
      'all',
      tx.getTransactionContext(),
    );
    if (updated.length === 0) return false;
    for (const target of state.targets) {
      // The account was chosen when the post was created; the workflow learns it only when publishing.
      const account = target.accountId === null ? {} : { accountId: target.accountId };
      await tx.nativeUpdate(PostTarget, { postId: state.postId, platform: target.platform }, {
        status: target.status, ...account, error: target.error, errorClass: target.errorClass, url: target.url, updatedAt: now,
      });
    }
    return true;
  });
}

/** What the workflow does instead of publishing, when the stored post says so. */
export type PreparationOutcome = 'publish' | 'cancelled' | 'orphaned';

/**
 * Marks the post as publishing, freezes each target's parts in the ledger (once: a retry reuses the
 * frozen parts) and says which parts an earlier run already published.
 */
export async function preparePublication(deps: BookkeepingDeps, postId: number, now: Date, version?: string): Promise<TargetPlan[]> {
  const owner = ownedBy(callingWorkflowId());
  const fresher = newerThanStored(version);
  const em = deps.orm.em.fork();
  const rows: Array<{ status: string }> = await em.getConnection().execute(
    `update posts set status = case when status = 'cancelled' then status else 'publishing' end, updated_at = ?,
       state_version = coalesce(?, state_version)
     where id = ? and ${owner.sql} and ${fresher.sql} returning status`,
    [now, version ?? null, postId, ...owner.params, ...fresher.params],
  );
  const post = rows.length > 0 ? await em.findOne(Post, { id: postId }) : null;
  if (!post) return orphanedPlans(postId);
  if (rows[0]!.status === 'cancelled') return post.platforms.map((platform) => ({ platform, accountId: null, partCount: 0, alreadyPublished: [], outcome: 'cancelled' }));
  await em.nativeUpdate(PostTarget, { postId, status: 'pending' }, { status: 'publishing', updatedAt: now });
  const plans: TargetPlan[] = [];
  for (const platform of post.platforms) plans.push(await planTarget(deps, post, platform));
  return plans;
}

/**
 * No row of ours (the database was restored or re-created, or the post was removed), or a newer run
 * of this workflow has written it since (this call comes from a stale task): publish nothing.
 */
function orphanedPlans(postId: number): TargetPlan[] {
  const message = `Post ${postId} has no row for this workflow run (the database was restored or re-created, or the post was removed): nothing was published.`;
  return [{ platform: 'twitter', accountId: null, partCount: 0, alreadyPublished: [], outcome: 'orphaned', failure: { errorClass: 'rejected', message } }];
}

async function planTarget(deps: BookkeepingDeps, post: Post, platform: Platform): Promise<TargetPlan> {
  const em = deps.orm.em.fork();
  const target = await em.findOne(PostTarget, { postId: post.id, platform });
  const publisher = deps.publishers[platform];
  const fail = (errorClass: 'auth' | 'rejected', message: string): TargetPlan => ({
    platform, accountId: target?.accountId ?? null, partCount: 0, alreadyPublished: [], failure: { errorClass, message },
  });
  if (!publisher) return fail('rejected', `Publishing to ${platform} is not available in this Herald build.`);
  const account = target?.accountId ? await em.findOne(SocialAccount, { id: target.accountId }) : null;
  if (!account) return fail('auth', `No ${platform} account is connected for this business: connect one and publish again.`);
  if (!account.isActive) return fail('auth', `The ${platform} account ${account.displayName ?? account.platformUserId} was disconnected: reconnect it and publish again.`);

  let rows = await em.find(PostPart, { postId: post.id, platform }, { orderBy: { partIndex: 'asc' } });
  if (rows.length === 0) {
    const { parts } = publisher.split(post.content, post.threadOptions, post.platformParams[platform]);
    if (parts.length === 0) return fail('rejected', 'The post has no text to publish.');
    // A concurrent attempt may freeze the same parts: the unique key keeps the first one's.
    await em.getConnection().execute(
      `insert into post_parts (post_id, platform, account_id, part_index, text, content_fingerprint)
       select ?, ?, ?, p.idx, p.text, p.fp from jsonb_to_recordset(?::jsonb) as p(idx int, text text, fp text)
       on conflict (post_id, platform, part_index) do nothing`,
      [post.id, platform, account.id, JSON.stringify(parts.map((p) => ({ idx: p.index, text: p.text, fp: fingerprint(p.text) })))],
    );
    rows = await em.find(PostPart, { postId: post.id, platform }, { orderBy: { partIndex: 'asc' } });
  }
  return { platform, accountId: rows[0]?.accountId ?? account.id, partCount: rows.length, alreadyPublished: leadingPublished(rows) };
}

function leadingPublished(rows: PostPart[]): LivePart[] {
  const done: LivePart[] = [];
  for (const row of rows) {
    if (!row.platformPostId) break;
    done.push({ index: row.partIndex, platformPostId: row.platformPostId, url: row.url ?? null, publishedAt: (row.publishedAt ?? new Date(0)).toISOString() });
  }
  return done;
}

export function fingerprint(text: string): string {
  return createHash('sha256').update(comparableText(text)).digest('hex');
}

export interface PartLedgerWrite {
  postId: number;
  platform: Platform;
  part: LivePart;
}

/**
 * The ledger write a publish attempt could not make (the database was down after the platform
 * accepted the part). Retried by Temporal until the database is back; the part is live either way.
 */
export async function recordPartLedger(deps: BookkeepingDeps, write: PartLedgerWrite): Promise<void> {
  const ledger = new PartLedger(deps.orm);
  const key = { postId: write.postId, platform: write.platform, partIndex: write.part.index };
  try {
    const recorded = await ledger.recordPublished(key, { platformPostId: write.part.platformPostId, url: write.part.url, publishedAt: new Date(write.part.publishedAt) });
    if (!recorded) deps.logger.error({ ...key, platformPostId: write.part.platformPostId }, 'the ledger holds another id for this part: two sends got through');
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // Retrying cannot help: another part holds the id (rows from before ids were unique). Say so, once.
    deps.logger.error({ ...key, platformPostId: write.part.platformPostId }, 'another part holds this platform id');
    throw ApplicationFailure.nonRetryable('Another part of the ledger holds this platform id.', 'ledger_conflict');
  }
}
