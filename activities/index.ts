/**
 * Activities: one side effect each, dependencies injected by the process entry point.
 */
import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Post, PostPart, PostTarget, SocialAccount } from '../src/db/entities';
import type { Platform } from '../src/domain/types';
import { comparableText, isInProgress, PublishError, type Publisher, type PublisherRegistry } from '../src/platforms/publisher';
import type { TokenCipher } from '../src/security/token-cipher';
import type { Logger } from '../src/logger';
import type { OAuthProviders } from '../src/oauth/providers';
import { createRefreshActivities, withTokenRefresh } from './refresh-tokens';
import { isFinalPostStatus } from '../src/domain/types';
import { noEvents, type HeraldEvents } from '../src/observability/events';
import type { LivePart, LivePostState, PartInProgress, PublishPartInput, TargetPlan } from '../workflows/contract';

export interface ActivityDeps {
  orm: MikroORM;
  publishers: PublisherRegistry;
  cipher: TokenCipher;
  logger: Logger;
  clock?: () => Date;
  events?: HeraldEvents;
  /** Token endpoints for refreshing access tokens (the refresh schedule, and once on an auth failure). */
  oauth?: OAuthProviders;
}

export function createActivities(deps: ActivityDeps) {
  const clock = deps.clock ?? (() => new Date());
  const events = deps.events ?? noEvents;
  return {
    ...createRefreshActivities(deps),

    /** Mirrors the workflow's state into Postgres, where the API lists and reads posts. */
    async recordPostState(state: LivePostState): Promise<void> {
      await writePostState(deps, state, clock);
      if (isFinalPostStatus(state.status)) {
        events.postFinished({
          postId: state.postId,
          status: state.status,
          targets: state.targets.map((t) => ({ platform: t.platform, status: t.status, errorClass: t.errorClass })),
        });
      }
    },

    /**
     * Marks the post as publishing, freezes each target's parts in the ledger (once: a retry reuses
     * the frozen parts) and says which parts an earlier run already published.
     */
    async preparePublication({ postId }: { postId: number }): Promise<TargetPlan[]> {
      const em = deps.orm.em.fork();
      const post = await em.findOne(Post, { id: postId });
      if (!post) throw ApplicationFailure.nonRetryable(`Post ${postId} no longer exists (its creation was rolled back).`, 'rejected');
      await em.nativeUpdate(Post, { id: postId }, { status: 'publishing', updatedAt: clock() });
      await em.nativeUpdate(PostTarget, { postId, status: 'pending' }, { status: 'publishing', updatedAt: clock() });
      const plans: TargetPlan[] = [];
      for (const platform of post.platforms) {
        plans.push(await planTarget(deps, post, platform));
      }
      return plans;
    },

    /** Publishes one part exactly once: the ledger answers retries; unknown outcomes are reconciled first. */
    async publishPart(input: PublishPartInput): Promise<LivePart | PartInProgress> {
      const stopHeartbeats = keepHeartbeating();
      try {
        return await publishPartOnce(deps, input, clock);
      } finally {
        stopHeartbeats();
      }
    },
  };
}

export type HeraldActivities = ReturnType<typeof createActivities>;

/** Mirrors the workflow's state into Postgres, where the API lists and reads posts. */
async function writePostState(deps: ActivityDeps, state: LivePostState, clock: () => Date): Promise<void> {
  const em = deps.orm.em.fork();
  await em.transactional(async (tx) => {
    await tx.nativeUpdate(Post, { id: state.postId }, {
      status: state.status,
      scheduledFor: new Date(state.scheduledFor),
      publishedAt: state.publishedAt ? new Date(state.publishedAt) : null,
      updatedAt: clock(),
    });
    for (const target of state.targets) {
      // The account was chosen when the post was created; the workflow learns it only when publishing.
      const account = target.accountId === null ? {} : { accountId: target.accountId };
      await tx.nativeUpdate(PostTarget, { postId: state.postId, platform: target.platform }, {
        status: target.status,
        ...account,
        error: target.error,
        errorClass: target.errorClass,
        url: target.url,
        updatedAt: clock(),
      });
    }
  });
}

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

async function publishPartOnce(deps: ActivityDeps, input: PublishPartInput, clock: () => Date): Promise<LivePart | PartInProgress> {
  const em = deps.orm.em.fork();
  const row = await em.findOneOrFail(PostPart, { postId: input.postId, platform: input.platform, partIndex: input.partIndex });
  if (row.platformPostId) return toLivePart(row);
  const post = await em.findOneOrFail(Post, { id: input.postId });

  const publisher = requirePublisher(deps.publishers, input.platform);
  const account = await em.findOneOrFail(SocialAccount, { id: input.accountId });
  if (!account.isActive) {
    throw ApplicationFailure.nonRetryable(`The ${input.platform} account was disconnected: reconnect it and publish again.`, 'auth');
  }
  const credentials = { accountId: account.id, platformUserId: account.platformUserId, accessToken: decryptToken(deps.cipher, account) };
  const part = {
    text: row.text,
    partIndex: row.partIndex,
    partCount: input.partCount,
    replyToPlatformPostId: input.replyToPlatformPostId,
    rootPlatformPostId: input.rootPlatformPostId,
    notBefore: row.sendStartedAt ?? undefined,
    params: post.platformParams[input.platform],
    progress: row.progress ?? undefined,
  };
  const log = deps.logger.child({ postId: input.postId, platform: input.platform, partIndex: input.partIndex });
  const events = deps.events ?? noEvents;
  const published = (reconciled: boolean) => {
    const latenessMs = input.partIndex === 0 ? clock().getTime() - post.scheduledFor.getTime() : undefined;
    events.partPublished({ postId: input.postId, platform: input.platform, partIndex: input.partIndex, latenessMs, reconciled });
  };

  // A multi-step publish under way reconciles itself from its progress (e.g. the container's status).
  if (row.sendStartedAt && !row.progress) {
    const found = await reconcile(publisher, credentials, part);
    if (found) {
      log.info({ platformPostId: found.platformPostId }, 'reconciled: part was already on the platform');
      const live = await recordPublished(em, row, found.platformPostId, found.url, clock());
      published(true);
      return live;
    }
  }

  row.sendStartedAt = clock();
  row.attempts += 1;
  await em.flush();
  try {
    // An expired access token gets one refresh and one more try (activities/refresh-tokens.ts).
    const result = await withTokenRefresh(deps, account, credentials, (fresh) => publisher.publishPart(fresh, part));
    if (isInProgress(result)) {
      row.progress = result.progress;
      row.sendStartedAt = null;
      await em.flush();
      log.info({ checkAfterMs: result.checkAfterMs }, 'part in progress on the platform');
      return { inProgress: true, checkAfterMs: result.checkAfterMs };
    }
    log.info({ platformPostId: result.platformPostId }, 'part published');
    const live = await recordPublished(em, row, result.platformPostId, result.url, clock());
    published(false);
    return live;
  } catch (err) {
    const outcome = await handlePublishFailure({ em, row, err, publisher, credentials, part, log, now: clock() }).catch((failure: unknown) => {
      reportFailure(events, input, failure);
      throw failure;
    });
    published(true);
    return outcome;
  }
}

/** A token that cannot be decrypted will not decrypt on a retry either: fail the target with the fix. */
function decryptToken(cipher: TokenCipher, account: SocialAccount): string {
  try {
    return cipher.decrypt(account.accessTokenEnc);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `The stored ${account.platform} token cannot be decrypted (${(err as Error).message}): check TOKEN_ENCRYPTION_KEYS or reconnect the account.`,
      'auth',
    );
  }
}

function requirePublisher(publishers: PublisherRegistry, platform: Platform): Publisher {
  const publisher = publishers[platform];
  if (!publisher) throw ApplicationFailure.nonRetryable(`Publishing to ${platform} is not available in this Herald build.`, 'rejected');
  return publisher;
}

async function planTarget(deps: ActivityDeps, post: Post, platform: Platform): Promise<TargetPlan> {
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
      `insert into post_parts (post_id, platform, part_index, text, content_fingerprint)
       select ?, ?, p.idx, p.text, p.fp from jsonb_to_recordset(?::jsonb) as p(idx int, text text, fp text)
       on conflict (post_id, platform, part_index) do nothing`,
      [post.id, platform, JSON.stringify(parts.map((p) => ({ idx: p.index, text: p.text, fp: fingerprint(p.text) })))],
    );
    rows = await em.find(PostPart, { postId: post.id, platform }, { orderBy: { partIndex: 'asc' } });
  }
  return { platform, accountId: account.id, partCount: rows.length, alreadyPublished: leadingPublished(rows) };
}

function leadingPublished(rows: PostPart[]): LivePart[] {
  const done: LivePart[] = [];
  for (const row of rows) {
    if (!row.platformPostId) break;
    done.push(toLivePart(row));
  }
  return done;
}

export function fingerprint(text: string): string {
  return createHash('sha256').update(comparableText(text)).digest('hex');
}

async function reconcile(publisher: Publisher, credentials: Parameters<Publisher['findPublished']>[0], part: Parameters<Publisher['findPublished']>[1]) {
  try {
    return await publisher.findPublished(credentials, part);
  } catch (err) {
    // Without an answer we cannot know whether the part exists: never post blindly.
    const reason = err instanceof Error ? err.message : String(err);
    throw ApplicationFailure.create({ type: 'unknown_outcome', message: `Could not check whether the part was already published: ${reason}` });
  }
}

async function recordPublished(em: ReturnType<MikroORM['em']['fork']>, row: PostPart, id: string, url: string | null, now: Date): Promise<LivePart> {
  row.platformPostId = id;
  row.url = url;
  row.publishedAt = now;
  row.lastError = null;
  await em.flush();
  return toLivePart(row);
}

interface FailureContext {
  em: ReturnType<MikroORM['em']['fork']>;
  row: PostPart;
  err: unknown;
  publisher: Publisher;
  credentials: Parameters<Publisher['findPublished']>[0];
  part: Parameters<Publisher['findPublished']>[1];
  log: Logger;
  now: Date;
}

async function handlePublishFailure(ctx: FailureContext): Promise<LivePart> {
  const { em, row, err, log } = ctx;
  if (!(err instanceof PublishError)) throw err;
  if (err.duplicate) {
    // The platform says this text exists: if it is this part (an earlier attempt got through), adopt it.
    const found = await reconcile(ctx.publisher, ctx.credentials, { ...ctx.part, notBefore: undefined });
    if (found) return recordPublished(em, row, found.platformPostId, found.url, ctx.now);
  }
  row.lastError = err.message;
  if (!err.mayHavePosted) row.sendStartedAt = null;
  await em.flush();
  log.warn({ failureClass: err.failureClass, httpStatus: err.httpStatus }, 'part not published');
  if (err.failureClass === 'auth' || err.failureClass === 'rejected') {
    throw ApplicationFailure.nonRetryable(err.message, err.failureClass);
  }
  throw ApplicationFailure.create({ type: err.failureClass, message: err.message, nextRetryDelay: err.retryAfterMs });
}

function reportFailure(events: HeraldEvents, input: PublishPartInput, failure: unknown): void {
  if (!(failure instanceof ApplicationFailure)) return;
  const failureClass = (['retryable', 'auth', 'rejected', 'unknown_outcome'] as const).find((c) => c === failure.type) ?? 'retryable';
  const attempt = activityAttempt();
  events.partFailed({ postId: input.postId, platform: input.platform, partIndex: input.partIndex, failureClass, final: failure.nonRetryable === true, attempt });
}

function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function toLivePart(row: PostPart): LivePart {
  return {
    index: row.partIndex,
    platformPostId: row.platformPostId!,
    url: row.url ?? null,
    publishedAt: (row.publishedAt ?? new Date(0)).toISOString(),
  };
}
