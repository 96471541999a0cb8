/**
 * Creating a post safely in every order of failures (docs/EXACTLY-ONCE.md "Creating a post"):
 * 1. the post, its targets, its unique workflow id and its Idempotency-Key commit together (one
 *    statement, atomic by itself);
 * 2. then its workflow is started (same id: a retried start never makes a second run);
 * 3. then the start is confirmed on the row (group-committed, and a new post's answer does not wait
 *    for it: until it lands the post is simply "start not confirmed", which the reconciler heals).
 * A keyed request's Idempotency-Key is read by the API key's own statement (src/api/auth.ts): a
 * keyed create costs 3 statements before its answer (key, accounts, insert) and a share of one after.
 * A crash or a Temporal outage after 1 leaves a post whose start is unconfirmed: the reconciler starts
 * it. Nothing is ever deleted after 1, so a start that timed out but succeeded can never be left
 * without its post. A retry with the same key, whatever happened to the first request, returns the
 * same post and never creates a second one.
 */
import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { RequestHandler } from 'express';
import { Post } from '../db/entities';
import type { Platform } from '../domain/types';
import type { Logger } from '../logger';
import { newPostWorkflowId, startPostWorkflow, type StartablePost } from '../temporal/post-workflow';
import { authOf, type AuthContext } from './auth';
import { HttpError, isConnectionFailure, validationFailed } from './errors';
import type { PostView, PublishBody } from './schemas';
import { iso } from './summary-sql';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** Visible ASCII, 1 to 255 characters (src/api/auth.ts hashes it in SQL on the same terms). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** A key is remembered this long; after it, the same key makes a new post. */
export const IDEMPOTENCY_TTL_HOURS = 24;
/** How long the API waits for Temporal to take a new workflow before leaving it to the reconciler. */
const START_TIMEOUT_MS = 10_000;

/** What the request's Idempotency-Key stands for: the key (hashed) and the request it was first used with. */
export interface IdempotencyClaim {
  keyHash: string;
  fingerprint: string;
  /**
   * The key's row as the API-key statement read it moments ago (src/api/auth.ts), null when there
   * was none; undefined when it was not read there. A request that commits the same key meanwhile is
   * caught by the insert itself (KeyTakenMeanwhile), as it was between a separate look-up and the insert.
   */
  earlier?: { postId: number; fingerprint: string } | null;
}

export interface CreationDeps {
  orm: MikroORM;
  temporal: Client;
  taskQueue: string;
  logger?: Logger;
}

export interface NewPost {
  businessId: number;
  userId: number;
  body: PublishBody;
  scheduledFor: Date;
  timezone?: string;
  /** The account each platform publishes with. */
  accounts: Map<Platform, { id: number }>;
}

export interface Creation {
  postId: number;
  /** The key had been used for this very request: this is the first request's post. */
  replayed: boolean;
  /** The post as this request stored it (not on a replay): the answer, without reading it back. */
  view?: PostView;
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Reads the header into `res.locals.idempotency` (400 naming it when malformed); the route passes it on. */
export function idempotencyKey(): RequestHandler {
  return (req, res, next) => {
    const key = req.get(IDEMPOTENCY_HEADER);
    if (key === undefined) return next();
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
      return next(validationFailed([{ path: IDEMPOTENCY_HEADER, message: 'must be 1 to 255 visible ASCII characters (a UUID is a good choice)' }]));
    }
    const path = (req.originalUrl.split('?')[0] ?? '').replace(/\/+$/, '');
    const claim: IdempotencyClaim = {
      keyHash: sha256(`${authOf(req).userId}:${key}`),
      fingerprint: sha256(canonicalJson({ method: req.method, path, body: req.body ?? null })),
    };
    if (req.idempotencyPrefetch?.key === key) claim.earlier = req.idempotencyPrefetch.row;
    res.locals.idempotency = claim;
    next();
  };
}

/** The post an earlier request with this key created, or undefined; 409 when the key was used for another request. */
export async function postForKey(orm: MikroORM, auth: AuthContext, claim: IdempotencyClaim | undefined): Promise<number | undefined> {
  if (!claim) return undefined;
  const row = claim.earlier !== undefined ? claim.earlier : await readKey(orm, auth.userId, claim.keyHash);
  if (!row) return undefined;
  if (row.fingerprint !== claim.fingerprint) {
    throw new HttpError('conflict', 'This Idempotency-Key was already used for a different request; use a new key for a new post.', {
      reason: 'idempotency_key_reused',
    });
  }
  return row.postId;
}

async function readKey(orm: MikroORM, userId: number, keyHash: string): Promise<{ postId: number; fingerprint: string } | null> {
  const rows: Array<{ post_id: number; fingerprint: string }> = await unavailableOnError('look up the Idempotency-Key', () =>
    orm.em.getConnection().execute(
      `select post_id, fingerprint from idempotency_keys
       where user_id = ? and key_hash = ? and created_at > clock_timestamp() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`,
      [userId, keyHash],
    ),
  );
  const row = rows[0];
  return row ? { postId: Number(row.post_id), fingerprint: row.fingerprint } : null;
}

class KeyTakenMeanwhile extends Error {}

/** Steps 1–3. Step 2 failing is logged and left to the reconciler: the post is accepted either way. */
export async function createPostDurably(deps: CreationDeps, post: NewPost, claim: IdempotencyClaim | undefined): Promise<Creation> {
  let created: PostView;
  try {
    created = await unavailableOnError('store the post', () => insertPost(deps.orm, post, claim));
  } catch (err) {
    if (!(err instanceof KeyTakenMeanwhile)) throw err;
    // A concurrent request with the same key committed first: this one stored nothing.
    const postId = await postForKey(deps.orm, { userId: post.userId } as AuthContext, claim && { ...claim, earlier: undefined });
    if (postId === undefined) throw new HttpError('conflict', 'The Idempotency-Key is being used by another request; retry shortly.', { reason: 'idempotency_key_in_flight' });
    await ensureStarted(deps, postId);
    return { postId, replayed: true };
  }
  // Committed: from here on nothing may turn into an error answer (a client without a key would
  // retry into a second post). startAndConfirm logs and leaves a failed start to the reconciler.
  const startable = { id: created.id, businessId: created.businessId, platforms: created.platforms, scheduledFor: post.scheduledFor, workflowId: created.workflowId };
  await startAndConfirm(deps, startable, false).catch((err: unknown) =>
    deps.logger?.warn({ postId: created.id, err: (err as Error).message }, 'workflow start not confirmed: the reconciler will start it'),
  );
  return { postId: created.id, replayed: false, view: created };
}

/** `post-<id>-<random>`: the random part, to be put after the id Postgres hands out in the insert. */
const workflowIdSuffix = () => newPostWorkflowId(0).slice('post-0-'.length);

/**
 * Step 1 in ONE statement, atomic without BEGIN/COMMIT: the post's id from its sequence, the
 * Idempotency-Key row (when the request has one), the post with its unique workflow id, and its
 * targets (one multi-row insert). The key row goes first and the post is inserted only from the key
 * row it returned: when the key is held by a live row (a concurrent request committed it, or an
 * earlier one within 24 h), nothing at all is inserted and KeyTakenMeanwhile is thrown. An expired
 * row of the same key is taken over in place (ON CONFLICT … DO UPDATE … WHERE expired), which is what
 * deleting it and inserting anew did. A concurrent insert of the same key waits for the other
 * statement to commit, as before. Answers the post as stored (nothing is read back).
 */
async function insertPost(orm: MikroORM, post: NewPost, claim: IdempotencyClaim | undefined): Promise<PostView> {
  const { body } = post;
  const platforms = body.platforms;
  const targets = platforms.map((platform, ord) => ({ platform, account_id: post.accounts.get(platform)!.id, ord }));
  const keyed = claim !== undefined;
  const params: unknown[] = [];
  const idSource = keyed
    ? `key as (
         insert into idempotency_keys (user_id, key_hash, fingerprint, post_id)
         select ?, ?, ?, id from new_post
         on conflict (user_id, key_hash) do update
           set fingerprint = excluded.fingerprint, post_id = excluded.post_id, created_at = now()
           where idempotency_keys.created_at <= clock_timestamp() - interval '${IDEMPOTENCY_TTL_HOURS} hours'
         returning post_id as id),`
    : '';
  if (claim) params.push(post.userId, claim.keyHash, claim.fingerprint);
  params.push(
    post.businessId, post.userId, body.content, `{${platforms.join(',')}}`, JSON.stringify(body.platformParams ?? {}), JSON.stringify(body.thread ?? {}),
    post.scheduledFor, post.timezone ?? null, workflowIdSuffix(), JSON.stringify(targets),
  );
  const rows: Array<{ id: number; created_at: string; workflow_id: string }> = await orm.em.getConnection().execute(
    `with new_post as (select nextval(pg_get_serial_sequence('posts', 'id')) as id),
     ${idSource}
     post as (
       insert into posts (id, business_id, created_by_user_id, content, platforms, platform_params, thread_options, status, scheduled_for, timezone, workflow_id)
       select id, ?, ?, ?, ?::text[], ?::jsonb, ?::jsonb, 'scheduled', ?, ?, 'post-' || id || '-' || ? from ${keyed ? 'key' : 'new_post'}
       returning id, ${iso('created_at')} as created_at, workflow_id),
     targets as (
       insert into post_targets (post_id, platform, account_id, status)
       select post.id, t.platform, t.account_id, 'pending' from post, json_to_recordset(?::json) as t(platform text, account_id int, ord int)
       order by t.ord
       returning id)
     select post.id, post.created_at, post.workflow_id, (select count(*) from targets) as targets from post`,
    params,
  );
  const row = rows[0];
  if (!row) throw new KeyTakenMeanwhile();
  return {
    id: Number(row.id),
    businessId: post.businessId,
    content: body.content,
    platforms,
    status: 'scheduled',
    scheduledFor: post.scheduledFor.toISOString(),
    timezone: post.timezone ?? null,
    createdAt: row.created_at,
    publishedAt: null,
    workflowId: row.workflow_id,
    targets: targets.map((target) => ({ platform: target.platform, accountId: target.account_id, status: 'pending', url: null, error: null, errorClass: null, parts: [] })),
  };
}

/**
 * Starts the workflow, then confirms the start on the row. `waitForConfirmation` false: the answer
 * does not wait for the confirmation (a new post's answer: nothing the client sees depends on it).
 */
async function startAndConfirm(deps: CreationDeps, post: StartablePost, waitForConfirmation = true): Promise<void> {
  try {
    await deps.temporal.withAbortSignal(AbortSignal.timeout(START_TIMEOUT_MS), () =>
      startPostWorkflow(deps.temporal, deps.taskQueue, post),
    );
  } catch (err) {
    deps.logger?.warn({ postId: post.id, workflowId: post.workflowId, err: (err as Error).message }, 'workflow start not confirmed: the reconciler will start it');
    return;
  }
  const confirming = confirmStarted(deps, post.id);
  if (waitForConfirmation) await confirming;
}

/**
 * Confirming starts is group-committed: the ids of the starts that completed while the previous
 * confirmation was on its way to Postgres are written by ONE update. At concurrency that is one
 * statement for many creates (at 16 concurrent creates, 1 for ~10); one at a time it is the same
 * single statement as before. An id still queued when the process dies is left unconfirmed: the
 * reconciler starts that post again with the same workflow id, which is harmless (USE_EXISTING).
 */
class StartConfirmations {
  private queued: Array<{ id: number; done: () => void }> = [];
  private flushing = false;

  constructor(private readonly deps: CreationDeps) {}

  confirm(postId: number): Promise<void> {
    return new Promise((resolve) => {
      this.queued.push({ id: postId, done: resolve });
      if (!this.flushing) {
        this.flushing = true;
        // The starts that complete in this turn of the event loop join the first statement.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = this.queued;
      this.queued = [];
      const ids = batch.map((entry) => entry.id);
      try {
        await this.deps.orm.em.getConnection().execute(
          `update posts set workflow_started_at = clock_timestamp() where id = any(?::bigint[]) and workflow_started_at is null`,
          [`{${ids.join(',')}}`],
        );
      } catch (err) {
        this.deps.logger?.warn({ postIds: ids, err: (err as Error).message }, 'could not confirm the workflow starts: the reconciler will');
      }
      for (const entry of batch) entry.done();
    }
    this.flushing = false;
  }
}

const confirmations = new WeakMap<MikroORM, StartConfirmations>();

function confirmStarted(deps: CreationDeps, postId: number): Promise<void> {
  let confirmer = confirmations.get(deps.orm);
  if (!confirmer) {
    confirmer = new StartConfirmations(deps);
    confirmations.set(deps.orm, confirmer);
  }
  return confirmer.confirm(postId);
}

/** A replayed or signalled post whose start was never confirmed: start it now (harmless if it runs). */
export async function ensureStarted(deps: CreationDeps, postId: number): Promise<void> {
  const post = await deps.orm.em.fork().findOne(Post, { id: postId });
  if (!post || post.workflowStartedAt || !post.workflowId) return;
  await startAndConfirm(deps, { id: post.id, businessId: post.businessId, platforms: post.platforms, scheduledFor: post.scheduledFor, workflowId: post.workflowId });
}

/** A store that does not answer means nothing was accepted: 503, never 500. */
async function unavailableOnError<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof HttpError || err instanceof KeyTakenMeanwhile) throw err;
    if (!isConnectionFailure(err)) throw err;
    throw new HttpError('unavailable', `The database did not answer (could not ${what}); nothing was created. Retry with the same Idempotency-Key.`);
  }
}
