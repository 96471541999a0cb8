/**
 * The providers' token and identity endpoints. Tokens go only into request bodies and headers,
 * never into errors or logs: an OAuthError carries the provider's error code and description.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { LinkedInProvider, MetaProvider, OAuthProviders, ProviderName, XProvider } from './providers';

export class OAuthError extends Error {
  constructor(
    readonly provider: ProviderName,
    /** The provider's error code (`invalid_grant`, `invalid_client`, …), or `network` / `bad_response`. */
    readonly code: string,
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'OAuthError';
  }

  /** The grant (refresh token or code) is dead: only a new consent helps. */
  get grantIsDead(): boolean {
    if (this.code === 'invalid_grant') return true;
    // X has been seen answering a dead refresh token with invalid_request "Value passed for the token was invalid."
    if (this.provider === 'x' && this.code === 'invalid_request' && /token was invalid/i.test(this.message)) return true;
    // Meta: OAuthException 190 is an invalid or expired token.
    return this.provider === 'meta' && this.code === '190';
  }

  /** The provider answered 4xx: repeating the same request will not help. */
  get isClientError(): boolean {
    return this.httpStatus !== undefined && this.httpStatus >= 400 && this.httpStatus < 500;
  }
}

export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  /** Seconds. */
  expiresIn?: number;
  refreshTokenExpiresIn?: number;
  scope?: string;
}

export interface PkcePair {
  verifier: string;
  challenge: string;
}

/** RFC 7636: a 43-character verifier from 32 random bytes, S256 challenge. */
export function createPkce(): PkcePair {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier) };
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

async function send(provider: ProviderName, url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    const reason = (err as { name?: string })?.name === 'TimeoutError' ? 'did not answer in time' : 'could not be reached';
    throw new OAuthError(provider, 'network', `The ${providerLabel[provider]} OAuth server ${reason}.`);
  }
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

export const providerLabel: Record<ProviderName, string> = { x: 'X', linkedin: 'LinkedIn', meta: 'Meta' };

function failure(provider: ProviderName, status: number, body: unknown, what: string): OAuthError {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.error === 'string') {
    const description = typeof b.error_description === 'string' ? `: ${b.error_description}` : '';
    return new OAuthError(provider, b.error, `${providerLabel[provider]} refused ${what} (${b.error}${description})`.slice(0, 300), status);
  }
  const metaError = b.error as { message?: string; code?: number } | undefined;
  if (metaError && typeof metaError === 'object') {
    return new OAuthError(provider, String(metaError.code ?? 'error'), `${providerLabel[provider]} refused ${what} (${metaError.message ?? 'error'})`.slice(0, 300), status);
  }
  const title = typeof b.title === 'string' ? b.title : typeof b.message === 'string' ? b.message : `HTTP ${status}`;
  return new OAuthError(provider, status >= 500 ? 'server_error' : 'http_error', `${providerLabel[provider]} refused ${what} (${title})`.slice(0, 300), status);
}

function tokenSet(provider: ProviderName, body: unknown): TokenSet {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.access_token !== 'string' || b.access_token === '') {
    throw new OAuthError(provider, 'bad_response', `${providerLabel[provider]} answered without an access token.`);
  }
  return {
    accessToken: b.access_token,
    refreshToken: typeof b.refresh_token === 'string' && b.refresh_token !== '' ? b.refresh_token : undefined,
    expiresIn: typeof b.expires_in === 'number' ? b.expires_in : undefined,
    refreshTokenExpiresIn: typeof b.refresh_token_expires_in === 'number' ? b.refresh_token_expires_in : undefined,
    scope: typeof b.scope === 'string' ? b.scope : undefined,
  };
}

const formHeaders = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };

/** X: form-encoded; a confidential client authenticates with HTTP Basic, a public one sends client_id. */
async function xToken(provider: XProvider, params: Record<string, string>, timeoutMs: number): Promise<TokenSet> {
  const headers: Record<string, string> = { ...formHeaders };
  const form = new URLSearchParams(params);
  if (provider.clientSecret) {
    headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(provider.clientId ?? '')}:${encodeURIComponent(provider.clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', provider.clientId ?? '');
  }
  const what = params.grant_type === 'refresh_token' ? 'the refresh token' : 'the authorization code';
  const { status, body } = await send('x', provider.tokenUrl, { method: 'POST', headers, body: form.toString() }, timeoutMs);
  if (status !== 200) throw failure('x', status, body, what);
  return tokenSet('x', body);
}

/** LinkedIn: form-encoded, client_id and client_secret in the body. */
async function linkedInToken(provider: LinkedInProvider, params: Record<string, string>, timeoutMs: number): Promise<TokenSet> {
  const form = new URLSearchParams({ ...params, client_id: provider.clientId ?? '', client_secret: provider.clientSecret ?? '' });
  const what = params.grant_type === 'refresh_token' ? 'the refresh token' : 'the authorization code';
  const { status, body } = await send('linkedin', provider.tokenUrl, { method: 'POST', headers: formHeaders, body: form.toString() }, timeoutMs);
  if (status !== 200) throw failure('linkedin', status, body, what);
  return tokenSet('linkedin', body);
}

/** Meta: GET with query parameters. */
async function metaToken(provider: MetaProvider, params: Record<string, string>, timeoutMs: number, what: string): Promise<TokenSet> {
  const url = new URL(provider.tokenUrl);
  for (const [key, value] of Object.entries({ ...params, client_id: provider.clientId ?? '', client_secret: provider.clientSecret ?? '' })) {
    url.searchParams.set(key, value);
  }
  const { status, body } = await send('meta', url.toString(), { method: 'GET', headers: { Accept: 'application/json' } }, timeoutMs);
  if (status !== 200) throw failure('meta', status, body, what);
  return tokenSet('meta', body);
}

export function authorizeUrl(
  name: ProviderName,
  providers: OAuthProviders,
  input: { state: string; redirectUri: string; codeChallenge: string },
): string {
  const provider = providers[name];
  const url = new URL(provider.authorizeUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', provider.clientId ?? '');
  url.searchParams.set('redirect_uri', input.redirectUri);
  url.searchParams.set('scope', provider.scopes);
  url.searchParams.set('state', input.state);
  if (name === 'x') {
    url.searchParams.set('code_challenge', input.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return url.toString();
}

export async function exchangeCode(
  name: ProviderName,
  providers: OAuthProviders,
  input: { code: string; redirectUri: string; codeVerifier: string },
): Promise<TokenSet> {
  const base = { grant_type: 'authorization_code', code: input.code, redirect_uri: input.redirectUri };
  switch (name) {
    case 'x':
      return xToken(providers.x, { ...base, code_verifier: input.codeVerifier }, providers.timeoutMs);
    case 'linkedin':
      return linkedInToken(providers.linkedin, base, providers.timeoutMs);
    case 'meta': {
      // Short-lived user token first, then the long-lived one (about 60 days); Page tokens derived from it do not expire.
      const short = await metaToken(providers.meta, { code: input.code, redirect_uri: input.redirectUri }, providers.timeoutMs, 'the authorization code');
      return metaToken(providers.meta, { grant_type: 'fb_exchange_token', fb_exchange_token: short.accessToken }, providers.timeoutMs, 'the token exchange');
    }
  }
}

/** X and LinkedIn: the refresh grant. Meta user tokens are not refreshed (Page tokens do not expire). */
export async function refreshTokens(name: ProviderName, providers: OAuthProviders, refreshToken: string): Promise<TokenSet> {
  const params = { grant_type: 'refresh_token', refresh_token: refreshToken };
  if (name === 'x') return xToken(providers.x, params, providers.timeoutMs);
  if (name === 'linkedin') return linkedInToken(providers.linkedin, params, providers.timeoutMs);
  throw new OAuthError(name, 'unsupported', `${providerLabel[name]} tokens are not refreshed.`);
}

/** One account the consent gives access to: its platform id, a name to show, and its token set. */
export interface ConnectedIdentity {
  platformUserId: string;
  displayName: string;
  tokens: TokenSet;
}

async function getJson(name: ProviderName, url: string, accessToken: string, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
  const { status, body } = await send(name, url, { method: 'GET', headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' } }, timeoutMs);
  if (status !== 200 || typeof body !== 'object' || body === null) throw failure(name, status, body, what);
  return body as Record<string, unknown>;
}

export async function xIdentity(providers: OAuthProviders, tokens: TokenSet): Promise<ConnectedIdentity> {
  const body = await getJson('x', `${providers.x.apiBaseUrl}/2/users/me`, tokens.accessToken, providers.timeoutMs, 'the user lookup');
  const data = body.data as { id?: string; username?: string; name?: string } | undefined;
  if (!data?.id) throw new OAuthError('x', 'bad_response', 'X answered /2/users/me without a user id.');
  return { platformUserId: data.id, displayName: data.username ? `@${data.username}` : (data.name ?? data.id), tokens };
}

export async function linkedInIdentity(providers: OAuthProviders, tokens: TokenSet): Promise<ConnectedIdentity> {
  const body = await getJson('linkedin', `${providers.linkedin.apiBaseUrl}/v2/userinfo`, tokens.accessToken, providers.timeoutMs, 'the userinfo lookup');
  const sub = typeof body.sub === 'string' ? body.sub : undefined;
  if (!sub) throw new OAuthError('linkedin', 'bad_response', 'LinkedIn answered /v2/userinfo without a member id (sub).');
  return { platformUserId: `urn:li:person:${sub}`, displayName: typeof body.name === 'string' ? body.name : sub, tokens };
}

export interface MetaPage {
  id: string;
  name: string;
  accessToken: string;
  instagram?: { id: string; username?: string };
}

/** The Pages the user granted, with their Page tokens and linked Instagram professional accounts (all pages of the list). */
export async function metaPages(providers: OAuthProviders, userToken: string): Promise<MetaPage[]> {
  const { graphBaseUrl, graphVersion } = providers.meta;
  let url: string | undefined = `${graphBaseUrl}/${graphVersion}/me/accounts?fields=${encodeURIComponent('id,name,access_token,instagram_business_account{id,username}')}&limit=100`;
  const pages: MetaPage[] = [];
  for (let guard = 0; url && guard < 20; guard += 1) {
    const body = await getJson('meta', url, userToken, providers.timeoutMs, 'the Page list');
    const data = Array.isArray(body.data) ? (body.data as Array<Record<string, unknown>>) : [];
    for (const page of data) {
      if (typeof page.id !== 'string' || typeof page.access_token !== 'string') continue;
      const ig = page.instagram_business_account as { id?: string; username?: string } | undefined;
      pages.push({
        id: page.id,
        name: typeof page.name === 'string' ? page.name : page.id,
        accessToken: page.access_token,
        instagram: ig?.id ? { id: ig.id, username: ig.username } : undefined,
      });
    }
    const next = (body.paging as { next?: string } | undefined)?.next;
    url = typeof next === 'string' && next.startsWith(graphBaseUrl) ? next : undefined;
  }
  return pages;
}
