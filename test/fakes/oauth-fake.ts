/**
 * A local fake of the OAuth servers of X, LinkedIn and Meta (authorize pages, token endpoints and
 * the identity endpoints Herald reads), following shared/spec/PLATFORMS.md and the providers' docs:
 *
 * - X (OAuth 2.0 + PKCE): `GET /i/oauth2/authorize` (requires `code_challenge` + S256),
 *   `POST /2/oauth2/token` (form-encoded; `authorization_code` checks the `code_verifier` against
 *   the challenge; `refresh_token` rotates: a refresh token works once, again → `invalid_grant`),
 *   access tokens live 2 h; `GET /2/users/me` → `{ data: { id, name, username } }`. A confidential
 *   client must authenticate with HTTP Basic, a public one sends `client_id`.
 * - LinkedIn: `GET /oauth/v2/authorization`, `POST /oauth/v2/accessToken` (form; client_id and
 *   client_secret in the body; 60-day access tokens; refresh tokens for 365 days that do not
 *   rotate), `GET /v2/userinfo` → `{ sub, name, given_name, family_name, ... }`.
 * - Meta: `GET /<version>/dialog/oauth`, `GET /<version>/oauth/access_token` (code → short-lived
 *   user token; `grant_type=fb_exchange_token` → long-lived), `GET /<version>/me/accounts` → Pages
 *   with their Page tokens and `instagram_business_account`.
 *
 * The authorize pages consent at once (redirect back with `code` and `state`), or, after
 * `denyNext()`, with `error=access_denied`. `onAccessToken` tells a test about each access token
 * issued, so it can teach the platform fakes to accept it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { OAuthProviders } from '../../src/oauth/providers';
import { closeServer, listenLocal, RequestLog, type RecordedRequest } from './http-faults';

export type OAuthProviderName = 'x' | 'linkedin' | 'meta';

export interface FakeOAuthClient {
  clientId: string;
  /** Absent: a public client (X only; LinkedIn and Meta always need the secret). */
  clientSecret?: string;
}

export interface FakeXUser {
  id: string;
  username: string;
  name: string;
}

export interface FakeLinkedInMember {
  sub: string;
  name: string;
}

export interface FakeMetaPage {
  id: string;
  name: string;
  /** The Page token /me/accounts hands out (generated when absent). */
  accessToken?: string;
  instagram?: { id: string; username: string };
}

export type IssuedToken =
  | { provider: 'x'; accessToken: string; user: FakeXUser }
  | { provider: 'linkedin'; accessToken: string; member: FakeLinkedInMember }
  | { provider: 'meta'; pages: Array<FakeMetaPage & { accessToken: string }> };

export interface FakeOAuthOptions {
  clients?: Partial<Record<OAuthProviderName, FakeOAuthClient>>;
  /** Epoch milliseconds (token lifetimes, code expiry). */
  now?: () => number;
  /** Seconds an X access token lives (2 h). */
  xAccessTokenSeconds?: number;
  /** Called for every access token issued (including Meta Page tokens). */
  onAccessToken?: (issued: IssuedToken) => void;
}

interface Grant {
  provider: OAuthProviderName;
  clientId: string;
  scope: string;
  subject: FakeXUser | FakeLinkedInMember | FakeMetaPage[];
}

interface PendingCode extends Grant {
  redirectUri: string;
  codeChallenge?: string;
  expiresAt: number;
  used: boolean;
}

interface AccessGrant extends Grant {
  expiresAt: number;
  longLived?: boolean;
}

interface RefreshGrant extends Grant {
  /** Rotated away (X) or revoked: using it again is invalid_grant. */
  spent: boolean;
  expiresAt: number;
}

const X_SCOPES = new Set(['tweet.read', 'tweet.write', 'users.read', 'offline.access']);
const CODE_SECONDS = 30;
const DEFAULT_CLIENTS: Record<OAuthProviderName, FakeOAuthClient> = {
  x: { clientId: 'fake-x-client', clientSecret: 'fake-x-secret' },
  linkedin: { clientId: 'fake-linkedin-client', clientSecret: 'fake-linkedin-secret' },
  meta: { clientId: '1234567890', clientSecret: 'fake-meta-secret' },
};

const token = (prefix: string) => `${prefix}-${randomBytes(24).toString('base64url')}`;
const digits = (length: number) => Array.from(randomBytes(length), (b) => String(b % 10)).join('').replace(/^0/, '1');

export class FakeOAuthServer {
  readonly clients: Record<OAuthProviderName, FakeOAuthClient>;
  onAccessToken?: (issued: IssuedToken) => void;
  private readonly now: () => number;
  private readonly xAccessSeconds: number;
  private readonly app = express();
  private readonly log = new RequestLog();
  private readonly codes = new Map<string, PendingCode>();
  private readonly access = new Map<string, AccessGrant>();
  private readonly refresh = new Map<string, RefreshGrant>();
  private readonly nextSubject: Partial<Record<OAuthProviderName, Grant['subject']>> = {};
  private deny = 0;
  private unavailableTokenEndpoint = 0;
  private server?: Server;
  private url?: string;

  constructor(options: FakeOAuthOptions = {}) {
    this.clients = { ...DEFAULT_CLIENTS, ...options.clients };
    this.now = options.now ?? Date.now;
    this.xAccessSeconds = options.xAccessTokenSeconds ?? 7200;
    this.onAccessToken = options.onAccessToken;
    this.routes();
  }

  async start(port = 0): Promise<string> {
    if (this.server) throw new Error('FakeOAuthServer already started');
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
    await closeServer(server);
  }

  get baseUrl(): string {
    if (this.url === undefined) throw new Error('FakeOAuthServer not started');
    return this.url;
  }

  get requests(): RecordedRequest[] {
    return this.log.entries;
  }

  /** Herald's providers config with every endpoint (authorize, token, identity) at this fake, and its client credentials. */
  providers(timeoutMs = 3000): OAuthProviders {
    const base = this.baseUrl;
    const { x, linkedin, meta } = this.clients;
    return {
      x: { ...x, authorizeUrl: `${base}/i/oauth2/authorize`, tokenUrl: `${base}/2/oauth2/token`, scopes: 'tweet.read tweet.write users.read offline.access', apiBaseUrl: base },
      linkedin: { ...linkedin, authorizeUrl: `${base}/oauth/v2/authorization`, tokenUrl: `${base}/oauth/v2/accessToken`, scopes: 'openid profile w_member_social', apiBaseUrl: base },
      meta: {
        ...meta,
        authorizeUrl: `${base}/v21.0/dialog/oauth`,
        tokenUrl: `${base}/v21.0/oauth/access_token`,
        scopes: 'pages_show_list,pages_manage_posts,instagram_basic,instagram_content_publish',
        graphBaseUrl: base,
        graphVersion: 'v21.0',
      },
      timeoutMs,
    };
  }

  /** Who consents at the next authorize of this provider (a generated identity otherwise). */
  setNextX(user: FakeXUser): void {
    this.nextSubject.x = user;
  }

  setNextLinkedIn(member: FakeLinkedInMember): void {
    this.nextSubject.linkedin = member;
  }

  setNextMetaPages(pages: FakeMetaPage[]): void {
    this.nextSubject.meta = pages;
  }

  /** The next `times` authorizations are refused by the user (error=access_denied). */
  denyNext(times = 1): void {
    this.deny += times;
  }

  /** The next `times` token requests answer 503. */
  failTokenEndpoint(times = 1): void {
    this.unavailableTokenEndpoint += times;
  }

  /** The user revoked the app: the refresh token (and its access tokens' grant) is dead. */
  revokeRefreshToken(refreshToken: string): void {
    const grant = this.refresh.get(refreshToken);
    if (grant) grant.spent = true;
  }

  /** Ages an access token so that it is expired now. */
  expireAccessToken(accessToken: string): void {
    const grant = this.access.get(accessToken);
    if (grant) grant.expiresAt = this.now() - 1000;
  }

  isAccessTokenValid(accessToken: string): boolean {
    const grant = this.access.get(accessToken);
    return grant !== undefined && grant.expiresAt > this.now();
  }

  /** How many refresh grants were used successfully (for asserting one refresh, not two). */
  refreshCount = 0;

  // --- routing --------------------------------------------------------------------------------

  private routes(): void {
    const app = this.app;
    app.disable('x-powered-by');
    app.use((req, res, next) => {
      this.log.record(req, res, new Date(this.now()));
      next();
    });
    const form = express.urlencoded({ extended: false, type: () => true, limit: '16kb' });
    app.get('/i/oauth2/authorize', (req, res) => this.authorize('x', req, res));
    app.post('/2/oauth2/token', form, (req, res) => this.xToken(req, res));
    app.get('/2/users/me', (req, res) => this.xMe(req, res));
    app.get('/oauth/v2/authorization', (req, res) => this.authorize('linkedin', req, res));
    app.post('/oauth/v2/accessToken', form, (req, res) => this.linkedInToken(req, res));
    app.get('/v2/userinfo', (req, res) => this.linkedInUserinfo(req, res));
    app.get('/:version/dialog/oauth', (req, res) => this.authorize('meta', req, res));
    app.get('/:version/oauth/access_token', (req, res) => this.metaToken(req, res));
    app.get('/:version/me/accounts', (req, res) => this.metaAccounts(req, res));
    app.use((_req, res) => {
      res.status(404).json({ error: 'not_found' });
    });
  }

  // --- authorize ------------------------------------------------------------------------------

  private authorize(provider: OAuthProviderName, req: Request, res: Response): void {
    const q = req.query as Record<string, string | undefined>;
    const client = this.clients[provider];
    const bad = (message: string) => res.status(400).type('text/plain').send(message);
    if (q.client_id !== client.clientId) return void bad('unknown client_id');
    if (!q.redirect_uri || !/^https?:\/\//.test(q.redirect_uri)) return void bad('redirect_uri is required');
    if (provider !== 'meta' && q.response_type !== 'code') return void bad('response_type must be code');
    if (!q.state) return void bad('state is required');
    const scope = q.scope ?? '';
    if (provider === 'x') {
      if (!q.code_challenge || q.code_challenge_method !== 'S256') return void bad('code_challenge with code_challenge_method=S256 is required');
      const unknown = scope.split(' ').filter((s) => !X_SCOPES.has(s));
      if (scope === '' || unknown.length > 0) return void bad(`invalid scope: ${unknown.join(' ')}`);
    }
    const back = new URL(q.redirect_uri);
    back.searchParams.set('state', q.state);
    if (this.deny > 0) {
      this.deny -= 1;
      back.searchParams.set('error', 'access_denied');
      if (provider === 'meta') {
        back.searchParams.set('error_reason', 'user_denied');
        back.searchParams.set('error_description', 'Permissions error.');
      }
      return void res.redirect(302, back.toString());
    }
    const code = token(`${provider}-code`);
    this.codes.set(code, {
      provider,
      clientId: client.clientId,
      scope,
      subject: this.takeSubject(provider),
      redirectUri: q.redirect_uri,
      codeChallenge: q.code_challenge,
      expiresAt: this.now() + CODE_SECONDS * 1000,
      used: false,
    });
    back.searchParams.set('code', code);
    res.redirect(302, back.toString());
  }

  private takeSubject(provider: OAuthProviderName): Grant['subject'] {
    const next = this.nextSubject[provider];
    delete this.nextSubject[provider];
    if (next) return next;
    if (provider === 'x') {
      const id = digits(18);
      return { id, username: `fake_${id.slice(-6)}`, name: `Fake X ${id.slice(-4)}` };
    }
    if (provider === 'linkedin') return { sub: randomBytes(6).toString('base64url'), name: 'Fake Member' };
    const pageId = digits(15);
    return [{ id: pageId, name: `Fake Page ${pageId.slice(-4)}`, instagram: { id: `1784${digits(13)}`, username: `fake_ig_${pageId.slice(-4)}` } }];
  }

  /** The code, once: a second use, another client, an expired code or another redirect_uri fail. */
  private redeemCode(provider: OAuthProviderName, code: unknown, clientId: string, redirectUri: unknown): PendingCode | undefined {
    const pending = typeof code === 'string' ? this.codes.get(code) : undefined;
    if (!pending || pending.provider !== provider || pending.used || pending.expiresAt < this.now()) return undefined;
    if (pending.clientId !== clientId || pending.redirectUri !== redirectUri) return undefined;
    pending.used = true;
    return pending;
  }

  private issueAccess(grant: Grant, seconds: number, longLived = false): string {
    const accessToken = token(`${grant.provider}-at`);
    this.access.set(accessToken, { ...grant, expiresAt: this.now() + seconds * 1000, longLived });
    return accessToken;
  }

  private issueRefresh(grant: Grant, seconds: number): string {
    const refreshToken = token(`${grant.provider}-rt`);
    this.refresh.set(refreshToken, { ...grant, spent: false, expiresAt: this.now() + seconds * 1000 });
    return refreshToken;
  }

  private useRefresh(provider: OAuthProviderName, refreshToken: unknown, clientId: string): RefreshGrant | undefined {
    const grant = typeof refreshToken === 'string' ? this.refresh.get(refreshToken) : undefined;
    if (!grant || grant.provider !== provider || grant.spent || grant.expiresAt < this.now() || grant.clientId !== clientId) return undefined;
    return grant;
  }

  private tokenUnavailable(res: Response): boolean {
    if (this.unavailableTokenEndpoint === 0) return false;
    this.unavailableTokenEndpoint -= 1;
    res.status(503).json({ error: 'temporarily_unavailable', error_description: 'Service Unavailable' });
    return true;
  }

  // --- X --------------------------------------------------------------------------------------

  /** Confidential client: HTTP Basic (client_id:client_secret, each URL-encoded); public client: client_id in the body. */
  private xClient(req: Request): string | undefined {
    const client = this.clients.x;
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (client.clientSecret) {
      if (!basic) return undefined;
      const [id, secret] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part ?? ''));
      return id === client.clientId && secret === client.clientSecret ? id : undefined;
    }
    return req.body?.client_id === client.clientId ? client.clientId : undefined;
  }

  private xToken(req: Request, res: Response): void {
    if (this.tokenUnavailable(res)) return;
    const oauthError = (status: number, error: string, description: string) => res.status(status).json({ error, error_description: description });
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return void oauthError(400, 'invalid_request', 'Missing required parameter [grant_type].');
    }
    const clientId = this.xClient(req);
    if (!clientId) return void oauthError(401, 'unauthorized_client', 'Missing valid authorization header');
    const body = req.body as Record<string, string | undefined>;
    if (body.grant_type === 'authorization_code') {
      const pending = this.redeemCode('x', body.code, clientId, body.redirect_uri);
      if (!pending) return void oauthError(400, 'invalid_grant', 'Value passed for the authorization code was invalid.');
      if (!body.code_verifier || createHash('sha256').update(body.code_verifier).digest('base64url') !== pending.codeChallenge) {
        return void oauthError(400, 'invalid_grant', 'Value passed for the code_verifier was invalid.');
      }
      return void res.json(this.xTokenSet(pending));
    }
    if (body.grant_type === 'refresh_token') {
      const grant = this.useRefresh('x', body.refresh_token, clientId);
      if (!grant) return void oauthError(400, 'invalid_grant', 'Value passed for the token was invalid.');
      grant.spent = true; // rotation: this refresh token never works again
      this.refreshCount += 1;
      return void res.json(this.xTokenSet(grant));
    }
    oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
  }

  private xTokenSet(grant: Grant) {
    const accessToken = this.issueAccess(grant, this.xAccessSeconds);
    const offline = grant.scope.split(' ').includes('offline.access');
    this.onAccessToken?.({ provider: 'x', accessToken, user: grant.subject as FakeXUser });
    return {
      token_type: 'bearer',
      expires_in: this.xAccessSeconds,
      access_token: accessToken,
      scope: grant.scope,
      ...(offline ? { refresh_token: this.issueRefresh({ ...grant }, 180 * 86400) } : {}),
    };
  }

  private bearer(req: Request, provider: OAuthProviderName): AccessGrant | undefined {
    const fromHeader = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const value = fromHeader ?? (typeof req.query.access_token === 'string' ? req.query.access_token : undefined);
    const grant = value ? this.access.get(value) : undefined;
    return grant && grant.provider === provider && grant.expiresAt > this.now() ? grant : undefined;
  }

  private xMe(req: Request, res: Response): void {
    const grant = this.bearer(req, 'x');
    if (!grant) return void res.status(401).type('application/problem+json').json({ title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    const user = grant.subject as FakeXUser;
    res.json({ data: { id: user.id, name: user.name, username: user.username } });
  }

  // --- LinkedIn -------------------------------------------------------------------------------

  private linkedInToken(req: Request, res: Response): void {
    if (this.tokenUnavailable(res)) return;
    const body = req.body as Record<string, string | undefined>;
    const client = this.clients.linkedin;
    const oauthError = (status: number, error: string, description: string) => res.status(status).json({ error, error_description: description });
    if (body.client_id !== client.clientId || body.client_secret !== client.clientSecret) {
      return void oauthError(401, 'invalid_client', 'Client authentication failed');
    }
    if (body.grant_type === 'authorization_code') {
      const pending = this.redeemCode('linkedin', body.code, client.clientId, body.redirect_uri);
      if (!pending) return void oauthError(400, 'invalid_grant', 'The provided authorization grant or refresh token is invalid, expired or revoked.');
      const refreshToken = this.issueRefresh(pending, 365 * 86400);
      return void res.json(this.linkedInTokenSet(pending, refreshToken, 365 * 86400));
    }
    if (body.grant_type === 'refresh_token') {
      const grant = this.useRefresh('linkedin', body.refresh_token, client.clientId);
      if (!grant) return void oauthError(400, 'invalid_grant', 'The provided authorization grant or refresh token is invalid, expired or revoked.');
      this.refreshCount += 1;
      // LinkedIn keeps the refresh token; its lifetime runs from the first consent.
      return void res.json(this.linkedInTokenSet(grant, body.refresh_token!, Math.floor((grant.expiresAt - this.now()) / 1000)));
    }
    oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
  }

  private linkedInTokenSet(grant: Grant, refreshToken: string, refreshSeconds: number) {
    const accessToken = this.issueAccess(grant, 60 * 86400);
    this.onAccessToken?.({ provider: 'linkedin', accessToken, member: grant.subject as FakeLinkedInMember });
    return { access_token: accessToken, expires_in: 60 * 86400, refresh_token: refreshToken, refresh_token_expires_in: refreshSeconds, scope: grant.scope.replace(/ /g, ',') };
  }

  private linkedInUserinfo(req: Request, res: Response): void {
    const grant = this.bearer(req, 'linkedin');
    if (!grant) return void res.status(401).json({ serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN', message: 'Invalid access token', status: 401 });
    const member = grant.subject as FakeLinkedInMember;
    const [given, ...family] = member.name.split(' ');
    res.json({ sub: member.sub, email_verified: true, name: member.name, locale: { country: 'US', language: 'en' }, given_name: given, family_name: family.join(' ') });
  }

  // --- Meta -----------------------------------------------------------------------------------

  private metaError(res: Response, code: number, message: string, status = 400): void {
    res.status(status).json({ error: { message, type: 'OAuthException', code, fbtrace_id: randomBytes(8).toString('base64url') } });
  }

  private metaToken(req: Request, res: Response): void {
    if (this.tokenUnavailable(res)) return;
    const q = req.query as Record<string, string | undefined>;
    const client = this.clients.meta;
    if (q.client_id !== client.clientId || q.client_secret !== client.clientSecret) return this.metaError(res, 1, 'Error validating client secret.');
    if (q.grant_type === 'fb_exchange_token') {
      const grant = q.fb_exchange_token ? this.access.get(q.fb_exchange_token) : undefined;
      if (!grant || grant.provider !== 'meta' || grant.expiresAt < this.now()) return this.metaError(res, 190, 'Error validating access token: Session has expired.');
      const accessToken = this.issueAccess(grant, 60 * 86400, true);
      return void res.json({ access_token: accessToken, token_type: 'bearer', expires_in: 60 * 86400 });
    }
    const pending = this.redeemCode('meta', q.code, client.clientId, q.redirect_uri);
    if (!pending) return this.metaError(res, 100, 'This authorization code has been used.');
    const accessToken = this.issueAccess(pending, 3600);
    res.json({ access_token: accessToken, token_type: 'bearer', expires_in: 3600 });
  }

  private metaAccounts(req: Request, res: Response): void {
    const grant = this.bearer(req, 'meta');
    if (!grant) return this.metaError(res, 190, 'Invalid OAuth access token - Cannot parse access token');
    const pages = grant.subject as FakeMetaPage[];
    for (const page of pages) page.accessToken ??= token('meta-page');
    const issued = pages.map((page) => ({ ...page, accessToken: page.accessToken! }));
    this.onAccessToken?.({ provider: 'meta', pages: issued });
    const fields = String(req.query.fields ?? '');
    res.json({
      data: pages.map((page) => ({
        id: page.id,
        name: page.name,
        category: 'Brand',
        access_token: page.accessToken,
        tasks: ['ADVERTISE', 'ANALYZE', 'CREATE_CONTENT', 'MODERATE', 'MANAGE'],
        ...(fields.includes('instagram_business_account') && page.instagram ? { instagram_business_account: { id: page.instagram.id, username: page.instagram.username } } : {}),
      })),
      paging: { cursors: { before: 'QVFIUmFake', after: 'QVFIUmFake' } },
    });
  }
}
