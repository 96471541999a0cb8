/**
 * Publishing one part exactly once (docs/EXACTLY-ONCE.md): the ledger answers retries, attempts are
 * fenced by a claim with a deadline in database time, an earlier send that may have reached the
 * platform is reconciled before anything is sent again, and a platform post is adopted only when it
 * is provably this part's own.
 */
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../src/logger';
import { isInProgress, PublishError, type PartToPublish, type PublishedRef, type Publisher, type PublisherCredentials } from '../src/platforms/publisher';
import { noEvents, type HeraldEvents } from '../src/observability/events';
import type { TokenCipher } from '../src/security/token-cipher';
import type { LivePart, LivePostState, PartInProgress, PublishPartInput } from '../workflows/contract';
import { callingWorkflowId, writePostState } from './bookkeeping';
import { isUniqueViolation, PartLedger, type AccountRow, type Claim, type LedgerRow, type PublishContext } from './ledger';
import { withTokenRefresh, type RefreshActivityDeps } from './refresh-tokens';

/** The numbers the fence rests on; they must agree with the publish activity's timeouts (workflows/publish-post.ts). */
export interface SendWindow {
  /** How long after its claim an attempt may still *start* a request that publishes. */
  budgetMs: number;
  /** The platform HTTP timeout (PLATFORM_HTTP_TIMEOUT_MS): a request ends, for us, within it. */
  httpTimeoutMs: number;
  /** How long after our timeout a platform may still act on a request it received. */
  settleMs: number;
}

export const DEFAULT_SEND_WINDOW: SendWindow = { budgetMs: 20_000, httpTimeoutMs: 20_000, settleMs: 10_000 };

/** After this many failures caused by the platform (not by our database or workers), a target fails. */
export const MAX_PLATFORM_FAILURES = 12;

/** No other attempt sends or reconciles before the claim's deadline: budget + one request + settle. */
export function sendDeadlineMs(window: SendWindow): number {
  return window.budgetMs + window.httpTimeoutMs + window.settleMs;
}

export interface PublishPartDeps extends RefreshActivityDeps {
  cipher: TokenCipher;
  logger: Logger;
  events?: HeraldEvents;
  sendWindow?: SendWindow;
  clock?: () => Date;
}

/** A published part; `ledgerPending` when the ledger could not be written (the workflow writes it later). */
export type PublishedPart = LivePart & { ledgerPending?: true };

interface Attempt {
  deps: PublishPartDeps;
  input: PublishPartInput;
  ledger: PartLedger;
  row: LedgerRow;
  publisher: Publisher;
  account: AccountRow;
  credentials: PublisherCredentials;
  part: PartToPublish;
  log: Logger;
  /** An earlier send of this part may have reached the platform (its outcome was never settled). */
  earlierSendMayHavePosted: boolean;
  published(reconciled: boolean): void;
}

export async function publishPart(deps: PublishPartDeps, publishers: Partial<Record<string, Publisher>>, input: PublishPartInput): Promise<PublishedPart | PartInProgress> {
  const ledger = new PartLedger(deps.orm);
  const window = deps.sendWindow ?? DEFAULT_SEND_WINDOW;
  const startedAt = Date.now(); // before the claim: the local budget can only end early, never late
  // One statement reads the row, the post and the account and, when nothing has to be waited for or
  // reconciled first, takes the claim too (activities/ledger.ts `readAndClaim`).
  const canSend = publishers[input.platform] !== undefined;
  const context = await ledger.readAndClaim(input, input.accountId, canSend ? { token: newClaimToken(), windowMs: sendDeadlineMs(window) } : undefined);
  if (!context) throw ApplicationFailure.nonRetryable(`Part ${input.partIndex + 1} of the ${input.platform} target is not in the ledger.`, 'rejected');
  const { row } = context;
  if (row.platformPostId) return toLivePart(row.partIndex, row.platformPostId, row.url, row.publishedAt);
  waitOutAnEarlierSend(row);

  let attempt: Attempt;
  try {
    attempt = prepareAttempt(deps, publishers, input, ledger, context);
  } catch (err) {
    // Nothing was sent: put the row back as it was read (a claim is only ever taken for a send).
    await ledger.unclaim(context);
    throw err;
  }
  // A multi-step publish under way (e.g. Instagram's container) knows its own state: no reconciliation.
  if (attempt.earlierSendMayHavePosted && !row.progress) {
    const found = await reconcile(attempt, row.firstSentAt ?? row.sendStartedAt ?? undefined);
    if (found) {
      attempt.log.info({ platformPostId: found.platformPostId }, 'reconciled: part was already on the platform');
      return adopt(attempt, found, true);
    }
  }
  return sendOnce(attempt, context.claim ? { startedAt, claim: context.claim } : undefined);
}

/** What became of a part whose run ended (terminated, timed out) without saying. */
export type SettledPart = 'live' | 'absent' | 'not_yet';

/**
 * For the reconciler, after a run closed without recording its end: a part whose send may have
 * reached the platform is looked up there (once its send deadline has passed) and recorded if found,
 * so the post's final state follows the platform, not the run that was stopped.
 */
export async function settleUncertainPart(deps: PublishPartDeps, publishers: Partial<Record<string, Publisher>>, input: PublishPartInput): Promise<SettledPart> {
  const ledger = new PartLedger(deps.orm);
  const context = await ledger.readAndClaim(input, input.accountId);
  if (!context) return 'absent';
  const { row } = context;
  if (row.platformPostId) return 'live';
  if (!row.sendStartedAt) return 'absent';
  if (row.sendDeadline && row.sendDeadline.getTime() > row.dbNow.getTime()) return 'not_yet';
  try {
    const attempt = prepareAttempt(deps, publishers, input, ledger, context);
    const found = await reconcile(attempt, row.firstSentAt ?? row.sendStartedAt);
    if (!found) return 'absent';
    await adopt(attempt, found, true);
    return 'live';
  } catch (err) {
    deps.logger.warn({ ...input, err: errorMessage(err) }, 'could not settle a part whose send may have reached the platform');
    // The lookup gave up for good (or the account is gone): settle with what the ledger knows.
    return err instanceof ApplicationFailure && err.nonRetryable ? 'absent' : 'not_yet';
  }
}

/** Another attempt's request may still reach the platform: come back when its deadline has passed. */
function waitOutAnEarlierSend(row: LedgerRow): void {
  if (!row.sendDeadline || row.sendDeadline.getTime() <= row.dbNow.getTime()) return;
  const waitMs = row.sendDeadline.getTime() - row.dbNow.getTime() + 250;
  throw ApplicationFailure.create({
    type: 'fenced',
    message: `An earlier attempt's request may still reach the platform; checking again in ${Math.ceil(waitMs / 1000)} s.`,
    nextRetryDelay: waitMs,
  });
}

function prepareAttempt(deps: PublishPartDeps, publishers: Partial<Record<string, Publisher>>, input: PublishPartInput, ledger: PartLedger, context: PublishContext): Attempt {
  const { row, post, account } = context;
  if (!post) throw new Error(`Post not found ('Post' with id ${input.postId})`);
  const publisher = publishers[input.platform];
  if (!publisher) throw ApplicationFailure.nonRetryable(`Publishing to ${input.platform} is not available in this Herald build.`, 'rejected');
  if (!account) throw new Error(`SocialAccount not found ('SocialAccount' with id ${input.accountId})`);
  if (!account.isActive) {
    throw ApplicationFailure.nonRetryable(`The ${input.platform} account was disconnected: reconnect it and publish again.`, 'auth');
  }
  const clock = deps.clock ?? (() => new Date());
  const events = deps.events ?? noEvents;
  const part: PartToPublish = {
    text: row.text,
    partIndex: row.partIndex,
    partCount: input.partCount,
    replyToPlatformPostId: input.replyToPlatformPostId,
    rootPlatformPostId: input.rootPlatformPostId,
    notBefore: row.firstSentAt ?? undefined,
    params: post.platformParams[input.platform],
    progress: row.progress ?? undefined,
  };
  let log: Logger | undefined;
  return {
    deps, input, ledger, row, publisher, account, part,
    credentials: { accountId: account.id, platformUserId: account.platformUserId, accessToken: decryptToken(deps.cipher, account) },
    // Made when something is logged: most attempts log nothing but the part_published event.
    get log() {
      log ??= deps.logger.child({ postId: input.postId, platform: input.platform, partIndex: input.partIndex });
      return log;
    },
    earlierSendMayHavePosted: row.sendStartedAt !== null,
    published(reconciled) {
      const latenessMs = input.partIndex === 0 ? clock().getTime() - post.scheduledFor.getTime() : undefined;
      events.partPublished({ postId: input.postId, workflowId: callingWorkflowId(), platform: input.platform, partIndex: input.partIndex, latenessMs, reconciled });
    },
  };
}

/**
 * Claims the send (unless `claimed` by the read already, `startedAt` then taken before that read),
 * sends within the budget, and settles the claim whatever happens.
 */
async function sendOnce(attempt: Attempt, claimed?: { startedAt: number; claim: Claim }): Promise<PublishedPart | PartInProgress> {
  const window = attempt.deps.sendWindow ?? DEFAULT_SEND_WINDOW;
  const startedAt = claimed?.startedAt ?? Date.now(); // before the claim: the local budget can only end early, never late
  const claim = claimed?.claim ?? (await attempt.ledger.claim(attempt.row, newClaimToken(), sendDeadlineMs(window)));
  if (!claim) {
    throw ApplicationFailure.create({ type: 'fenced', message: 'Another attempt took this part over; checking again.', nextRetryDelay: 1000 });
  }
  const part: PartToPublish = { ...attempt.part, notBefore: claim.firstSentAt, sendBy: startedAt + window.budgetMs };
  let result: Awaited<ReturnType<Publisher['publishPart']>>;
  try {
    result = await withTokenRefresh(attempt.deps, attempt.account, attempt.credentials, (fresh) => attempt.publisher.publishPart(fresh, part));
  } catch (err) {
    return handleSendFailure(attempt, claim.token, part, err, window);
  }
  if (isInProgress(result)) {
    await attempt.ledger.saveProgress(attempt.row.id, claim.token, result.progress);
    attempt.log.info({ checkAfterMs: result.checkAfterMs }, 'part in progress on the platform');
    return { inProgress: true, checkAfterMs: result.checkAfterMs };
  }
  // Debug only: every published part is logged once at info, by the part_published event (observability/log-events.ts).
  attempt.log.debug({ platformPostId: result.platformPostId }, 'part published');
  return recordOwnSend(attempt, result);
}

/**
 * The platform accepted this attempt's own request: the part is live whatever the database says.
 * The id goes back to the workflow even if the ledger cannot be written now; the workflow then
 * writes it with a bookkeeping activity that retries until the database is back.
 */
async function recordOwnSend(attempt: Attempt, result: PublishedRef): Promise<PublishedPart> {
  const now = (attempt.deps.clock ?? (() => new Date()))();
  attempt.published(false);
  const live = toLivePart(attempt.row.partIndex, result.platformPostId, result.url, now);
  let recorded: boolean;
  try {
    recorded = await attempt.ledger.recordPublished(attempt.input, { ...result, publishedAt: now });
  } catch (err) {
    attempt.log.warn({ err: errorMessage(err), platformPostId: result.platformPostId }, 'part published, ledger write deferred to the workflow');
    return { ...live, ledgerPending: true };
  }
  if (!recorded) {
    attempt.log.error({ platformPostId: result.platformPostId }, 'the ledger holds another id for this part: two sends got through');
    return live;
  }
  return (await recordFinishingState(attempt, live, now)) ? { ...live, finished: true } : live;
}

/**
 * The post's final state the workflow gave with its last part (PublishPartInput `finishing`),
 * completed with this part and recorded once the part is in the ledger: the workflow then ends without
 * a bookkeeping round trip. A write that fails or does not apply (another run's newer state, a row
 * that is not this workflow's) is left to the workflow's own bookkeeping, as for any other outcome.
 */
async function recordFinishingState(attempt: Attempt, live: LivePart, now: Date): Promise<boolean> {
  const { finishing, partIndex } = attempt.input;
  if (!finishing) return false;
  const final: LivePostState = {
    ...finishing,
    publishedAt: [finishing.publishedAt ?? live.publishedAt, live.publishedAt].sort()[1]!,
    targets: finishing.targets.map((target) => ({ ...target, url: target.url ?? (partIndex === 0 ? live.url : null) })),
  };
  try {
    if (!(await writePostState(attempt.deps, final, now))) return false;
  } catch (err) {
    attempt.log.warn({ err: errorMessage(err) }, 'part published; the final state is left to the workflow');
    return false;
  }
  (attempt.deps.events ?? noEvents).postFinished({
    postId: final.postId,
    workflowId: callingWorkflowId(),
    status: final.status,
    targets: final.targets.map((t) => ({ platform: t.platform, status: t.status, errorClass: t.errorClass })),
  });
  return true;
}

async function handleSendFailure(attempt: Attempt, token: string, part: PartToPublish, err: unknown, window: SendWindow): Promise<PublishedPart> {
  if (!(err instanceof PublishError)) {
    // Not the platform's answer (a bug, the database during a token refresh): keep the fence up to its deadline.
    throw err;
  }
  if (err.duplicate) {
    const adopted = await adoptDuplicate(attempt, part, err);
    if (adopted) return adopted;
  }
  const settleMs = err.mayHavePosted && err.failureClass === 'unknown_outcome' && !err.httpStatus ? window.settleMs : 0;
  await attempt.ledger.release(attempt.row.id, token, {
    settleMs, mayHavePosted: err.mayHavePosted, error: err.message, platformFailure: err.failureClass === 'retryable' || err.failureClass === 'unknown_outcome',
  });
  attempt.log.warn({ failureClass: err.failureClass, httpStatus: err.httpStatus }, 'part not published');
  reportFailure(attempt, err.failureClass, err.failureClass === 'auth' || err.failureClass === 'rejected');
  if (err.duplicate) {
    throw ApplicationFailure.nonRetryable(`${err.message} It is not this post's own earlier send, so Herald did not adopt it: the platform refused this text as a duplicate of an earlier post.`, 'rejected');
  }
  if (err.failureClass === 'auth' || err.failureClass === 'rejected') throw ApplicationFailure.nonRetryable(err.message, err.failureClass);
  if (attempt.row.platformFailures + 1 >= MAX_PLATFORM_FAILURES) {
    throw ApplicationFailure.nonRetryable(`${err.message} (after ${MAX_PLATFORM_FAILURES} tries)`, err.failureClass);
  }
  throw ApplicationFailure.create({ type: err.failureClass, message: err.message, nextRetryDelay: err.retryAfterMs });
}

/**
 * The platform refused the text as a duplicate. That post can be this part's only if an earlier send
 * of it may have got through, and only if it was created after this part's first send and is not
 * recorded for any other part: otherwise it is someone else's post, and the target fails.
 */
async function adoptDuplicate(attempt: Attempt, part: PartToPublish, err: PublishError): Promise<PublishedPart | undefined> {
  if (!attempt.earlierSendMayHavePosted) return undefined;
  const found = await reconcile(attempt, part.notBefore, err.existingPlatformPostId);
  if (!found) return undefined;
  attempt.log.info({ platformPostId: found.platformPostId }, 'duplicate refusal: the existing post is this part\'s earlier send');
  return adopt(attempt, found, true);
}

/** Looks for this part on the platform; a failed look counts as a platform failure and retries later. */
async function reconcile(attempt: Attempt, notBefore: Date | undefined, namedId?: string): Promise<PublishedRef | null> {
  let found: PublishedRef | null;
  try {
    found = await attempt.publisher.findPublished(attempt.credentials, { ...attempt.part, notBefore });
  } catch (err) {
    const reason = errorMessage(err);
    const failures = await attempt.ledger.countPlatformFailure(attempt.row.id, `Could not check whether the part was already published: ${reason}`);
    reportFailure(attempt, 'unknown_outcome', failures >= MAX_PLATFORM_FAILURES);
    const message = `Could not check whether the part was already published: ${reason}`;
    if (failures >= MAX_PLATFORM_FAILURES) throw ApplicationFailure.nonRetryable(`${message} (after ${MAX_PLATFORM_FAILURES} tries; the part may or may not be on the platform)`, 'unknown_outcome');
    // A throttled lookup waits for the platform's reset, like a throttled send.
    const nextRetryDelay = err instanceof PublishError ? err.retryAfterMs : undefined;
    throw ApplicationFailure.create({ type: 'unknown_outcome', message, nextRetryDelay });
  }
  // A platform that names the existing post (LinkedIn) is believed only when its own listing agrees, or when it cannot be read.
  if (!found && namedId) found = { platformPostId: namedId, url: null };
  if (found && (await attempt.ledger.heldByAnotherPart(attempt.row, found.platformPostId))) {
    attempt.log.warn({ platformPostId: found.platformPostId }, 'found post belongs to another part: not adopted');
    return null;
  }
  return found;
}

async function adopt(attempt: Attempt, found: PublishedRef, reconciled: boolean): Promise<PublishedPart> {
  const now = (attempt.deps.clock ?? (() => new Date()))();
  try {
    const recorded = await attempt.ledger.recordPublished(attempt.input, { ...found, publishedAt: now });
    if (!recorded) throw ApplicationFailure.create({ type: 'fenced', message: 'The ledger changed while reconciling; checking again.', nextRetryDelay: 1000 });
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw ApplicationFailure.nonRetryable('The platform post found belongs to another part: the platform refused this text as a duplicate of an earlier post.', 'rejected');
    }
    throw err;
  }
  attempt.published(reconciled);
  return toLivePart(attempt.row.partIndex, found.platformPostId, found.url, now);
}

function reportFailure(attempt: Attempt, failureClass: 'retryable' | 'auth' | 'rejected' | 'unknown_outcome', final: boolean): void {
  const { input } = attempt;
  (attempt.deps.events ?? noEvents).partFailed({ postId: input.postId, workflowId: callingWorkflowId(), platform: input.platform, partIndex: input.partIndex, failureClass, final, attempt: activityAttempt() });
}

/** A token that cannot be decrypted will not decrypt on a retry either: fail the target with the fix. */
function decryptToken(cipher: TokenCipher, account: AccountRow): string {
  try {
    return cipher.decrypt(account.accessTokenEnc, account, 'access');
  } catch (err) {
    throw ApplicationFailure.nonRetryable(
      `The stored ${account.platform} token cannot be decrypted (${(err as Error).message}): check TOKEN_ENCRYPTION_KEYS or reconnect the account.`,
      'auth',
    );
  }
}

function newClaimToken(): string {
  return randomBytes(12).toString('hex');
}

function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function toLivePart(index: number, platformPostId: string, url: string | null, publishedAt: Date | null): LivePart {
  return { index, platformPostId, url: url ?? null, publishedAt: (publishedAt ?? new Date(0)).toISOString() };
}
