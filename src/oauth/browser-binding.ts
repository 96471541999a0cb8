/**
 * Binding an OAuth flow to the browser that started it (login CSRF / account-linking defence).
 *
 * The state alone proves that *someone* with an API key started the flow, not that the browser now
 * arriving at the callback is theirs: an attacker could start a flow for their own business and send
 * the provider's authorize URL to a victim, whose consent would then connect the victim's social
 * account to the attacker's business. So `start` also sets a random per-flow secret in an HttpOnly,
 * SameSite=Lax cookie scoped to /api/v2/oauth and keeps only its SHA-256 in the state; the callback
 * accepts the state only from a browser presenting that secret.
 *
 * One cookie per flow (its name derives from the state), so two flows started side by side in one
 * browser (two tabs) do not overwrite each other's secret. Each lives as long as the state.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export const BINDING_COOKIE_PREFIX = 'herald_oauth_';
export const BINDING_COOKIE_PATH = '/api/v2/oauth';

export function bindingCookieName(state: string): string {
  return `${BINDING_COOKIE_PREFIX}${createHash('sha256').update(state).digest('base64url').slice(0, 16)}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** A new per-flow secret (for the cookie) and its hash (for the state). */
export function newBrowserSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: hashSecret(secret) };
}

/** The value of cookie `name` in a Cookie header; undefined when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    if (pair.slice(0, at).trim() !== name) continue;
    let value = pair.slice(at + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/** True when the presented secret hashes to the one stored with the state (constant-time comparison). */
export function secretMatches(expectedHash: string | undefined, presented: string | undefined): boolean {
  if (!expectedHash || !presented || !/^[A-Za-z0-9_-]{43,128}$/.test(presented)) return false;
  const expected = Buffer.from(expectedHash);
  const actual = Buffer.from(hashSecret(presented));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function cookieOptions(secure: boolean) {
  return { httpOnly: true, sameSite: 'lax' as const, path: BINDING_COOKIE_PATH, secure };
}

export function setBindingCookie(res: Response, state: string, secret: string, options: { secure: boolean; ttlSeconds: number }): void {
  res.cookie(bindingCookieName(state), secret, { ...cookieOptions(options.secure), maxAge: options.ttlSeconds * 1000 });
}

export function clearBindingCookie(res: Response, state: string, secure: boolean): void {
  res.clearCookie(bindingCookieName(state), cookieOptions(secure));
}

export function presentedSecret(req: Request, state: string): string | undefined {
  return readCookie(req.get('cookie'), bindingCookieName(state));
}
