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
  PLATFORM_CLOCK_SKEW_MS,
  PublishError,
  type PartToPublish,
  type PublishedRef,
  type Publisher,
  type PublisherCredentials,
} from './publisher';
import { fetchHttp, type PlatformHttp, type PlatformResponse } from './http';

export interface LinkedInPublisherOptions {
  baseUrl: string;
  /** `LinkedIn-Version` header, YYYYMM (setting LINKEDIN_API_VERSION). */
  apiVersion: string;
  timeoutMs: number;
  now?: () => number;
  /** Wait after a 429 instead of "until the next 00:00 UTC", when LinkedIn's daily limits reset. */
  throttleBackoffMs?: number;
  /** The most pages (of 100) one lookup reads before it gives up as unknown. Default 20. */
  lookupMaxPages?: number;
  /** Default: the global fetch (./http.ts). */
  http?: PlatformHttp;
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
  lastModifiedAt?: number;
  lifecycleState?: string;
}

/** A Rest.li collection page: `paging.links` has a `rel: "next"` link while more follow. */
interface LinkedInPage<T> {
  elements?: T[];
  paging?: { start?: number; count?: number; total?: number; links?: Array<{ rel?: string; href?: string }> };
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
/** The most a page of posts or comments holds (`count` is 1..100). */
const PAGE_SIZE = 100;
const DEFAULT_LOOKUP_MAX_PAGES = 20;
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

  /**
   * Reads the author's posts newest first, 100 at a time, until the part is found, a page holds only
   * posts older than the part's first send (less the clock skew), or the list ends. A lookup that
   * reads `lookupMaxPages` pages without getting there cannot say "not there": it ends unknown.
   */
  private async findPost(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    const maxPages = this.maxPages();
    for (let pageNumber = 0, start = 0; pageNumber < maxPages; pageNumber++) {
      const query = new URLSearchParams({
        author: credentials.platformUserId,
        q: 'author',
        count: String(PAGE_SIZE),
        sortBy: 'LAST_MODIFIED',
        start: String(start),
      });
      const response = await this.request('GET', `/rest/posts?${query}`, credentials, { finder: true });
      // Reading a member's posts needs the restricted r_member_social permission. Without it, posting
      // again is still safe: LinkedIn refuses the same commentary as a duplicate and names the post.
      if (response.status === 403) {
        await discardBody(response);
        return null;
      }
      if (response.status !== 200) throw this.classify(response.status, await readError(response), credentials, 'read');
      const page = await readJson<LinkedInPage<LinkedInPost>>(response);
      const posts = page.elements ?? [];
      const match = posts.find((post) => this.isSamePost(post, credentials, part));
      if (match) return { platformPostId: match.id, url: linkedInPostUrl(match.id) };
      // Sorted by last modification, newest first; a post is modified no earlier than it is created,
      // so once a whole page was last modified before the first send, no later post can be this part.
      const allTooOld = posts.length > 0 && posts.every((post) => tooOld(post.lastModifiedAt ?? post.createdAt, part.notBefore));
      const next = nextStart(page, start, posts.length);
      if (allTooOld || next === undefined) return null;
      start = next;
    }
    throw this.lookupBoundReached('posts', maxPages);
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

  /**
   * Reads every comment on the root post, 100 at a time (LinkedIn does not document their order, so
   * there is no early stop), until the part is found or the list ends; more than `lookupMaxPages`
   * pages of comments end unknown.
   */
  private async findComment(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    const rootUrn = rootOf(part);
    const maxPages = this.maxPages();
    for (let pageNumber = 0, start = 0; pageNumber < maxPages; pageNumber++) {
      const query = new URLSearchParams({ start: String(start), count: String(PAGE_SIZE) });
      const response = await this.request('GET', `${commentsPath(rootUrn)}?${query}`, credentials, {});
      if (response.status !== 200) throw this.classify(response.status, await readError(response), credentials, 'read');
      const page = await readJson<LinkedInPage<LinkedInComment>>(response);
      const comments = page.elements ?? [];
      const match = comments.find(
        (comment) =>
          comment.actor === credentials.platformUserId &&
          comparableText(comment.message?.text ?? '') === comparableText(part.text) &&
          createdAfterFirstSend(comment.created?.time, part.notBefore),
      );
      const commentUrn = match && (match.commentUrn ?? commentUrnFrom(match.id, rootUrn));
      if (commentUrn) return { platformPostId: commentUrn, url: linkedInCommentUrl(rootUrn, commentUrn) };
      const next = nextStart(page, start, comments.length);
      if (next === undefined) return null;
      start = next;
    }
    throw this.lookupBoundReached('comments on the post', maxPages);
  }

  private maxPages(): number {
    return this.options.lookupMaxPages ?? DEFAULT_LOOKUP_MAX_PAGES;
  }

  private lookupBoundReached(what: string, maxPages: number): PublishError {
    const read = `${maxPages} pages of ${PAGE_SIZE}`;
    return new PublishError('unknown_outcome', `LinkedIn: the part was not among the ${read} ${what} read, and there are more; checking again later.`);
  }

  // --- HTTP and the failure taxonomy ------------------------------------------------------------

  private async request(
    method: 'GET' | 'POST',
    path: string,
    credentials: PublisherCredentials,
    { body, finder }: { body?: unknown; finder?: boolean },
  ): Promise<PlatformResponse> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${credentials.accessToken}`,
      'LinkedIn-Version': this.options.apiVersion,
      'X-Restli-Protocol-Version': '2.0.0',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (finder) headers['X-RestLi-Method'] = 'FINDER';
    try {
      return await (this.options.http ?? fetchHttp)(`${this.options.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: this.options.timeoutMs,
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

/**
 * Where the next page starts, or undefined at the end: LinkedIn's `next` link when it gives links
 * (its `start` wins: a page may come back short when LinkedIn hides some elements), else its
 * `total`, else whether the page was full.
 */
function nextStart(page: LinkedInPage<unknown>, start: number, received: number): number | undefined {
  const links = page.paging?.links ?? [];
  const next = links.find((link) => link.rel === 'next');
  if (next) {
    const linked = Number(new URL(next.href ?? '', 'https://api.linkedin.com').searchParams.get('start'));
    return Number.isInteger(linked) && linked > start ? linked : start + Math.max(received, 1);
  }
  if (links.length > 0 || received === 0) return undefined;
  const total = page.paging?.total;
  if (typeof total === 'number') return start + received < total ? start + received : undefined;
  return received >= PAGE_SIZE ? start + received : undefined;
}

/** A time (epoch ms) before the part's first send, less the clock skew; unknown times are not too old. */
function tooOld(timeMs: number | undefined, notBefore: Date | undefined): boolean {
  return notBefore !== undefined && timeMs !== undefined && timeMs < notBefore.getTime() - PLATFORM_CLOCK_SKEW_MS;
}

function commentsPath(rootUrn: string): string {
  return `/rest/socialActions/${encodeURIComponent(rootUrn)}/comments`;
}

/** The id LinkedIn puts in `x-restli-id`, which may be URL-encoded. */
function restliId(response: PlatformResponse): string | undefined {
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

async function discardBody(response: PlatformResponse): Promise<void> {
  await response.arrayBuffer().catch(() => undefined);
}

async function readJson<T>(response: PlatformResponse): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch (err) {
    throw classifyNetworkError('LinkedIn', err);
  }
}

/** LinkedIn may answer 201 with or without a body; either is a success. */
async function readJsonOrEmpty<T extends object>(response: PlatformResponse): Promise<Partial<T>> {
  const text = await response.text().catch(() => '');
  try {
    const parsed: unknown = text ? JSON.parse(text) : {};
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<T>) : {};
  } catch {
    return {};
  }
}

async function readError(response: PlatformResponse): Promise<LinkedInError> {
  try {
    const parsed: unknown = await response.json();
    return typeof parsed === 'object' && parsed !== null ? (parsed as LinkedInError) : {};
  } catch {
    return {};
  }
}
