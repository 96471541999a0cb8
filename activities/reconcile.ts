/**
 * The reconciler, run by the `herald-reconcile` Temporal Schedule (docs/EXACTLY-ONCE.md): it heals
 * what no single request or run can.
 * - Posts whose workflow start was never confirmed (the API died between its commit and the start,
 *   or Temporal was away): started now, with the post's own workflow id (starting twice is harmless).
 * - Runs that closed without recording a final state (terminated, timed out, cancelled by old code):
 *   the post's state is derived from the part ledger, so the API never says "scheduled" forever.
 * - Open post workflows that no post row references (a restored or re-created database): ended.
 * Input and result are counts only.
 */
import { Context } from '@temporalio/activity';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Platform, PostStatus, TargetStatus } from '../src/domain/types';
import { truncate } from '../src/platforms/publisher';
import type { PublisherRegistry } from '../src/platforms/publisher';
import { startPostWorkflow } from '../src/temporal/post-workflow';
import { publishPostWorkflowType } from '../workflows/contract';
import { settleUncertainPart, type PublishPartDeps } from './publish-part';

export interface ReconcileDeps extends PublishPartDeps {
  publishers: PublisherRegistry;
}

export interface ReconcileInput {
  /** Posts created at least this long ago without a confirmed start are started. */
  graceSeconds: number;
  /** How often the open workflows are checked for orphans (a costlier sweep). */
  orphanSweepMinutes?: number;
}

export interface ReconcileSummary {
  started: number;
  settled: number;
  orphansEnded: number;
}

const BATCH = 200;
/** Closed runs are looked at again for this long: visibility lags a little behind the close. */
const CLOSED_OVERLAP_MS = 5 * 60_000;
const CLOSED_WATERMARK = 'reconcile.closed_since';
const ORPHAN_SWEEP = 'reconcile.orphans_swept_at';

type Raw = Record<string, unknown>;

export function createReconcileActivities(deps: ReconcileDeps) {
  return {
    async reconcilePosts(input: ReconcileInput): Promise<ReconcileSummary> {
      const context = Context.current();
      const client = context.client;
      const taskQueue = context.info.taskQueue;
      const summary: ReconcileSummary = {
        started: await startUnstartedPosts(deps, client, taskQueue, input.graceSeconds),
        settled: await settleClosedRuns(deps, client),
        orphansEnded: await endOrphanWorkflows(deps, client, input),
      };
      if (summary.started + summary.settled + summary.orphansEnded > 0) deps.logger.info({ ...summary }, 'reconciler healed posts');
      return summary;
    },
  };
}

function heartbeat(): void {
  Context.current().heartbeat();
}

async function execute(deps: ReconcileDeps, sql: string, params: unknown[] = []): Promise<Raw[]> {
  return deps.orm.em.getConnection().execute(sql, params);
}

// --- posts without a confirmed start -------------------------------------------------------------

async function startUnstartedPosts(deps: ReconcileDeps, client: Client, taskQueue: string, graceSeconds: number): Promise<number> {
  const rows = await execute(deps,
    `select id, business_id, platforms, scheduled_for, workflow_id from posts
     where workflow_started_at is null and workflow_id is not null and created_at < clock_timestamp() - (? * interval '1 second')
     order by created_at limit ${BATCH}`,
    [graceSeconds],
  );
  let started = 0;
  for (const row of rows) {
    heartbeat();
    const post = { id: Number(row.id), businessId: Number(row.business_id), platforms: row.platforms as Platform[], scheduledFor: new Date(row.scheduled_for as string), workflowId: String(row.workflow_id) };
    try {
      await startPostWorkflow(client, taskQueue, post);
      await execute(deps, `update posts set workflow_started_at = clock_timestamp() where id = ? and workflow_started_at is null`, [post.id]);
      deps.logger.warn({ postId: post.id, workflowId: post.workflowId }, 'reconciler started a post whose workflow start was not confirmed');
      started += 1;
    } catch (err) {
      deps.logger.error({ postId: post.id, err: errorMessage(err) }, 'reconciler could not start a post workflow');
    }
  }
  return started;
}

// --- runs that closed without a final state ------------------------------------------------------

async function settleClosedRuns(deps: ReconcileDeps, client: Client): Promise<number> {
  const since = await readWatermark(deps, CLOSED_WATERMARK);
  const scanStartedAt = new Date();
  const query = `WorkflowType = '${publishPostWorkflowType}' AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed' AND CloseTime >= '${since.toISOString()}'`;
  let settled = 0;
  let nextSince = new Date(scanStartedAt.getTime() - CLOSED_OVERLAP_MS);
  for await (const execution of client.workflow.list({ query })) {
    heartbeat();
    const outcome = await settleRun(deps, client, execution);
    if (outcome === 'settled') settled += 1;
    // A run whose parts cannot be settled yet keeps the watermark at or before it: the next sweep sees it again.
    if (outcome === 'later' && execution.closeTime && execution.closeTime < nextSince) nextSince = execution.closeTime;
  }
  await writeWatermark(deps, CLOSED_WATERMARK, nextSince);
  return settled;
}

async function settleRun(deps: ReconcileDeps, client: Client, execution: WorkflowExecutionInfo): Promise<'settled' | 'later' | 'nothing'> {
  const [post] = await execute(deps, `select id, status from posts where workflow_id = ?`, [execution.workflowId]);
  if (!post || isFinal(post.status as PostStatus)) return 'nothing';
  // A reset closes one run and starts another under the same id: only the latest run speaks for the post.
  const latest = await client.workflow.getHandle(execution.workflowId).describe();
  if (latest.runId !== execution.runId || latest.status.name === 'RUNNING' || latest.status.name === 'COMPLETED') return 'nothing';
  const postId = Number(post.id);
  if (!(await settleUncertainParts(deps, postId))) return 'later';
  const how = latest.status.name === 'TERMINATED' ? 'terminated' : latest.status.name === 'CANCELLED' ? 'cancelled' : 'timed_out';
  const reason = how === 'terminated' ? await terminationReason(client, execution) : undefined;
  await settleFromLedger(deps, postId, execution.workflowId, how, reason);
  deps.logger.warn({ postId, workflowId: execution.workflowId, how }, 'reconciler recorded the final state of a run that closed without it');
  return 'settled';
}

/**
 * A run stopped while a send was on its way: the platform may have the part although the ledger does
 * not. Each such part is looked up once its send deadline has passed; false while any must wait.
 */
async function settleUncertainParts(deps: ReconcileDeps, postId: number): Promise<boolean> {
  const parts = await execute(deps,
    `select p.platform, p.part_index, p.account_id, p.platform_post_id, p.send_started_at,
       count(*) over (partition by p.platform) as part_count
     from post_parts p where p.post_id = ? order by p.platform, p.part_index`,
    [postId],
  );
  let ready = true;
  for (const part of parts) {
    if (part.platform_post_id !== null || part.send_started_at === null || part.account_id === null) continue;
    const sameTarget = parts.filter((other) => other.platform === part.platform);
    const index = Number(part.part_index);
    const input = {
      postId, platform: part.platform as Platform, partIndex: index, partCount: Number(part.part_count), accountId: Number(part.account_id),
      replyToPlatformPostId: (sameTarget.find((other) => Number(other.part_index) === index - 1)?.platform_post_id as string | null) ?? undefined,
      rootPlatformPostId: (sameTarget.find((other) => Number(other.part_index) === 0)?.platform_post_id as string | null) ?? undefined,
    };
    if ((await settleUncertainPart(deps, deps.publishers, input)) === 'not_yet') ready = false;
  }
  return ready;
}

async function terminationReason(client: Client, execution: WorkflowExecutionInfo): Promise<string | undefined> {
  try {
    const response = await client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: client.options.namespace,
      execution: { workflowId: execution.workflowId, runId: execution.runId },
      maximumPageSize: 1,
    });
    const reason = response.history?.events?.[0]?.workflowExecutionTerminatedEventAttributes?.reason;
    return reason ? truncate(reason, 200) : undefined;
  } catch {
    return undefined;
  }
}

type Ending = 'terminated' | 'cancelled' | 'timed_out';

/** Each target from its parts: every part live → published; otherwise cancelled (an operator's doing) or failed. */
async function settleFromLedger(deps: ReconcileDeps, postId: number, workflowId: string, how: Ending, reason: string | undefined): Promise<void> {
  const targets = await execute(deps,
    `select t.platform, t.status, count(p.id) as parts, count(p.platform_post_id) as live,
       (array_agg(p.url order by p.part_index) filter (where p.platform_post_id is not null))[1] as url
     from post_targets t left join post_parts p on p.post_id = t.post_id and p.platform = t.platform
     where t.post_id = ? group by t.platform, t.status`,
    [postId],
  );
  const why = describeEnding(how, reason);
  const outcomes = targets.map((target) => targetOutcome(target, how, why));
  const published = outcomes.filter((o) => o.status === 'published').length;
  const anyLive = targets.some((target) => Number(target.live) > 0);
  // Whatever is live is said: a thread stopped halfway is partly published, not cancelled.
  const status: PostStatus = published === outcomes.length && published > 0 ? 'published' : anyLive ? 'partially_published' : how === 'timed_out' ? 'failed' : 'cancelled';
  await deps.orm.em.fork().transactional(async (tx) => {
    const connection = tx.getConnection();
    const context = tx.getTransactionContext();
    const updated: Raw[] = await connection.execute(
      `update posts set status = ?, updated_at = clock_timestamp(),
         published_at = (select max(published_at) from post_parts where post_id = ?),
         state_version = lpad(floor(extract(epoch from clock_timestamp()) * 1000)::bigint::text, 15, '0') || '-999999'
       where id = ? and workflow_id = ? and status in ('scheduled', 'publishing') returning id`,
      [status, postId, postId, workflowId], 'all', context,
    );
    if (updated.length === 0) return;
    for (const outcome of outcomes) {
      await connection.execute(
        `update post_targets set status = ?, error = ?, error_class = ?, url = coalesce(?, url), updated_at = clock_timestamp() where post_id = ? and platform = ?`,
        [outcome.status, outcome.error, outcome.status === 'failed' ? 'retryable' : null, outcome.url, postId, outcome.platform], 'all', context,
      );
    }
  });
}

function targetOutcome(target: Raw, how: Ending, why: string): { platform: string; status: TargetStatus; error: string | null; url: string | null } {
  const parts = Number(target.parts);
  const live = Number(target.live);
  const url = (target.url as string | null) ?? null;
  if (parts > 0 && live === parts) return { platform: String(target.platform), status: 'published', error: null, url };
  const sent = parts > 0 ? ` ${live} of ${parts} part(s) had been published.` : ' Nothing had been published.';
  return { platform: String(target.platform), status: how === 'timed_out' ? 'failed' : 'cancelled', error: `${why}${sent}`, url };
}

function describeEnding(how: Ending, reason: string | undefined): string {
  if (how === 'terminated') return `The workflow was terminated in Temporal${reason ? ` ("${reason}")` : ''} before this target finished.`;
  if (how === 'cancelled') return 'The workflow was cancelled in Temporal before this target finished.';
  return 'The workflow timed out in Temporal before this target finished.';
}

function isFinal(status: PostStatus): boolean {
  return status === 'published' || status === 'partially_published' || status === 'failed' || status === 'cancelled';
}

// --- open workflows without a post ---------------------------------------------------------------

async function endOrphanWorkflows(deps: ReconcileDeps, client: Client, input: ReconcileInput): Promise<number> {
  const lastSweep = await readWatermark(deps, ORPHAN_SWEEP);
  if (Date.now() - lastSweep.getTime() < (input.orphanSweepMinutes ?? 10) * 60_000) return 0;
  const startedBefore = new Date(Date.now() - input.graceSeconds * 1000).toISOString();
  const query = `WorkflowType = '${publishPostWorkflowType}' AND ExecutionStatus = 'Running' AND StartTime < '${startedBefore}'`;
  let ended = 0;
  let batch: string[] = [];
  const flush = async () => {
    ended += await endOrphansIn(deps, client, batch);
    batch = [];
  };
  for await (const execution of client.workflow.list({ query })) {
    batch.push(execution.workflowId);
    if (batch.length >= 500) {
      heartbeat();
      await flush();
    }
  }
  await flush();
  await writeWatermark(deps, ORPHAN_SWEEP, new Date());
  return ended;
}

async function endOrphansIn(deps: ReconcileDeps, client: Client, workflowIds: string[]): Promise<number> {
  if (workflowIds.length === 0) return 0;
  const rows = await execute(deps, `select workflow_id from posts where workflow_id in (${workflowIds.map(() => '?').join(', ')})`, workflowIds);
  const known = new Set(rows.map((row) => String(row.workflow_id)));
  let ended = 0;
  for (const workflowId of workflowIds.filter((id) => !known.has(id))) {
    try {
      await client.workflow.getHandle(workflowId).terminate('No post row references this workflow (the database was restored or re-created): it can never publish.');
      deps.logger.warn({ workflowId }, 'reconciler ended a post workflow without a post');
      ended += 1;
    } catch (err) {
      deps.logger.warn({ workflowId, err: errorMessage(err) }, 'reconciler could not end an orphaned workflow');
    }
  }
  return ended;
}

// --- watermarks ----------------------------------------------------------------------------------

async function readWatermark(deps: ReconcileDeps, key: string): Promise<Date> {
  const [row] = await execute(deps, `select value from herald_state where key = ?`, [key]);
  // The first sweep looks a day back: enough for what a fresh deployment can have missed.
  return row ? new Date(String(row.value)) : new Date(Date.now() - 24 * 3600_000);
}

async function writeWatermark(deps: ReconcileDeps, key: string, value: Date): Promise<void> {
  await execute(deps,
    `insert into herald_state (key, value, updated_at) values (?, ?, clock_timestamp())
     on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at`,
    [key, value.toISOString()],
  );
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
