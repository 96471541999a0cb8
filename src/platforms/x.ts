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
  PublishError,
  type PartToPublish,
  type PublishedRef,
  type Publisher,
  type PublisherCredentials,
} from './publisher';

export interface XPublisherOptions {
  baseUrl: string;
  timeoutMs: number;
  now?: () => number;
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

/** A reset is honoured with this margin, so the retry never lands a moment before the window opens. */
const RESET_MARGIN_MS = 1000;
const RECONCILE_WINDOW = 50;

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

  async findPublished(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    const query = new URLSearchParams({
      max_results: String(RECONCILE_WINDOW),
      'tweet.fields': 'created_at,referenced_tweets',
    });
    const path = `/2/users/${encodeURIComponent(credentials.platformUserId)}/tweets?${query}`;
    const response = await this.request('GET', path, credentials);
    if (response.status !== 200) throw await this.classify(response);
    const page = await readJson<{ data?: XTweet[] }>(response, 'X');
    const match = (page.data ?? []).find((tweet) => this.isSamePart(tweet, part));
    return match ? { platformPostId: match.id, url: xPostUrl(match.id) } : null;
  }

  private isSamePart(tweet: XTweet, part: PartToPublish): boolean {
    if (xComparableText(tweet.text) !== xComparableText(part.text)) return false;
    const repliedTo = tweet.referenced_tweets?.find((ref) => ref.type === 'replied_to')?.id;
    if ((repliedTo ?? undefined) !== part.replyToPlatformPostId) return false;
    return createdAfterFirstSend(tweet.created_at ? Date.parse(tweet.created_at) : undefined, part.notBefore);
  }

  private async request(method: 'GET' | 'POST', path: string, credentials: PublisherCredentials, body?: unknown): Promise<Response> {
    try {
      return await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${credentials.accessToken}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw classifyNetworkError('X', err);
    }
  }

  private async classify(response: Response): Promise<PublishError> {
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

  private classifyThrottle(response: Response, problem: XProblem, said: string): PublishError {
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

async function readJson<T>(response: Response, platformName: string): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch (err) {
    throw classifyNetworkError(platformName, err);
  }
}

async function readProblem(response: Response): Promise<XProblem> {
  try {
    const parsed: unknown = await response.json();
    return typeof parsed === 'object' && parsed !== null ? (parsed as XProblem) : {};
  } catch {
    return {};
  }
}
