/**
 * A local fake of X's API v2 (create, user timeline, lookup) that follows the wire facts in
 * shared/spec/PLATFORMS.md and X's own OpenAPI document: request bodies are validated against
 * `TweetCreateRequest`, query parameters against the path's declared parameters, lengths are
 * weighted by `twitter-text`, and errors use X's problem JSON shapes. Faults can be injected to
 * exercise retries and the reconcile-before-retry path of publishers, one by one (`injectFault`)
 * or as a seeded random plan (`setRandomFaults`), and are counted (`faultStats`).
 *
 * Realism notes worth knowing when asserting on responses:
 * - `data.text` is rendered the way X renders it: URLs become 23-character t.co links and
 *   `&`, `<`, `>` are HTML-escaped. `FakeTweet.text` keeps the text exactly as submitted.
 * - Ids are 19-digit strings beyond Number.MAX_SAFE_INTEGER: compare them as strings/BigInt.
 * - Problem bodies are sent as `application/problem+json`.
 * - The user timeline pages with `max_results` and `next_token`/`pagination_token`, and keeps
 *   `start_time`/`end_time` to the second; a start_time later than the request or before
 *   2010-11-06T00:00:00Z is refused (400), as X does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { STATUS_CODES, type Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { extractUrlsWithIndices, parseTweet } from 'twitter-text';
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

export interface FakeTweet {
  id: string;
  text: string;
  authorId: string;
  inReplyToTweetId?: string;
  /** Media ids sent in `media.media_ids` (the fake has no upload endpoint, so any valid id is accepted). */
  mediaIds?: string[];
  /** When X created it: later than receivedAt after a slow_before_create fault. */
  createdAt: Date;
  /** When the create request arrived. */
  receivedAt: Date;
}

export type XFault =
  | { kind: 'rate_limit'; resetInSeconds: number }
  | { kind: 'usage_capped' }
  | { kind: 'server_error'; status?: 500 | 502 | 503 }
  | { kind: 'slow'; delayMs: number }
  /** X received the request but creates only after `delayMs` (even if the client left), then answers. */
  | { kind: 'slow_before_create'; delayMs: number }
  | { kind: 'accept_then_drop' }
  /** The Tweet is created, then X answers 500: the client cannot tell whether it exists. */
  | { kind: 'ambiguous_500' }
  | { kind: 'unauthorized' };

export interface FakeXServerOptions {
  /** Creates per user per window (`x-rate-limit-limit`). Default 100 (docs disagree; PLATFORMS.md). */
  rateLimitPerWindow?: number;
  /** Length of the fixed rate-limit window. Default 900 (15 min). */
  windowSeconds?: number;
  /** Clock in epoch milliseconds, for rate windows, the 24 h duplicate window and `created_at`. */
  now?: () => number;
  /** Creates per user per 24 h (`x-user-limit-24hour-limit`). Default 2400. */
  userDailyLimit?: number;
  /** Creates per app per 24 h (`x-app-limit-24hour-limit`). Default 10000. */
  appDailyLimit?: number;
  /** Path of X's OpenAPI document; by default found as shared/spec/x-api-v2-openapi.json above this file. */
  openApiPath?: string;
  /**
   * Sandbox mode: asked for a bearer token the fake does not know; a user id it returns makes the
   * token valid for that user from then on.
   */
  authenticate?: (token: string) => Promise<string | undefined>;
}

// ---------------------------------------------------------------------------------------------
// Problem bodies, as X sends them
// ---------------------------------------------------------------------------------------------

const PROBLEMS = 'https://api.twitter.com/2/problems';
const UNSUPPORTED_AUTH_DETAIL =
  'Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  ' +
  'Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].';
const TOO_LONG_MESSAGE =
  'Your Tweet text is too long. For more information on how Twitter determines text length ' +
  'see https://github.com/twitter/twitter-text.';

/** An HTTP answer: status and JSON body. Bodies of 4xx/5xx go out as application/problem+json. */
interface Answer {
  status: number;
  body: unknown;
}

interface InvalidParam {
  parameters: Record<string, string[]>;
  message: string;
}

function problem(status: number, title: string, detail: string, type = 'about:blank', extra = {}): Answer {
  return { status, body: { title, detail, type, status, ...extra } };
}

function invalidRequest(errors: InvalidParam[]): Answer {
  const detail = 'One or more parameters to your request was invalid.';
  return { status: 400, body: { errors, title: 'Invalid Request', detail, type: `${PROBLEMS}/invalid-request` } };
}

const invalidParam = (name: string, values: string[], message: string): Answer =>
  invalidRequest([{ parameters: { [name]: values }, message }]);
const unauthorized = (): Answer => problem(401, 'Unauthorized', 'Unauthorized');
const unsupportedAuth = (): Answer =>
  problem(403, 'Unsupported Authentication', UNSUPPORTED_AUTH_DETAIL, `${PROBLEMS}/unsupported-authentication`);
const tooManyRequests = (): Answer => problem(429, 'Too Many Requests', 'Too Many Requests');

function notFoundError(resourceType: 'tweet' | 'user', id: string): Record<string, string> {
  return {
    value: id,
    detail: `Could not find ${resourceType} with id: [${id}].`,
    title: 'Not Found Error',
    resource_type: resourceType,
    parameter: 'id',
    resource_id: id,
    type: `${PROBLEMS}/resource-not-found`,
  };
}

function faultAnswer(fault: XFault | undefined): Answer | undefined {
  switch (fault?.kind) {
    case 'rate_limit':
      return tooManyRequests();
    case 'usage_capped':
      return problem(429, 'UsageCapExceeded', 'Usage cap exceeded: Monthly product cap', `${PROBLEMS}/usage-capped`, {
        period: 'Monthly',
        scope: 'Product',
      });
    case 'server_error':
      return serverError(fault.status ?? 503);
    case 'unauthorized':
      return unauthorized();
    default:
      return undefined; // no fault, or one that acts around the create (slow*, accept_then_drop, ambiguous_500)
  }
}

function serverError(status: 500 | 502 | 503): Answer {
  const title = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status];
  return problem(status, title, title);
}

/** ambiguous_500 hides a successful create behind a 500; a refused create keeps its refusal. */
function afterCreate(fault: XFault | undefined, answer: Answer): Answer {
  return fault?.kind === 'ambiguous_500' && answer.status === 201 ? serverError(500) : answer;
}

// ---------------------------------------------------------------------------------------------
// X's OpenAPI document: body and query validation with ajv
// ---------------------------------------------------------------------------------------------

const DOC_ID = 'https://api.x.com/2/openapi.json';
const OPENAPI_RELATIVE = path.join('shared', 'spec', 'x-api-v2-openapi.json');

interface OpenApiParameter {
  name: string;
  in: string;
  required?: boolean;
  schema: Record<string, unknown>;
}
type ParameterOrRef = OpenApiParameter | { $ref: string };
interface OpenApiDoc {
  components: { schemas: object; parameters: Record<string, OpenApiParameter> };
  paths: Record<string, Record<string, { parameters?: ParameterOrRef[] }>>;
}

/** shared/spec/x-api-v2-openapi.json in the nearest ancestor directory (the repo's parent, normally). */
/**
 * The spec shared beside the checkout wins; the copy in the project's spec/ serves a checkout or an
 * image without it (sandbox mode). Both are looked for in every folder above this file.
 */
function findOpenApiDocument(): string {
  const relatives = [OPENAPI_RELATIVE, path.join('spec', 'x-api-v2-openapi.json')];
  for (const relative of relatives) {
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, relative);
      if (fs.existsSync(candidate)) return candidate;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`X OpenAPI document not found: no ${relatives.join(' or ')} above ${__dirname}`);
}

/** Local `#/components/...` refs of an extracted fragment, pointed at the registered document. */
function anchorRefs<T>(schema: T): T {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${DOC_ID}#/components/`)) as T;
}

function newAjv(doc: OpenApiDoc, coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, verbose: true, coerceTypes });
  addFormats(ajv);
  const formats = new Set([...JSON.stringify(doc.components).matchAll(/"format":"([^"]+)"/g)].map((m) => m[1]!));
  for (const format of formats) if (!ajv.formats[format]) ajv.addFormat(format, true); // OpenAPI's int32, int64, ...
  ajv.addSchema({ $id: DOC_ID, components: doc.components });
  return ajv;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** X reports body schema failures in networknt json-schema-validator style ("$.a.b: ..."). */
function bodyError(e: ErrorObject): InvalidParam {
  const at = '$' + e.instancePath.replaceAll('/', '.');
  const p = e.params as Record<string, unknown>;
  const field = (name: string): string => `${at}.${name}`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = field(String(p.additionalProperty));
      const value = (e.data as Record<string, unknown>)[String(p.additionalProperty)];
      const message = `${name}: is not defined in the schema and the schema does not allow additional properties`;
      return { parameters: { [name.slice(2)]: [JSON.stringify(value)] }, message };
    }
    case 'required': {
      const name = field(String(p.missingProperty));
      return { parameters: { [name.slice(2)]: [] }, message: `${name}: is missing but it is required` };
    }
    case 'type':
      return { parameters: paramOf(at, e.data), message: `${at}: ${jsonType(e.data)} found, ${String(p.type)} expected` };
    case 'pattern':
      return { parameters: paramOf(at, e.data), message: `${at}: does not match the regex pattern ${String(p.pattern)}` };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).join(', ');
      return { parameters: paramOf(at, e.data), message: `${at}: does not have a value in the enumeration [${allowed}]` };
    }
    default:
      return { parameters: paramOf(at, e.data), message: `${at}: ${e.message ?? 'is invalid'}` };
  }
}

function paramOf(at: string, value: unknown): Record<string, string[]> {
  return { [at === '$' ? 'body' : at.slice(2)]: [typeof value === 'string' ? value : JSON.stringify(value)] };
}

/**
 * X's messages for query parameter failures,
 * e.g. "The `max_results` query parameter value [2] is not between 5 and 100".
 */
function queryError(e: ErrorObject, raw: Record<string, string>, allowed: string[]): InvalidParam {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') {
    const name = String(p.additionalProperty);
    const message = `The query parameter [${name}] is not one of [${allowed.join(',')}]`;
    return { parameters: { [name]: [raw[name] ?? ''] }, message };
  }
  const name = e.instancePath.split('/')[1]?.replaceAll('~1', '/').replaceAll('~0', '~') ?? '';
  const value = e.instancePath.split('/').length > 2 ? String(e.data) : (raw[name] ?? '');
  const prefix = `The \`${name}\` query parameter value [${value}]`;
  const schema = (e.parentSchema ?? {}) as Record<string, unknown>;
  let problemText: string;
  if (e.keyword === 'minimum' || e.keyword === 'maximum') {
    problemText = `is not between ${String(schema.minimum)} and ${String(schema.maximum)}`;
  }
  else if (e.keyword === 'enum') problemText = `is not one of [${(p.allowedValues as unknown[]).join(',')}]`;
  else if (e.keyword === 'pattern') problemText = `does not match ${String(p.pattern)}`;
  else problemText = `is not valid: ${e.message ?? 'invalid'}`;
  return { parameters: { [name]: [value] }, message: `${prefix} ${problemText}` };
}

type QueryResult = { ok: true; values: Record<string, unknown> } | { ok: false; answer: Answer };

class XApiSchemas {
  private readonly bodyAjv: Ajv;
  private readonly queryAjv: Ajv;
  private createBody?: ValidateFunction;
  private readonly queries = new Map<string, { validate: ValidateFunction; params: OpenApiParameter[] }>();

  constructor(private readonly doc: OpenApiDoc) {
    this.bodyAjv = newAjv(doc, false);
    this.queryAjv = newAjv(doc, true);
  }

  /** undefined when valid, else X's 400 invalid-request answer. */
  validateCreateBody(body: unknown): Answer | undefined {
    this.createBody ??= this.bodyAjv.compile({ $ref: `${DOC_ID}#/components/schemas/TweetCreateRequest` });
    if (this.createBody(body)) return undefined;
    return invalidRequest((this.createBody.errors ?? []).map(bodyError));
  }

  /** Validates path + query parameters of `GET <route>` against the document; returns coerced values. */
  validateQuery(route: string, pathParams: Record<string, string>, query: URLSearchParams): QueryResult {
    const { validate, params } = this.queryValidator(route);
    const raw: Record<string, string> = { ...pathParams };
    for (const key of new Set(query.keys())) raw[key] = query.getAll(key).join(',');
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw)) {
      const isArray = params.find((p) => p.name === name)?.schema.type === 'array';
      values[name] = isArray ? value.split(',') : value;
    }
    if (validate(values)) return { ok: true, values };
    const allowed = params.map((p) => p.name);
    return { ok: false, answer: invalidRequest((validate.errors ?? []).map((e) => queryError(e, raw, allowed))) };
  }

  private queryValidator(route: string): { validate: ValidateFunction; params: OpenApiParameter[] } {
    const cached = this.queries.get(route);
    if (cached) return cached;
    const params = (this.doc.paths[route]?.get?.parameters ?? []).map((p) => this.resolveParameter(p));
    const schema = {
      type: 'object',
      properties: Object.fromEntries(params.map((p) => [p.name, anchorRefs(p.schema)])),
      required: params.filter((p) => p.required).map((p) => p.name),
      additionalProperties: false,
    };
    const entry = { validate: this.queryAjv.compile(schema), params };
    this.queries.set(route, entry);
    return entry;
  }

  private resolveParameter(p: ParameterOrRef): OpenApiParameter {
    if (!('$ref' in p)) return p;
    const resolved = this.doc.components.parameters[p.$ref.replace('#/components/parameters/', '')];
    if (!resolved) throw new Error(`unresolvable parameter ${p.$ref}`);
    return resolved;
  }
}

const schemaCache = new Map<string, XApiSchemas>();
function loadSchemas(file: string): XApiSchemas {
  let schemas = schemaCache.get(file);
  if (!schemas) {
    schemas = new XApiSchemas(JSON.parse(fs.readFileSync(file, 'utf8')) as OpenApiDoc);
    schemaCache.set(file, schemas);
  }
  return schemas;
}

// ---------------------------------------------------------------------------------------------
// Text as X renders it, ids, rate windows
// ---------------------------------------------------------------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function tcoUrl(tweetId: string, index: number): string {
  let n = BigInt(tweetId) * 31n + BigInt(index);
  let slug = '';
  for (let i = 0; i < 10; i++, n /= 62n) slug += BASE62[Number(n % 62n)];
  return `https://t.co/${slug}`;
}

const escapeHtml = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The text as X returns it: NFC, every URL wrapped as a 23-character t.co link, &<> escaped. */
export function renderXText(text: string, tweetId: string): string {
  const nfc = text.normalize('NFC');
  let out = '';
  let at = 0;
  extractUrlsWithIndices(nfc).forEach((url, i) => {
    out += escapeHtml(nfc.slice(at, url.indices[0])) + tcoUrl(tweetId, i);
    at = url.indices[1];
  });
  return out + escapeHtml(nfc.slice(at));
}

const FIRST_ID = 1860000000000000000n;
/** About one second of snowflake time, plus 1 so that most ids are not exactly representable as JS numbers. */
const ID_STEP = (1000n << 22n) + 1n;

function byIdDesc(a: FakeTweet, b: FakeTweet): number {
  const [x, y] = [BigInt(a.id), BigInt(b.id)];
  return x === y ? 0 : x < y ? 1 : -1;
}

interface WindowState {
  limit: number;
  remaining: number;
  /** Epoch seconds at which the window ends. */
  reset: number;
}

/** Fixed window per key, starting at the key's first request. */
class WindowCounter {
  private windows = new Map<string, { startMs: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  state(key: string, nowMs: number): WindowState {
    const w = this.current(key, nowMs);
    const reset = Math.ceil((w.startMs + this.windowMs) / 1000);
    return { limit: this.limit, remaining: Math.max(0, this.limit - w.count), reset };
  }

  consume(key: string, nowMs: number): void {
    this.current(key, nowMs).count += 1;
  }

  clear(): void {
    this.windows.clear();
  }

  private current(key: string, nowMs: number): { startMs: number; count: number } {
    let w = this.windows.get(key);
    if (!w || nowMs >= w.startMs + this.windowMs) {
      w = { startMs: nowMs, count: 0 };
      this.windows.set(key, w);
    }
    return w;
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;
const ANONYMOUS = '-';
/** The earliest start_time X accepts ("Minimum allowable time is 2010-11-06T00:00:00Z"). */
const X_EARLIEST_TIME_MS = Date.parse('2010-11-06T00:00:00Z');

type Identity = { kind: 'user'; userId: string } | { kind: 'app' };

interface CreateBody {
  text?: string;
  reply?: { in_reply_to_tweet_id: string };
  media?: { media_ids: string[] };
  poll?: unknown;
  quote_tweet_id?: string;
  card_uri?: string;
  edit_options?: unknown;
}

interface TimelineQuery {
  max_results?: number;
  since_id?: string;
  until_id?: string;
  start_time?: string;
  end_time?: string;
  pagination_token?: string;
  exclude?: string[];
}

function isJsonContentType(req: Request): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

function send(res: Response, answer: Answer): void {
  const type = answer.status >= 400 ? 'application/problem+json' : 'application/json';
  res.status(answer.status).type(type).send(JSON.stringify(answer.body));
}

function setWindowHeaders(res: Response, prefix: string, s: WindowState): void {
  res.setHeader(`${prefix}-limit`, String(s.limit));
  res.setHeader(`${prefix}-remaining`, String(s.remaining));
  res.setHeader(`${prefix}-reset`, String(s.reset));
}

// ---------------------------------------------------------------------------------------------
// The fake server
// ---------------------------------------------------------------------------------------------

export class FakeXServer {
  private readonly now: () => number;
  private readonly authenticate?: (token: string) => Promise<string | undefined>;
  private readonly schemas: XApiSchemas;
  private readonly app = express();
  private readonly tokens = new Map<string, Identity>();
  private readonly usernames = new Map<string, string>();
  private readonly faults = new FaultQueue<XFault>();
  private readonly log = new RequestLog();
  private readonly createWindow: WindowCounter;
  private readonly userDaily: WindowCounter;
  private readonly appDaily: WindowCounter;
  private readonly readWindow: WindowCounter;
  private store: FakeTweet[] = [];
  private nextId = FIRST_ID;
  private server?: Server;
  private url?: string;
  private lifetime = new AbortController();

  constructor(options: FakeXServerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.authenticate = options.authenticate;
    const windowMs = (options.windowSeconds ?? 900) * 1000;
    this.createWindow = new WindowCounter(options.rateLimitPerWindow ?? 100, windowMs);
    this.userDaily = new WindowCounter(options.userDailyLimit ?? 2400, DAY_MS);
    this.appDaily = new WindowCounter(options.appDailyLimit ?? 10000, DAY_MS);
    this.readWindow = new WindowCounter(900, windowMs);
    this.schemas = loadSchemas(options.openApiPath ?? findOpenApiDocument());
    this.routes();
  }

  async start(port = 0): Promise<string> {
    if (this.server) throw new Error('FakeXServer already started');
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
    if (this.url === undefined) throw new Error('FakeXServer not started');
    return this.url;
  }

  addUser(userId: string, accessToken: string, username?: string): void {
    this.tokens.set(accessToken, { kind: 'user', userId });
    this.usernames.set(userId, username ?? `user${userId}`);
  }

  addAppOnlyToken(token: string): void {
    this.tokens.set(token, { kind: 'app' });
  }

  injectFault(fault: XFault, times = 1): void {
    this.faults.push(fault, times);
  }

  /** Drops queued faults and the random plan; faultStats() keeps counting. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** About `plan.rate` of the creates with no queued fault get one of `plan.kinds` (seeded, reproducible); undefined: off. */
  setRandomFaults(plan: RandomFaultPlan<XFault> | undefined): void {
    this.faults.setRandom(plan);
  }

  /** How many faults of each kind creates were given (queued and random) since the start or reset(). */
  faultStats(): Record<string, number> {
    return this.faults.stats();
  }

  get tweets(): FakeTweet[] {
    return [...this.store];
  }

  get requests(): RecordedRequest[] {
    return this.log.entries;
  }

  tweetsBy(userId: string): FakeTweet[] {
    return this.store.filter((t) => t.authorId === userId);
  }

  reset(): void {
    this.store = [];
    this.nextId = FIRST_ID;
    this.log.clear();
    this.faults.reset();
    for (const counter of [this.createWindow, this.userDaily, this.appDaily, this.readWindow]) counter.clear();
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
    app.post('/2/tweets', express.raw({ type: () => true, limit: '1mb' }), (req, res) => this.handleCreate(req, res));
    app.get('/2/users/me', (req, res) => this.handleMe(req, res));
    app.get('/2/users/:id/tweets', (req, res) => this.handleTimeline(req, res));
    app.get('/2/tweets/:id', (req, res) => this.handleLookup(req, res));
    app.use((_req, res) => send(res, problem(404, 'Not Found', 'Sorry, that page does not exist.')));
    app.use((err: { status?: number; message?: string }, _req: Request, res: Response, _next: NextFunction) => {
      const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
      send(res, problem(status, STATUS_CODES[status] ?? 'Error', err.message ?? 'Error'));
    });
  }

  private async learnToken(req: Request): Promise<void> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!this.authenticate || !token || this.tokens.has(token)) return;
    const userId = await this.authenticate(token);
    if (userId) this.addUser(userId, token);
  }

  private identify(req: Request): Identity | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return match ? this.tokens.get(match[1]!) : undefined;
  }

  // --- POST /2/tweets -------------------------------------------------------------------------

  private async handleCreate(req: Request, res: Response): Promise<void> {
    const receivedAt = new Date(this.now());
    const identity = this.identify(req);
    const userId = identity?.kind === 'user' ? identity.userId : undefined;
    let answer: Answer;
    let fault: XFault | undefined;
    if (!identity) answer = unauthorized();
    else if (!userId) answer = unsupportedAuth();
    else {
      fault = this.faults.next();
      // X has the request but acts on it late; the client may be gone by then, which X never notices.
      if (fault?.kind === 'slow_before_create' && !(await delay(fault.delayMs, this.lifetime.signal))) return;
      answer = faultAnswer(fault) ?? afterCreate(fault, this.create(req, userId, receivedAt));
    }
    this.setCreateRateHeaders(res, userId, fault);
    await this.deliver(req, res, answer, fault);
  }

  private setCreateRateHeaders(res: Response, userId: string | undefined, fault: XFault | undefined): void {
    const now = this.now();
    const window = this.createWindow.state(userId ?? ANONYMOUS, now);
    if (fault?.kind === 'rate_limit') {
      Object.assign(window, { remaining: 0, reset: Math.ceil(now / 1000) + fault.resetInSeconds });
    }
    setWindowHeaders(res, 'x-rate-limit', window);
    setWindowHeaders(res, 'x-user-limit-24hour', this.userDaily.state(userId ?? ANONYMOUS, now));
    setWindowHeaders(res, 'x-app-limit-24hour', this.appDaily.state('app', now));
  }

  private async deliver(req: Request, res: Response, answer: Answer, fault: XFault | undefined): Promise<void> {
    if (fault?.kind === 'accept_then_drop') return dropConnection(req);
    if (fault?.kind === 'slow' && !(await delay(fault.delayMs, this.lifetime.signal))) return;
    if (!isConnectionGone(res)) send(res, answer);
  }

  /** Everything after authentication: limits, content type, JSON, schema, content rules, storage. */
  private create(req: Request, userId: string, receivedAt: Date): Answer {
    const now = this.now();
    const windows = [this.createWindow.state(userId, now), this.userDaily.state(userId, now), this.appDaily.state('app', now)];
    if (windows.some((s) => s.remaining === 0)) return tooManyRequests();
    this.createWindow.consume(userId, now);
    this.userDaily.consume(userId, now);
    this.appDaily.consume('app', now);

    if (!isJsonContentType(req)) {
      const contentType = String(req.headers['content-type'] ?? '');
      return invalidParam('Content-Type', [contentType], 'The Content-Type header must be application/json.');
    }
    const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return invalidParam('body', [], 'The request body is not valid JSON.');
    }
    const request = body as CreateBody;
    return this.schemas.validateCreateBody(body) ?? this.contentRules(request, userId) ?? this.accept(request, userId, receivedAt);
  }

  /** The rules the schema cannot express: something to post, length, reply target, duplicates. */
  private contentRules(body: CreateBody, userId: string): Answer | undefined {
    const text = body.text ?? '';
    if (body.edit_options !== undefined) {
      return invalidParam('edit_options', [], '$.edit_options: editing Posts is not supported by this fake.');
    }
    const attached = body.media ?? body.poll ?? body.quote_tweet_id ?? body.card_uri;
    if (text === '' && attached === undefined) {
      return invalidParam('text', [''], '$.text: text is required unless media, a poll, a quote or a card is attached.');
    }
    if (text !== '') {
      const parsed = parseTweet(text);
      if (parsed.weightedLength > 280) return invalidParam('text', [text], TOO_LONG_MESSAGE);
      if (!parsed.valid) return invalidParam('text', [text], '$.text: contains invalid characters.');
    }
    const replyTo = body.reply?.in_reply_to_tweet_id;
    if (replyTo !== undefined && !this.store.some((t) => t.id === replyTo)) {
      return problem(403, 'Forbidden', 'You attempted to reply to a Tweet that is deleted or not visible to you.');
    }
    if (text !== '' && this.isDuplicate(userId, text)) {
      return problem(403, 'Forbidden', 'You are not allowed to create a Tweet with duplicate content.');
    }
    return undefined;
  }

  private isDuplicate(userId: string, text: string): boolean {
    const nfc = text.normalize('NFC');
    const since = this.now() - DAY_MS;
    return this.store.some((t) => t.authorId === userId && t.createdAt.getTime() > since && t.text.normalize('NFC') === nfc);
  }

  private accept(body: CreateBody, userId: string, receivedAt: Date): Answer {
    const id = String(this.nextId);
    this.nextId += ID_STEP;
    const tweet: FakeTweet = { id, text: body.text ?? '', authorId: userId, createdAt: new Date(this.now()), receivedAt };
    if (body.reply) tweet.inReplyToTweetId = body.reply.in_reply_to_tweet_id;
    if (body.media) tweet.mediaIds = [...body.media.media_ids];
    this.store.push(tweet);
    return { status: 201, body: { data: { edit_history_tweet_ids: [id], id, text: renderXText(tweet.text, id) } } };
  }

  // --- GET endpoints --------------------------------------------------------------------------

  /** Authentication and read rate limit shared by the GET endpoints; undefined when already answered. */
  private authorizeRead(req: Request, res: Response, route: string): Identity | undefined {
    const identity = this.identify(req);
    const now = this.now();
    const key = `${route} ${identity?.kind === 'user' ? identity.userId : (identity?.kind ?? ANONYMOUS)}`;
    if (!identity || this.readWindow.state(key, now).remaining === 0) {
      setWindowHeaders(res, 'x-rate-limit', this.readWindow.state(key, now));
      send(res, identity ? tooManyRequests() : unauthorized());
      return undefined;
    }
    this.readWindow.consume(key, now);
    setWindowHeaders(res, 'x-rate-limit', this.readWindow.state(key, now));
    return identity;
  }

  private handleMe(req: Request, res: Response): void {
    const identity = this.authorizeRead(req, res, 'me');
    if (!identity) return;
    if (identity.kind === 'app') return send(res, unsupportedAuth());
    const username = this.usernames.get(identity.userId) ?? identity.userId;
    send(res, { status: 200, body: { data: { id: identity.userId, name: username, username } } });
  }

  private handleTimeline(req: Request, res: Response): void {
    if (!this.authorizeRead(req, res, 'timeline')) return;
    const query = this.schemas.validateQuery('/2/users/{id}/tweets', { id: String(req.params.id) }, this.searchParams(req));
    if (!query.ok) return send(res, query.answer);
    const timeProblem = this.timeRangeProblem(query.values as TimelineQuery);
    if (timeProblem) return send(res, timeProblem);
    const userId = String(req.params.id);
    if (!this.usernames.has(userId)) return send(res, { status: 200, body: { errors: [notFoundError('user', userId)] } });
    const { page, nextToken } = this.timelinePage(userId, query.values as TimelineQuery);
    const fields = new Set(query.values['tweet.fields'] as string[] | undefined);
    if (page.length === 0) return send(res, { status: 200, body: { meta: { result_count: 0 } } });
    const meta = { result_count: page.length, newest_id: page[0]!.id, oldest_id: page.at(-1)!.id, next_token: nextToken };
    send(res, { status: 200, body: { data: page.map((t) => this.renderTweet(t, fields)), meta } });
  }

  /**
   * X's rules for the time range of a timeline (the schema only says "date-time"): nothing before
   * 2010-11-06T00:00:00Z, no start_time later than the request (unsure: X's exact threshold), and a
   * start_time before the end_time. Times are read to the second, X's granularity.
   */
  private timeRangeProblem(q: TimelineQuery): Answer | undefined {
    const start = q.start_time === undefined ? undefined : Date.parse(q.start_time);
    const end = q.end_time === undefined ? undefined : Date.parse(q.end_time);
    const invalid = (name: 'start_time' | 'end_time', value: string, why: string): Answer =>
      invalidParam(name, [value], `Invalid '${name}':'${value}'. '${name}' ${why}`);
    if (start !== undefined && start < X_EARLIEST_TIME_MS) return invalid('start_time', q.start_time!, 'must be on or after 2010-11-06T00:00Z');
    if (end !== undefined && end < X_EARLIEST_TIME_MS + 1000) return invalid('end_time', q.end_time!, 'must be on or after 2010-11-06T00:00:01Z');
    if (start !== undefined && Math.floor(start / 1000) > Math.floor(this.now() / 1000)) return invalid('start_time', q.start_time!, 'must be on or before the time of the request');
    if (start !== undefined && end !== undefined && start >= end) return invalid('end_time', q.end_time!, "must be after 'start_time'");
    return undefined;
  }

  private timelinePage(userId: string, q: TimelineQuery): { page: FakeTweet[]; nextToken?: string } {
    const after = (id?: string): bigint => (id === undefined ? -1n : BigInt(id));
    const before = q.pagination_token !== undefined ? decodeToken(q.pagination_token) : undefined;
    const matching = this.tweetsBy(userId)
      .sort(byIdDesc)
      .filter((t) => BigInt(t.id) > after(q.since_id))
      .filter((t) => q.until_id === undefined || BigInt(t.id) < BigInt(q.until_id))
      .filter((t) => before === undefined || BigInt(t.id) <= before)
      .filter((t) => q.start_time === undefined || wholeSecond(t.createdAt) >= wholeSecond(new Date(q.start_time)))
      .filter((t) => q.end_time === undefined || wholeSecond(t.createdAt) <= wholeSecond(new Date(q.end_time)))
      .filter((t) => !(q.exclude ?? []).includes('replies') || t.inReplyToTweetId === undefined);
    const max = q.max_results ?? 10;
    const next = matching[max];
    return { page: matching.slice(0, max), nextToken: next ? BigInt(next.id).toString(36) : undefined };
  }

  private handleLookup(req: Request, res: Response): void {
    if (!this.authorizeRead(req, res, 'lookup')) return;
    const id = String(req.params.id);
    const query = this.schemas.validateQuery('/2/tweets/{id}', { id }, this.searchParams(req));
    if (!query.ok) return send(res, query.answer);
    const tweet = this.store.find((t) => t.id === id);
    if (!tweet) return send(res, { status: 200, body: { errors: [notFoundError('tweet', id)] } });
    const fields = new Set(query.values['tweet.fields'] as string[] | undefined);
    send(res, { status: 200, body: { data: this.renderTweet(tweet, fields) } });
  }

  private searchParams(req: Request): URLSearchParams {
    return new URL(req.originalUrl, 'http://fake.invalid').searchParams;
  }

  /** A Tweet object: id, text and edit_history_tweet_ids always; other fields only when asked for. */
  private renderTweet(t: FakeTweet, fields: Set<string>): Record<string, unknown> {
    const out: Record<string, unknown> = { id: t.id, text: renderXText(t.text, t.id), edit_history_tweet_ids: [t.id] };
    const parent = t.inReplyToTweetId === undefined ? undefined : this.store.find((p) => p.id === t.inReplyToTweetId);
    if (fields.has('created_at')) out.created_at = new Date(Math.floor(t.createdAt.getTime() / 1000) * 1000).toISOString();
    if (fields.has('author_id')) out.author_id = t.authorId;
    if (fields.has('conversation_id')) out.conversation_id = this.conversationRoot(t).id;
    if (fields.has('in_reply_to_user_id') && parent) out.in_reply_to_user_id = parent.authorId;
    if (fields.has('referenced_tweets') && t.inReplyToTweetId !== undefined) {
      out.referenced_tweets = [{ type: 'replied_to', id: t.inReplyToTweetId }];
    }
    return out;
  }

  private conversationRoot(t: FakeTweet): FakeTweet {
    let root = t;
    let parent = this.store.find((p) => p.id === root.inReplyToTweetId);
    while (parent) {
      root = parent;
      parent = this.store.find((p) => p.id === root.inReplyToTweetId);
    }
    return root;
  }
}

/** X keeps and compares times in whole seconds (both ends of a range are inclusive). */
function wholeSecond(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** next_token is the base36 id of the first tweet of the next page. */
function decodeToken(token: string): bigint {
  let n = 0n;
  for (const ch of token.toLowerCase()) {
    const digit = parseInt(ch, 36);
    if (Number.isNaN(digit)) return -1n; // an unknown token matches nothing, like a stale token
    n = n * 36n + BigInt(digit);
  }
  return n;
}
