/**
 * The one narrow interface every platform implements, and the error type publishers throw.
 * Platform specifics stay behind it; generic code never asks which platform it is talking to.
 */
import type { FailureClass, Platform, ThreadOptions } from '../domain/types';
import type { SplitResult } from '../domain/thread';

export interface PublisherCredentials {
  accountId: number;
  /** X user id, LinkedIn author URN, Facebook Page id, Instagram account id. */
  platformUserId: string;
  accessToken: string;
}

export interface PartToPublish {
  text: string;
  partIndex: number;
  partCount: number;
  /** The platform id of the part this one replies to (absent for the first part). */
  replyToPlatformPostId?: string;
  /** The platform id of the first part (platforms whose threads are comments on the first post). */
  rootPlatformPostId?: string;
  /** Only posts created at or after this time can be this part (used by reconciliation). */
  notBefore?: Date;
  /** This platform's entry of the post's `platformParams` (e.g. Instagram's `imageUrl`). */
  params?: Record<string, unknown>;
  /** What an earlier call of a multi-step publish returned as progress (e.g. a media container id). */
  progress?: Record<string, string>;
  /**
   * The attempt's fence (epoch ms, this machine's clock): no request that may publish starts after it,
   * because another attempt may send once this attempt's deadline has passed (docs/EXACTLY-ONCE.md).
   */
  sendBy?: number;
}

/**
 * How far a platform's creation time may sit before our first send and still be that send: platforms
 * give seconds, and clocks differ a little. Anything older is someone else's post.
 */
export const PLATFORM_CLOCK_SKEW_MS = 5_000;

/** Whether a platform post created at `createdAtMs` can be the send that began at `notBefore`. */
export function createdAfterFirstSend(createdAtMs: number | undefined, notBefore: Date | undefined): boolean {
  if (!notBefore || createdAtMs === undefined || Number.isNaN(createdAtMs)) return true;
  return createdAtMs >= notBefore.getTime() - PLATFORM_CLOCK_SKEW_MS;
}

/**
 * Called right before a request that may publish: a worker that stalled (paused, partitioned) past its
 * send budget must not send, since another attempt may already be allowed to.
 */
export function assertSendWindowOpen(part: PartToPublish, platformName: string): void {
  if (part.sendBy === undefined || Date.now() <= part.sendBy) return;
  throw new PublishError('retryable', `${platformName}: this attempt's send window closed before its request left (the worker was held up); nothing was sent, retrying.`, {
    mayHavePosted: false,
  });
}

export interface PublishedRef {
  platformPostId: string;
  url: string | null;
}

/**
 * A multi-step publish that is not finished (e.g. Instagram media still processing): the caller
 * keeps `progress`, waits `checkAfterMs` on a durable timer, and calls publishPart again with it.
 */
export interface PublishInProgress {
  inProgress: true;
  progress: Record<string, string>;
  checkAfterMs: number;
}

export function isInProgress(result: PublishedRef | PublishInProgress): result is PublishInProgress {
  return 'inProgress' in result && result.inProgress === true;
}

/** A reason the API refuses a post for a platform before anything is stored, with its field path. */
export interface ValidationProblem {
  path: string;
  message: string;
}

export interface Publisher {
  readonly platform: Platform;
  /**
   * How the platform's text rules cut a text into the parts of a thread (`params`: this platform's
   * `platformParams` entry). Pure and deterministic: src/domain/platform-rules.ts, shared with previews.
   */
  split(text: string, options: ThreadOptions, params?: Record<string, unknown>): SplitResult;
  /**
   * Checks what the platform would refuse for sure (missing media, too many hashtags, …), so the
   * API answers 400 before anything is stored. Paths are relative to the request body.
   */
  validate?(text: string, params: Record<string, unknown> | undefined, options: ThreadOptions): ValidationProblem[];
  /** Posts one part. Throws PublishError, classified, for every failure. */
  publishPart(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | PublishInProgress>;
  /**
   * Reconciliation for unknown outcomes: looks for this part among the account's recent posts.
   * Returns null when it is certainly not there.
   */
  findPublished(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null>;
}

export type PublisherRegistry = Partial<Record<Platform, Publisher>>;

const MAX_PLATFORM_MESSAGE = 300;

export class PublishError extends Error {
  readonly failureClass: FailureClass;
  /** When the platform says when to come back (e.g. X's x-rate-limit-reset). */
  readonly retryAfterMs?: number;
  /** False only when the platform certainly did not create the post (so no reconciliation is needed). */
  readonly mayHavePosted: boolean;
  /** The platform refused the text as a duplicate of an existing post. */
  readonly duplicate: boolean;
  /** The existing post, when the platform names it in its duplicate refusal (LinkedIn). */
  readonly existingPlatformPostId?: string;
  readonly httpStatus?: number;

  constructor(
    failureClass: FailureClass,
    message: string,
    details: { retryAfterMs?: number; mayHavePosted?: boolean; duplicate?: boolean; existingPlatformPostId?: string; httpStatus?: number } = {},
  ) {
    super(truncate(message, MAX_PLATFORM_MESSAGE));
    this.name = 'PublishError';
    this.failureClass = failureClass;
    this.retryAfterMs = details.retryAfterMs;
    this.mayHavePosted = details.mayHavePosted ?? failureClass === 'unknown_outcome';
    this.duplicate = details.duplicate ?? false;
    this.existingPlatformPostId = details.existingPlatformPostId;
    this.httpStatus = details.httpStatus;
  }
}

/** Platform bodies are truncated before they reach logs or workflow history. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Turns a fetch failure into the taxonomy: a refused connection never reached the platform;
 * a timeout or a dropped connection after sending may have created the post.
 */
export function classifyNetworkError(platformName: string, err: unknown): PublishError {
  const code = networkErrorCode(err);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new PublishError('retryable', `${platformName} could not be reached (${code}).`, { mayHavePosted: false });
  }
  const what = code === 'TimeoutError' ? 'did not answer in time' : `dropped the connection (${code ?? 'network error'})`;
  return new PublishError('unknown_outcome', `${platformName} ${what} after the request was sent; checking before retrying.`);
}

/** Duck-typed: errors from fetch may come from another realm (a vm context), where instanceof fails. */
function networkErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, code, cause } = err as { name?: unknown; code?: unknown; cause?: { code?: unknown; name?: unknown } };
  if (name === 'TimeoutError' || name === 'AbortError' || cause?.name === 'TimeoutError') return 'TimeoutError';
  if (typeof cause?.code === 'string') return cause.code;
  return typeof code === 'string' ? code : undefined;
}

/** Normalises a text so that a post can be recognised on the platform after its own rewriting. */
export function comparableText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/https?:\/\/\S+/g, '<url>')
    .replace(/\s+/g, ' ')
    .trim();
}
