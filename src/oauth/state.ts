/**
 * OAuth `state`: 32 random bytes (base64url), kept in Redis with a TTL next to what the callback
 * needs (who started, for which business, the PKCE verifier, the hash of the browser's per-flow
 * secret). GETDEL consumes it atomically, so a state works once, even when two callbacks race.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Platform } from '../domain/types';

export interface OAuthStateData {
  userId: number;
  businessId: number;
  platform: Platform;
  codeVerifier: string;
  /** The exact redirect_uri sent to the authorize page: the token request must repeat it. */
  redirectUri: string;
  /** Meta: connect only this Page (or the Instagram account linked to it). */
  pageId?: string;
  /**
   * SHA-256 (base64url) of the secret set as a cookie in the browser that called `start`
   * (browser-binding.ts). Optional only so that a state stored by an older release still parses:
   * the callback refuses a state without it.
   */
  browserHash?: string;
  createdAt: string;
}

const PREFIX = 'herald:oauth:state:';

export function stateKey(state: string): string {
  return `${PREFIX}${state}`;
}

export async function createState(redis: Redis, data: OAuthStateData, ttlSeconds: number): Promise<string> {
  const state = randomBytes(32).toString('base64url');
  const stored = await redis.set(stateKey(state), JSON.stringify(data), 'EX', ttlSeconds, 'NX');
  if (stored !== 'OK') throw new Error('could not store the OAuth state');
  return state;
}

/** The state's data, deleted in the same step; undefined when unknown, expired or already used. */
export async function consumeState(redis: Redis, state: string): Promise<OAuthStateData | undefined> {
  if (!/^[A-Za-z0-9_-]{43,128}$/.test(state)) return undefined;
  const raw = await redis.getdel(stateKey(state));
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as OAuthStateData;
  } catch {
    return undefined;
  }
}
