/**
 * What every credential check of the API reads from a request: the Bearer token, a constant-time
 * comparison with a configured secret, and whether the TCP peer is this host and not a proxy
 * forwarding someone else. Shared by API-key auth, the codec endpoint and /metrics.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** The token of `Authorization: Bearer <token>`; undefined for any other header, or none. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
}

/** Constant-time equality of a presented secret and the configured one (whatever their lengths). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.replace(/^::ffff:/, '');
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

/** True when the request carries X-Forwarded-For or Forwarded: it came through a proxy. */
export function isForwarded(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['x-forwarded-for'] !== undefined || headers.forwarded !== undefined;
}
