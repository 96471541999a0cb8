/**
 * Connecting accounts through the providers' consent pages.
 * - `GET /oauth/:platform/start?businessId=1[&pageId=…][&redirect=0]` (API key): stores a one-time
 *   state in Redis, sets a per-flow secret in an HttpOnly cookie (only its hash goes into the
 *   state) and answers 302 to the provider's authorize page (`redirect=0`: 200 `{ url }`; the
 *   dashboard fetches that, same-origin, so the browser keeps the cookie, then navigates).
 * - `GET /oauth/:platform/callback?code=…&state=…` (no API key: the browser comes back from the
 *   provider; the state and the cookie authenticate it): exchanges the code, stores the
 *   account(s), 302 to the dashboard with `?connected=<platform>&accounts=<n>`. A bad, expired or
 *   reused state, a browser without that flow's cookie (someone else's authorize link), or a
 *   refused consent, answers 400 and stores nothing. The state is spent and the cookie cleared by
 *   any callback.
 */
import { Router, type Request } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { PLATFORMS, type Platform } from '../../domain/types';
import type { Logger } from '../../logger';
import { identitiesFor, storeConnectedAccounts } from '../../oauth/connect';
import { authorizeUrl, createPkce, OAuthError } from '../../oauth/http';
import { clientIdVariable, providerOf, type OAuthSettings } from '../../oauth/providers';
import { clearBindingCookie, newBrowserSecret, presentedSecret, secretMatches, setBindingCookie } from '../../oauth/browser-binding';
import { consumeState, createState } from '../../oauth/state';
import type { TokenCipher } from '../../security/token-cipher';
import { assertMember, authOf } from '../auth';
import { HttpError, parseOrThrow, validationFailed } from '../errors';
import { businessIdSchema } from '../schemas';

export interface OAuthRouteDeps {
  orm: MikroORM;
  redis: Redis;
  cipher: TokenCipher;
  logger: Logger;
  oauth: OAuthSettings;
  now?: () => Date;
}

const platformSchema = z.enum(PLATFORMS);

/** Exported for the OpenAPI document (src/api/openapi.ts). */
export const startQuerySchema = z.object({
  businessId: businessIdSchema,
  pageId: z.string().regex(/^\d{1,32}$/, 'must be a Page id (digits)').optional().meta({ description: 'Meta: connect only this Facebook Page (or the Instagram account linked to it)' }),
  redirect: z.enum(['0', '1', 'false', 'true']).optional().meta({ description: '0 or false: answer 200 { url } instead of 302 (a dashboard that navigates itself)' }),
});

export const callbackQuerySchema = z.object({
  state: z.string().min(1, 'is required').max(256),
  code: z.string().min(1).max(2048).optional(),
  error: z.string().max(200).optional(),
  error_description: z.string().max(1000).optional(),
});

function platformParam(req: Request): Platform {
  return parseOrThrow(platformSchema, req.params.platform, 'platform');
}

function publicBase(deps: OAuthRouteDeps, req: Request): string {
  return deps.oauth.publicBaseUrl ?? `${req.protocol}://${req.get('host')}`;
}

function invalidState(): HttpError {
  return validationFailed([{ path: 'state', message: 'is unknown, expired or already used: start connecting again' }]);
}

function foreignBrowser(): HttpError {
  return validationFailed([{
    path: 'cookie',
    message: 'this browser did not start this connection (its herald_oauth cookie is missing or does not match): nothing was connected. Start connecting again from the dashboard, in the browser you consent in.',
  }]);
}

/** The binding cookie is Secure when Herald is reached over https. */
function secureCookie(deps: OAuthRouteDeps, req: Request): boolean {
  return publicBase(deps, req).startsWith('https:');
}

/** The start route: mounted behind the API key. */
export function oauthStartRoutes(deps: OAuthRouteDeps): Router {
  const router = Router();
  router.get('/oauth/:platform/start', async (req, res) => {
    const auth = authOf(req);
    const platform = platformParam(req);
    const query = parseOrThrow(startQuerySchema, req.query);
    assertMember(auth, query.businessId);
    const providerName = providerOf[platform];
    if (!deps.oauth.providers[providerName].clientId) {
      throw validationFailed([{ path: 'platform', message: `connecting ${platform} through OAuth is not configured (set ${clientIdVariable[providerName]})` }]);
    }
    const pkce = createPkce();
    const browser = newBrowserSecret();
    const redirectUri = `${publicBase(deps, req)}/api/v2/oauth/${platform}/callback`;
    const state = await createState(
      deps.redis,
      {
        userId: auth.userId,
        businessId: query.businessId,
        platform,
        codeVerifier: pkce.verifier,
        redirectUri,
        ...(query.pageId && providerName === 'meta' ? { pageId: query.pageId } : {}),
        browserHash: browser.hash,
        createdAt: (deps.now?.() ?? new Date()).toISOString(),
      },
      deps.oauth.stateTtlSeconds,
    );
    const url = authorizeUrl(providerName, deps.oauth.providers, { state, redirectUri, codeChallenge: pkce.challenge });
    res.set('Cache-Control', 'no-store');
    setBindingCookie(res, state, browser.secret, { secure: secureCookie(deps, req), ttlSeconds: deps.oauth.stateTtlSeconds });
    if (query.redirect === '0' || query.redirect === 'false') {
      res.json({ url });
      return;
    }
    res.redirect(302, url);
  });
  return router;
}

/** The callback route: mounted before the API key check. */
export function oauthCallbackRoutes(deps: OAuthRouteDeps): Router {
  const router = Router();
  router.get('/oauth/:platform/callback', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const platform = platformParam(req);
    const query = parseOrThrow(callbackQuerySchema, req.query);
    // Consumed before anything else: a state is spent by its first callback, whatever the outcome
    // (so a link someone else sends cannot be retried); the flow's cookie is cleared likewise.
    const state = await consumeState(deps.redis, query.state);
    const presented = presentedSecret(req, query.state);
    clearBindingCookie(res, query.state, secureCookie(deps, req));
    if (!state || state.platform !== platform) throw invalidState();
    if (!secretMatches(state.browserHash, presented)) {
      deps.logger.warn({ platform, businessId: state.businessId, userId: state.userId, cookie: presented ? 'mismatch' : 'missing' }, 'OAuth callback from a browser that did not start the flow: refused');
      throw foreignBrowser();
    }
    if (query.error) {
      const why = query.error === 'access_denied' ? 'the consent was refused' : query.error;
      throw validationFailed([{ path: 'error', message: `${platform} did not grant access (${why}): nothing was connected`, error: query.error }]);
    }
    if (!query.code) throw validationFailed([{ path: 'code', message: 'is required' }]);
    const log = deps.logger.child({ platform, businessId: state.businessId, userId: state.userId });
    try {
      const identities = await identitiesFor(deps.oauth.providers, state, query.code);
      const result = await storeConnectedAccounts(deps, state, identities);
      log.info({ accountIds: result.accounts.map((a) => a.id) }, 'account connected through OAuth');
      const base = deps.oauth.publicBaseUrl ?? '';
      res.redirect(302, `${base}/?connected=${platform}&accounts=${result.accounts.length}`);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      log.warn({ code: err.code, httpStatus: err.httpStatus, message: err.message }, 'OAuth callback failed');
      if (err.code === 'network' || (err.httpStatus !== undefined && err.httpStatus >= 500)) {
        throw new HttpError('unavailable', `${err.message} Nothing was connected: try again.`);
      }
      throw validationFailed([{ path: 'code', message: `${err.message}. Nothing was connected.` }]);
    }
  });
  return router;
}
