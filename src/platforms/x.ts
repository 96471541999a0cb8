/**
 * X (API v2): `POST /2/tweets` with an OAuth 2.0 user-context bearer token; threads are reply chains.
 * Wire facts: ../shared/spec/PLATFORMS.md.
 */
import { extractUrlsWithIndices } from 'twitter-text';
import { splitForX, type SplitResult } from '../domain/thread';
import type { ThreadOptions } from '../domain/types';
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

export interface XPublisherOptions {
  baseUrl: string;
  timeoutMs: number;
  now?: () => number;
  /** The most timeline pages (of 100) one lookup reads before it gives up as unknown. Default 20. */
  lookupMaxPages?: number;
  /** Default: the global fetch (./http.ts). */
  http?: PlatformHttp;
}

interface XProblem {
  title?: string;
  detail?: string;
  type?: string;
  errors?: Array<{ message?: string }>;
}

interface XTweet {
  id: string;
  text: string;
  created_at?: string;
  referenced_tweets?: Array<{ type: string; id: string }>;
}

interface XTimelinePage {
  data?: XTweet[];
  meta?: { result_count?: number; next_token?: string };
}

/** A reset is honoured with this margin, so the retry never lands a moment before the window opens. */
const RESET_MARGIN_MS = 1000;
/** The most a timeline page holds (`max_results` is 5..100). */
const TIMELINE_PAGE_SIZE = 100;
const DEFAULT_LOOKUP_MAX_PAGES = 20;
/** X refuses a `start_time` before this ("Minimum allowable time"). */
const EARLIEST_START_TIME_MS = Date.parse('2010-11-06T00:00:00Z');
/**
 * `start_time` is never later than this long before our clock's now: X refuses a start_time in the
 * future, and the database clock (notBefore) or ours may run ahead of X's. Starting earlier is
 * always safe: it only means reading more of the timeline.
 */
const START_TIME_MARGIN_MS = 60_000;

export function xPostUrl(id: string): string {
  return `https://x.com/i/web/status/${id}`;
}

export class XPublisher implements Publisher {
  readonly platform = 'twitter' as const;
  private readonly now: () => number;

  constructor(private readonly options: XPublisherOptions) {
    this.now = options.now ?? Date.now;
  }

  split(text: string, options: ThreadOptions): SplitResult {
    return splitForX(text, options);
  }

  async publishPart(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef> {
    const body: Record<string, unknown> = { text: part.text };
    if (part.replyToPlatformPostId) body.reply = { in_reply_to_tweet_id: part.replyToPlatformPostId };
    assertSendWindowOpen(part, 'X');
    const response = await this.request('POST', '/2/tweets', credentials, body);
    if (response.status !== 201) throw await this.classify(response);
    // X created the post; a body we cannot read leaves its id unknown: reconcile, do not repost.
    const created = await readJson<{ data?: { id?: string } }>(response, 'X');
    const id = created.data?.id;
    if (!id) throw new PublishError('unknown_outcome', 'X answered 201 without a post id; checking before retrying.');
    return { platformPostId: id, url: xPostUrl(id) };
  }

  /**
   * Reads the user's timeline from `start_time` (the part's first send less the clock skew), 100 at
   * a time, following `next_token`, until the part is found or the timeline ends. A lookup that reads
   * `lookupMaxPages` pages without reaching the end cannot say "not there": it ends unknown.
   */
  async findPublished(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    const startTime = this.startTime(part.notBefore);
    const maxPages = this.options.lookupMaxPages ?? DEFAULT_LOOKUP_MAX_PAGES;
    let paginationToken: string | undefined;
    for (let pageNumber = 0; pageNumber < maxPages; pageNumber++) {
      const query = new URLSearchParams({
        max_results: String(TIMELINE_PAGE_SIZE),
        'tweet.fields': 'created_at,referenced_tweets',
      });
      if (startTime) query.set('start_time', startTime);
      if (paginationToken) query.set('pagination_token', paginationToken);
      const path = `/2/users/${encodeURIComponent(credentials.platformUserId)}/tweets?${query}`;
      const response = await this.request('GET', path, credentials);
      if (response.status !== 200) throw await this.classify(response);
      const page = await readJson<XTimelinePage>(response, 'X');
      const tweets = page.data ?? [];
      const match = tweets.find((tweet) => this.isSamePart(tweet, part));
      if (match) return { platformPostId: match.id, url: xPostUrl(match.id) };
      paginationToken = page.meta?.next_token;
      // Newest first: once a whole page predates the first send, nothing further can be this part.
      const allTooOld = tweets.length > 0 && tweets.every((tweet) => tweetTooOld(tweet, part.notBefore));
      if (!paginationToken || allTooOld) return null;
    }
    const read = `${maxPages} pages of ${TIMELINE_PAGE_SIZE}`;
    throw new PublishError('unknown_outcome', `X: the part was not among the ${read} posts read since its first send, and there are more; checking again later.`);
  }

  /** RFC 3339 in whole seconds (X's granularity), within what X accepts; undefined without notBefore. */
  private startTime(notBefore: Date | undefined): string | undefined {
    if (!notBefore) return undefined;
    const wanted = notBefore.getTime() - PLATFORM_CLOCK_SKEW_MS;
    const clamped = Math.max(EARLIEST_START_TIME_MS, Math.min(wanted, this.now() - START_TIME_MARGIN_MS));
    return new Date(Math.floor(clamped / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private isSamePart(tweet: XTweet, part: PartToPublish): boolean {
    if (xComparableText(tweet.text) !== xComparableText(part.text)) return false;
    const repliedTo = tweet.referenced_tweets?.find((ref) => ref.type === 'replied_to')?.id;
    if ((repliedTo ?? undefined) !== part.replyToPlatformPostId) return false;
    return createdAfterFirstSend(tweet.created_at ? Date.parse(tweet.created_at) : undefined, part.notBefore);
  }

  private async request(method: 'GET' | 'POST', path: string, credentials: PublisherCredentials, body?: unknown): Promise<PlatformResponse> {
    try {
      return await (this.options.http ?? fetchHttp)(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${credentials.accessToken}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: this.options.timeoutMs,
      });
    } catch (err) {
      throw classifyNetworkError('X', err);
    }
  }

  private async classify(response: PlatformResponse): Promise<PublishError> {
    const problem = await readProblem(response);
    // X puts the specific reason ("…text is too long…") in errors[].message; detail is often generic.
    const said = problem.errors?.[0]?.message ?? problem.detail ?? problem.title ?? response.statusText;
    const httpStatus = response.status;
    if (httpStatus === 401) {
      return new PublishError('auth', `X rejected the access token (401): reconnect the account. X said: ${said}`, { httpStatus });
    }
    if (httpStatus === 429) return this.classifyThrottle(response, problem, said);
    if (httpStatus === 403 && /duplicate/i.test(said)) {
      return new PublishError('rejected', `X refused the text as a duplicate of an existing post. X said: ${said}`, {
        httpStatus,
        duplicate: true,
      });
    }
    if (httpStatus === 403 && /unsupported-authentication/.test(problem.type ?? '')) {
      return new PublishError('auth', `X needs a user-context token to post; reconnect the account. X said: ${said}`, { httpStatus });
    }
    if (httpStatus >= 500) {
      return new PublishError('unknown_outcome', `X had a server error (${httpStatus}); checking before retrying. X said: ${said}`, {
        httpStatus,
      });
    }
    return new PublishError('rejected', `X refused the post (${httpStatus}). X said: ${said}`, { httpStatus });
  }

  private classifyThrottle(response: PlatformResponse, problem: XProblem, said: string): PublishError {
    if (/usage-capped/.test(problem.type ?? '')) {
      return new PublishError('rejected', `The X app's usage cap is reached; publishing resumes when X resets it. X said: ${said}`, {
        httpStatus: 429,
        mayHavePosted: false,
      });
    }
    const resetEpochSeconds = Number(response.headers.get('x-rate-limit-reset'));
    const retryAfterMs = Number.isFinite(resetEpochSeconds) && resetEpochSeconds > 0
      ? Math.max(0, resetEpochSeconds * 1000 - this.now()) + RESET_MARGIN_MS
      : undefined;
    return new PublishError('retryable', `X rate limit reached; waiting for its reset. X said: ${said}`, {
      httpStatus: 429,
      retryAfterMs,
      mayHavePosted: false,
    });
  }
}

function tweetTooOld(tweet: XTweet, notBefore: Date | undefined): boolean {
  const createdAt = tweet.created_at ? Date.parse(tweet.created_at) : undefined;
  return notBefore !== undefined && createdAt !== undefined && !Number.isNaN(createdAt) && !createdAfterFirstSend(createdAt, notBefore);
}

/**
 * X rewrites every link it recognises (with or without a scheme) as a t.co link: compare texts with
 * each link, as twitter-text finds them, replaced by the same placeholder.
 */
export function xComparableText(text: string): string {
  const normalised = text.normalize('NFC');
  const links = extractUrlsWithIndices(normalised);
  let result = '';
  let cursor = 0;
  for (const { indices } of links) {
    result += `${normalised.slice(cursor, indices[0])}https://link`;
    cursor = indices[1];
  }
  return comparableText(result + normalised.slice(cursor));
}

async function readJson<T>(response: PlatformResponse, platformName: string): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch (err) {
    throw classifyNetworkError(platformName, err);
  }
}

async function readProblem(response: PlatformResponse): Promise<XProblem> {
  try {
    const parsed: unknown = await response.json();
    return typeof parsed === 'object' && parsed !== null ? (parsed as XProblem) : {};
  } catch {
    return {};
  }
}
