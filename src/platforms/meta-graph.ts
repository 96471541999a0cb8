/**
 * What Facebook Pages and Instagram share on Meta's Graph API: versioned paths, Bearer tokens,
 * form-encoded writes, the error envelope `{ error: { message, type, code, error_subcode,
 * fbtrace_id, is_transient } }` mapped onto the failure taxonomy, and the usage headers that say
 * when a throttled app may call again. Wire facts: shared/spec/PLATFORMS.md.
 */
import { classifyNetworkError, PLATFORM_CLOCK_SKEW_MS, PublishError, type PublisherCredentials } from './publisher';
import { fetchHttp, type PlatformHttp, type PlatformResponse } from './http';

/** A response's headers, as fetch's Headers and ./http.ts read them. */
type HeaderReader = PlatformResponse['headers'];

export interface MetaGraphPublisherOptions {
  baseUrl: string;
  /** Path version, like `v21.0` (setting META_GRAPH_API_VERSION). */
  apiVersion: string;
  timeoutMs: number;
  /** Clock in epoch milliseconds (Instagram measures how long its media has been processing). */
  now?: () => number;
  /** Wait after a throttle when the usage headers give no estimate. Default 15 minutes. */
  throttleBackoffMs?: number;
  /** The most pages (of 100) one lookup of a list reads before it gives up as unknown. Default 20. */
  lookupMaxPages?: number;
  /** Default: the global fetch (./http.ts). */
  http?: PlatformHttp;
}

/** A list edge's answer: `paging.next` is there while another page may follow (cursor-based paging). */
export interface GraphList<T> {
  data?: T[];
  paging?: { cursors?: { before?: string; after?: string }; next?: string; previous?: string };
}

/** How to look for one item in a list edge, page by page. */
export interface ListSearch<T> {
  /** The item sought. */
  matches: (item: T) => boolean;
  /** True when nothing after this page can match (a list ordered newest first, all too old). */
  exhausted?: (page: T[]) => boolean;
  /** What is read, for the message when the bound is reached ("posts of the Page"). */
  what: string;
}

/** The most a list page holds (`limit`, which Meta caps at 100 on these edges). */
export const GRAPH_PAGE_SIZE = 100;
const DEFAULT_LOOKUP_MAX_PAGES = 20;

export interface GraphError {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  error_user_title?: string;
  error_user_msg?: string;
  fbtrace_id?: string;
  is_transient?: boolean;
}

export type GraphPlatform = 'Facebook' | 'Instagram';

/**
 * Whether a call can put something in front of the audience. A failure after sending a call that
 * publishes leaves the outcome unknown; a failed read, or a write that publishes nothing (an
 * Instagram media container), can simply be repeated.
 */
export type GraphEffect = 'publishes' | 'harmless';

const DEFAULT_THROTTLE_BACKOFF_MS = 15 * 60_000;
const THROTTLE_CODES = new Set([4, 17, 32, 613]);
const AUTH_CODES = new Set([102, 104, 190]);
const DUPLICATE_CODES = new Set([506, 368]);
const UNKNOWN_PATH_CODES = new Set([2500, 2635]);
/** Business-use-case throttles (80001 Pages, 80002 Instagram, …) behave like the classic codes. */
const isThrottleCode = (code: number): boolean => THROTTLE_CODES.has(code) || (code >= 80001 && code <= 80014);
const isPermissionCode = (code: number): boolean => code === 10 || (code >= 200 && code <= 299);

/** A small Graph API client: every failure comes out as a classified PublishError. */
export class GraphClient {
  constructor(
    private readonly platformName: GraphPlatform,
    private readonly options: MetaGraphPublisherOptions,
  ) {}

  async get<T>(path: string, query: Record<string, string>, credentials: PublisherCredentials): Promise<T> {
    const search = new URLSearchParams(query).toString();
    return this.call<T>('GET', `${path}${search ? `?${search}` : ''}`, credentials, undefined, 'harmless');
  }

  /**
   * Looks for one item in a list edge, following `paging.cursors.after` while `paging.next` is there
   * (Meta: an absent `next` is the end; a short or even empty page is not). Null means the list
   * ended, or `exhausted` said so, without the item. Reading `lookupMaxPages` pages without either
   * cannot say "not there": it ends unknown.
   */
  async find<T>(path: string, query: Record<string, string>, credentials: PublisherCredentials, search: ListSearch<T>): Promise<T | null> {
    const maxPages = this.options.lookupMaxPages ?? DEFAULT_LOOKUP_MAX_PAGES;
    let pageQuery: Record<string, string> | undefined = query;
    for (let pageNumber = 0; pageNumber < maxPages && pageQuery; pageNumber++) {
      const page: GraphList<T> = await this.get<GraphList<T>>(path, pageQuery, credentials);
      const items = page.data ?? [];
      const match = items.find(search.matches);
      if (match !== undefined) return match;
      if (!page.paging?.next || (items.length > 0 && search.exhausted?.(items))) return null;
      pageQuery = nextPageQuery(query, page.paging);
    }
    const why = pageQuery ? `the first ${maxPages} pages of ${search.what} do not hold it, and there are more` : `Meta gave a next page it could not follow`;
    throw new PublishError('unknown_outcome', `${this.platformName}: cannot tell whether the part was published: ${why}; checking again later.`);
  }

  async post<T>(path: string, params: Record<string, string>, credentials: PublisherCredentials, effect: GraphEffect): Promise<T> {
    return this.call<T>('POST', path, credentials, new URLSearchParams(params), effect);
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    credentials: PublisherCredentials,
    form: URLSearchParams | undefined,
    effect: GraphEffect,
  ): Promise<T> {
    let response: PlatformResponse;
    let text: string;
    try {
      // The token goes in a header, never in the URL, so that no access log ever holds it.
      response = await (this.options.http ?? fetchHttp)(`${this.options.baseUrl}/${this.options.apiVersion}${path}`, {
        method,
        headers: { Authorization: `Bearer ${credentials.accessToken}` },
        body: form,
        timeoutMs: this.options.timeoutMs,
      });
      text = await response.text();
    } catch (err) {
      throw this.networkFailure(err, effect);
    }
    const parsed = parseJson(text);
    if (response.ok && !isErrorEnvelope(parsed)) return (parsed ?? {}) as T;
    const error = isErrorEnvelope(parsed) ? parsed.error : { message: text.slice(0, 200) };
    throw classifyGraphError(this.platformName, response.status, error, response.headers, {
      effect,
      throttleBackoffMs: this.options.throttleBackoffMs,
      secret: credentials.accessToken,
      apiVersion: this.options.apiVersion,
    });
  }

  private networkFailure(err: unknown, effect: GraphEffect): PublishError {
    const classified = classifyNetworkError(this.platformName, err);
    if (effect === 'publishes' || classified.failureClass !== 'unknown_outcome') return classified;
    const message = `${this.platformName} did not answer a call that publishes nothing; it is safe to repeat. (${classified.message})`;
    return new PublishError('retryable', message, { mayHavePosted: false });
  }
}

export interface ClassifyContext {
  effect: GraphEffect;
  throttleBackoffMs?: number;
  /** Removed from anything the platform said, in case it echoes the token. */
  secret: string;
  apiVersion: string;
}

/** The Graph error envelope → the failure taxonomy (PLATFORMS.md lists the codes). */
export function classifyGraphError(
  platformName: GraphPlatform,
  httpStatus: number,
  error: GraphError,
  headers: HeaderReader,
  context: ClassifyContext,
): PublishError {
  const code = error.code ?? 0;
  const said = `${platformName} said: ${redact(describeGraphError(error), context.secret)}`;
  const notPosted = { httpStatus, mayHavePosted: false };
  if (AUTH_CODES.has(code)) {
    const message = `The ${platformName} access token is invalid or expired (code ${code}): reconnect the account. ${said}`;
    return new PublishError('auth', message, notPosted);
  }
  if (isThrottleCode(code)) {
    const retryAfterMs = regainAccessMs(headers) ?? context.throttleBackoffMs ?? DEFAULT_THROTTLE_BACKOFF_MS;
    const minutes = Math.ceil(retryAfterMs / 60_000);
    return new PublishError('retryable', `${platformName} rate limit reached (code ${code}); retrying in about ${minutes} min. ${said}`, {
      ...notPosted,
      retryAfterMs,
    });
  }
  if (DUPLICATE_CODES.has(code)) {
    return new PublishError('rejected', `${platformName} refused the text as a duplicate of a recent post (code ${code}). ${said}`, {
      ...notPosted,
      duplicate: true,
    });
  }
  return classifyOther(platformName, httpStatus, error, said, context);
}

function classifyOther(platformName: GraphPlatform, httpStatus: number, error: GraphError, said: string, context: ClassifyContext): PublishError {
  const code = error.code ?? 0;
  const what = `HTTP ${httpStatus}, code ${code}`;
  // A 500 with code 1 or 2 has been seen after the post was created: reconcile, never repost blindly.
  const unknownError = httpStatus >= 500 || code === 1 || code === 2 || error.is_transient === true;
  if (unknownError && context.effect === 'publishes') {
    return new PublishError('unknown_outcome', `${platformName} had an error (${what}); the post may exist, checking before retrying. ${said}`, {
      httpStatus,
    });
  }
  const notPosted = { httpStatus, mayHavePosted: false };
  if (unknownError) return new PublishError('retryable', `${platformName} had a transient error (${what}). ${said}`, notPosted);
  return new PublishError('rejected', `${refusal(platformName, code, what, context)} ${said}`, notPosted);
}

/** Why Meta refused (or failed), in words an operator or the account owner can act on. */
function refusal(platformName: GraphPlatform, code: number, what: string, context: ClassifyContext): string {
  if (isPermissionCode(code)) {
    const needs = platformName === 'Facebook' ? 'pages_manage_posts and pages_read_engagement' : 'instagram_content_publish';
    return `${platformName} refused: the connected account lacks a permission (code ${code}); reconnect it granting ${needs}.`;
  }
  if (code === 100) return `${platformName} refused a parameter of the post (code 100).`;
  if (UNKNOWN_PATH_CODES.has(code)) {
    const check = `check META_GRAPH_API_VERSION (now ${context.apiVersion}) and the connected account id`;
    return `${platformName} does not know this API path (code ${code}): ${check}.`;
  }
  return `${platformName} refused the request (${what}).`;
}

/**
 * Milliseconds until Meta expects access again: the largest `estimated_time_to_regain_access`
 * (minutes) in `X-Business-Use-Case-Usage` or `X-App-Usage`; undefined when none is above zero.
 */
export function regainAccessMs(headers: HeaderReader): number | undefined {
  const minutes = [...usageEntries(headers.get('x-business-use-case-usage')), ...usageEntries(headers.get('x-app-usage'))]
    .map((entry) => Number(entry.estimated_time_to_regain_access))
    .filter((value) => Number.isFinite(value) && value > 0);
  return minutes.length > 0 ? Math.max(...minutes) * 60_000 : undefined;
}

/** The entries of a usage header: X-App-Usage is one object, X-Business-Use-Case-Usage maps ids to lists. */
function usageEntries(header: string | null): Array<Record<string, unknown>> {
  const parsed = header ? parseJson(header) : undefined;
  if (typeof parsed !== 'object' || parsed === null) return [];
  const values = Object.values(parsed as Record<string, unknown>);
  const lists = values.filter(Array.isArray).flat() as unknown[];
  const entries = lists.filter((entry): entry is Record<string, unknown> => typeof entry === 'object' && entry !== null);
  return lists.length > 0 ? entries : [parsed as Record<string, unknown>];
}

export function describeGraphError(error: GraphError): string {
  const codes = [error.code, error.error_subcode].filter((c) => c !== undefined).join('/');
  const human = error.error_user_msg ? ` ${error.error_user_msg}` : '';
  const trace = error.fbtrace_id ? ` (fbtrace_id ${error.fbtrace_id})` : '';
  return `${error.message ?? 'no message'}${human} [${codes || 'no code'}]${trace}`;
}

/**
 * The next page's parameters: the same query after `paging.cursors.after`, or, for a page that
 * links its next page another way (time-based paging), the parameters of its `next` link (never its
 * token: ours goes in a header). Undefined when the next page cannot be asked for.
 */
function nextPageQuery(query: Record<string, string>, paging: NonNullable<GraphList<unknown>['paging']>): Record<string, string> | undefined {
  if (paging.cursors?.after) return { ...query, after: paging.cursors.after };
  let next: URL;
  try {
    next = new URL(paging.next ?? '');
  } catch {
    return undefined;
  }
  const params = Object.fromEntries([...next.searchParams].filter(([key]) => key !== 'access_token'));
  return Object.keys(params).length > 0 ? params : undefined;
}

/**
 * `since` for a list of items created after the part's first send: Unix seconds, less the clock skew
 * and one more second in case Meta's bound is exclusive (an earlier bound only reads a little more).
 * Undefined without a first send.
 */
export function graphSince(notBefore: Date | undefined): string | undefined {
  if (!notBefore) return undefined;
  return String(Math.floor((notBefore.getTime() - PLATFORM_CLOCK_SKEW_MS) / 1000) - 1);
}

/** Graph times are like "2025-03-01T12:00:00+0000", which Date.parse does not read everywhere. */
export function parseGraphTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const parsed = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(parsed) ? undefined : parsed;
}

function isErrorEnvelope(value: unknown): value is { error: GraphError } {
  return typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'object';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}
