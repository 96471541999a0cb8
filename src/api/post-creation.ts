/**
 * Creating a post safely in every order of failures (docs/EXACTLY-ONCE.md "Creating a post"):
 * 1. the post, its targets, its unique workflow id and its Idempotency-Key commit in one transaction;
 * 2. then its workflow is started (same id: a retried start never makes a second run);
 * 3. then the start is confirmed on the row.
 * A crash or a Temporal outage after 1 leaves a post whose start is unconfirmed: the reconciler starts
 * it. Nothing is ever deleted after 1, so a start that timed out but succeeded can never be left
 * without its post. A retry with the same key, whatever happened to the first request, returns the
 * same post and never creates a second one.
 */
import { createHash } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { RequestHandler } from 'express';
import { Post, PostTarget, type SocialAccount } from '../db/entities';
import type { Platform } from '../domain/types';
import type { Logger } from '../logger';
import { newPostWorkflowId, startPostWorkflow } from '../temporal/post-workflow';
import { authOf, type AuthContext } from './auth';
import { HttpError, isConnectionFailure, validationFailed } from './errors';
import type { PublishBody } from './schemas';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** A key is remembered this long; after it, the same key makes a new post. */
export const IDEMPOTENCY_TTL_HOURS = 24;
/** How long the API waits for Temporal to take a new workflow before leaving it to the reconciler. */
const START_TIMEOUT_MS = 10_000;

/** What the request's Idempotency-Key stands for: the key (hashed) and the request it was first used with. */
export interface IdempotencyClaim {
  keyHash: string;
  fingerprint: string;
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
  accounts: Map<Platform, SocialAccount>;
}

export interface Creation {
  postId: number;
  /** The key had been used for this very request: this is the first request's post. */
  replayed: boolean;
  /** The rows this request committed (not on a replay): what to answer with if reading them back fails. */
  stored?: { post: Post; targets: PostTarget[] };
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
    if (!KEY_PATTERN.test(key)) {
      return next(validationFailed([{ path: IDEMPOTENCY_HEADER, message: 'must be 1 to 255 visible ASCII characters (a UUID is a good choice)' }]));
    }
    const path = (req.originalUrl.split('?')[0] ?? '').replace(/\/+$/, '');
    const claim: IdempotencyClaim = {
      keyHash: sha256(`${authOf(req).userId}:${key}`),
      fingerprint: sha256(canonicalJson({ method: req.method, path, body: req.body ?? null })),
    };
    res.locals.idempotency = claim;
    next();
  };
}

/** The post an earlier request with this key created, or undefined; 409 when the key was used for another request. */
export async function postForKey(orm: MikroORM, auth: AuthContext, claim: IdempotencyClaim | undefined): Promise<number | undefined> {
  if (!claim) return undefined;
  const rows: Array<{ post_id: number; fingerprint: string }> = await unavailableOnError('look up the Idempotency-Key', () =>
    orm.em.getConnection().execute(
      `select post_id, fingerprint from idempotency_keys
       where user_id = ? and key_hash = ? and created_at > clock_timestamp() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`,
      [auth.userId, claim.keyHash],
    ),
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.fingerprint !== claim.fingerprint) {
    throw new HttpError('conflict', 'This Idempotency-Key was already used for a different request; use a new key for a new post.', {
      reason: 'idempotency_key_reused',
    });
  }
  return Number(row.post_id);
}

class KeyTakenMeanwhile extends Error {}

/** Steps 1–3. Step 2 failing is logged and left to the reconciler: the post is accepted either way. */
export async function createPostDurably(deps: CreationDeps, post: NewPost, claim: IdempotencyClaim | undefined): Promise<Creation> {
  let created: { post: Post; targets: PostTarget[] };
  try {
    created = await unavailableOnError('store the post', () => deps.orm.em.fork().transactional((tx) => insertPost(tx, post, claim)));
  } catch (err) {
    if (!(err instanceof KeyTakenMeanwhile)) throw err;
    // A concurrent request with the same key committed first: this one's rows were rolled back.
    const postId = await postForKey(deps.orm, { userId: post.userId } as AuthContext, claim);
    if (postId === undefined) throw new HttpError('conflict', 'The Idempotency-Key is being used by another request; retry shortly.', { reason: 'idempotency_key_in_flight' });
    await ensureStarted(deps, postId);
    return { postId, replayed: true };
  }
  // Committed: from here on nothing may turn into an error answer (a client without a key would
  // retry into a second post). startAndConfirm logs and leaves a failed start to the reconciler.
  await startAndConfirm(deps, created.post).catch((err: unknown) =>
    deps.logger?.warn({ postId: created.post.id, err: (err as Error).message }, 'workflow start not confirmed: the reconciler will start it'),
  );
  return { postId: created.post.id, replayed: false, stored: created };
}

async function insertPost(tx: EntityManager, post: NewPost, claim: IdempotencyClaim | undefined): Promise<{ post: Post; targets: PostTarget[] }> {
  const { body } = post;
  const created = tx.create(Post, {
    businessId: post.businessId,
    createdByUserId: post.userId,
    content: body.content,
    platforms: body.platforms,
    platformParams: body.platformParams ?? {},
    threadOptions: body.thread ?? {},
    status: 'scheduled',
    scheduledFor: post.scheduledFor,
    timezone: post.timezone ?? null,
  });
  await tx.flush();
  created.workflowId = newPostWorkflowId(created.id);
  const targets = body.platforms.map((platform) =>
    tx.create(PostTarget, { postId: created.id, platform, accountId: post.accounts.get(platform)!.id, status: 'pending' }),
  );
  await tx.flush();
  if (claim) await recordKey(tx, post.userId, claim, created.id);
  return { post: created, targets };
}

/** In the post's own transaction: the key and the post exist together or not at all. */
async function recordKey(tx: EntityManager, userId: number, claim: IdempotencyClaim, postId: number): Promise<void> {
  const connection = tx.getConnection();
  const context = tx.getTransactionContext();
  await connection.execute(
    `delete from idempotency_keys where user_id = ? and key_hash = ? and created_at <= clock_timestamp() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`,
    [userId, claim.keyHash], 'all', context,
  );
  // Waits for a concurrent transaction holding the same key; then finds it taken.
  const inserted: unknown[] = await connection.execute(
    `insert into idempotency_keys (user_id, key_hash, fingerprint, post_id) values (?, ?, ?, ?)
     on conflict (user_id, key_hash) do nothing returning id`,
    [userId, claim.keyHash, claim.fingerprint, postId], 'all', context,
  );
  if (inserted.length === 0) throw new KeyTakenMeanwhile();
}

async function startAndConfirm(deps: CreationDeps, post: Post): Promise<void> {
  try {
    await deps.temporal.withAbortSignal(AbortSignal.timeout(START_TIMEOUT_MS), () =>
      startPostWorkflow(deps.temporal, deps.taskQueue, { id: post.id, businessId: post.businessId, platforms: post.platforms, scheduledFor: post.scheduledFor, workflowId: post.workflowId! }),
    );
  } catch (err) {
    deps.logger?.warn({ postId: post.id, workflowId: post.workflowId, err: (err as Error).message }, 'workflow start not confirmed: the reconciler will start it');
    return;
  }
  await deps.orm.em.getConnection()
    .execute(`update posts set workflow_started_at = clock_timestamp() where id = ? and workflow_started_at is null`, [post.id])
    .catch((err: unknown) => deps.logger?.warn({ postId: post.id, err: (err as Error).message }, 'could not confirm the workflow start: the reconciler will'));
}

/** A replayed or signalled post whose start was never confirmed: start it now (harmless if it runs). */
export async function ensureStarted(deps: CreationDeps, postId: number): Promise<void> {
  const post = await deps.orm.em.fork().findOne(Post, { id: postId });
  if (!post || post.workflowStartedAt || !post.workflowId) return;
  await startAndConfirm(deps, post);
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
