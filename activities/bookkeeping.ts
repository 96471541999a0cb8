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
import type { PlatformParams } from '../src/db/entities';
import type { Platform, ThreadOptions } from '../src/domain/types';
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

/**
 * Mirrors the workflow's state into Postgres, where the API lists and reads posts. False when the row is not the caller's.
 * One statement: the post's conditional update, and each target's only when the post's applied (a target
 * field the state does not carry keeps its stored value, as with the ORM's update before).
 */
export async function writePostState(deps: Pick<BookkeepingDeps, 'orm'>, state: LivePostState, now: Date): Promise<boolean> {
  const owner = ownedBy(callingWorkflowId());
  // Never turn a cancelled post back into a live one (a reset run replaying a reschedule).
  const fresher = newerThanStored(state.version);
  // A null account keeps the stored one: it was chosen when the post was created; the workflow learns it only when publishing.
  const targets = state.targets.map((target) => ({
    platform: target.platform, status: target.status, accountId: target.accountId, error: target.error, errorClass: target.errorClass, url: target.url,
  }));
  const updated: unknown[] = await deps.orm.em.getConnection().execute(
    `with post as (
       update posts set status = ?, scheduled_for = ?, published_at = ?, updated_at = ?, state_version = coalesce(?, state_version)
       where id = ? and ${owner.sql} and ${fresher.sql} and (status <> 'cancelled' or ? = 'cancelled') returning id
     ), targets as (
       update post_targets t set
         status = case when x.j->'status' is null then t.status else x.j->>'status' end,
         account_id = coalesce((x.j->>'accountId')::int, t.account_id),
         error = case when x.j->'error' is null then t.error else x.j->>'error' end,
         error_class = case when x.j->'errorClass' is null then t.error_class else x.j->>'errorClass' end,
         url = case when x.j->'url' is null then t.url else x.j->>'url' end,
         updated_at = ?
       from post, jsonb_array_elements(?::jsonb) as x(j)
       where t.post_id = post.id and t.platform = x.j->>'platform'
       returning t.id
     )
     select id from post`,
    [state.status, new Date(state.scheduledFor), state.publishedAt ? new Date(state.publishedAt) : null, now, state.version ?? null,
      state.postId, ...owner.params, ...fresher.params, state.status, now, JSON.stringify(targets)],
  );
  return updated.length > 0;
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
  const connection = deps.orm.em.getConnection();
  // One statement: mark the post (conditionally, as ever) and, unless it is cancelled, its pending
  // targets; read back what planning needs — the post, each target with its account, the frozen parts.
  const rows: PreparedRow[] = await connection.execute(
    `with post as (
       update posts set status = case when status = 'cancelled' then status else 'publishing' end, updated_at = ?,
         state_version = coalesce(?, state_version)
       where id = ? and ${owner.sql} and ${fresher.sql}
       returning id, status, content, platforms, platform_params, thread_options
     ), marked as (
       update post_targets set status = 'publishing', updated_at = ?
       where post_id = (select id from post where status <> 'cancelled') and status = 'pending'
       returning id
     )
     select post.status, post.content, post.platforms, post.platform_params, post.thread_options,
       (select coalesce(json_agg(json_build_object('platform', t.platform, 'accountId', t.account_id,
           'account', case when a.id is null then null else json_build_object('id', a.id, 'isActive', a.is_active,
             'displayName', a.display_name, 'platformUserId', a.platform_user_id) end)), '[]'::json)
        from post_targets t left join social_accounts a on a.id = t.account_id where t.post_id = post.id) as targets,
       (select coalesce(json_agg(json_build_object('platform', pp.platform, 'partIndex', pp.part_index, 'accountId', pp.account_id,
           'platformPostId', pp.platform_post_id, 'url', pp.url, 'publishedAt', pp.published_at) order by pp.platform, pp.part_index), '[]'::json)
        from post_parts pp where pp.post_id = post.id) as parts
     from post`,
    [now, version ?? null, postId, ...owner.params, ...fresher.params, now],
  );
  const post = rows[0];
  if (!post) return orphanedPlans(postId);
  if (post.status === 'cancelled') return post.platforms.map((platform) => ({ platform, accountId: null, partCount: 0, alreadyPublished: [], outcome: 'cancelled' }));
  const plans: TargetPlan[] = [];
  for (const platform of post.platforms) plans.push(await planTarget(deps, postId, post, platform));
  return plans;
}

/** What `preparePublication`'s statement returns: the post's columns and, as JSON, its targets and frozen parts. */
interface PreparedRow {
  status: string;
  content: string;
  platforms: Platform[];
  platform_params: PlatformParams;
  thread_options: ThreadOptions;
  targets: Array<{ platform: string; accountId: number | null; account: { id: number; isActive: boolean; displayName: string | null; platformUserId: string } | null }>;
  parts: FrozenPart[];
}

interface FrozenPart {
  platform: string;
  partIndex: number;
  accountId: number | null;
  platformPostId: string | null;
  url: string | null;
  publishedAt: string | Date | null;
}

/**
 * No row of ours (the database was restored or re-created, or the post was removed), or a newer run
 * of this workflow has written it since (this call comes from a stale task): publish nothing.
 */
function orphanedPlans(postId: number): TargetPlan[] {
  const message = `Post ${postId} has no row for this workflow run (the database was restored or re-created, or the post was removed): nothing was published.`;
  return [{ platform: 'twitter', accountId: null, partCount: 0, alreadyPublished: [], outcome: 'orphaned', failure: { errorClass: 'rejected', message } }];
}

async function planTarget(deps: BookkeepingDeps, postId: number, post: PreparedRow, platform: Platform): Promise<TargetPlan> {
  const target = post.targets.find((candidate) => candidate.platform === platform);
  const publisher = deps.publishers[platform];
  const fail = (errorClass: 'auth' | 'rejected', message: string): TargetPlan => ({
    platform, accountId: target?.accountId ?? null, partCount: 0, alreadyPublished: [], failure: { errorClass, message },
  });
  if (!publisher) return fail('rejected', `Publishing to ${platform} is not available in this Herald build.`);
  const account = target?.accountId ? target.account : null;
  if (!account) return fail('auth', `No ${platform} account is connected for this business: connect one and publish again.`);
  if (!account.isActive) return fail('auth', `The ${platform} account ${account.displayName ?? account.platformUserId} was disconnected: reconnect it and publish again.`);

  let rows = post.parts.filter((part) => part.platform === platform);
  if (rows.length === 0) {
    const { parts } = publisher.split(post.content, post.thread_options, post.platform_params[platform]);
    if (parts.length === 0) return fail('rejected', 'The post has no text to publish.');
    // A concurrent attempt may freeze the same parts: the unique key keeps the first one's.
    const connection = deps.orm.em.getConnection();
    const inserted: FrozenPart[] = await connection.execute(
      `insert into post_parts (post_id, platform, account_id, part_index, text, content_fingerprint)
       select ?, ?, ?, p.idx, p.text, p.fp from jsonb_to_recordset(?::jsonb) as p(idx int, text text, fp text)
       on conflict (post_id, platform, part_index) do nothing
       returning platform, part_index as "partIndex", account_id as "accountId", platform_post_id as "platformPostId", url, published_at as "publishedAt"`,
      [postId, platform, account.id, JSON.stringify(parts.map((p) => ({ idx: p.index, text: p.text, fp: fingerprint(p.text) })))],
    );
    // All ours: these are the frozen parts. Otherwise another attempt froze (some of) them first: read what is stored.
    rows = inserted.length === parts.length
      ? inserted
      : await connection.execute(
        `select platform, part_index as "partIndex", account_id as "accountId", platform_post_id as "platformPostId", url, published_at as "publishedAt"
         from post_parts where post_id = ? and platform = ?`,
        [postId, platform],
      );
    rows = [...rows].sort((a, b) => a.partIndex - b.partIndex);
  }
  return { platform, accountId: rows[0]?.accountId ?? account.id, partCount: rows.length, alreadyPublished: leadingPublished(rows) };
}

function leadingPublished(rows: FrozenPart[]): LivePart[] {
  const done: LivePart[] = [];
  for (const row of rows) {
    if (!row.platformPostId) break;
    const publishedAt = row.publishedAt === null ? new Date(0) : new Date(row.publishedAt);
    done.push({ index: row.partIndex, platformPostId: row.platformPostId, url: row.url ?? null, publishedAt: publishedAt.toISOString() });
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
