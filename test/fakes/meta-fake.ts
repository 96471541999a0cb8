/**
 * A local fake of Meta's Graph API for Facebook Pages and Instagram professional accounts, following
 * shared/spec/PLATFORMS.md closely enough that a publisher passing it would pass Meta:
 *
 * - paths carry the version (`/v21.0/...`); a missing or unknown version is the Graph's
 *   "Unknown path components" error (code 2500);
 * - tokens come as `Authorization: Bearer|OAuth …` or an `access_token` parameter; parameters as a
 *   query, a form or JSON; errors use the envelope `{ error: { message, type, code, error_subcode,
 *   fbtrace_id, is_transient } }`; usage headers (`X-App-Usage`, `X-Business-Use-Case-Usage`) go
 *   on every answer;
 * - Pages: feed posts `<page>_<post>`, comments, `permalink_url`, duplicate status 506 for the same
 *   message on the same Page within a window;
 * - lists (feed, comments, media) page as the Graph API does: `limit` (25 by default, 100 at most),
 *   `since`/`until` (Unix seconds or a date), `after`/`before` cursors, and `paging.next` only while
 *   more items follow;
 * - Instagram: containers IN_PROGRESS → FINISHED after `processingDelayMs` (ERROR for an image URL
 *   containing "broken", EXPIRED after 24 h or on `expireContainer`), PUBLISHED after media_publish;
 *   media_publish of anything but a FINISHED container is refused; the daily publishing quota counts
 *   real publishes.
 *
 * Faults (`injectFault`) act on writes (POST), in order, one per write; when none is queued, a seeded
 * random plan (`setRandomFaults`) may pick one, and `faultStats` counts them. `ambiguous_500` creates
 * the post or media and still answers 500 with code 1 or 2: the "500 that still created the post".
 */
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  FaultQueue,
  RequestLog,
  closeServer,
  delay,
  dropConnection,
  isConnectionGone,
  listenLocal,
  type RandomFaultPlan,
  type RecordedRequest,
} from './http-faults';

export interface FakePagePost {
  id: string;
  pageId: string;
  message: string;
  link?: string;
  /** When the Page post was created: later than receivedAt after a slow_before_create fault. */
  createdAt: Date;
  /** When the create request arrived. */
  receivedAt: Date;
}

export interface FakePageComment {
  id: string;
  postId: string;
  /** The Page that wrote the comment (Page tokens comment as the Page). */
  fromId: string;
  message: string;
  /** When the comment was created: later than receivedAt after a slow_before_create fault. */
  createdAt: Date;
  /** When the create request arrived. */
  receivedAt: Date;
}

export type ContainerStatus = 'IN_PROGRESS' | 'FINISHED' | 'ERROR' | 'EXPIRED' | 'PUBLISHED';

export interface FakeIgContainer {
  id: string;
  igId: string;
  imageUrl: string;
  caption: string;
  /** When the container was created: later than receivedAt after a slow_before_create fault. */
  createdAt: Date;
  /** When the create request arrived. */
  receivedAt: Date;
  /** The status as the Graph API would report it now. */
  status: ContainerStatus;
  mediaId?: string;
}

export interface FakeIgMedia {
  id: string;
  igId: string;
  containerId: string;
  caption: string;
  imageUrl: string;
  permalink: string;
  publishedAt: Date;
  /** The same instant as publishedAt: the name every fake's stored items share. */
  createdAt: Date;
  /** When the media_publish request arrived. */
  receivedAt: Date;
}

export type MetaFault =
  | { kind: 'throttle'; code?: 4 | 17 | 32 | 613; regainAfterMinutes?: number }
  | { kind: 'server_error'; status?: 500 | 503 }
  | { kind: 'ambiguous_500'; code?: 1 | 2 }
  | { kind: 'slow'; delayMs: number }
  /** The Graph API received the write but acts on it only after `delayMs` (even if the client left), then answers. */
  | { kind: 'slow_before_create'; delayMs: number }
  | { kind: 'accept_then_drop' }
  | { kind: 'token_expired' };

export interface FakeMetaGraphServerOptions {
  /** Clock in epoch milliseconds: creation times, container processing, windows, quotas. */
  now?: () => number;
  /** How long a container stays IN_PROGRESS. Default 1500 ms. */
  processingDelayMs?: number;
  /** The same message on the same Page within this window is a duplicate (506). Default 24 h. */
  duplicateWindowMs?: number;
  /** Graph versions served. Default v18.0 … v24.0. */
  supportedVersions?: string[];
  /** Instagram publishes per 24 h for accounts added without a quota. Default 100. */
  defaultQuotaTotal?: number;
  /**
   * Sandbox mode: asked for a token the fake does not know; a Page or Instagram account id it
   * returns makes the token valid for that id from then on.
   */
  authenticate?: (token: string) => Promise<string | undefined>;
}

export const FACEBOOK_FAKE_MESSAGE_MAX = 63206;
export const FACEBOOK_FAKE_COMMENT_MAX = 8000;
export const INSTAGRAM_FAKE_CAPTION_MAX = 2200;
export const INSTAGRAM_FAKE_HASHTAG_MAX = 30;
const DAY_MS = 24 * 60 * 60_000;
const DEFAULT_VERSIONS = ['v18.0', 'v19.0', 'v20.0', 'v21.0', 'v22.0', 'v23.0', 'v24.0'];
const HASHTAG = /(?<![\p{L}\p{M}\p{N}_])#[\p{L}\p{M}\p{N}_]+/gu;
const SHORTCODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** Fields each node type has; asking for another is a Graph error, as on the real API. */
const NODE_FIELDS = {
  PagePost: ['id', 'message', 'created_time', 'permalink_url', 'from', 'link'],
  Comment: ['id', 'message', 'created_time', 'permalink_url', 'from'],
  ShadowIGMediaBuilder: ['id', 'status_code', 'status'],
  IGMedia: ['id', 'caption', 'timestamp', 'permalink', 'media_type', 'media_url', 'shortcode'],
  Page: ['id', 'name'],
  IGUser: ['id', 'username'],
} as const;
type NodeType = keyof typeof NODE_FIELDS;

interface Answer {
  status: number;
  body: unknown;
}

interface GraphErrorFields {
  message: string;
  code: number;
  type?: string;
  error_subcode?: number;
  is_transient?: boolean;
  error_user_msg?: string;
}

/** A container as kept: its status is derived on every read, from the clock and what happened to it. */
type StoredContainer = Omit<FakeIgContainer, 'status'> & { expired: boolean };

interface Grant {
  ids: Set<string>;
  expired: boolean;
}

interface IgAccount {
  id: string;
  quotaTotal: number;
}

/** One Graph call, parsed: `/<version>/<id>[/<edge>]`, parameters from query and body. */
interface GraphCall {
  method: string;
  /** The request's URL up to its path (`http://host/v21.0/<id>/<edge>`), for paging links. */
  url: string;
  id: string;
  edge?: string;
  params: Record<string, string>;
  grant: Grant;
  /** When the request arrived (a write may act on it later). */
  receivedAt: Date;
}

// ---------------------------------------------------------------------------------------------
// The error envelope
// ---------------------------------------------------------------------------------------------

let traceCounter = 0;

/** fbtrace_id: an opaque id Meta support asks for; unique per error here. */
function fbtraceId(): string {
  traceCounter += 1;
  return `A${(traceCounter * 7919).toString(36).padStart(10, 'x')}Z`;
}

function graphError(status: number, fields: GraphErrorFields): Answer {
  const error = { type: 'OAuthException', ...fields, fbtrace_id: fbtraceId() };
  return { status, body: { error } };
}

const unknownPath = (path: string): Answer => graphError(400, { message: `Unknown path components: ${path}`, code: 2500 });
const missingToken = (): Answer =>
  graphError(400, { message: 'An active access token must be used to query information about the current user.', code: 104 });
const invalidToken = (): Answer => graphError(400, { message: 'Invalid OAuth access token - Cannot parse access token', code: 190 });
const invalidParameter = (message: string, subcode?: number): Answer =>
  graphError(400, { message: `(#100) ${message}`, code: 100, error_subcode: subcode, is_transient: false });
const noSuchObject = (id: string): Answer =>
  invalidParameter(
    `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    33,
  );

const messageTooLong = (max: number): Answer => invalidParameter(`Param message must be at most ${max} characters long`);

function expiredToken(now: number): Answer {
  const when = new Date(now - 60_000).toUTCString();
  return graphError(400, { message: `Error validating access token: Session has expired on ${when}.`, code: 190, error_subcode: 463 });
}

function pagePermission(): Answer {
  return graphError(403, {
    message: '(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission',
    code: 200,
  });
}

const igPermission = (): Answer => graphError(403, { message: '(#10) Application does not have permission for this action', code: 10 });

const UNEXPECTED_ERROR = 'An unexpected error has occurred. Please retry your request later.';

const THROTTLE_MESSAGES: Record<number, { status: number; message: string }> = {
  4: { status: 403, message: '(#4) Application request limit reached' },
  17: { status: 403, message: '(#17) User request limit reached' },
  32: { status: 403, message: '(#32) Page request limit reached' },
  613: { status: 400, message: '(#613) Calls to this api have exceeded the rate limit.' },
};

function faultAnswer(fault: MetaFault | undefined, now: number): Answer | undefined {
  switch (fault?.kind) {
    case 'throttle': {
      const code = fault.code ?? 4;
      const { status, message } = THROTTLE_MESSAGES[code]!;
      return graphError(status, { message, code, is_transient: true });
    }
    case 'server_error':
      return graphError(fault.status ?? 500, { message: UNEXPECTED_ERROR, code: 2, is_transient: true });
    case 'token_expired':
      return expiredToken(now);
    default:
      return undefined; // no fault, or one that acts around the write (ambiguous_500, slow*, accept_then_drop)
  }
}

function ambiguousAnswer(code: 1 | 2): Answer {
  const message = code === 1 ? 'An unknown error has occurred.' : UNEXPECTED_ERROR;
  return graphError(500, { message, code, is_transient: true });
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Graph times look like "2025-03-01T12:00:00+0000". */
function graphTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, '+0000');
}

function codePoints(text: string): number {
  return [...text].length;
}

function countHashtags(text: string): number {
  return text.match(HASHTAG)?.length ?? 0;
}

function shortcodeFor(mediaId: string): string {
  let n = BigInt(mediaId);
  let code = '';
  for (let i = 0; i < 11; i++, n /= 64n) code += SHORTCODE_ALPHABET[Number(n % 64n)];
  return code;
}

function send(res: Response, answer: Answer): void {
  res.status(answer.status).type('application/json').send(JSON.stringify(answer.body));
}

function tokenOf(req: Request, params: Record<string, string>): string | undefined {
  const header = /^(?:Bearer|OAuth)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  return header ?? params.access_token;
}

/** Query, form or JSON parameters, merged as the Graph API does (the body wins). */
function paramsOf(req: Request): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of new URL(req.originalUrl, 'http://fake.invalid').searchParams) params[key] = value;
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (raw === '') return params;
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType === 'application/json') {
    try {
      for (const [key, value] of Object.entries(JSON.parse(raw) as Record<string, unknown>)) {
        params[key] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    } catch {
      // an unreadable JSON body carries no parameters; the missing ones are reported below
    }
  } else {
    for (const [key, value] of new URLSearchParams(raw)) params[key] = value;
  }
  return params;
}

/** The requested fields of a node, or the error for one it does not have. */
function selectFields(type: NodeType, node: Record<string, unknown>, requested: string | undefined, defaults: string[]): Answer {
  const fields = requested ? requested.split(',').map((f) => f.trim()).filter(Boolean) : defaults;
  const unknown = fields.find((field) => !(NODE_FIELDS[type] as readonly string[]).includes(field));
  if (unknown) return invalidParameter(`Tried accessing nonexisting field (${unknown}) on node type (${type})`);
  const out: Record<string, unknown> = {};
  for (const field of fields) if (node[field] !== undefined) out[field] = node[field];
  out.id = node.id;
  return { status: 200, body: out };
}

/** What a list edge pages through: items with an id, in the edge's order, created at a time. */
interface Listed {
  id: string;
  createdAt: Date;
}

/** A cursor as Meta makes them: opaque base64; here, of the id of the item it points at. */
const encodeCursor = (id: string): string => Buffer.from(id, 'utf8').toString('base64');
const decodeCursor = (cursor: string): string => Buffer.from(cursor, 'base64').toString('utf8');

/**
 * `since`/`until` (time-based paging): a Unix timestamp, or a date `strtotime` would read (here,
 * what Date.parse reads). Undefined when absent, NaN when unreadable.
 */
function timeParam(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^-?\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? Number.NaN : Math.floor(parsed / 1000);
}

/**
 * One page of a list edge, as the Graph API pages: `since` and `until` (inclusive, in seconds) keep
 * the items created in that range; `limit` (default 25, at most 100) items follow the `after` cursor
 * (or precede the `before` one); `paging.cursors` point at the page's first and last items, and
 * `paging.next` / `paging.previous` (the same request with another cursor, never the token) are there
 * only when more items follow or precede. An empty page is `{ data: [] }`.
 */
function listAnswer<T extends Listed>(call: GraphCall, ordered: T[], render: (item: T) => Answer): Answer {
  const { since: sinceParam, until: untilParam, after, before } = call.params;
  const since = timeParam(sinceParam);
  const until = timeParam(untilParam);
  if (Number.isNaN(since)) return invalidParameter(`The parameter since must be a Unix timestamp or a strtotime date: ${sinceParam}`);
  if (Number.isNaN(until)) return invalidParameter(`The parameter until must be a Unix timestamp or a strtotime date: ${untilParam}`);
  const seconds = (item: T): number => Math.floor(item.createdAt.getTime() / 1000);
  const inRange = ordered.filter((item) => (since === undefined || seconds(item) >= since) && (until === undefined || seconds(item) <= until));
  const limit = Math.min(Math.max(Number(call.params.limit ?? 25) || 25, 1), 100);
  let first = 0;
  if (after !== undefined || before !== undefined) {
    const at = inRange.findIndex((item) => item.id === decodeCursor(after ?? before ?? ''));
    if (at < 0) return invalidParameter(`The cursor ${after ?? before ?? ''} is invalid or no longer points at an item of this list`);
    first = after !== undefined ? at + 1 : Math.max(0, at - limit);
  }
  const last = before !== undefined && after === undefined ? inRange.findIndex((item) => item.id === decodeCursor(before)) : first + limit;
  const items = inRange.slice(first, last);
  const data: unknown[] = [];
  for (const item of items) {
    const rendered = render(item);
    if (rendered.status !== 200) return rendered;
    data.push(rendered.body);
  }
  if (items.length === 0) return { status: 200, body: { data } };
  const link = (cursor: 'after' | 'before', id: string): string => {
    const params = new URLSearchParams(Object.entries(call.params).filter(([key]) => !['access_token', 'after', 'before'].includes(key)));
    params.set('limit', String(limit));
    params.set(cursor, encodeCursor(id));
    return `${call.url}?${params}`;
  };
  const paging: Record<string, unknown> = { cursors: { before: encodeCursor(items[0]!.id), after: encodeCursor(items.at(-1)!.id) } };
  if (first > 0) paging.previous = link('before', items[0]!.id);
  if (first + items.length < inRange.length) paging.next = link('after', items.at(-1)!.id);
  return { status: 200, body: { data, paging } };
}

// ---------------------------------------------------------------------------------------------
// The fake server
// ---------------------------------------------------------------------------------------------

export class FakeMetaGraphServer {
  private readonly now: () => number;
  private readonly app = express();
  private readonly grants = new Map<string, Grant>();
  private readonly pages = new Set<string>();
  private readonly igAccounts = new Map<string, IgAccount>();
  private readonly faults = new FaultQueue<MetaFault>();
  private readonly log = new RequestLog();
  private posts: FakePagePost[] = [];
  private comments: FakePageComment[] = [];
  private containerStore: StoredContainer[] = [];
  private media: FakeIgMedia[] = [];
  private sequence = 0;
  private appCalls = 0;
  private server?: Server;
  private url?: string;
  private lifetime = new AbortController();

  constructor(private readonly options: FakeMetaGraphServerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.routes();
  }

  async start(port = 0): Promise<string> {
    if (this.server) throw new Error('FakeMetaGraphServer already started');
    this.lifetime = new AbortController();
    const { server, baseUrl } = await listenLocal(this.app, port);
    this.server = server;
    this.url = baseUrl;
    return baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.url = undefined;
    this.lifetime.abort(); // ends pending 'slow' answers; pending 'slow_before_create' never write
    await closeServer(server);
  }

  get baseUrl(): string {
    if (this.url === undefined) throw new Error('FakeMetaGraphServer not started');
    return this.url;
  }

  /** A Page and the Page access token that may post on it. */
  addPage(pageId: string, pageToken: string): void {
    this.pages.add(pageId);
    this.grant(pageToken, pageId);
  }

  /** An Instagram professional account and a token that may publish for it. */
  addInstagramAccount(igId: string, token: string, options: { quotaTotal?: number } = {}): void {
    this.igAccounts.set(igId, { id: igId, quotaTotal: options.quotaTotal ?? this.options.defaultQuotaTotal ?? 100 });
    this.grant(token, igId);
  }

  /** The token expires for good (code 190, subcode 463), unlike the one-shot `token_expired` fault. */
  expireToken(token: string): void {
    const grant = this.grants.get(token);
    if (grant) grant.expired = true;
  }

  /** The container is reported EXPIRED from now on (as after 24 hours unpublished). */
  expireContainer(containerId: string): void {
    const container = this.containerStore.find((c) => c.id === containerId);
    if (!container) throw new Error(`no container ${containerId}`);
    container.expired = true;
  }

  injectFault(fault: MetaFault, times = 1): void {
    this.faults.push(fault, times);
  }

  /** Drops queued faults and the random plan; faultStats() keeps counting. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** About `plan.rate` of the writes with no queued fault get one of `plan.kinds` (seeded, reproducible); undefined: off. */
  setRandomFaults(plan: RandomFaultPlan<MetaFault> | undefined): void {
    this.faults.setRandom(plan);
  }

  /** How many faults of each kind writes were given (queued and random) since the start or reset(). */
  faultStats(): Record<string, number> {
    return this.faults.stats();
  }

  get pagePosts(): FakePagePost[] {
    return [...this.posts];
  }

  get pageComments(): FakePageComment[] {
    return [...this.comments];
  }

  get igMedia(): FakeIgMedia[] {
    return [...this.media];
  }

  get containers(): FakeIgContainer[] {
    return this.containerStore.map((stored) => {
      const { expired: _expired, ...container } = stored;
      return { ...container, status: this.statusOf(stored) };
    });
  }

  get requests(): RecordedRequest[] {
    return this.log.entries;
  }

  reset(): void {
    this.posts = [];
    this.comments = [];
    this.containerStore = [];
    this.media = [];
    this.sequence = 0;
    this.appCalls = 0;
    this.log.clear();
    this.faults.reset();
  }

  private grant(token: string, id: string): void {
    const grant = this.grants.get(token) ?? { ids: new Set<string>(), expired: false };
    grant.ids.add(id);
    this.grants.set(token, grant);
  }

  // --- routing --------------------------------------------------------------------------------

  private routes(): void {
    this.app.disable('x-powered-by');
    this.app.use((req, res, next) => {
      this.log.record(req, res, new Date(this.now()));
      this.appCalls += 1;
      next();
    });
    this.app.use(express.raw({ type: () => true, limit: '1mb' }));
    this.app.use((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!isConnectionGone(res) && !res.headersSent) send(res, graphError(500, { message: String(err), code: 1 }));
      });
    });
    this.app.use((err: { message?: string }, _req: Request, res: Response, _next: NextFunction) => {
      send(res, graphError(500, { message: err.message ?? 'error', code: 1 }));
    });
  }

  private async handle(req: Request, res: Response): Promise<void> {
    const receivedAt = new Date(this.now());
    const params = paramsOf(req);
    const parsed = await this.parseCall(req, params, receivedAt);
    if ('status' in parsed) return this.reply(res, parsed, undefined);
    const owner = this.ownerOf(parsed.id);
    if (req.method === 'GET') return this.reply(res, this.read(parsed), owner);
    if (req.method !== 'POST') return this.reply(res, invalidParameter(`Unsupported ${req.method.toLowerCase()} request.`), owner);
    const fault = this.faults.next();
    // Meta has the write but acts on it late; the client may be gone by then, which Meta never notices.
    if (fault?.kind === 'slow_before_create' && !(await delay(fault.delayMs, this.lifetime.signal))) return;
    const answer = faultAnswer(fault, this.now()) ?? this.write(parsed);
    const delivered = fault?.kind === 'ambiguous_500' && answer.status === 200 ? ambiguousAnswer(fault.code ?? 1) : answer;
    if (fault?.kind === 'accept_then_drop') return dropConnection(req);
    if (fault?.kind === 'slow' && !(await delay(fault.delayMs, this.lifetime.signal))) return;
    const regain = fault?.kind === 'throttle' ? (fault.regainAfterMinutes ?? 10) : 0;
    this.reply(res, delivered, owner, regain);
  }

  /** Version, path shape and token; an Answer when the call is refused before routing. */
  private async parseCall(req: Request, params: Record<string, string>, receivedAt: Date): Promise<GraphCall | Answer> {
    const path = new URL(req.originalUrl, 'http://fake.invalid').pathname;
    const [version, id, edge, ...extra] = path.split('/').slice(1).map(decodeURIComponent);
    const supported = this.options.supportedVersions ?? DEFAULT_VERSIONS;
    if (!version || !supported.includes(version) || !id || extra.length > 0) return unknownPath(path);
    const token = tokenOf(req, params);
    if (!token) return missingToken();
    if (!this.grants.has(token) && this.options.authenticate) {
      const learned = await this.options.authenticate(token);
      if (learned) this.grant(token, learned);
    }
    const grant = this.grants.get(token);
    if (!grant) return invalidToken();
    if (grant.expired) return expiredToken(this.now());
    const url = `${req.protocol}://${req.get('host') ?? 'localhost'}${path}`;
    return { method: req.method, url, id, edge, params, grant, receivedAt };
  }

  private reply(res: Response, answer: Answer, owner: { id: string; type: 'pages' | 'instagram' } | undefined, regainAfterMinutes = 0): void {
    if (isConnectionGone(res)) return;
    const percent = Math.min(100, Math.floor(this.appCalls / 10)); // one percent of the app's hourly budget per ten calls
    res.setHeader('X-App-Usage', JSON.stringify({ call_count: percent, total_cputime: Math.ceil(percent / 2), total_time: Math.ceil(percent / 2) }));
    if (owner) {
      const callCount = regainAfterMinutes > 0 ? 100 : percent;
      const usage = { type: owner.type, call_count: callCount, total_cputime: 1, total_time: 1, estimated_time_to_regain_access: regainAfterMinutes };
      res.setHeader('X-Business-Use-Case-Usage', JSON.stringify({ [owner.id]: [usage] }));
    }
    send(res, answer);
  }

  /** The Page or Instagram account a path id belongs to, for the usage header. */
  private ownerOf(id: string): { id: string; type: 'pages' | 'instagram' } | undefined {
    if (this.pages.has(id)) return { id, type: 'pages' };
    if (this.igAccounts.has(id)) return { id, type: 'instagram' };
    const pageId = this.posts.find((p) => p.id === id)?.pageId ?? this.comments.find((c) => c.id === id)?.fromId;
    if (pageId) return { id: pageId, type: 'pages' };
    const igId = this.containerStore.find((c) => c.id === id)?.igId ?? this.media.find((m) => m.id === id)?.igId;
    return igId ? { id: igId, type: 'instagram' } : undefined;
  }

  private read(call: GraphCall): Answer {
    switch (call.edge) {
      case undefined:
        return this.readNode(call);
      case 'feed':
      case 'posts':
        return this.readFeed(call);
      case 'comments':
        return this.readComments(call);
      case 'media':
        return this.readMedia(call);
      case 'content_publishing_limit':
        return this.readPublishingLimit(call);
      default:
        return unknownPath(`/${call.edge}`);
    }
  }

  private write(call: GraphCall): Answer {
    switch (call.edge) {
      case 'feed':
        return this.createPagePost(call);
      case 'comments':
        return this.createComment(call);
      case 'media':
        return this.createContainer(call);
      case 'media_publish':
        return this.publishContainer(call);
      default:
        return unknownPath(`/${call.id}${call.edge ? `/${call.edge}` : ''}`);
    }
  }

  private nextId(base: bigint): string {
    this.sequence += 1;
    return String(base + BigInt(this.sequence) * 7n);
  }

  // --- Pages ----------------------------------------------------------------------------------

  /** A Page the token may act on (created on first use for ids learned through `authenticate`). */
  private pageFor(call: GraphCall): Answer | undefined {
    if (!this.pages.has(call.id)) {
      if (!call.grant.ids.has(call.id) || this.igAccounts.has(call.id)) return noSuchObject(call.id);
      this.pages.add(call.id);
    }
    return call.grant.ids.has(call.id) ? undefined : pagePermission();
  }

  private createPagePost(call: GraphCall): Answer {
    const refused = this.pageFor(call);
    if (refused) return refused;
    const { message, link } = call.params;
    if (!message && !link) return invalidParameter('Missing message or attachment');
    if (message && codePoints(message) > FACEBOOK_FAKE_MESSAGE_MAX) return messageTooLong(FACEBOOK_FAKE_MESSAGE_MAX);
    if (message && this.isDuplicatePagePost(call.id, message)) {
      return graphError(400, { message: '(#506) Duplicate status message', code: 506, error_subcode: 1455006, is_transient: false });
    }
    const now = new Date(this.now());
    const id = `${call.id}_${this.nextId(122000000000000000n)}`;
    const post: FakePagePost = { id, pageId: call.id, message: message ?? '', createdAt: now, receivedAt: call.receivedAt };
    if (link) post.link = link;
    this.posts.push(post);
    return { status: 200, body: { id: post.id } };
  }

  private isDuplicatePagePost(pageId: string, message: string): boolean {
    const since = this.now() - (this.options.duplicateWindowMs ?? DAY_MS);
    const text = message.normalize('NFC').trim();
    return this.posts.some((p) => p.pageId === pageId && p.createdAt.getTime() > since && p.message.normalize('NFC').trim() === text);
  }

  private createComment(call: GraphCall): Answer {
    const post = this.posts.find((p) => p.id === call.id);
    if (!post) return noSuchObject(call.id);
    if (!call.grant.ids.has(post.pageId)) return pagePermission();
    const message = call.params.message;
    if (!message) return invalidParameter('Missing message or attachment');
    if (codePoints(message) > FACEBOOK_FAKE_COMMENT_MAX) return messageTooLong(FACEBOOK_FAKE_COMMENT_MAX);
    const now = new Date(this.now());
    const postPart = post.id.split('_')[1]!;
    const id = `${postPart}_${this.nextId(900000000000000n)}`;
    const comment: FakePageComment = { id, postId: post.id, fromId: post.pageId, message, createdAt: now, receivedAt: call.receivedAt };
    this.comments.push(comment);
    return { status: 200, body: { id: comment.id } };
  }

  private readFeed(call: GraphCall): Answer {
    const refused = this.pageFor(call);
    if (refused) return refused;
    const newestFirst = this.posts.filter((p) => p.pageId === call.id).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    return listAnswer(call, newestFirst, (post) => selectFields('PagePost', this.renderPost(post), call.params.fields, ['message', 'created_time']));
  }

  private readComments(call: GraphCall): Answer {
    const post = this.posts.find((p) => p.id === call.id);
    if (!post) return noSuchObject(call.id);
    if (!call.grant.ids.has(post.pageId)) return pagePermission();
    const order = call.params.order ?? 'chronological';
    if (order !== 'chronological' && order !== 'reverse_chronological') return invalidParameter(`Unsupported order "${order}"`);
    const ofPost = this.comments.filter((c) => c.postId === post.id);
    const ordered = order === 'chronological' ? ofPost : ofPost.reverse();
    return listAnswer(call, ordered, (comment) =>
      selectFields('Comment', this.renderComment(comment), call.params.fields, ['message', 'created_time', 'from']),
    );
  }

  private renderPost(post: FakePagePost): Record<string, unknown> {
    const postPart = post.id.split('_')[1];
    return {
      id: post.id,
      message: post.message || undefined,
      link: post.link,
      created_time: graphTime(post.createdAt),
      permalink_url: `https://www.facebook.com/${post.pageId}/posts/${postPart}`,
      from: { id: post.pageId, name: `Page ${post.pageId}` },
    };
  }

  private renderComment(comment: FakePageComment): Record<string, unknown> {
    const [pageId, postPart] = comment.postId.split('_');
    return {
      id: comment.id,
      message: comment.message,
      created_time: graphTime(comment.createdAt),
      permalink_url: `https://www.facebook.com/${pageId}/posts/${postPart}?comment_id=${comment.id.split('_')[1]}`,
      from: { id: comment.fromId, name: `Page ${comment.fromId}` },
    };
  }

  // --- nodes ----------------------------------------------------------------------------------

  private readNode(call: GraphCall): Answer {
    const fields = call.params.fields;
    const post = this.posts.find((p) => p.id === call.id);
    const select = (type: NodeType, ownerId: string, node: Record<string, unknown>, defaults: string[]): Answer =>
      this.visible(call, ownerId) ?? selectFields(type, node, fields, defaults);
    if (post) return select('PagePost', post.pageId, this.renderPost(post), ['message', 'created_time']);
    const comment = this.comments.find((c) => c.id === call.id);
    if (comment) return select('Comment', comment.fromId, this.renderComment(comment), ['message', 'created_time', 'from']);
    const container = this.containerStore.find((c) => c.id === call.id);
    if (container) return select('ShadowIGMediaBuilder', container.igId, this.renderContainer(container), ['id']);
    const media = this.media.find((m) => m.id === call.id);
    if (media) return select('IGMedia', media.igId, renderMedia(media), ['id']);
    if (this.pages.has(call.id)) return select('Page', call.id, { id: call.id, name: `Page ${call.id}` }, ['name']);
    if (this.igAccounts.has(call.id)) return select('IGUser', call.id, { id: call.id, username: `ig_${call.id}` }, ['id']);
    return noSuchObject(call.id);
  }

  /** Objects of an account the token has no grant for look like objects that do not exist. */
  private visible(call: GraphCall, ownerId: string): Answer | undefined {
    return call.grant.ids.has(ownerId) ? undefined : noSuchObject(call.id);
  }

  // --- Instagram ------------------------------------------------------------------------------

  /** An Instagram account the token may act on (created on first use for ids learned through `authenticate`). */
  private igAccountFor(call: GraphCall): { account: IgAccount } | { refused: Answer } {
    let account = this.igAccounts.get(call.id);
    if (!account && call.grant.ids.has(call.id) && !this.pages.has(call.id)) {
      account = { id: call.id, quotaTotal: this.options.defaultQuotaTotal ?? 100 };
      this.igAccounts.set(call.id, account);
    }
    if (!account) return { refused: noSuchObject(call.id) };
    return call.grant.ids.has(call.id) ? { account } : { refused: igPermission() };
  }

  private createContainer(call: GraphCall): Answer {
    const found = this.igAccountFor(call);
    if ('refused' in found) return found.refused;
    const { image_url: imageUrl, caption = '' } = call.params;
    if (!imageUrl) return invalidParameter('The parameter image_url is required for an image post (Instagram has no text-only posts).');
    if (!/^https?:\/\//i.test(imageUrl)) return invalidParameter('The parameter image_url must be an http(s) URL.', 2207052);
    if (codePoints(caption) > INSTAGRAM_FAKE_CAPTION_MAX) {
      return invalidParameter(`The caption is longer than ${INSTAGRAM_FAKE_CAPTION_MAX} characters.`, 2207010);
    }
    if (countHashtags(caption) > INSTAGRAM_FAKE_HASHTAG_MAX) {
      return invalidParameter(`The caption has more than ${INSTAGRAM_FAKE_HASHTAG_MAX} hashtags.`, 2207010);
    }
    const container: StoredContainer = {
      id: this.nextId(17900000000000000n),
      igId: call.id,
      imageUrl,
      caption,
      createdAt: new Date(this.now()),
      receivedAt: call.receivedAt,
      expired: false,
    };
    this.containerStore.push(container);
    return { status: 200, body: { id: container.id } };
  }

  private statusOf(container: StoredContainer): ContainerStatus {
    if (container.mediaId) return 'PUBLISHED';
    const age = this.now() - container.createdAt.getTime();
    if (container.expired || age >= DAY_MS) return 'EXPIRED';
    if (age < (this.options.processingDelayMs ?? 1500)) return 'IN_PROGRESS';
    return container.imageUrl.includes('broken') ? 'ERROR' : 'FINISHED';
  }

  private renderContainer(container: StoredContainer): Record<string, unknown> {
    const statusCode = this.statusOf(container);
    const status = {
      IN_PROGRESS: 'In Progress: Media is still being processed.',
      FINISHED: 'Finished: Media has been uploaded and it is ready to be published.',
      ERROR: 'Error: Media upload has failed with error code 2207052: the media could not be fetched from the image URL.',
      EXPIRED: 'Expired: The container was not published within 24 hours.',
      PUBLISHED: 'Published: Media has been successfully published.',
    }[statusCode];
    return { id: container.id, status_code: statusCode, status };
  }

  private publishContainer(call: GraphCall): Answer {
    const found = this.igAccountFor(call);
    if ('refused' in found) return found.refused;
    const container = this.containerStore.find((c) => c.id === call.params.creation_id && c.igId === call.id);
    if (!container) return invalidParameter(`Param creation_id (${call.params.creation_id ?? ''}) is not a container of this account.`, 2207001);
    const status = this.statusOf(container);
    if (status !== 'FINISHED') return notPublishable(status);
    if (this.publishesInLastDay(call.id) >= found.account.quotaTotal) return quotaReached();
    const id = this.nextId(17800000000000000n);
    const now = new Date(this.now());
    const media: FakeIgMedia = {
      id,
      igId: call.id,
      containerId: container.id,
      caption: container.caption,
      imageUrl: container.imageUrl,
      permalink: `https://www.instagram.com/p/${shortcodeFor(id)}/`,
      publishedAt: now,
      createdAt: now,
      receivedAt: call.receivedAt,
    };
    this.media.push(media);
    container.mediaId = id;
    return { status: 200, body: { id } };
  }

  private publishesInLastDay(igId: string): number {
    const since = this.now() - DAY_MS;
    return this.media.filter((m) => m.igId === igId && m.publishedAt.getTime() > since).length;
  }

  private readMedia(call: GraphCall): Answer {
    const found = this.igAccountFor(call);
    if ('refused' in found) return found.refused;
    const newestFirst = this.media.filter((m) => m.igId === call.id).sort((a, b) => b.publishedAt.getTime() - a.publishedAt.getTime());
    return listAnswer(call, newestFirst, (media) => selectFields('IGMedia', renderMedia(media), call.params.fields, ['id']));
  }

  private readPublishingLimit(call: GraphCall): Answer {
    const found = this.igAccountFor(call);
    if ('refused' in found) return found.refused;
    const fields = (call.params.fields ?? 'quota_usage').split(',').map((f) => f.trim());
    const unknown = fields.find((f) => f !== 'quota_usage' && f !== 'config');
    if (unknown) return invalidParameter(`Tried accessing nonexisting field (${unknown}) on node type (ContentPublishingLimit)`);
    const entry: Record<string, unknown> = {};
    if (fields.includes('quota_usage')) entry.quota_usage = this.publishesInLastDay(call.id);
    if (fields.includes('config')) entry.config = { quota_total: found.account.quotaTotal, quota_duration: 86400 };
    return { status: 200, body: { data: [entry] } };
  }
}

function notPublishable(status: ContainerStatus): Answer {
  const message = status === 'IN_PROGRESS' ? 'The media is not ready for publishing, please wait for a moment' : `The container cannot be published (status ${status}).`;
  return graphError(400, { message, code: 9007, error_subcode: 2207027, is_transient: false, error_user_msg: 'Media ID is not available' });
}

function quotaReached(): Answer {
  const error_user_msg = 'You have reached the maximum number of posts that is allowed to be posted in 24 hours.';
  return graphError(400, { message: '(#9) Application request limit reached', code: 9, error_subcode: 2207042, error_user_msg });
}

function renderMedia(media: FakeIgMedia): Record<string, unknown> {
  return {
    id: media.id,
    caption: media.caption,
    timestamp: graphTime(media.publishedAt),
    permalink: media.permalink,
    media_type: 'IMAGE',
    media_url: media.imageUrl,
    shortcode: media.permalink.split('/')[4],
  };
}
