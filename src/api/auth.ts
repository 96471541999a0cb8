/**
 * API-key authentication. Keys are random, shown once, and stored as sha256 hashes; a request
 * carries `Authorization: Bearer <key>`. Tenant checks answer 404, never 403, so a foreign id
 * does not reveal that it exists.
 *
 * Every request looks its key up in Postgres (one statement: the key by its unique hash joined with
 * its user's memberships and, on a POST with an Idempotency-Key, that key's row; no cache, no
 * entities), so a revoked or expired key answers 401 on every
 * API instance from the moment it is revoked or expires. The time of last
 * use is written at most once a minute per key, by one conditional UPDATE.
 *
 * Failed attempts are counted per client IP in Redis (`RATE_LIMIT_AUTH_FAILURES_PER_MINUTE`, shared
 * by every instance): once a client has had that many failures in the current minute, its requests
 * answer 429 with Retry-After, whatever their key, until the minute is over (the count is read
 * while the key is looked up, so a good key gets no further than a bad one). Redis down or
 * slow: fail open, as the other rate limits do (src/api/rate-limit.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RequestHandler, Request } from 'express';
import type { Options } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { RequestContext } from '@mikro-orm/core';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { HttpError, notFound } from './errors';
import { bearerToken } from '../security/credentials';
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_TTL_HOURS } from './post-creation';
import { DEFAULT_REDIS_TIMEOUT_MS, errorMessage, rateLimitKey, ResilientRedisStore, sendCommandThrough } from './rate-limit';

export interface AuthContext {
  userId: number;
  apiKeyId: number;
  businessIds: Set<number>;
}

/**
 * The request's Idempotency-Key row, read by the key's own statement (a keyed POST costs no separate
 * look-up, src/api/post-creation.ts): `row` null when the key holds no live post for this user.
 */
export interface PrefetchedIdempotencyKey {
  key: string;
  row: { postId: number; fingerprint: string } | null;
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: AuthContext;
    idempotencyPrefetch?: PrefetchedIdempotencyKey;
  }
}

export function generateApiKey(): { plain: string; hash: string; prefix: string } {
  const plain = `hk_${randomBytes(32).toString('base64url')}`;
  return { plain, hash: hashApiKey(plain), prefix: plain.slice(0, 10) };
}

export function hashApiKey(plain: string): string {
  return createHash('sha256').update(plain).digest('hex');
}

/** `last_used_at` is written when it is older than this (or unset): one write a minute per key at most. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function requireApiKey(options: { failures?: AuthFailureLimiter; now?: () => Date; orm?: MikroORM } = {}): RequestHandler {
  return async (req, res, next) => {
    try {
      const token = bearerToken(req.get('authorization'));
      if (!token) throw new HttpError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".');
      // The request's EntityManager, or (a create runs without one, src/api/app.ts) the ORM's: only its connection is used.
      const em = (RequestContext.getEntityManager() ?? options.orm?.em) as EntityManager;
      // A keyed POST (the creating routes) has its Idempotency-Key read in the same statement.
      const idempotencyHeader = req.method === 'POST' ? req.get(IDEMPOTENCY_HEADER) : undefined;
      const alsoKey = idempotencyHeader !== undefined && IDEMPOTENCY_KEY_PATTERN.test(idempotencyHeader) ? idempotencyHeader : undefined;
      // The failure count (Redis) and the key (Postgres) are read at the same time: a blocked client
      // is refused whatever its key, so the answer is the same as reading them one after the other,
      // one round trip sooner. blockedFor never rejects (it fails open); the look-up's error is
      // answered only when the client is not blocked.
      const [blockedFor, looked] = await Promise.all([
        options.failures?.blockedFor(req),
        lookUpKey(em, hashApiKey(token), alsoKey).then((row) => ({ row }), (error: unknown) => ({ error })),
      ]);
      if (blockedFor !== undefined) {
        res.set('Retry-After', String(blockedFor));
        throw options.failures!.refusal(blockedFor);
      }
      if ('error' in looked) throw looked.error;
      const key = looked.row;
      const now = options.now?.() ?? new Date();
      const problem = !key ? 'is not valid' : key.revokedAt ? 'has been revoked' : key.expiresAt && key.expiresAt.getTime() <= now.getTime() ? 'has expired' : undefined;
      if (!key || problem) {
        await options.failures?.recordFailure(req);
        throw new HttpError('unauthorized', `The API key ${problem ?? 'is not valid'}.`);
      }
      if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) await touchLastUsed(em, key.id);
      req.auth = { userId: key.userId, apiKeyId: key.id, businessIds: new Set(key.businessIds) };
      if (alsoKey !== undefined) req.idempotencyPrefetch = { key: alsoKey, row: key.idempotency ?? null };
      next();
    } catch (err) {
      next(err);
    }
  };
}

interface KeyRow {
  id: number;
  userId: number;
  revokedAt: Date | null;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  businessIds: number[];
  /** Only when an Idempotency-Key was asked for along. */
  idempotency?: { postId: number; fingerprint: string };
}

/**
 * The key by its hash with its user's businesses, in one statement and without entities (no identity
 * map, no hydration): a read of Postgres on every request, so a revoke is seen at once everywhere.
 */
async function lookUpKey(em: EntityManager, keyHash: string, idempotencyKey?: string): Promise<KeyRow | undefined> {
  // Times as epoch milliseconds (float8 arrives as a number; the driver hands timestamps over as text).
  // The Idempotency-Key row is hashed as post-creation.ts hashes it: sha256 of "<userId>:<key>" (the
  // key is visible ASCII, so its UTF-8 bytes are its characters), within the key's lifetime.
  const withKey = idempotencyKey !== undefined;
  const rows: Array<{ id: number; user_id: number; revoked_ms: number | null; expires_ms: number | null; last_used_ms: number | null; business_ids: number[] | null; idem_post_id?: number | null; idem_fingerprint?: string | null }> = await em.getConnection().execute(
    `select k.id, k.user_id,
            (extract(epoch from k.revoked_at) * 1000)::float8 as revoked_ms,
            (extract(epoch from k.expires_at) * 1000)::float8 as expires_ms,
            (extract(epoch from k.last_used_at) * 1000)::float8 as last_used_ms,
            array_agg(m.business_id) filter (where m.business_id is not null) as business_ids${withKey ? `,
            i.post_id as idem_post_id, i.fingerprint as idem_fingerprint` : ''}
     from api_keys k left join memberships m on m.user_id = k.user_id${withKey ? `
     left join lateral (
       select post_id, fingerprint from idempotency_keys
       where user_id = k.user_id and key_hash = encode(sha256(convert_to(k.user_id::text || ':' || ?, 'UTF8')), 'hex')
         and created_at > clock_timestamp() - interval '${IDEMPOTENCY_TTL_HOURS} hours') i on true` : ''}
     where k.key_hash = ?
     group by k.id${withKey ? ', i.post_id, i.fingerprint' : ''}`,
    withKey ? [idempotencyKey, keyHash] : [keyHash],
  );
  const row = rows[0];
  if (!row) return undefined;
  const time = (ms: number | null) => (ms === null ? null : new Date(Number(ms)));
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    revokedAt: time(row.revoked_ms),
    expiresAt: time(row.expires_ms),
    lastUsedAt: time(row.last_used_ms),
    businessIds: (row.business_ids ?? []).map(Number),
    ...(row.idem_post_id != null ? { idempotency: { postId: Number(row.idem_post_id), fingerprint: String(row.idem_fingerprint) } } : {}),
  };
}

/**
 * One statement, and a no-op when another request (on any instance) wrote it within the minute. Best
 * effort: the time of last use is informative, and a failure here must not refuse the request.
 */
async function touchLastUsed(em: EntityManager, keyId: number): Promise<void> {
  try {
    await em.getConnection().execute(
      `update api_keys set last_used_at = now() where id = ? and (last_used_at is null or last_used_at < now() - interval '${LAST_USED_RESOLUTION_MS / 1000} seconds')`,
      [keyId],
    );
  } catch {
    // the next request tries again
  }
}

export interface AuthFailureLimitSettings {
  /** Off with the other rate limits (RATE_LIMIT_ENABLED; off by default under NODE_ENV=test). */
  enabled: boolean;
  /** Failed authentications per client IP per minute before 429; 0: not limited. */
  perMinute: number;
  /** Prefix of the Redis keys (the rate limits' RATE_LIMIT_KEY_PREFIX). */
  keyPrefix: string;
  /** A Redis command slower than this counts as Redis being down (the request goes on). */
  redisTimeoutMs?: number;
}

export function authFailureSettingsFromConfig(config: Config): AuthFailureLimitSettings {
  return { enabled: config.rateLimit.enabled, perMinute: config.authFailuresPerMinute, keyPrefix: config.rateLimit.keyPrefix };
}

export interface AuthFailureLimiter {
  /** Seconds until the client may try again when it has had its failures for this minute; else undefined. */
  blockedFor(req: Request): Promise<number | undefined>;
  recordFailure(req: Request): Promise<void>;
  refusal(retryAfterSeconds: number): HttpError;
}

const FAILURE_WINDOW_MS = 60_000;

/**
 * Counts failed authentications per client IP (IPv6 folded to its /56, as the other limiters do) in
 * a fixed one-minute window in Redis, with the rate limits' resilient store. Undefined when off.
 */
export function authFailureLimiter(deps: { redis: Redis; logger: Logger; settings: AuthFailureLimitSettings }): AuthFailureLimiter | undefined {
  const { settings, logger } = deps;
  if (!settings.enabled || settings.perMinute <= 0) return undefined;
  const store = new ResilientRedisStore({
    prefix: `${settings.keyPrefix}auth-failures:`,
    sendCommand: sendCommandThrough(deps.redis, settings.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS),
  });
  void store.init({ windowMs: FAILURE_WINDOW_MS } as Options);
  // Fail OPEN when Redis is down or slow (src/api/rate-limit.ts says why): the key check itself still runs.
  const failOpen = (error: unknown) => logger.warn({ err: errorMessage(error), bucket: 'auth-failures' }, 'auth failure limit: store error, request let through');
  return {
    async blockedFor(req) {
      try {
        const info = await store.get(rateLimitKey(req));
        // No counter yet reads as NaN hits (Redis GET of a missing key): not blocked.
        if (!info || !Number.isFinite(info.totalHits) || info.totalHits < settings.perMinute) return undefined;
        const resetMs = info.resetTime?.getTime() ?? Number.NaN;
        const seconds = Math.ceil(((Number.isFinite(resetMs) && resetMs > Date.now() ? resetMs : Date.now() + FAILURE_WINDOW_MS) - Date.now()) / 1000);
        return Math.min(Math.max(1, seconds), FAILURE_WINDOW_MS / 1000);
      } catch (error) {
        failOpen(error);
        return undefined;
      }
    },
    async recordFailure(req) {
      try {
        await store.increment(rateLimitKey(req));
      } catch (error) {
        failOpen(error);
      }
    },
    refusal(retryAfterSeconds) {
      return new HttpError(
        'rate_limited',
        `Too many failed authentications from this address: at most ${settings.perMinute} per minute. Retry after the time in the Retry-After header.`,
        { bucket: 'auth-failures', limit: settings.perMinute, windowSeconds: FAILURE_WINDOW_MS / 1000, retryAfterSeconds },
      );
    },
  };
}

export function authOf(req: Request): AuthContext {
  if (!req.auth) throw new HttpError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".');
  return req.auth;
}

/** 404 unless the caller is a member of the business. */
export function assertMember(auth: AuthContext, businessId: number, what = 'business'): void {
  if (!auth.businessIds.has(businessId)) throw notFound(what);
}
