/**
 * Connecting accounts through OAuth, end to end: the real API, Redis and Postgres, and the fake
 * OAuth servers of X, LinkedIn and Meta in place of the providers (test/fakes/oauth-fake.ts).
 * The browser's part (following redirects, keeping the cookie `start` sets) is played by fetch
 * with `redirect: 'manual'` and a Cookie header.
 */
import { randomBytes, createHash } from 'node:crypto';
import { createApp, startApp } from '../../src/api/app';
import { SocialAccount } from '../../src/db/entities';
import { createLogger } from '../../src/logger';
import { bindingCookieName } from '../../src/oauth/browser-binding';
import { stateKey } from '../../src/oauth/state';
import type { IssuedToken } from '../fakes/oauth-fake';
import { call, createHarness, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(90_000);

let h: Harness;
let owner: Tenant;
let stranger: Tenant;
const issued: IssuedToken[] = [];

beforeAll(async () => {
  h = await createHarness({ worker: false });
  h.fakeOAuth.onAccessToken = (token) => issued.push(token);
  owner = await h.tenant({ x: false });
  stranger = await h.tenant({ x: false });
});
afterAll(async () => h?.close());

async function get(url: string, apiKey?: string, cookie?: string) {
  const headers: Record<string, string> = {};
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  if (cookie) headers.Cookie = cookie;
  const response = await fetch(url, { redirect: 'manual', headers });
  const text = await response.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, location: response.headers.get('location') ?? undefined, body, setCookies: response.headers.getSetCookie() };
}

/** `name=value` of a Set-Cookie line (what a browser sends back), and its attributes. */
function parseSetCookie(line: string) {
  const [pair, ...attributes] = line.split(';').map((part) => part.trim());
  return { pair: pair!, name: pair!.split('=')[0]!, value: pair!.slice(pair!.indexOf('=') + 1), attributes };
}

/** start → the provider's authorize page → the callback URL the provider sends the browser to, and the cookie start set. */
async function authorize(tenant: Tenant, platform: string, query = '') {
  const start = await get(`${h.app.url}/api/v2/oauth/${platform}/start?businessId=${tenant.businessId}${query}`, tenant.apiKey);
  expect(start.status).toBe(302);
  expect(start.setCookies).toHaveLength(1);
  const cookie = parseSetCookie(start.setCookies[0]!).pair;
  const authorizeUrl = new URL(start.location!);
  const consent = await get(authorizeUrl.toString());
  expect(consent.status).toBe(302);
  return { authorizeUrl, callbackUrl: new URL(consent.location!), cookie };
}

async function connect(tenant: Tenant, platform: string, query = '') {
  const { authorizeUrl, callbackUrl, cookie } = await authorize(tenant, platform, query);
  const done = await get(callbackUrl.toString(), undefined, cookie);
  return { authorizeUrl, callbackUrl, done, cookie };
}

const accountsOf = (businessId: number, platform: string) =>
  h.orm.em.fork().find(SocialAccount, { businessId, platform: platform as SocialAccount['platform'] }, { orderBy: { id: 'asc' } });

async function rawTokenColumns(accountId: number): Promise<string> {
  const rows = await h.orm.em.getConnection().execute('select access_token_enc, refresh_token_enc from social_accounts where id = ?', [accountId]);
  return JSON.stringify(rows);
}

describe('X (OAuth 2.0 with PKCE)', () => {
  test('when the user consents, then the account is stored with its tokens encrypted and the browser returns to the dashboard', async () => {
    const xUser = { id: `17${Date.now()}`, username: `herald_${randomBytes(3).toString('hex')}`, name: 'Herald Test' };
    h.fakeOAuth.setNextX(xUser);
    const before = issued.length;
    const { authorizeUrl, callbackUrl, done } = await connect(owner, 'twitter');

    // The authorize request: PKCE S256, the scopes of PLATFORMS.md, a state of 32 random bytes.
    expect(authorizeUrl.pathname).toBe('/i/oauth2/authorize');
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizeUrl.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorizeUrl.searchParams.get('scope')).toBe('tweet.read tweet.write users.read offline.access');
    expect(authorizeUrl.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(`${h.app.url}/api/v2/oauth/twitter/callback`);
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();

    expect(done.status).toBe(302);
    expect(done.location).toBe('/?connected=twitter&accounts=1');

    const [account] = await accountsOf(owner.businessId, 'twitter');
    expect(account).toBeDefined();
    expect(account!.platformUserId).toBe(xUser.id);
    expect(account!.displayName).toBe(`@${xUser.username}`);
    expect(account!.needsReconnect).toBe(false);
    expect(account!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 7100_000);
    expect(account!.expiresAt!.getTime()).toBeLessThan(Date.now() + 7300_000);

    const token = issued.slice(before).find((t) => t.provider === 'x');
    expect(token?.provider).toBe('x');
    const accessToken = (token as { accessToken: string }).accessToken;
    expect(h.cipher.decrypt(account!.accessTokenEnc, account!, 'access')).toBe(accessToken);
    expect(account!.refreshTokenEnc).toBeTruthy();
    const raw = await rawTokenColumns(account!.id);
    expect(raw).not.toContain(accessToken);
    expect(raw).not.toContain(h.cipher.decrypt(account!.refreshTokenEnc!, account!, 'refresh'));
    expect(raw).toContain('v2:test1:');

    const listed = await owner.call('GET', `/api/v2/accounts?businessId=${owner.businessId}`);
    expect(listed.body.accounts.map((a: any) => a.platformUserId)).toContain(xUser.id);
    expect(JSON.stringify(listed.body)).not.toContain(accessToken);
  });

  test('when the state is stored, then it lives 10 minutes in Redis and the PKCE verifier never leaves the server', async () => {
    const start = await get(`${h.app.url}/api/v2/oauth/twitter/start?businessId=${owner.businessId}&redirect=0`, owner.apiKey);
    expect(start.status).toBe(200);
    const url = new URL(start.body.url);
    const state = url.searchParams.get('state')!;
    expect(Buffer.from(state, 'base64url').length).toBeGreaterThanOrEqual(32);
    const ttl = await h.redis.ttl(stateKey(state));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    const stored = JSON.parse((await h.redis.get(stateKey(state)))!);
    expect(stored).toMatchObject({ businessId: owner.businessId, userId: owner.userId, platform: 'twitter', browserHash: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    // Only the hash of the browser's secret is stored, never the secret itself.
    const secret = parseSetCookie(start.setCookies[0]!).value;
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(createHash('sha256').update(secret).digest('base64url')).toBe(stored.browserHash);
    expect(createHash('sha256').update(stored.codeVerifier).digest('base64url')).toBe(url.searchParams.get('code_challenge'));
    expect(url.toString()).not.toContain(stored.codeVerifier);
    await h.redis.del(stateKey(state));
  });

  test('when the user refuses consent, then 400 and nothing is stored', async () => {
    const tenant = await h.tenant({ x: false });
    h.fakeOAuth.denyNext();
    const { callbackUrl, cookie } = await authorize(tenant, 'twitter');
    expect(callbackUrl.searchParams.get('error')).toBe('access_denied');
    const done = await get(callbackUrl.toString(), undefined, cookie);
    expect(done.status).toBe(400);
    expect(done.body.error.code).toBe('validation_failed');
    expect(done.body.error.message).toMatch(/did not grant access/);
    expect(await accountsOf(tenant.businessId, 'twitter')).toEqual([]);
    // The state was spent by that callback.
    expect(await h.redis.exists(stateKey(callbackUrl.searchParams.get('state')!))).toBe(0);
  });

  test('when the state is unknown or missing, then 400 and nothing is stored', async () => {
    const tenant = await h.tenant({ x: false });
    const { callbackUrl, cookie } = await authorize(tenant, 'twitter');
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', randomBytes(32).toString('base64url'));
    const unknown = await get(forged.toString(), undefined, cookie);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'validation_failed', details: [expect.objectContaining({ path: 'state' })] });
    forged.searchParams.delete('state');
    expect((await get(forged.toString())).status).toBe(400);
    // Another platform's callback cannot spend it either.
    const elsewhere = new URL(callbackUrl.toString().replace('/oauth/twitter/', '/oauth/linkedin/'));
    expect((await get(elsewhere.toString())).status).toBe(400);
    expect(await accountsOf(tenant.businessId, 'twitter')).toEqual([]);
  });

  test('when a callback is replayed, then the second one is 400 and the code is not exchanged again', async () => {
    const tenant = await h.tenant({ x: false });
    const { callbackUrl, done, cookie } = await connect(tenant, 'twitter');
    expect(done.status).toBe(302);
    const [first] = await accountsOf(tenant.businessId, 'twitter');
    const tokenCalls = h.fakeOAuth.requests.filter((r) => r.path === '/2/oauth2/token').length;
    const replay = await get(callbackUrl.toString(), undefined, cookie);
    expect(replay.status).toBe(400);
    expect(replay.body.error.details[0].path).toBe('state');
    expect(h.fakeOAuth.requests.filter((r) => r.path === '/2/oauth2/token').length).toBe(tokenCalls);
    const after = await accountsOf(tenant.businessId, 'twitter');
    expect(after).toHaveLength(1);
    expect(after[0]!.accessTokenEnc).toBe(first!.accessTokenEnc);
  });

  test('when two callbacks with the same state race, then exactly one connects', async () => {
    const tenant = await h.tenant({ x: false });
    const { callbackUrl, cookie } = await authorize(tenant, 'twitter');
    const once = () => get(callbackUrl.toString(), undefined, cookie);
    const results = await Promise.all([once(), once(), once()]);
    expect(results.map((r) => r.status).sort()).toEqual([302, 400, 400]);
    expect(await accountsOf(tenant.businessId, 'twitter')).toHaveLength(1);
  });

  test('when the state expired, then 400 and nothing is stored', async () => {
    const tenant = await h.tenant({ x: false });
    const { callbackUrl, cookie } = await authorize(tenant, 'twitter');
    const key = stateKey(callbackUrl.searchParams.get('state')!);
    expect(await h.redis.pexpire(key, 1)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const done = await get(callbackUrl.toString(), undefined, cookie);
    expect(done.status).toBe(400);
    expect(done.body.error.message).toMatch(/expired/);
    expect(await accountsOf(tenant.businessId, 'twitter')).toEqual([]);
  });

  test('when the key user is not a member of the business, then start answers 404; without a key, 401', async () => {
    const foreign = await get(`${h.app.url}/api/v2/oauth/twitter/start?businessId=${owner.businessId}`, stranger.apiKey);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
    const anonymous = await get(`${h.app.url}/api/v2/oauth/twitter/start?businessId=${owner.businessId}`);
    expect(anonymous.status).toBe(401);
    const badPlatform = await get(`${h.app.url}/api/v2/oauth/myspace/start?businessId=${owner.businessId}`, owner.apiKey);
    expect(badPlatform.status).toBe(400);
    expect(badPlatform.body.error.details[0].path).toBe('platform');
  });

  test('when the same X user connects again, then the one account is updated, not duplicated', async () => {
    const tenant = await h.tenant({ x: false });
    const xUser = { id: `18${Date.now()}`, username: 'again', name: 'Again' };
    h.fakeOAuth.setNextX(xUser);
    await connect(tenant, 'twitter');
    const [first] = await accountsOf(tenant.businessId, 'twitter');
    await h.orm.em.fork().nativeUpdate(SocialAccount, { id: first!.id }, { needsReconnect: true });
    h.fakeOAuth.setNextX(xUser);
    const { done } = await connect(tenant, 'twitter');
    expect(done.status).toBe(302);
    const accounts = await accountsOf(tenant.businessId, 'twitter');
    expect(accounts).toHaveLength(1);
    expect(accounts[0]!.id).toBe(first!.id);
    expect(accounts[0]!.needsReconnect).toBe(false);
    expect(accounts[0]!.accessTokenEnc).not.toBe(first!.accessTokenEnc);
  });
});

describe('LinkedIn', () => {
  test('when the member consents, then the person URN from /v2/userinfo is stored with both tokens encrypted', async () => {
    const tenant = await h.tenant({ x: false });
    const sub = `m${randomBytes(5).toString('hex')}`;
    h.fakeOAuth.setNextLinkedIn({ sub, name: 'Ada Lovelace' });
    const { authorizeUrl, done } = await connect(tenant, 'linkedin');
    expect(authorizeUrl.pathname).toBe('/oauth/v2/authorization');
    expect(authorizeUrl.searchParams.get('scope')).toBe('openid profile w_member_social');
    expect(done.status).toBe(302);
    expect(done.location).toBe('/?connected=linkedin&accounts=1');
    const [account] = await accountsOf(tenant.businessId, 'linkedin');
    expect(account!.platformUserId).toBe(`urn:li:person:${sub}`);
    expect(account!.displayName).toBe('Ada Lovelace');
    expect(account!.refreshTokenEnc).toBeTruthy();
    expect(account!.refreshTokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 364 * 86400_000);
    expect(account!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 59 * 86400_000);
    const raw = await rawTokenColumns(account!.id);
    expect(raw).not.toContain(h.cipher.decrypt(account!.accessTokenEnc, account!, 'access'));
  });
});

describe('Meta (Facebook Pages and Instagram)', () => {
  const pages = () => {
    const n = String(Date.now()).slice(-8);
    return [
      { id: `10${n}1`, name: 'Acme Bakery', instagram: { id: `1784${n}1`, username: 'acme_bakery' } },
      { id: `10${n}2`, name: 'Acme Books' },
    ];
  };

  test('when the user grants two Pages, then both Pages are stored as facebook accounts with their Page tokens', async () => {
    const tenant = await h.tenant({ x: false });
    const granted = pages();
    h.fakeOAuth.setNextMetaPages(granted);
    const before = issued.length;
    const { authorizeUrl, done } = await connect(tenant, 'facebook');
    expect(authorizeUrl.pathname).toBe('/v21.0/dialog/oauth');
    expect(done.status).toBe(302);
    expect(done.location).toBe('/?connected=facebook&accounts=2');
    const accounts = await accountsOf(tenant.businessId, 'facebook');
    expect(accounts.map((a) => [a.platformUserId, a.displayName])).toEqual(granted.map((p) => [p.id, p.name]));
    const pageTokens = issued.slice(before).flatMap((t) => (t.provider === 'meta' ? t.pages : []));
    for (const account of accounts) {
      const page = pageTokens.find((p) => p.id === account.platformUserId)!;
      expect(h.cipher.decrypt(account.accessTokenEnc, account, 'access')).toBe(page.accessToken);
      expect(await rawTokenColumns(account.id)).not.toContain(page.accessToken);
      expect(account.expiresAt).toBeNull(); // Page tokens from a long-lived user token do not expire
    }
    // The code went through both exchanges: code → short-lived, fb_exchange_token → long-lived.
    expect(h.fakeOAuth.requests.filter((r) => r.path === '/v21.0/oauth/access_token').length).toBeGreaterThanOrEqual(2);
  });

  test('when Instagram is connected for one Page, then only that Page’s Instagram account is stored, with the Page token', async () => {
    const tenant = await h.tenant({ x: false });
    const granted = pages();
    h.fakeOAuth.setNextMetaPages(granted);
    const { done } = await connect(tenant, 'instagram', `&pageId=${granted[0]!.id}`);
    expect(done.status).toBe(302);
    const accounts = await accountsOf(tenant.businessId, 'instagram');
    expect(accounts.map((a) => [a.platformUserId, a.displayName])).toEqual([[granted[0]!.instagram!.id, '@acme_bakery']]);
  });

  test('when the granted Pages have no Instagram account, then 400 and nothing is stored', async () => {
    const tenant = await h.tenant({ x: false });
    h.fakeOAuth.setNextMetaPages([pages()[1]!]);
    const { done } = await connect(tenant, 'instagram');
    expect(done.status).toBe(400);
    expect(done.body.error.message).toMatch(/no Instagram/);
    expect(await accountsOf(tenant.businessId, 'instagram')).toEqual([]);
  });
});

describe('the fake providers themselves', () => {
  const form = (body: Record<string, string>) => new URLSearchParams(body).toString();
  const basic = () => `Basic ${Buffer.from(`${h.fakeOAuth.clients.x.clientId}:${h.fakeOAuth.clients.x.clientSecret}`).toString('base64')}`;

  async function xCode(challenge: string, redirectUri = 'http://127.0.0.1:1/cb') {
    const url = new URL(`${h.fakeOAuth.baseUrl}/i/oauth2/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: h.fakeOAuth.clients.x.clientId, redirect_uri: redirectUri, scope: 'tweet.read users.read offline.access',
      state: 's', code_challenge: challenge, code_challenge_method: 'S256',
    })) url.searchParams.set(k, v);
    const consent = await get(url.toString());
    return new URL(consent.location!).searchParams.get('code')!;
  }

  const xToken = (body: Record<string, string>, authorization = basic()) =>
    fetch(`${h.fakeOAuth.baseUrl}/2/oauth2/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: authorization }, body: form(body) })
      .then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  test('when the code_verifier does not match the challenge, or the client is not authenticated, then the X token endpoint refuses', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code = await xCode(challenge);
    const wrong = await xToken({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:1/cb', code_verifier: randomBytes(32).toString('base64url') });
    expect(wrong).toEqual({ status: 400, body: expect.objectContaining({ error: 'invalid_grant' }) });
    const code2 = await xCode(challenge);
    const noClient = await xToken({ grant_type: 'authorization_code', code: code2, redirect_uri: 'http://127.0.0.1:1/cb', code_verifier: verifier }, 'Basic bm9wZTpub3Bl');
    expect(noClient.status).toBe(401);
    const code3 = await xCode(challenge);
    const badGrant = await xToken({ grant_type: 'password', code: code3 });
    expect(badGrant.body.error).toBe('unsupported_grant_type');
    const ok = await xToken({ grant_type: 'authorization_code', code: code3, redirect_uri: 'http://127.0.0.1:1/cb', code_verifier: verifier });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'bearer', expires_in: 7200, access_token: expect.any(String), refresh_token: expect.any(String) });
  });

  test('when an X refresh token is used, then it rotates: the old one used again is invalid_grant', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const code = await xCode(createHash('sha256').update(verifier).digest('base64url'));
    const first = await xToken({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:1/cb', code_verifier: verifier });
    const second = await xToken({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    const again = await xToken({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    expect(again).toEqual({ status: 400, body: expect.objectContaining({ error: 'invalid_grant' }) });
    const third = await xToken({ grant_type: 'refresh_token', refresh_token: second.body.refresh_token });
    expect(third.status).toBe(200);
  });

  test('when X OAuth is not configured, then start answers 400 naming X_CLIENT_ID', async () => {
    const clientId = h.oauth.x.clientId;
    h.oauth.x.clientId = undefined;
    try {
      const response = await call(h.app.url, owner.apiKey, 'GET', `/api/v2/oauth/twitter/start?businessId=${owner.businessId}`);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toContain('X_CLIENT_ID');
    } finally {
      h.oauth.x.clientId = clientId;
    }
  });
});

describe('the callback is bound to the browser that started the flow', () => {
  /** An attacker starts a flow for their own business (key A) and sends the authorize link to a victim. */
  async function victimConsents() {
    const attacker = await h.tenant({ x: false });
    const victimX = { id: `20${Date.now()}`, username: `victim_${randomBytes(3).toString('hex')}`, name: 'Victim' };
    h.fakeOAuth.setNextX(victimX);
    const { callbackUrl, cookie } = await authorize(attacker, 'twitter');
    return { attacker, callbackUrl, attackerCookie: cookie, victimX };
  }

  test('when start answers, then it sets an HttpOnly, SameSite=Lax cookie on /api/v2/oauth that lives as long as the state', async () => {
    const start = await get(`${h.app.url}/api/v2/oauth/twitter/start?businessId=${owner.businessId}&redirect=0`, owner.apiKey);
    expect(start.status).toBe(200);
    const state = new URL(start.body.url).searchParams.get('state')!;
    const cookie = parseSetCookie(start.setCookies[0]!);
    expect(cookie.name).toBe(bindingCookieName(state));
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const attributes = cookie.attributes.map((a) => a.toLowerCase());
    expect(attributes).toEqual(expect.arrayContaining(['httponly', 'samesite=lax', 'path=/api/v2/oauth', 'max-age=600']));
    // Plain http here: not Secure (the browser would drop it); see the https test below.
    expect(attributes).not.toContain('secure');
    await h.redis.del(stateKey(state));
  });

  test('when Herald is reached over https, then the cookie is Secure', async () => {
    const app = await startApp(createApp({
      orm: h.orm, temporal: h.temporal, redis: h.redis, taskQueue: h.taskQueue, publishers: h.publishers, cipher: h.cipher, logger: createLogger('silent'),
      oauth: { providers: h.oauth, stateTtlSeconds: 300, publicBaseUrl: 'https://herald.example' },
    }), 0);
    try {
      const start = await get(`${app.url}/api/v2/oauth/twitter/start?businessId=${owner.businessId}&redirect=0`, owner.apiKey);
      expect(start.status).toBe(200);
      const attributes = parseSetCookie(start.setCookies[0]!).attributes.map((a) => a.toLowerCase());
      expect(attributes).toEqual(expect.arrayContaining(['secure', 'httponly', 'samesite=lax', 'max-age=300']));
      await h.redis.del(stateKey(new URL(start.body.url).searchParams.get('state')!));
    } finally {
      await app.stop();
    }
  });

  test("when the victim's browser (no cookie) comes back to the callback, then 400 naming the cookie, nothing is stored and the state is spent", async () => {
    const { attacker, callbackUrl, attackerCookie } = await victimConsents();
    const tokenCalls = h.fakeOAuth.requests.filter((r) => r.path === '/2/oauth2/token').length;

    const refused = await get(callbackUrl.toString());

    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('validation_failed');
    expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'cookie', message: expect.stringMatching(/did not start this connection/) })]);
    expect(await accountsOf(attacker.businessId, 'twitter')).toEqual([]);
    // The code was not even exchanged, and the state cannot be used again, even with the right cookie.
    expect(h.fakeOAuth.requests.filter((r) => r.path === '/2/oauth2/token').length).toBe(tokenCalls);
    expect(await h.redis.exists(stateKey(callbackUrl.searchParams.get('state')!))).toBe(0);
    const late = await get(callbackUrl.toString(), undefined, attackerCookie);
    expect(late.status).toBe(400);
    expect(await accountsOf(attacker.businessId, 'twitter')).toEqual([]);
  });

  test('when the browser presents a different cookie, then 400 and nothing is stored', async () => {
    const { attacker, callbackUrl } = await victimConsents();
    const name = bindingCookieName(callbackUrl.searchParams.get('state')!);
    // The victim's own flow (another state) gave the victim's browser a cookie of its own.
    const own = await authorize(await h.tenant({ x: false }), 'twitter');
    const ownSecret = own.cookie.slice(own.cookie.indexOf('=') + 1);

    for (const cookie of [`${name}=${ownSecret}`, own.cookie, `${name}=${randomBytes(32).toString('base64url')}`, `${name}=`]) {
      const refused = await get(callbackUrl.toString(), undefined, cookie);
      expect(refused.status).toBe(400);
    }
    expect(await accountsOf(attacker.businessId, 'twitter')).toEqual([]);
  });

  test('when the browser that started presents its cookie, then the account is connected and the cookie is cleared', async () => {
    const tenant = await h.tenant({ x: false });
    const { done, cookie } = await connect(tenant, 'twitter');
    expect(done.status).toBe(302);
    expect(await accountsOf(tenant.businessId, 'twitter')).toHaveLength(1);
    const cleared = done.setCookies.map(parseSetCookie).find((c) => c.name === cookie.split('=')[0]);
    expect(cleared?.value).toBe('');
    expect(cleared?.attributes.map((a) => a.toLowerCase())).toEqual(expect.arrayContaining(['path=/api/v2/oauth', expect.stringMatching(/^expires=thu, 01 jan 1970/)]));
  });

  test('when two flows run side by side in one browser, then each callback finds its own cookie', async () => {
    const tenant = await h.tenant({ x: false });
    h.fakeOAuth.setNextLinkedIn({ sub: `m${randomBytes(5).toString('hex')}`, name: 'Two Tabs' });
    const first = await authorize(tenant, 'linkedin');
    const second = await authorize(tenant, 'twitter');
    const jar = `${first.cookie}; ${second.cookie}`;
    expect((await get(first.callbackUrl.toString(), undefined, jar)).status).toBe(302);
    expect((await get(second.callbackUrl.toString(), undefined, jar)).status).toBe(302);
    expect(await accountsOf(tenant.businessId, 'linkedin')).toHaveLength(1);
    expect(await accountsOf(tenant.businessId, 'twitter')).toHaveLength(1);
  });
});
