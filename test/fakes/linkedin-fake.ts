/**
 * A local fake of LinkedIn's versioned REST Posts and Comments APIs, following the wire facts in
 * shared/spec/PLATFORMS.md closely enough that a publisher passing it would pass LinkedIn:
 *
 * - every `/rest` call needs an active `LinkedIn-Version` (426 NONEXISTENT_VERSION otherwise), a
 *   Bearer token (401 with serviceErrorCode 65600 invalid / 65601 revoked) and
 *   `X-Restli-Protocol-Version: 2.0.0`;
 * - a create answers 201 with an EMPTY body and the URN in `x-restli-id`, URL-encoded every other
 *   time by default (so clients must decode it);
 * - `commentary` is "little" text: the fake stores it cut at the first unescaped reserved character
 *   and still answers 201, exactly like LinkedIn, so a missing escape shows up as a cut post;
 * - more than 3000 characters → 400 FIELD_ARRAY_SIZE_TOO_HIGH; the same commentary by the same
 *   author within 24 h → 422 DUPLICATE_POST naming the existing URN; the daily limit → 429 with
 *   serviceErrorCode 101 and no rate-limit headers (limits reset at 00:00 UTC);
 * - listings (posts by author, comments) page with `start` and `count` (10 by default, 1..100) and
 *   answer Rest.li paging: start, count, total, and `links` (`rel: "next"` only while more follow).
 *
 * Faults (`injectFault`) act on creates (posts and comments), in order, one per create; when none
 * is queued, a seeded random plan (`setRandomFaults`) may pick one, and `faultStats` counts them.
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

export interface FakeLinkedInPost {
  urn: string;
  author: string;
  /** Little text as stored: cut at the first unescaped reserved character, as LinkedIn does. */
  commentary: string;
  /** The commentary exactly as it was sent. */
  sentCommentary: string;
  /** True when the stored commentary is shorter than what was sent. */
  truncated: boolean;
  visibility: string;
  lifecycleState: string;
  /** When LinkedIn created it: later than receivedAt after a slow_before_create fault. */
  createdAt: Date;
  /** When the create request arrived. */
  receivedAt: Date;
}

export interface FakeLinkedInComment {
  urn: string;
  id: string;
  postUrn: string;
  actor: string;
  /** The comment text exactly as it was sent. */
  text: string;
  /** When LinkedIn created it: later than receivedAt after a slow_before_create fault. */
  createdAt: Date;
  /** When the create request arrived. */
  receivedAt: Date;
}

export type LinkedInFault =
  | { kind: 'throttle' }
  | { kind: 'server_error'; status?: 500 | 502 | 503 | 504 }
  | { kind: 'slow'; delayMs: number }
  /** LinkedIn received the request but creates only after `delayMs` (even if the client left), then answers. */
  | { kind: 'slow_before_create'; delayMs: number }
  | { kind: 'accept_then_drop' }
  /** The post or comment is created, then LinkedIn answers 500 (no x-restli-id): the outcome is unknown. */
  | { kind: 'ambiguous_500' }
  | { kind: 'unauthorized'; serviceErrorCode?: 65600 | 65601 };

export interface FakeLinkedInServerOptions {
  /** Clock in epoch milliseconds: creation times, the duplicate window, versions, daily limits. */
  now?: () => number;
  /** Versions the fake serves. Default: the `versionLifetimeMonths` months up to the clock's month. */
  activeVersions?: string[];
  /** LinkedIn serves each monthly version for about a year. Default 12. */
  versionLifetimeMonths?: number;
  /** How `x-restli-id` is sent: URL-encoded every other time (default), always or never. */
  encodeRestliId?: 'alternate' | 'always' | 'never';
  /** Longest comment (unsure: 1250 in LinkedIn's apps). Default 1250. */
  commentMaxLength?: number;
  /** Posts per author per UTC day before 429. Default 150. */
  dailyPostLimit?: number;
  /**
   * Sandbox mode: asked for a bearer token the fake does not know; an author URN it returns makes
   * the token valid for that author from then on.
   */
  authenticate?: (token: string) => Promise<string | undefined>;
}

export const LINKEDIN_FAKE_POST_MAX_LENGTH = 3000;
const RESERVED = new Set('\\|{}@[]()<>#*_~');
const AUTHOR_URN = /^urn:li:(person|organization):[A-Za-z0-9_-]+$/;
const VISIBILITIES = ['PUBLIC', 'CONNECTIONS', 'LOGGED_IN', 'CONTAINER'];
const FEED_DISTRIBUTIONS = ['MAIN_FEED', 'NONE'];
const LIFECYCLE_STATES = ['PUBLISHED', 'DRAFT'];
const POST_FIELDS = new Set([
  'author', 'commentary', 'visibility', 'distribution', 'lifecycleState', 'isReshareDisabledByAuthor',
  'content', 'contentLandingPage', 'contentCallToActionLabel', 'container', 'reshareContext', 'adContext',
]);
const DAY_MS = 24 * 60 * 60_000;
const FIRST_ID = 7300000000000000000n;
const ID_STEP = 4194304001n;

/** An HTTP answer. `body` undefined means an empty body (LinkedIn's 201 for a post). */
interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface InputError {
  code: string;
  fieldPath: string;
  description: string;
}

// ---------------------------------------------------------------------------------------------
// Error bodies, as LinkedIn sends them
// ---------------------------------------------------------------------------------------------

function linkedInError(status: number, code: string, message: string, serviceErrorCode?: number): Answer {
  const body: Record<string, unknown> = { status, code, message };
  if (serviceErrorCode !== undefined) body.serviceErrorCode = serviceErrorCode;
  return { status, body };
}

function invalidBody(errors: InputError[]): Answer {
  const fields = errors.map((e) => e.fieldPath).join(', ');
  const inputErrors = errors.map((e) => ({ code: e.code, description: e.description, input: { inputPath: { fieldPath: e.fieldPath } } }));
  return {
    status: 400,
    body: {
      status: 400,
      serviceErrorCode: 100,
      code: errors[0]!.code,
      message: `Field Value validation failed in REQUEST_BODY: Data Processing Exception while processing fields [${fields}]`,
      errorDetailType: 'com.linkedin.common.error.BadRequest',
      errorDetails: { inputErrors },
    },
  };
}

const invalidToken = (): Answer => linkedInError(401, 'INVALID_ACCESS_TOKEN', 'Invalid access token', 65600);
const revokedToken = (): Answer => linkedInError(401, 'REVOKED_ACCESS_TOKEN', 'The token used in the request has been revoked by the user', 65601);
const throttled = (): Answer =>
  linkedInError(429, 'TOO_MANY_REQUESTS', 'Resource level throttle APPLICATION DAY limit for calls to this resource is reached.', 101);
const notFound = (what: string): Answer => linkedInError(404, 'NOT_FOUND', `${what} does not exist`);
const accessDenied = (what: string): Answer => linkedInError(403, 'ACCESS_DENIED', `Not enough permissions to access: ${what}`, 100);

function faultAnswer(fault: LinkedInFault | undefined): Answer | undefined {
  switch (fault?.kind) {
    case 'throttle':
      return throttled();
    case 'server_error':
      return serverError(fault.status ?? 500);
    case 'unauthorized':
      return fault.serviceErrorCode === 65601 ? revokedToken() : invalidToken();
    default:
      return undefined; // no fault, or one that acts around the create (slow*, accept_then_drop, ambiguous_500)
  }
}

function serverError(status: 500 | 502 | 503 | 504): Answer {
  const message = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status];
  return { status, body: { status, message } };
}

/** ambiguous_500 hides a successful create (and its x-restli-id) behind a 500; a refusal stays a refusal. */
function afterCreate(fault: LinkedInFault | undefined, answer: Answer): Answer {
  return fault?.kind === 'ambiguous_500' && answer.status === 201 ? serverError(500) : answer;
}

// ---------------------------------------------------------------------------------------------
// Little text, versions, bodies
// ---------------------------------------------------------------------------------------------

/** The little text LinkedIn keeps: everything before the first unescaped reserved character. */
export function cutAtUnescapedReserved(little: string): string {
  for (let i = 0; i < little.length; i++) {
    if (little[i] === '\\' && RESERVED.has(little[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (RESERVED.has(little[i]!)) return little.slice(0, i);
  }
  return little;
}

function monthIndex(version: string): number {
  return Number(version.slice(0, 4)) * 12 + Number(version.slice(4, 6)) - 1;
}

function codePoints(text: string): number {
  return [...text].length;
}

interface PostBody {
  author?: unknown;
  commentary?: unknown;
  visibility?: unknown;
  distribution?: { feedDistribution?: unknown; targetEntities?: unknown; thirdPartyDistributionChannels?: unknown };
  lifecycleState?: unknown;
  isReshareDisabledByAuthor?: unknown;
}

const tooLong = (fieldPath: string, max: number): InputError => ({
  code: 'FIELD_ARRAY_SIZE_TOO_HIGH',
  fieldPath,
  description: `${fieldPath} :: length exceeds the maximum of ${max}`,
});
const missingField = (field: string): InputError => ({
  code: 'MISSING_FIELD',
  fieldPath: `/${field}`,
  description: `/${field} :: field is required but not found and has no default value`,
});
const invalidField = (fieldPath: string, why: string): InputError => ({ code: 'INVALID_VALUE_FOR_FIELD', fieldPath, description: `${fieldPath} :: ${why}` });
const unrecognizedField = (field: string): InputError => ({
  code: 'UNRECOGNIZED_FIELD',
  fieldPath: `/${field}`,
  description: `/${field} :: unrecognized field found but not allowed`,
});
const oneOf = (allowed: string[]) => ({ valid: (value: unknown) => allowed.includes(String(value)), why: `not one of ${allowed.join(', ')}` });

const REQUIRED_POST_FIELDS = ['author', 'commentary', 'visibility', 'distribution', 'lifecycleState'] as const;
/** The value rules of a text post's fields (checked when the field is present). */
const POST_FIELD_RULES: Array<{ field: keyof PostBody; valid: (value: unknown) => boolean; why: string }> = [
  { field: 'author', valid: (v) => typeof v === 'string' && AUTHOR_URN.test(v), why: 'not a person or organization URN' },
  { field: 'commentary', valid: (v) => typeof v === 'string', why: 'not a string' },
  { field: 'visibility', ...oneOf(VISIBILITIES) },
  { field: 'lifecycleState', ...oneOf(LIFECYCLE_STATES) },
  { field: 'isReshareDisabledByAuthor', valid: (v) => typeof v === 'boolean', why: 'not a boolean' },
];

/** The Posts API schema checks that matter to a text post; empty when the body is valid. */
function postBodyErrors(body: PostBody): InputError[] {
  const errors = Object.keys(body).filter((field) => !POST_FIELDS.has(field)).map(unrecognizedField);
  errors.push(...REQUIRED_POST_FIELDS.filter((field) => body[field] === undefined).map(missingField));
  for (const { field, valid, why } of POST_FIELD_RULES) {
    if (body[field] !== undefined && !valid(body[field])) errors.push(invalidField(`/${field}`, why));
  }
  if (body.distribution !== undefined) errors.push(...distributionErrors(body.distribution));
  return errors;
}

function distributionErrors(distribution: PostBody['distribution']): InputError[] {
  if (typeof distribution !== 'object' || distribution === null) return [invalidField('/distribution', 'not an object')];
  const errors: InputError[] = [];
  const feed = oneOf(FEED_DISTRIBUTIONS);
  if (!feed.valid(distribution.feedDistribution)) errors.push(invalidField('/distribution/feedDistribution', feed.why));
  for (const list of ['targetEntities', 'thirdPartyDistributionChannels'] as const) {
    if (distribution[list] !== undefined && !Array.isArray(distribution[list])) errors.push(invalidField(`/distribution/${list}`, 'not an array'));
  }
  return errors;
}

interface CommentBody {
  actor?: unknown;
  object?: unknown;
  message?: { text?: unknown };
}

function send(res: Response, answer: Answer): void {
  res.status(answer.status);
  res.setHeader('X-RestLi-Protocol-Version', '2.0.0');
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  if (answer.body === undefined) res.end();
  else res.type('application/json').send(JSON.stringify(answer.body));
}

function parseJsonBody(req: Request): { ok: true; body: unknown } | { ok: false; answer: Answer } {
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json') {
    return { ok: false, answer: linkedInError(400, 'ILLEGAL_ARGUMENT', `Unsupported Content-Type "${contentType}": application/json is required`) };
  }
  try {
    const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    return { ok: true, body: JSON.parse(raw) };
  } catch {
    return { ok: false, answer: linkedInError(400, 'ILLEGAL_ARGUMENT', 'The request body is not valid JSON') };
  }
}

interface TokenGrant {
  authors: Set<string>;
  revoked: boolean;
}

// ---------------------------------------------------------------------------------------------
// The fake server
// ---------------------------------------------------------------------------------------------

export class FakeLinkedInServer {
  private readonly now: () => number;
  private readonly app = express();
  private readonly tokens = new Map<string, TokenGrant>();
  /** Authors whose posts the app may not list (r_member_social is a restricted permission). */
  private readonly unreadableAuthors = new Set<string>();
  private readonly faults = new FaultQueue<LinkedInFault>();
  private readonly log = new RequestLog();
  private store: FakeLinkedInPost[] = [];
  private commentStore: FakeLinkedInComment[] = [];
  private nextId = FIRST_ID;
  private restliIdsSent = 0;
  private server?: Server;
  private url?: string;
  private lifetime = new AbortController();

  constructor(private readonly options: FakeLinkedInServerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.routes();
  }

  async start(port = 0): Promise<string> {
    if (this.server) throw new Error('FakeLinkedInServer already started');
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
    this.lifetime.abort(); // ends pending 'slow' answers; pending 'slow_before_create' never create
    await closeServer(server);
  }

  get baseUrl(): string {
    if (this.url === undefined) throw new Error('FakeLinkedInServer not started');
    return this.url;
  }

  /** `token` may post as `authorUrn` (a member's own URN, or an organization it administers). */
  addAuthor(authorUrn: string, token: string, options: { canReadPosts?: boolean } = {}): void {
    const grant = this.tokens.get(token) ?? { authors: new Set<string>(), revoked: false };
    grant.authors.add(authorUrn);
    this.tokens.set(token, grant);
    if (options.canReadPosts === false) this.unreadableAuthors.add(authorUrn);
    else this.unreadableAuthors.delete(authorUrn);
  }

  /** The member revoked the app: the token answers 401 with serviceErrorCode 65601 from now on. */
  revokeToken(token: string): void {
    const grant = this.tokens.get(token);
    if (grant) grant.revoked = true;
  }

  injectFault(fault: LinkedInFault, times = 1): void {
    this.faults.push(fault, times);
  }

  /** Drops queued faults and the random plan; faultStats() keeps counting. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** About `plan.rate` of the creates with no queued fault get one of `plan.kinds` (seeded, reproducible); undefined: off. */
  setRandomFaults(plan: RandomFaultPlan<LinkedInFault> | undefined): void {
    this.faults.setRandom(plan);
  }

  /** How many faults of each kind creates were given (queued and random) since the start or reset(). */
  faultStats(): Record<string, number> {
    return this.faults.stats();
  }

  get posts(): FakeLinkedInPost[] {
    return [...this.store];
  }

  get comments(): FakeLinkedInComment[] {
    return [...this.commentStore];
  }

  get requests(): RecordedRequest[] {
    return this.log.entries;
  }

  postsBy(authorUrn: string): FakeLinkedInPost[] {
    return this.store.filter((post) => post.author === authorUrn);
  }

  /** Whether `version` (YYYYMM) is served now. */
  isActiveVersion(version: string): boolean {
    if (this.options.activeVersions) return this.options.activeVersions.includes(version);
    if (!/^\d{4}(0[1-9]|1[0-2])$/.test(version)) return false;
    const now = new Date(this.now());
    const age = now.getUTCFullYear() * 12 + now.getUTCMonth() - monthIndex(version);
    return age >= 0 && age < (this.options.versionLifetimeMonths ?? 12);
  }

  reset(): void {
    this.store = [];
    this.commentStore = [];
    this.nextId = FIRST_ID;
    this.restliIdsSent = 0;
    this.log.clear();
    this.faults.reset();
  }

  // --- routing --------------------------------------------------------------------------------

  private routes(): void {
    const app = this.app;
    app.disable('x-powered-by');
    app.use((req, res, next) => {
      this.log.record(req, res, new Date(this.now()));
      next();
    });
    app.use((req, _res, next) => {
      this.learnToken(req).then(() => next(), next);
    });
    app.use('/rest', (req, res, next) => {
      const refused = this.gatekeeper(req);
      if (refused) send(res, refused);
      else next();
    });
    const raw = express.raw({ type: () => true, limit: '1mb' });
    app.post('/rest/posts', raw, (req, res) => this.handleCreate(req, res, (receivedAt) => this.createPost(req, receivedAt)));
    app.get('/rest/posts', (req, res) => send(res, this.listPosts(req)));
    app.post('/rest/socialActions/:urn/comments', raw, (req, res) => this.handleCreate(req, res, (receivedAt) => this.createComment(req, receivedAt)));
    app.get('/rest/socialActions/:urn/comments', (req, res) => send(res, this.listComments(req)));
    app.use((req, res) => send(res, linkedInError(404, 'NOT_FOUND', `No resource found for ${req.method} ${req.path}`)));
    app.use((err: { status?: number; message?: string }, _req: Request, res: Response, _next: NextFunction) => {
      const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
      send(res, { status, body: { status, message: err.message ?? 'Error' } });
    });
  }

  private async learnToken(req: Request): Promise<void> {
    const token = bearerToken(req);
    if (!this.options.authenticate || !token || this.tokens.has(token)) return;
    const authorUrn = await this.options.authenticate(token);
    if (authorUrn) this.addAuthor(authorUrn, token);
  }

  /** What every /rest call must carry: an active version, a valid token, Rest.li 2.0.0. */
  private gatekeeper(req: Request): Answer | undefined {
    const version = req.headers['linkedin-version'];
    if (typeof version !== 'string' || version === '') {
      return linkedInError(426, 'NONEXISTENT_VERSION', 'A version must be present. Please specify a version by adding the LinkedIn-Version header.');
    }
    if (!this.isActiveVersion(version)) return linkedInError(426, 'NONEXISTENT_VERSION', `Requested version ${version} is not active`);
    const grant = this.grantOf(req);
    if (!grant) return invalidToken();
    if (grant.revoked) return revokedToken();
    if (req.headers['x-restli-protocol-version'] !== '2.0.0') {
      return linkedInError(400, 'ILLEGAL_ARGUMENT', 'The X-Restli-Protocol-Version header must be 2.0.0 for this resource');
    }
    return undefined;
  }

  private grantOf(req: Request): TokenGrant | undefined {
    const token = bearerToken(req);
    return token ? this.tokens.get(token) : undefined;
  }

  /** A create: faults first (as LinkedIn's front door would fail), then the create, then delivery faults. */
  private async handleCreate(req: Request, res: Response, create: (receivedAt: Date) => Answer): Promise<void> {
    const receivedAt = new Date(this.now());
    const fault = this.faults.next();
    // LinkedIn has the request but acts on it late; the client may be gone by then, which LinkedIn never notices.
    if (fault?.kind === 'slow_before_create' && !(await delay(fault.delayMs, this.lifetime.signal))) return;
    const answer = faultAnswer(fault) ?? afterCreate(fault, create(receivedAt));
    if (fault?.kind === 'accept_then_drop') return dropConnection(req);
    if (fault?.kind === 'slow' && !(await delay(fault.delayMs, this.lifetime.signal))) return;
    if (!isConnectionGone(res)) send(res, answer);
  }

  // --- POST /rest/posts -----------------------------------------------------------------------

  private createPost(req: Request, receivedAt: Date): Answer {
    const parsed = parseJsonBody(req);
    if (!parsed.ok) return parsed.answer;
    const body = (typeof parsed.body === 'object' && parsed.body !== null ? parsed.body : {}) as PostBody;
    const errors = postBodyErrors(body);
    if (errors.length > 0) return invalidBody(errors);
    const author = body.author as string;
    const commentary = body.commentary as string;
    if (!this.grantOf(req)!.authors.has(author)) return accessDenied(`partnerApiPostsExternal.CREATE (author ${author})`);
    if (codePoints(commentary) > LINKEDIN_FAKE_POST_MAX_LENGTH) {
      return invalidBody([tooLong('/commentary', LINKEDIN_FAKE_POST_MAX_LENGTH)]);
    }
    const duplicate = this.duplicateOf(author, commentary);
    if (duplicate) return linkedInError(422, 'DUPLICATE_POST', `Content is a duplicate of ${duplicate.urn}`);
    if (this.postsToday(author) >= (this.options.dailyPostLimit ?? 150)) return throttled();
    const post = this.storePost(body, author, commentary, receivedAt);
    return { status: 201, headers: { 'x-restli-id': this.restliId(post.urn) } };
  }

  private storePost(body: PostBody, author: string, commentary: string, receivedAt: Date): FakeLinkedInPost {
    const stored = cutAtUnescapedReserved(commentary);
    const post: FakeLinkedInPost = {
      urn: `urn:li:share:${this.newId()}`,
      author,
      commentary: stored,
      sentCommentary: commentary,
      truncated: stored.length < commentary.length,
      visibility: body.visibility as string,
      lifecycleState: body.lifecycleState as string,
      createdAt: new Date(this.now()),
      receivedAt,
    };
    this.store.push(post);
    return post;
  }

  private duplicateOf(author: string, commentary: string): FakeLinkedInPost | undefined {
    const since = this.now() - DAY_MS;
    const text = commentary.normalize('NFC').trim();
    return this.store.find((p) => p.author === author && p.createdAt.getTime() > since && p.sentCommentary.normalize('NFC').trim() === text);
  }

  private postsToday(author: string): number {
    const midnight = Math.floor(this.now() / DAY_MS) * DAY_MS;
    return this.store.filter((p) => p.author === author && p.createdAt.getTime() >= midnight).length;
  }

  private newId(): string {
    const id = this.nextId;
    this.nextId += ID_STEP;
    return String(id);
  }

  /** `x-restli-id`, URL-encoded as configured, so that clients are made to decode it. */
  private restliId(urn: string): string {
    const mode = this.options.encodeRestliId ?? 'alternate';
    const encode = mode === 'always' || (mode === 'alternate' && this.restliIdsSent % 2 === 0);
    this.restliIdsSent += 1;
    return encode ? encodeURIComponent(urn) : urn;
  }

  // --- GET /rest/posts?q=author ---------------------------------------------------------------

  private listPosts(req: Request): Answer {
    const query = searchParams(req);
    if (query.get('q') !== 'author') return linkedInError(400, 'ILLEGAL_ARGUMENT', `Unsupported finder "${query.get('q') ?? ''}": use q=author`);
    const author = query.get('author') ?? '';
    if (!AUTHOR_URN.test(author)) return linkedInError(400, 'ILLEGAL_ARGUMENT', 'The author parameter must be a person or organization URN');
    if (!this.grantOf(req)!.authors.has(author) || this.unreadableAuthors.has(author)) {
      return accessDenied(`partnerApiPostsExternal.FINDER-author (author ${author})`);
    }
    const sortBy = query.get('sortBy') ?? 'LAST_MODIFIED';
    if (!['LAST_MODIFIED', 'CREATED'].includes(sortBy)) return linkedInError(400, 'ILLEGAL_ARGUMENT', `Unsupported sortBy "${sortBy}"`);
    const window = pageWindow(query);
    if (!window.ok) return window.answer;
    const { start, count } = window;
    const newestFirst = this.postsBy(author).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    const elements = newestFirst.slice(start, start + count).map(renderPost);
    return { status: 200, body: { paging: paging(req, start, count, newestFirst.length), elements } };
  }

  // --- comments -------------------------------------------------------------------------------

  private createComment(req: Request, receivedAt: Date): Answer {
    const postUrn = this.encodedPathUrn(req);
    if (!postUrn.ok) return postUrn.answer;
    const parsed = parseJsonBody(req);
    if (!parsed.ok) return parsed.answer;
    const body = (typeof parsed.body === 'object' && parsed.body !== null ? parsed.body : {}) as CommentBody;
    const text = body.message?.text;
    if (typeof body.actor !== 'string' || typeof body.object !== 'string' || typeof text !== 'string') {
      return invalidBody(['actor', 'object', 'message/text'].map(missingField));
    }
    if (body.object !== postUrn.urn) return linkedInError(400, 'ILLEGAL_ARGUMENT', `object ${body.object} does not match the path ${postUrn.urn}`);
    if (!this.store.some((p) => p.urn === postUrn.urn)) return notFound(postUrn.urn);
    if (!this.grantOf(req)!.authors.has(body.actor)) return accessDenied(`socialActions.comments.CREATE (actor ${body.actor})`);
    const maxLength = this.options.commentMaxLength ?? 1250;
    if (codePoints(text) > maxLength) {
      return invalidBody([tooLong('/message/text', maxLength)]);
    }
    const comment = this.storeComment(postUrn.urn, body.actor, text, receivedAt);
    return { status: 201, body: renderComment(comment), headers: { 'x-restli-id': this.restliId(comment.urn) } };
  }

  private storeComment(postUrn: string, actor: string, text: string, receivedAt: Date): FakeLinkedInComment {
    const id = this.newId();
    const comment: FakeLinkedInComment = {
      urn: `urn:li:comment:(${postUrn},${id})`,
      id,
      postUrn,
      actor,
      text,
      createdAt: new Date(this.now()),
      receivedAt,
    };
    this.commentStore.push(comment);
    return comment;
  }

  private listComments(req: Request): Answer {
    const postUrn = this.encodedPathUrn(req);
    if (!postUrn.ok) return postUrn.answer;
    if (!this.store.some((p) => p.urn === postUrn.urn)) return notFound(postUrn.urn);
    const window = pageWindow(searchParams(req));
    if (!window.ok) return window.answer;
    const { start, count } = window;
    // Oldest first: the order is not documented, and this one makes a client page or ask for enough.
    const oldestFirst = this.commentStore.filter((c) => c.postUrn === postUrn.urn);
    const elements = oldestFirst.slice(start, start + count).map(renderComment);
    return { status: 200, body: { paging: paging(req, start, count, oldestFirst.length), elements } };
  }

  /** Rest.li 2.0 wants URNs in paths URL-encoded; a raw "urn:li:…" segment is refused. */
  private encodedPathUrn(req: Request): { ok: true; urn: string } | { ok: false; answer: Answer } {
    const rawSegment = new URL(req.originalUrl, 'http://fake.invalid').pathname.split('/')[3] ?? '';
    if (rawSegment.includes(':')) {
      return { ok: false, answer: linkedInError(400, 'ILLEGAL_ARGUMENT', `The URN in the path must be URL-encoded: ${rawSegment}`) };
    }
    return { ok: true, urn: String(req.params.urn) };
  }
}

function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
}

function searchParams(req: Request): URLSearchParams {
  return new URL(req.originalUrl, 'http://fake.invalid').searchParams;
}

/** `start` (default 0, from 0) and `count` (default 10, 1..100) of a Rest.li collection request. */
function pageWindow(query: URLSearchParams): { ok: true; start: number; count: number } | { ok: false; answer: Answer } {
  const start = Number(query.get('start') ?? 0);
  const count = Number(query.get('count') ?? 10);
  if (!Number.isInteger(start) || start < 0) return { ok: false, answer: linkedInError(400, 'ILLEGAL_ARGUMENT', 'start must be a non-negative integer') };
  if (!Number.isInteger(count) || count < 1 || count > 100) return { ok: false, answer: linkedInError(400, 'ILLEGAL_ARGUMENT', 'count must be between 1 and 100') };
  return { ok: true, start, count };
}

/**
 * Rest.li's paging: start, count, total, and `links` to the previous and next pages (the request's
 * own path and parameters with another start), a `next` link only while more elements follow.
 */
function paging(req: Request, start: number, count: number, total: number): Record<string, unknown> {
  const link = (rel: 'prev' | 'next', at: number): Record<string, string> => {
    const url = new URL(req.originalUrl, 'http://fake.invalid');
    url.searchParams.set('start', String(at));
    url.searchParams.set('count', String(count));
    return { rel, type: 'application/json', href: `${url.pathname}?${url.searchParams}` };
  };
  const links: Array<Record<string, string>> = [];
  if (start > 0) links.push(link('prev', Math.max(0, start - count)));
  if (start + count < total) links.push(link('next', start + count));
  return { start, count, links, total };
}

function renderPost(post: FakeLinkedInPost): Record<string, unknown> {
  const time = post.createdAt.getTime();
  return {
    id: post.urn,
    author: post.author,
    commentary: post.commentary,
    visibility: post.visibility,
    distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
    lifecycleState: post.lifecycleState,
    lifecycleStateInfo: { isEditedByAuthor: false },
    isReshareDisabledByAuthor: false,
    createdAt: time,
    publishedAt: time,
    lastModifiedAt: time,
  };
}

function renderComment(comment: FakeLinkedInComment): Record<string, unknown> {
  const stamp = { actor: comment.actor, time: comment.createdAt.getTime() };
  return {
    id: comment.id,
    commentUrn: comment.urn,
    actor: comment.actor,
    object: comment.postUrn,
    message: { text: comment.text, attributes: [] },
    created: stamp,
    lastModified: stamp,
  };
}
