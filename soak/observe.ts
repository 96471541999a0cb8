/**
 * What the soak looks at once the drain is over, gathered from the four witnesses: what the fakes
 * received (the platforms' truth), what the API says about each post, what each post's workflow
 * says about itself, and what the database holds (posts created twice, the ledger's attempts).
 */
import type { Client } from '@temporalio/client';
import type { PostView } from '../src/api/schemas';
import type { Platform } from '../src/domain/types';
import { unescapeLittleText } from '../src/platforms/little-text';
import type { LivePostState } from '../workflows/contract';
import { runPool } from '../bench/lib';
import { callApi, isPostView } from './api';
import type { SoakStack } from './stack';
import { withDeadline, type PostRecord } from './workload';

/** One thing a fake holds, in one shape for all platforms. */
export interface FakeItem {
  platform: Platform;
  id: string;
  /** The account it was created for (X user id, LinkedIn author URN, Page id, Instagram id). */
  account: string;
  text: string;
  /** The post it replies to or comments on. */
  parent?: string;
  /** Epoch ms the platform created it. */
  createdAt: number;
  /** LinkedIn cut the stored text at an unescaped reserved character. */
  truncated?: boolean;
}

export function fakeItems(stack: SoakStack): FakeItem[] {
  const { x, linkedin, meta } = stack.fakes;
  const items: FakeItem[] = [];
  for (const tweet of x.tweets) {
    items.push({ platform: 'twitter', id: tweet.id, account: tweet.authorId, text: tweet.text, parent: tweet.inReplyToTweetId, createdAt: tweet.createdAt.getTime() });
  }
  for (const post of linkedin.posts) {
    items.push({ platform: 'linkedin', id: post.urn, account: post.author, text: unescapeLittleText(post.sentCommentary), createdAt: post.createdAt.getTime(), truncated: post.truncated });
  }
  for (const comment of linkedin.comments) {
    items.push({ platform: 'linkedin', id: comment.urn, account: comment.actor, text: comment.text, parent: comment.postUrn, createdAt: comment.createdAt.getTime() });
  }
  for (const post of meta.pagePosts) {
    items.push({ platform: 'facebook', id: post.id, account: post.pageId, text: post.message, createdAt: post.createdAt.getTime() });
  }
  for (const comment of meta.pageComments) {
    items.push({ platform: 'facebook', id: comment.id, account: comment.fromId, text: comment.message, parent: comment.postId, createdAt: comment.createdAt.getTime() });
  }
  for (const media of meta.igMedia) {
    items.push({ platform: 'instagram', id: media.id, account: media.igId, text: media.caption, createdAt: media.publishedAt.getTime() });
  }
  return items;
}

/** Create requests each fake received (all answers, faults included): compared with the parts, the retries. */
export function createRequests(stack: SoakStack): Record<string, number> {
  const count = (entries: Array<{ method: string; path: string }>, test: (path: string) => boolean) =>
    entries.filter((e) => e.method === 'POST' && test(e.path)).length;
  const meta = stack.fakes.meta.requests;
  return {
    twitter: count(stack.fakes.x.requests, (p) => p === '/2/tweets'),
    linkedin: count(stack.fakes.linkedin.requests, (p) => p === '/rest/posts' || p.endsWith('/comments')),
    facebook: count(meta, (p) => p.endsWith('/feed') || p.endsWith('/comments')),
    instagram: count(meta, (p) => p.endsWith('/media_publish')),
    instagramContainers: count(meta, (p) => p.endsWith('/media')),
  };
}

/** Each created post as the API shows it now (undefined when it could not be read). */
export async function apiViews(stack: SoakStack, records: PostRecord[]): Promise<Map<number, PostView>> {
  const views = new Map<number, PostView>();
  const created = records.filter((r) => r.postId !== undefined);
  await runPool(created.length, 16, async (i) => {
    const record = created[i]!;
    const key = stack.tenants[record.plan.tenantIndex]!.apiKey;
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await callApi<PostView>(stack.api.url, key, 'GET', `/api/v2/posts/${record.postId}`, { timeoutMs: 15_000 });
      if (isPostView(answer.body)) {
        views.set(record.postId!, answer.body);
        return;
      }
    }
  });
  return views;
}

export interface WorkflowOutcome {
  /** The latest run's status (RUNNING, COMPLETED, CANCELLED, TERMINATED, FAILED, …). */
  status: string;
  /** The workflow's own final state: its result, or its `status` query when it has no result. */
  state?: LivePostState;
  error?: string;
  /** A run still open: what its pending activities are doing (failure texts are encrypted, types are not). */
  pending?: string;
}

/**
 * Each workflow's own account of its post. A completed run's result is read from its history; a
 * cancelled one has no result, so it is asked with the `status` query (a worker replays it); a
 * terminated run has neither (the verdict checks those against the fakes and the ledger).
 */
export async function workflowOutcomes(temporal: Client, records: PostRecord[]): Promise<Map<number, WorkflowOutcome>> {
  const outcomes = new Map<number, WorkflowOutcome>();
  const withWorkflow = records.filter((r) => r.postId !== undefined && r.workflowId);
  await runPool(withWorkflow.length, 16, async (i) => {
    const record = withWorkflow[i]!;
    const handle = temporal.workflow.getHandle(record.workflowId!);
    const outcome: WorkflowOutcome = { status: 'UNKNOWN' };
    try {
      const description = await withDeadline(handle.describe(), 15_000, 'describe');
      outcome.status = description.status.name;
      if (outcome.status === 'RUNNING') outcome.pending = describePending(description.raw.pendingActivities ?? []);
      if (outcome.status === 'COMPLETED') {
        outcome.state = (await withDeadline(handle.result(), 15_000, 'result')) as LivePostState;
      } else if (outcome.status !== 'TERMINATED') {
        outcome.state = (await withDeadline(handle.query('status'), 20_000, 'status query')) as LivePostState;
      }
    } catch (err) {
      outcome.error = err instanceof Error ? err.message.slice(0, 200) : String(err);
    }
    outcomes.set(record.postId!, outcome);
  });
  return outcomes;
}

type PendingActivity = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>>['raw']['pendingActivities']>[number];

function describePending(activities: PendingActivity[]): string {
  if (activities.length === 0) return 'no pending activity';
  return activities
    .map((a) => {
      const failure = a.lastFailure?.applicationFailureInfo;
      const next = a.nextAttemptScheduleTime?.seconds ? new Date(Number(a.nextAttemptScheduleTime.seconds) * 1000).toISOString() : undefined;
      return `${a.activityType?.name ?? '?'} attempt ${a.attempt ?? '?'}${failure?.type ? `, last failure ${failure.type}` : ''}${next ? `, next attempt ${next}` : ''}`;
    })
    .join('; ');
}

export interface DatabaseFacts {
  /** Every post row: id and content (to find a post created twice by one client request). */
  posts: Array<{ id: number; content: string; status: string }>;
  /** The ledger: parts sent more than once (attempts > 1), all sends, rows. */
  ledger: { rows: number; sends: number; resent: number };
  /** Each ledger row, keyed `${postId}/${platform}/${partIndex}`: evidence for the findings. */
  parts: Map<string, LedgerRow>;
}

export interface LedgerRow {
  platformPostId: string | null;
  attempts: number;
  lastError: string | null;
  /** Whatever else the ledger keeps (claim, deadlines, failures), as the database has it. */
  extra: Record<string, unknown>;
}

export async function databaseFacts(stack: SoakStack): Promise<DatabaseFacts> {
  // The soak's pool may still hold connections cut by the Postgres restart: the first use can fail.
  for (let attempt = 1; ; attempt++) {
    try {
      return await readDatabaseFacts(stack);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function readDatabaseFacts(stack: SoakStack): Promise<DatabaseFacts> {
  const connection = stack.orm.em.getConnection();
  const posts = (await connection.execute('select id, content, status from posts order by id')) as Array<{ id: number; content: string; status: string }>;
  const [ledger] = (await connection.execute(
    'select count(*)::int as rows, coalesce(sum(attempts), 0)::int as sends, count(*) filter (where attempts > 1)::int as resent from post_parts',
  )) as Array<{ rows: number; sends: number; resent: number }>;
  const rows = (await connection.execute('select * from post_parts')) as Array<Record<string, unknown>>;
  const parts = new Map<string, LedgerRow>();
  for (const row of rows) {
    const { post_id, platform, part_index, platform_post_id, attempts, last_error, text: _text, content_fingerprint: _fp, url: _url, ...extra } = row;
    parts.set(`${String(post_id)}/${String(platform)}/${String(part_index)}`, {
      platformPostId: (platform_post_id as string | null) ?? null,
      attempts: Number(attempts ?? 0),
      lastError: (last_error as string | null) ?? null,
      extra: Object.fromEntries(Object.entries(extra).filter(([, value]) => value !== null && value !== false && value !== 0)),
    });
  }
  return { posts, ledger: ledger ?? { rows: 0, sends: 0, resent: 0 }, parts };
}

/**
 * A create the client never got a 2xx for may still have made a post (an answer lost with the API's
 * process, a 500 after the commit): find it by its text, which is unique, and judge it like any other.
 */
export async function adoptUnansweredCreates(stack: SoakStack, records: PostRecord[]): Promise<number> {
  const unanswered = records.filter((r) => r.postId === undefined);
  if (unanswered.length === 0) return 0;
  let adopted = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const rows = (await stack.orm.em.getConnection().execute('select id, content, workflow_id from posts order by id')) as Array<{ id: number; content: string; workflow_id: string | null }>;
      const byContent = new Map(rows.map((row) => [row.content, row]));
      for (const record of unanswered) {
        const row = byContent.get(record.plan.content);
        if (!row) continue;
        record.postId = row.id;
        record.workflowId = row.workflow_id ?? undefined;
        record.adopted = true;
        adopted += 1;
      }
      return adopted;
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
  return adopted;
}

