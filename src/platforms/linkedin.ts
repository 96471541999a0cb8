/**
 * LinkedIn (Posts API, versioned `/rest`): a post is `POST /rest/posts` as the author (a member or an
 * organization); a long text continues as the author's own comments on that post.
 * Wire facts: shared/spec/PLATFORMS.md.
 *
 * Exactly-once help from LinkedIn: a second create of the same commentary by the same author is
 * refused with 422 DUPLICATE_POST naming the existing post, which this publisher adopts as published.
 */
import { PLATFORM_LIMITS, splitForPlatform } from '../domain/platform-rules';
import type { SplitResult } from '../domain/thread';
import type { ThreadOptions } from '../domain/types';
import { escapeLittleText, unescapeLittleText } from './little-text';
import {
  assertSendWindowOpen,
  classifyNetworkError,
  comparableText,
  createdAfterFirstSend,
  PublishError,
  type PartToPublish,
  type PublishedRef,
  type Publisher,
  type PublisherCredentials,
} from './publisher';

export interface LinkedInPublisherOptions {
  baseUrl: string;
  /** `LinkedIn-Version` header, YYYYMM (setting LINKEDIN_API_VERSION). */
  apiVersion: string;
  timeoutMs: number;
  now?: () => number;
  /** Wait after a 429 instead of "until the next 00:00 UTC", when LinkedIn's daily limits reset. */
  throttleBackoffMs?: number;
}

/** LinkedIn's error body (`serviceErrorCode` is absent on some errors). */
interface LinkedInError {
  status?: number;
  serviceErrorCode?: number;
  code?: string;
  message?: string;
  errorDetails?: { inputErrors?: Array<{ code?: string; description?: string }> };
}

interface LinkedInPost {
  id: string;
  author?: string;
  commentary?: string;
  createdAt?: number;
  lifecycleState?: string;
}

interface LinkedInComment {
  id?: string;
  commentUrn?: string;
  actor?: string;
  object?: string;
  message?: { text?: string };
  created?: { time?: number };
}

export const LINKEDIN_POST_MAX_LENGTH = PLATFORM_LIMITS.linkedin.maxLength;
export { LINKEDIN_COMMENT_MAX_LENGTH } from '../domain/platform-rules';
const RECONCILE_WINDOW = 20;
/** A thread has at most a few dozen parts; the rest of the window leaves room for readers' comments. */
const COMMENTS_WINDOW = 100;
const DAY_MS = 24 * 60 * 60_000;

export function linkedInPostUrl(postUrn: string): string {
  return `https://www.linkedin.com/feed/update/${postUrn}/`;
}

export function linkedInCommentUrl(postUrn: string, commentUrn: string): string {
  return `${linkedInPostUrl(postUrn)}?commentUrn=${encodeURIComponent(commentUrn)}`;
}

export class LinkedInPublisher implements Publisher {
  readonly platform = 'linkedin' as const;
  private readonly now: () => number;

  constructor(private readonly options: LinkedInPublisherOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The domain's LinkedIn rules (post, then comments), so the dashboard's preview is what goes out.
   * The post is measured escaped, as it goes over the wire, so it never exceeds LinkedIn's 3000.
   */
  split(text: string, options: ThreadOptions): SplitResult {
    return splitForPlatform('linkedin', text, options);
  }

  async publishPart(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef> {
    return part.partIndex === 0 ? this.createPost(credentials, part) : this.createComment(credentials, part);
  }

  async findPublished(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    return part.partIndex === 0 ? this.findPost(credentials, part) : this.findComment(credentials, part);
  }

  // --- posts ------------------------------------------------------------------------------------

  private async createPost(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef> {
    const body = {
      author: credentials.platformUserId,
      commentary: escapeLittleText(part.text),
      visibility: 'PUBLIC',
      distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
      lifecycleState: 'PUBLISHED',
      isReshareDisabledByAuthor: false,
    };
    assertSendWindowOpen(part, 'LinkedIn');
    const response = await this.request('POST', '/rest/posts', credentials, { body });
    if (response.status === 201) {
      await discardBody(response);
      const urn = restliId(response);
      // LinkedIn created the post; without its URN, reconcile rather than post again.
      if (!urn) throw new PublishError('unknown_outcome', 'LinkedIn answered 201 without an x-restli-id; checking before retrying.');
      return { platformPostId: urn, url: linkedInPostUrl(urn) };
    }
    // A duplicate refusal names the existing post; whether it is this part's own is decided by the caller.
    throw this.classify(response.status, await readError(response), credentials, 'write');
  }

  private async findPost(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    const query = new URLSearchParams({
      author: credentials.platformUserId,
      q: 'author',
      count: String(RECONCILE_WINDOW),
      sortBy: 'LAST_MODIFIED',
    });
    const response = await this.request('GET', `/rest/posts?${query}`, credentials, { finder: true });
    // Reading a member's posts needs the restricted r_member_social permission. Without it, posting
    // again is still safe: LinkedIn refuses the same commentary as a duplicate and names the post.
    if (response.status === 403) {
      await discardBody(response);
      return null;
    }
    if (response.status !== 200) throw this.classify(response.status, await readError(response), credentials, 'read');
    const page = await readJson<{ elements?: LinkedInPost[] }>(response);
    const match = (page.elements ?? []).find((post) => this.isSamePost(post, credentials, part));
    return match ? { platformPostId: match.id, url: linkedInPostUrl(match.id) } : null;
  }

  private isSamePost(post: LinkedInPost, credentials: PublisherCredentials, part: PartToPublish): boolean {
    if (post.author !== credentials.platformUserId) return false;
    if (comparableText(unescapeLittleText(post.commentary ?? '')) !== comparableText(part.text)) return false;
    return createdAfterFirstSend(post.createdAt, part.notBefore);
  }

  // --- comments (parts after the first) ---------------------------------------------------------

  private async createComment(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef> {
    const rootUrn = rootOf(part);
    // Comments take plain text (mentions go in attributes): the little format is the Posts API's.
    const body = { actor: credentials.platformUserId, object: rootUrn, message: { text: part.text } };
    assertSendWindowOpen(part, 'LinkedIn');
    const response = await this.request('POST', commentsPath(rootUrn), credentials, { body });
    if (response.status !== 201) throw this.classify(response.status, await readError(response), credentials, 'write');
    const created = await readJsonOrEmpty<LinkedInComment>(response);
    const commentUrn = created.commentUrn ?? commentUrnFrom(restliId(response), rootUrn);
    if (!commentUrn) throw new PublishError('unknown_outcome', 'LinkedIn created the comment without naming it; checking before retrying.');
    return { platformPostId: commentUrn, url: linkedInCommentUrl(rootUrn, commentUrn) };
  }

  private async findComment(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    const rootUrn = rootOf(part);
    const query = new URLSearchParams({ start: '0', count: String(COMMENTS_WINDOW) });
    const response = await this.request('GET', `${commentsPath(rootUrn)}?${query}`, credentials, {});
    if (response.status !== 200) throw this.classify(response.status, await readError(response), credentials, 'read');
    const page = await readJson<{ elements?: LinkedInComment[] }>(response);
    const match = (page.elements ?? []).find(
      (comment) =>
        comment.actor === credentials.platformUserId &&
        comparableText(comment.message?.text ?? '') === comparableText(part.text) &&
        createdAfterFirstSend(comment.created?.time, part.notBefore),
    );
    const commentUrn = match && (match.commentUrn ?? commentUrnFrom(match.id, rootUrn));
    return commentUrn ? { platformPostId: commentUrn, url: linkedInCommentUrl(rootUrn, commentUrn) } : null;
  }

  // --- HTTP and the failure taxonomy ------------------------------------------------------------

  private async request(
    method: 'GET' | 'POST',
    path: string,
    credentials: PublisherCredentials,
    { body, finder }: { body?: unknown; finder?: boolean },
  ): Promise<Response> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${credentials.accessToken}`,
      'LinkedIn-Version': this.options.apiVersion,
      'X-Restli-Protocol-Version': '2.0.0',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (finder) headers['X-RestLi-Method'] = 'FINDER';
    try {
      return await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw classifyNetworkError('LinkedIn', err);
    }
  }

  private classify(httpStatus: number, error: LinkedInError, credentials: PublisherCredentials, kind: 'write' | 'read'): PublishError {
    const said = `LinkedIn said: ${redact(describe(error, httpStatus), credentials.accessToken)}`;
    const notPosted = { httpStatus, mayHavePosted: false };
    if (httpStatus === 429) return this.throttled(said);
    if (httpStatus === 401) {
      const why = error.serviceErrorCode === 65601 ? 'was revoked' : 'is invalid or expired';
      return new PublishError('auth', `The LinkedIn access token ${why} (401): reconnect the LinkedIn account. ${said}`, notPosted);
    }
    if (httpStatus >= 500 && kind === 'write') {
      return new PublishError('unknown_outcome', `LinkedIn had a server error (${httpStatus}); checking before retrying. ${said}`, { httpStatus });
    }
    if (httpStatus >= 500) return new PublishError('retryable', `LinkedIn had a server error (${httpStatus}) while reading. ${said}`, notPosted);
    const duplicate = httpStatus === 422 && error.code === 'DUPLICATE_POST';
    const existingPlatformPostId = duplicateOf(httpStatus, error);
    return new PublishError('rejected', `${this.refusal(httpStatus, error, credentials)} ${said}`, { ...notPosted, duplicate, existingPlatformPostId });
  }

  /** Why LinkedIn refused, in words an operator or the account owner can act on. */
  private refusal(httpStatus: number, error: LinkedInError, credentials: PublisherCredentials): string {
    if (httpStatus === 403) {
      const needs = 'w_member_social, or for an organization w_organization_social and an admin role';
      return `LinkedIn refused (403): this account may not post as ${credentials.platformUserId}; it needs ${needs}.`;
    }
    if (httpStatus === 426) {
      const version = this.options.apiVersion;
      return `LinkedIn does not serve API version ${version} (426 NONEXISTENT_VERSION): set LINKEDIN_API_VERSION to an active YYYYMM version.`;
    }
    if (httpStatus === 422 && error.code === 'DUPLICATE_POST') return 'LinkedIn refused the text as a duplicate of an existing post.';
    if (errorCodes(error).includes('FIELD_ARRAY_SIZE_TOO_HIGH')) {
      const limit = `a post takes ${LINKEDIN_POST_MAX_LENGTH} characters, escapes included`;
      return `LinkedIn refused the text as too long (FIELD_ARRAY_SIZE_TOO_HIGH; ${limit}).`;
    }
    return `LinkedIn refused the request (${httpStatus}).`;
  }

  /** LinkedIn's 429 has no rate-limit headers; its daily application and member limits reset at 00:00 UTC. */
  private throttled(said: string): PublishError {
    const retryAfterMs = this.options.throttleBackoffMs ?? msUntilNextUtcMidnight(this.now());
    return new PublishError('retryable', `LinkedIn's daily limit is reached (429); publishing resumes after its reset. ${said}`, {
      httpStatus: 429,
      retryAfterMs,
      mayHavePosted: false,
    });
  }
}

function rootOf(part: PartToPublish): string {
  const root = part.rootPlatformPostId ?? part.replyToPlatformPostId;
  if (!root) {
    throw new PublishError('rejected', `LinkedIn part ${part.partIndex + 1} is a comment but no root post URN was given (a Herald bug).`, {
      mayHavePosted: false,
    });
  }
  return root;
}

function commentsPath(rootUrn: string): string {
  return `/rest/socialActions/${encodeURIComponent(rootUrn)}/comments`;
}

/** The id LinkedIn puts in `x-restli-id`, which may be URL-encoded. */
function restliId(response: Response): string | undefined {
  const raw = response.headers.get('x-restli-id');
  if (!raw) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A comment URN, or a bare comment id made into one. */
function commentUrnFrom(id: string | undefined, rootUrn: string): string | undefined {
  if (!id) return undefined;
  return id.startsWith('urn:li:comment:') ? id : `urn:li:comment:(${rootUrn},${id})`;
}

/** The existing post's URN from a 422 DUPLICATE_POST ("Content is a duplicate of urn:li:share:…"). */
function duplicateOf(httpStatus: number, error: LinkedInError): string | undefined {
  if (httpStatus !== 422 || error.code !== 'DUPLICATE_POST') return undefined;
  return /urn:li:(?:share|ugcPost|activity):\d+/.exec(error.message ?? '')?.[0];
}

function errorCodes(error: LinkedInError): string[] {
  const codes = (error.errorDetails?.inputErrors ?? []).map((input) => input.code ?? '');
  return error.code ? [error.code, ...codes] : codes;
}

function describe(error: LinkedInError, httpStatus: number): string {
  const code = error.code ?? (error.serviceErrorCode !== undefined ? String(error.serviceErrorCode) : String(httpStatus));
  const details = (error.errorDetails?.inputErrors ?? []).map((input) => input.description ?? input.code).filter(Boolean);
  return [`${code}: ${error.message ?? 'no message'}`, ...details].join('; ');
}

export function msUntilNextUtcMidnight(nowMs: number): number {
  const nextMidnight = Math.floor(nowMs / DAY_MS) * DAY_MS + DAY_MS;
  return nextMidnight - nowMs;
}

/** Platform messages never carry our token; this makes sure of it. */
function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}

async function discardBody(response: Response): Promise<void> {
  await response.arrayBuffer().catch(() => undefined);
}

async function readJson<T>(response: Response): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch (err) {
    throw classifyNetworkError('LinkedIn', err);
  }
}

/** LinkedIn may answer 201 with or without a body; either is a success. */
async function readJsonOrEmpty<T extends object>(response: Response): Promise<Partial<T>> {
  const text = await response.text().catch(() => '');
  try {
    const parsed: unknown = text ? JSON.parse(text) : {};
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<T>) : {};
  } catch {
    return {};
  }
}

async function readError(response: Response): Promise<LinkedInError> {
  try {
    const parsed: unknown = await response.json();
    return typeof parsed === 'object' && parsed !== null ? (parsed as LinkedInError) : {};
  } catch {
    return {};
  }
}
