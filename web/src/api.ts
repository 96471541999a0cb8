/**
 * The dashboard's only way to the server: API v2 on the same origin, the key in the Authorization
 * header (never in a URL). Types come from the API's own zod schemas, so the compiler notices when
 * the contract moves.
 */
import type { AccountView, CalendarDayView, CalendarView, PostSummaryView, PostView } from '../../src/api/schemas';
import type { ApiKeyView, CreatedApiKeyView } from '../../src/api/key-schemas';
import type { Platform, PostStatus } from '../../src/domain/types';
import { clearApiKey, readApiKey } from './session';

export type Post = PostView & {
  /** Not in the post view yet (see the issue note); used when the API adds them. */
  thread?: { numbering?: boolean };
  platformParams?: { instagram?: { imageUrl?: string } };
};
export type Target = Post['targets'][number];
/** The calendar's and list's lean post (`GET /scheduled?view=summary`): the post page reads the full one. */
export type PostSummary = PostSummaryView;
export type SummaryTarget = PostSummary['targets'][number];
/** A month view (`GET /calendar`): per day of the business's zone, counts by status and the first posts. */
export type CalendarAnswer = CalendarView;
export type CalendarDay = CalendarDayView;
/** What moving and cancelling need of a post, full or summary. */
export type PostRef = Pick<PostSummary, 'id' | 'status' | 'scheduledFor' | 'timezone' | 'platforms'>;

/** The full post as the lean lists show it (after a move or cancel answered with the full post). */
export function summarize(post: Post): PostSummary {
  const excerpt = post.content.slice(0, 100);
  return {
    id: post.id,
    scheduledFor: post.scheduledFor,
    timezone: post.timezone,
    platforms: post.platforms,
    status: post.status,
    excerpt,
    truncated: excerpt.length < post.content.length,
    targets: post.targets.map((t) => ({ platform: t.platform, status: t.status, url: t.url, errorClass: t.errorClass })),
  };
}

/** The text to show of a post: all of it, or the summary's excerpt with an ellipsis when cut. */
export function postText(post: Post | PostSummary): string {
  return 'content' in post ? post.content : `${post.excerpt}${post.truncated ? '…' : ''}`;
}
export type Account = AccountView;
export type ApiKeyInfo = ApiKeyView;
export type CreatedApiKey = CreatedApiKeyView;
export interface Business {
  id: number;
  name: string;
  timezone: string;
}

export interface SandboxPost {
  platform: Platform;
  accountId: string;
  id: string;
  kind: 'post' | 'reply' | 'comment' | 'media';
  inReplyTo: string | null;
  text: string;
  receivedAt: string;
}

export interface FieldProblem {
  path: string;
  message: string;
}

/** An answer that is not a success, or no answer at all (`status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] = [],
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The request may have reached the server: its effect is unknown, not absent. */
  get outcomeUnknown(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 504;
  }
}

export interface Answer<T> {
  status: number;
  body: T;
}

type SignedOutListener = (reason: string) => void;
let onSignedOut: SignedOutListener = () => undefined;

/** Called when the server says the key is not (or no longer) valid. */
export function whenSignedOut(listener: SignedOutListener): void {
  onSignedOut = listener;
}

export async function request<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { body?: unknown; apiKey?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Answer<T>> {
  const apiKey = options.apiKey ?? readApiKey();
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Herald could not be reached. Check your connection.');
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (response.ok) return { status: response.status, body: body as T };
  const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  const details = Array.isArray(error?.details) ? (error.details as FieldProblem[]) : [];
  const extra = error?.details && !Array.isArray(error.details) ? (error.details as Record<string, unknown>) : undefined;
  const apiError = new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? describeStatus(response.status), details, extra);
  if (response.status === 401 && options.apiKey === undefined) {
    clearApiKey();
    onSignedOut('Your API key is no longer accepted. Sign in again.');
  }
  throw apiError;
}

function describeStatus(status: number): string {
  if (status === 429) return 'Too many requests: Herald asked to slow down. Try again in a moment.';
  if (status >= 500) return `Herald answered with an error (${status}). Try again in a moment.`;
  return `The request failed (${status}).`;
}

/* ---------------------------------------------------------------- endpoints */

/** Posts a summary page asks for (the API's most is 1000). */
const SUMMARY_PAGE = 1000;

export const ALL_STATUSES: PostStatus[] = ['scheduled', 'publishing', 'published', 'partially_published', 'failed', 'cancelled'];

export interface PostDraft {
  businessId: number;
  content: string;
  platforms: Platform[];
  platformParams?: { instagram?: { imageUrl?: string } };
  thread?: { numbering?: boolean };
}

export const api = {
  businesses: (apiKey?: string) => request<{ businesses: Business[] }>('GET', '/api/v2/businesses', { apiKey }).then((a) => a.body.businesses),
  accounts: (businessId: number, signal?: AbortSignal) =>
    request<{ accounts: Account[] }>('GET', `/api/v2/accounts?businessId=${businessId}`, { signal }).then((a) => a.body.accounts),
  publish: (draft: PostDraft, idempotencyKey: string, waitSeconds = 10) =>
    request<Post>('POST', `/api/v2/publish?wait=${waitSeconds}`, { body: draft, headers: { 'Idempotency-Key': idempotencyKey } }),
  schedule: (draft: PostDraft & { scheduledFor: string; timezone?: string }, idempotencyKey: string) =>
    request<Post>('POST', '/api/v2/schedule', { body: draft, headers: { 'Idempotency-Key': idempotencyKey } }),
  /**
   * Summaries in the range, page by page (keyset cursor) until the last page or `max` posts;
   * `more` says that posts beyond `max` were left out.
   */
  listSummaries: async (query: { businessId: number; from?: Date; to?: Date; statuses?: PostStatus[]; max: number }, signal?: AbortSignal) => {
    const posts: PostSummary[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams({ businessId: String(query.businessId), view: 'summary', limit: String(Math.min(SUMMARY_PAGE, query.max - posts.length)) });
      if (query.from) params.set('from', query.from.toISOString());
      if (query.to) params.set('to', query.to.toISOString());
      if (query.statuses) params.set('status', query.statuses.join(','));
      if (cursor) params.set('cursor', cursor);
      const { body } = await request<{ posts: PostSummary[]; nextCursor: string | null }>('GET', `/api/v2/scheduled?${params}`, { signal });
      posts.push(...body.posts);
      cursor = body.nextCursor;
    } while (cursor && posts.length < query.max);
    return { posts, more: cursor !== null };
  },
  /**
   * The calendar of `from` (a day) to `to` (the day after the last) in one request: per day its
   * counts and its first `perDay` posts of `statuses` (default: all but cancelled). The rest of a
   * day: listSummaries from the day's `start` to its `end`.
   */
  calendar: (query: { businessId: number; from: string; to: string; perDay: number; statuses?: PostStatus[] }, signal?: AbortSignal) => {
    const params = new URLSearchParams({ businessId: String(query.businessId), from: query.from, to: query.to, perDay: String(query.perDay) });
    if (query.statuses) params.set('status', query.statuses.join(','));
    return request<CalendarAnswer>('GET', `/api/v2/calendar?${params}`, { signal }).then((a) => a.body);
  },
  post: (postId: number, signal?: AbortSignal) => request<Post>('GET', `/api/v2/posts/${postId}`, { signal }).then((a) => a.body),
  reschedule: (postId: number, scheduledFor: string) => request<Post>('PUT', `/api/v2/schedule/${postId}`, { body: { scheduledFor } }),
  cancel: (postId: number) => request<Post>('DELETE', `/api/v2/schedule/${postId}`),
  health: async () => {
    const response = await fetch('/health', { cache: 'no-store' }).catch(() => undefined);
    if (!response) return undefined;
    return (await response.json().catch(() => undefined)) as { status: string; checks: Record<string, string>; sandbox?: boolean } | undefined;
  },
  /** The provider's consent page for connecting an account (the API keeps a one-time state). */
  oauthStart: (platform: Platform, businessId: number) =>
    request<{ url: string }>('GET', `/api/v2/oauth/${platform}/start?businessId=${businessId}&redirect=0`).then((a) => a.body.url),
  disconnect: (accountId: number) => request<unknown>('DELETE', `/api/v2/accounts/${accountId}`),
  /** The signed-in user's API keys (never the keys themselves: only create and rotate answer one, once). */
  keys: (signal?: AbortSignal) => request<{ keys: ApiKeyInfo[] }>('GET', '/api/v2/keys', { signal }).then((a) => a.body.keys),
  createKey: (name: string, expiresAt: string | null) => request<CreatedApiKey>('POST', '/api/v2/keys', { body: { name, expiresAt } }).then((a) => a.body),
  revokeKey: (keyId: number) => request<unknown>('DELETE', `/api/v2/keys/${keyId}`),
  rotateKey: (keyId: number) => request<CreatedApiKey>('POST', `/api/v2/keys/${keyId}/rotate`, { body: {} }).then((a) => a.body),
  /** Sandbox mode only: what the in-app fakes received for the business's accounts. */
  sandboxPosts: (businessId: number, signal?: AbortSignal) =>
    request<{ posts: SandboxPost[] }>('GET', `/api/v2/sandbox/posts?businessId=${businessId}`, { signal }).then((a) => a.body.posts),
};

export function newIdempotencyKey(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export function isFinal(status: PostStatus): boolean {
  return status === 'published' || status === 'partially_published' || status === 'failed' || status === 'cancelled';
}
