/**
 * What the post routes do: create a post and start its workflow, read posts, and move or cancel
 * them by signal. The workflow is the source of truth; Postgres is its mirror for lists and reads.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Post } from '../db/entities';
import { describeRepeatedParts, findRepeatedParts } from '../domain/repeated-parts';
import { isFinalPostStatus, PLATFORM_LABELS, type Platform, type PostStatus } from '../domain/types';
import type { Logger } from '../logger';
import type { PublisherRegistry } from '../platforms/publisher';
import { cancelSignal, legacyPostWorkflowId, rescheduleSignal, statusQuery, type LivePostState } from '../../workflows/contract';
import type { publishPostWorkflow } from '../../workflows/publish-post';
import { assertMember, type AuthContext } from './auth';
import { HttpError, notFound, validationFailed, type ErrorDetail } from './errors';
import { createPostDurably, ensureStarted, postForKey, type IdempotencyClaim } from './post-creation';
import { type CalendarQuery, type PostSummaryView, type PostView, type PublishBody } from './schemas';
import { CalendarCache, DEFAULT_CALENDAR_CACHE_BYTES, readCalendar, type CalendarJson } from './calendar';
import { iso, postSummaryJson } from './summary-sql';
import { noEvents, type HeraldEvents } from '../observability/events';
import { MAX_ID, MAX_SCHEDULE_AHEAD_DAYS, MAX_SCHEDULE_AHEAD_MS } from '../domain/limits';

/** A thread longer than this is almost certainly a mistake; refuse it before anything is stored. */
export const MAX_PARTS_PER_TARGET = 25;
/** `scheduledFor` may lie this far in the past (clock skew, slow clients); further is an error. */
export const PAST_TOLERANCE_MS = 60_000;

/**
 * A post's time: not more than 60 s in the past, at most MAX_SCHEDULE_AHEAD_DAYS ahead (so the
 * workflow's timer is always finite and sane). 400 naming `scheduledFor` otherwise.
 */
export function assertSchedulable(when: Date, now: Date): void {
  if (when.getTime() < now.getTime() - PAST_TOLERANCE_MS) {
    throw validationFailed([{ path: 'scheduledFor', message: 'must not be more than 60 seconds in the past' }]);
  }
  if (when.getTime() > now.getTime() + MAX_SCHEDULE_AHEAD_MS) {
    throw validationFailed([{ path: 'scheduledFor', message: `must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead` }]);
  }
}

export interface SignalOutcome {
  post: PostView;
  /** The workflow confirmed the change (otherwise it is queued until a worker runs). */
  confirmed: boolean;
}

export interface PostServiceDeps {
  orm: MikroORM;
  temporal: Client;
  taskQueue: string;
  publishers: PublisherRegistry;
  now?: () => Date;
  events?: HeraldEvents;
  logger?: Logger;
  /** The calendar's answer cache, in bytes (CALENDAR_CACHE_MAX_BYTES); 0: off. */
  calendarCacheMaxBytes?: number;
}

export interface CreatedPost {
  post: PostView;
  /** An earlier request with the same Idempotency-Key created this post. */
  replayed: boolean;
}

export class PostService {
  private readonly now: () => Date;
  private readonly calendarCache: CalendarCache;

  constructor(private readonly deps: PostServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.calendarCache = new CalendarCache(deps.calendarCacheMaxBytes ?? DEFAULT_CALENDAR_CACHE_BYTES);
  }

  /**
   * Validates, stores the post with its targets and Idempotency-Key, then starts its workflow
   * (src/api/post-creation.ts). A key used before for this request returns that post instead.
   */
  async createPost(auth: AuthContext, body: PublishBody, scheduledFor: Date, timezone?: string, claim?: IdempotencyClaim): Promise<CreatedPost> {
    assertMember(auth, body.businessId);
    const earlier = await postForKey(this.deps.orm, auth, claim);
    if (earlier !== undefined) {
      await ensureStarted(this.deps, earlier);
      return { post: await this.view(earlier), replayed: true };
    }
    const accounts = await this.resolveTargets(body);
    const creation = await createPostDurably(this.deps, { businessId: body.businessId, userId: auth.userId, body, scheduledFor, timezone, accounts }, claim);
    // The post is committed and started: whatever fails now, the answer is the post (never a 500
    // that makes a client without an Idempotency-Key send it again). A new post is answered as it
    // was stored (nothing is read back); a replay reads its current state.
    const post = creation.view ?? (await this.view(creation.postId));
    if (!creation.replayed) {
      try {
        (this.deps.events ?? noEvents).postCreated({
          postId: post.id,
          workflowId: post.workflowId,
          businessId: post.businessId,
          platforms: post.platforms,
          scheduledFor,
          immediate: scheduledFor.getTime() <= this.now().getTime(),
        });
      } catch (err) {
        this.deps.logger?.warn({ postId: post.id, err: (err as Error).message }, 'post-created event failed');
      }
    }
    return { post, replayed: creation.replayed };
  }

  /** Each platform's newest active account (one statement for all of them), and the text checked against each platform's rules. */
  private async resolveTargets(body: PublishBody): Promise<Map<Platform, { id: number }>> {
    const problems: ErrorDetail[] = [];
    const accounts = new Map<Platform, { id: number }>();
    const wanted = body.platforms.filter((platform) => this.deps.publishers[platform]);
    const rows: Array<{ platform: Platform; id: number }> = wanted.length === 0 ? [] : await this.deps.orm.em.getConnection().execute(
      `select distinct on (platform) platform, id from social_accounts
       where business_id = ? and is_active and platform in (${wanted.map(() => '?').join(', ')})
       order by platform, id desc`,
      [body.businessId, ...wanted],
    );
    const newest = new Map(rows.map((row) => [row.platform, { id: Number(row.id) }]));
    for (const [index, platform] of body.platforms.entries()) {
      const path = `platforms.${index}`;
      const publisher = this.deps.publishers[platform];
      if (!publisher) {
        problems.push({ path, message: `publishing to ${platform} is not available in this Herald build yet` });
        continue;
      }
      const account = newest.get(platform);
      if (!account) problems.push({ path, message: `no active ${platform} account is connected to business ${body.businessId}` });
      else accounts.set(platform, account);
      for (const problem of publisher.validate?.(body.content, body.platformParams?.[platform], body.thread ?? {}) ?? []) problems.push({ ...problem });
      const { parts } = publisher.split(body.content, body.thread ?? {}, body.platformParams?.[platform]);
      if (parts.length > MAX_PARTS_PER_TARGET) {
        problems.push({ path: 'content', message: `becomes ${parts.length} ${platform} parts; at most ${MAX_PARTS_PER_TARGET} are allowed` });
      }
      // The platforms refuse a part that repeats an earlier one: the thread would stop halfway.
      const repeats = findRepeatedParts(parts);
      if (repeats.length > 0) problems.push({ path: 'content', message: describeRepeatedParts(PLATFORM_LABELS[platform], repeats), platform });
    }
    if (problems.length > 0) throw validationFailed(problems);
    return accounts;
  }

  /**
   * Waits up to `seconds` (fractions allowed) for the workflow to finish; returns the post as it
   * stands then. Runs after the post is created: it never throws, and when the post cannot be read
   * again it returns `created` (the answer must be the post, never an error a client would retry).
   */
  async waitForOutcome(created: PostView, seconds: number): Promise<PostView> {
    try {
      const ms = Math.min(Math.ceil(seconds * 1000), 30 * 60_000);
      if (ms > 0) {
        const handle = await this.handle(created.id);
        await this.deps.temporal.withAbortSignal(AbortSignal.timeout(ms), () => handle.result()).catch(() => undefined);
      }
      return await this.view(created.id);
    } catch (err) {
      this.deps.logger?.warn({ postId: created.id, err: (err as Error).message }, 'could not wait for or read the post: answering with it as created');
      return created;
    }
  }

  async getPost(auth: AuthContext, postId: number): Promise<PostView> {
    const post = await this.deps.orm.em.fork().findOne(Post, { id: postId });
    if (!post) throw notFound('post');
    assertMember(auth, post.businessId, 'post');
    return this.view(postId);
  }

  /** The full shape (the default of `GET /scheduled`): one statement, see `selectPostViews`. */
  async listScheduled(
    auth: AuthContext,
    query: { businessId: number; from?: string; to?: string; status?: PostStatus[]; limit: number },
  ): Promise<PostView[]> {
    assertMember(auth, query.businessId);
    const { where, params } = listFilter(query);
    return this.selectPostViews(`${where.join(' and ')} order by p.scheduled_for, p.id limit ?`, [...params, query.limit]);
  }

  /**
   * Posts in the full shape (`GET /posts/:id`, the default list), built by Postgres in one statement:
   * each post with its targets (by id) and their parts (by index) as JSON, times as ISO strings
   * (milliseconds, UTC). The one definition of that shape: no entities, no JS loops over parts.
   */
  private async selectPostViews(whereAndOrder: string, params: unknown[]): Promise<PostView[]> {
    const rows: Array<{ post: PostView }> = await this.deps.orm.em.getConnection().execute(
      `select json_build_object(
                'id', p.id, 'businessId', p.business_id, 'content', p.content, 'platforms', to_json(p.platforms), 'status', p.status,
                'scheduledFor', ${iso('p.scheduled_for')}, 'timezone', p.timezone, 'createdAt', ${iso('p.created_at')},
                'publishedAt', ${iso('p.published_at')}, 'workflowId', coalesce(p.workflow_id, 'post-' || p.id),
                'targets', coalesce((
                  select json_agg(json_build_object(
                           'platform', t.platform, 'accountId', t.account_id, 'status', t.status, 'url', t.url, 'error', t.error, 'errorClass', t.error_class,
                           'parts', coalesce((
                             select json_agg(json_build_object('index', pp.part_index, 'text', pp.text, 'platformPostId', pp.platform_post_id, 'url', pp.url, 'publishedAt', ${iso('pp.published_at')}) order by pp.part_index)
                             from post_parts pp where pp.post_id = p.id and pp.platform = t.platform), '[]'::json)
                         ) order by t.id)
                  from post_targets t where t.post_id = p.id), '[]'::json)
              ) as post
       from posts p
       where ${whereAndOrder}`,
      params,
    );
    return rows.map((row) => row.post);
  }

  /**
   * The calendar's and list's lean page (`view=summary`): one statement, target statuses aggregated
   * in Postgres, no entities. Ordered by (scheduled_for, id); `cursor` continues after the last post
   * of the previous page (keyset: stable while posts are added or moved), `nextCursor` is null on
   * the last page. One row more than the limit is read to know whether another page exists.
   */
  async listSummaries(
    auth: AuthContext,
    query: { businessId: number; from?: string; to?: string; status?: PostStatus[]; limit: number; cursor?: string },
  ): Promise<{ posts: PostSummaryView[]; nextCursor: string | null }> {
    assertMember(auth, query.businessId);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const { where, params } = listFilter(query);
    if (after) {
      // Microseconds exactly (a Date has milliseconds): no post is skipped or repeated at a page boundary.
      where.push(`(p.scheduled_for, p.id) > (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?)`);
      params.push(after.micros, after.id);
    }
    params.push(query.limit + 1);
    const rows: Array<{ post: PostSummaryView; micros: string }> = await this.deps.orm.em.getConnection().execute(
      `select ${postSummaryJson('p')} as post, (extract(epoch from p.scheduled_for) * 1000000)::bigint::text as micros
       from posts p
       where ${where.join(' and ')}
       order by p.scheduled_for, p.id
       limit ?`,
      params,
    );
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      posts: page.map((row) => row.post),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.micros, last.post.id) : null,
    };
  }

  /** The month view in one request: per day of the business's zone, counts by status and the first posts (src/api/calendar.ts), as JSON text. */
  async calendar(auth: AuthContext, query: CalendarQuery): Promise<CalendarJson> {
    return readCalendar(this.deps.orm, auth, query, this.calendarCache);
  }

  /**
   * Moves a waiting post by signal; 409 once publishing has begun. `confirmed` is false when no
   * worker answered in time: the signal is durable and takes effect when a worker runs.
   */
  async reschedule(auth: AuthContext, postId: number, scheduledFor: Date): Promise<SignalOutcome> {
    await this.getPost(auth, postId);
    assertSchedulable(scheduledFor, this.now());
    const handle = await this.startedHandle(postId);
    const before = await this.liveState(handle, postId);
    this.assertStillScheduled(before.status, 'reschedule');
    await handle.signal(rescheduleSignal, { scheduledFor: scheduledFor.toISOString() });
    const moved = (s: LivePostState) => Date.parse(s.scheduledFor) === scheduledFor.getTime();
    const after = await this.awaitLiveState(handle, (s) => s.status !== 'scheduled' || moved(s));
    if (after) this.assertStillScheduled(after.status, 'reschedule');
    return { post: this.overlay(await this.view(postId), after), confirmed: after !== undefined && moved(after) };
  }

  /** Cancels a waiting post by signal; repeating it is harmless; 409 once publishing has begun. */
  async cancel(auth: AuthContext, postId: number): Promise<SignalOutcome> {
    const current = await this.getPost(auth, postId);
    if (current.status === 'cancelled') return { post: current, confirmed: true };
    const handle = await this.startedHandle(postId);
    const before = await this.liveState(handle, postId);
    if (before.status === 'cancelled') return { post: this.overlay(current, before), confirmed: true };
    this.assertStillScheduled(before.status, 'cancel');
    await handle.signal(cancelSignal);
    const after = await this.awaitLiveState(handle, (s) => s.status !== 'scheduled');
    if (after && after.status !== 'cancelled') this.assertStillScheduled(after.status, 'cancel');
    if (after) await this.deps.temporal.withAbortSignal(AbortSignal.timeout(5000), () => handle.result()).catch(() => undefined);
    return { post: this.overlay(await this.view(postId), after), confirmed: after?.status === 'cancelled' };
  }

  private assertStillScheduled(status: PostStatus, action: 'cancel' | 'reschedule'): void {
    if (status === 'scheduled') return;
    const reason = status === 'publishing' ? 'publishing' : isFinalPostStatus(status) ? (status === 'cancelled' ? 'cancelled' : 'already_published') : status;
    const message = status === 'cancelled' ? `The post is cancelled; it cannot ${action === 'cancel' ? 'be cancelled again' : 'be rescheduled'}.` : `Publishing has begun (status ${status}); the post can no longer be ${action === 'cancel' ? 'cancelled' : 'rescheduled'}.`;
    throw new HttpError('conflict', message, { reason, status });
  }

  /** The post's own workflow, by the id stored on its row (ids are unique for all time, not `post-<id>`). */
  private async handle(postId: number): Promise<WorkflowHandle<typeof publishPostWorkflow>> {
    const post = await this.deps.orm.em.fork().findOneOrFail(Post, { id: postId });
    return this.deps.temporal.workflow.getHandle(post.workflowId ?? legacyPostWorkflowId(postId));
  }

  /** A signal needs a workflow: a post whose start was not confirmed yet is started first (same id, harmless). */
  private async startedHandle(postId: number): Promise<WorkflowHandle<typeof publishPostWorkflow>> {
    await ensureStarted(this.deps, postId);
    return this.handle(postId);
  }

  /** The workflow's live state; when no worker answers quickly, what Postgres last recorded. */
  private async liveState(handle: WorkflowHandle, postId: number): Promise<LivePostState> {
    const live = await this.queryState(handle);
    if (live) return live;
    const view = await this.view(postId);
    return { postId, status: view.status, scheduledFor: view.scheduledFor, publishedAt: view.publishedAt, targets: [] };
  }

  private async queryState(handle: WorkflowHandle): Promise<LivePostState | undefined> {
    return this.deps.temporal
      .withAbortSignal(AbortSignal.timeout(3000), () => handle.query(statusQuery))
      .catch(() => undefined);
  }

  private async awaitLiveState(handle: WorkflowHandle, done: (state: LivePostState) => boolean): Promise<LivePostState | undefined> {
    const deadline = Date.now() + 5000;
    let state: LivePostState | undefined;
    while (Date.now() < deadline) {
      state = await this.queryState(handle);
      if (state && done(state)) return state;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return state;
  }

  /** The workflow answers before its bookkeeping activity lands in Postgres: show the live values. */
  private overlay(view: PostView, live: LivePostState | undefined): PostView {
    if (!live) return view;
    return { ...view, status: live.status, scheduledFor: live.scheduledFor };
  }

  async view(postId: number): Promise<PostView> {
    const [view] = await this.selectPostViews('p.id = ?', [postId]);
    if (!view) throw new Error(`post ${postId} not found`);
    return view;
  }
}

const CURSOR_PATTERN = /^(-?[0-9]{1,17})\.([0-9]{1,10})$/;
const BAD_CURSOR = 'must be a nextCursor from an earlier answer';

/** Opaque to clients: base64url of `<scheduled_for in microseconds since 1970>.<id>` of the page's last post. */
export function encodeCursor(micros: string, id: number): string {
  return Buffer.from(`${micros}.${id}`, 'utf8').toString('base64url');
}

/** 400 naming `cursor` unless it is one this API made. */
export function decodeCursor(cursor: string): { micros: string; id: number } {
  const match = CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const id = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(id) || id < 1 || id > MAX_ID || encodeCursor(match[1]!, id) !== cursor) {
    throw validationFailed([{ path: 'cursor', message: BAD_CURSOR }]);
  }
  return { micros: match[1]!, id };
}

/** The filters both views of `GET /scheduled` share: the business, statuses (default scheduled), from (inclusive), to (exclusive). */
function listFilter(query: { businessId: number; from?: string; to?: string; status?: PostStatus[] }): { where: string[]; params: unknown[] } {
  const statuses = query.status ?? ['scheduled'];
  const where = ['p.business_id = ?', `p.status in (${statuses.map(() => '?').join(', ')})`];
  const params: unknown[] = [query.businessId, ...statuses];
  if (query.from) {
    where.push('p.scheduled_for >= ?');
    params.push(new Date(query.from));
  }
  if (query.to) {
    where.push('p.scheduled_for < ?');
    params.push(new Date(query.to));
  }
  return { where, params };
}
