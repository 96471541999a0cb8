/**
 * Per-user rate limits of API v2 (express-rate-limit with a Redis store, so every API instance
 * counts against the same budget).
 *
 * - Key: the authenticated user (`u:<userId>`, from the API key); without `req.auth` the client's
 *   IP (IPv6 folded to its /56), so a limiter is never keyed by nothing. The limiters are mounted
 *   after the API-key check, so today every counted request has a user; the IP fallback is for any
 *   limiter mounted before it.
 * - Buckets, each its own fixed window in Redis: publish, multi-platform, schedule, list (GET
 *   list endpoints), cancel (DELETE and PUT /schedule/:postId). Reading one post is not limited:
 *   the dashboard polls it while a post publishes.
 * - Headers on every limited response: IETF draft-7 `RateLimit: limit=20, remaining=19, reset=3540`
 *   and `RateLimit-Policy: 20;w=3600`, plus the legacy `X-RateLimit-Limit`, `X-RateLimit-Remaining`
 *   and `X-RateLimit-Reset` (Unix time in seconds). Over the limit: 429 `rate_limited` in the
 *   API's error shape with `Retry-After` (seconds until the window resets).
 * - Redis down: fail OPEN (see `passOnStoreError` below).
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit, type Options } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Redis } from 'ioredis';
import type { RateLimitConfig, RateLimitRule } from '../config';
import type { Logger } from '../logger';
import { HttpError } from './errors';

export type RateLimitBucket = 'publish' | 'multiPlatform' | 'schedule' | 'list' | 'cancel' | 'accounts' | 'codec';

export interface RateLimitSettings extends Omit<RateLimitConfig, 'enabled'> {
  enabled: boolean;
  /** A Redis command slower than this counts as Redis being down (the request is let through). */
  redisTimeoutMs?: number;
}

export const DEFAULT_REDIS_TIMEOUT_MS = 1000;

/** The user id once authenticated, else the client's IP. */
export function rateLimitKey(req: Request): string {
  if (req.auth) return `u:${req.auth.userId}`;
  return `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`;
}

/**
 * A Redis store that survives Redis outages. rate-limit-redis loads its Lua scripts once, in
 * `init`; if Redis is not reachable then (an outage, or simply a client still connecting at
 * start-up), the stored promise stays rejected and every later increment fails, even after Redis
 * is back. Here a failed load or call marks the scripts stale, and the next request loads them
 * again before counting.
 */
export class ResilientRedisStore extends RedisStore {
  private stale = false;

  override async init(options: Options): Promise<void> {
    this.windowMs = options.windowMs;
    this.reloadScripts();
  }

  override async increment(key: string) {
    if (this.stale) this.reloadScripts();
    try {
      return await super.increment(key);
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }

  override async get(key: string) {
    if (this.stale) this.reloadScripts();
    try {
      return await super.get(key);
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }

  private reloadScripts(): void {
    this.stale = false;
    this.incrementScriptSha = this.loadIncrementScript();
    this.getScriptSha = this.loadGetScript();
    // Awaited by the next request; a failure here is that request's (fail-open) failure, not an unhandled rejection.
    for (const loading of [this.incrementScriptSha, this.getScriptSha]) {
      loading.catch(() => {
        this.stale = true;
      });
    }
  }
}

export function sendCommandThrough(redis: Redis, timeoutMs: number) {
  return async (...args: string[]): Promise<RedisReply> => {
    const [command, ...rest] = args;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer ${command} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([redis.call(command!, ...rest), timeout])) as RedisReply;
    } finally {
      clearTimeout(timer);
    }
  };
}

const bucketNames: Record<RateLimitBucket, string> = {
  publish: 'publish',
  multiPlatform: 'multi-platform',
  schedule: 'schedule',
  list: 'list',
  cancel: 'cancel',
  accounts: 'accounts',
  codec: 'codec',
};

function limiter(
  bucket: RateLimitBucket,
  rule: RateLimitRule,
  settings: RateLimitSettings,
  redis: Redis,
  logger: Logger,
  keyGenerator: (req: Request, res: Response) => string = rateLimitKey,
): RequestHandler {
  const seconds = Math.ceil(rule.windowMs / 1000);
  const options: Partial<Options> = {
    windowMs: rule.windowMs,
    limit: rule.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: true,
    keyGenerator,
    store: new ResilientRedisStore({
      prefix: `${settings.keyPrefix}${bucketNames[bucket]}:`,
      sendCommand: sendCommandThrough(redis, settings.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS),
    }),
    // Fail OPEN when Redis is down or slow: the limits protect platform quotas and the API from a
    // runaway client, while posts themselves live in Postgres and Temporal. Refusing every request
    // while Redis is away would turn a cache outage into a publishing outage; letting requests
    // through for the length of the outage costs at most a burst beyond the limit. The error is
    // logged (warn) so the outage is visible; idempotency keys, which promise "never twice",
    // fail closed instead (src/api/idempotency.ts).
    passOnStoreError: true,
    logger: {
      warn: (error, message) => logger.warn({ err: errorMessage(error), bucket }, message ?? 'rate limit warning'),
      error: (error, message) => logger.warn({ err: errorMessage(error), bucket }, message ?? 'rate limit store error'),
    },
    handler: (_req, res, next) => {
      next(
        new HttpError('rate_limited', `Too many ${bucketNames[bucket]} requests: at most ${rule.limit} per ${describeWindow(rule.windowMs)}. Retry after the time in the Retry-After header.`, {
          bucket: bucketNames[bucket],
          limit: rule.limit,
          windowSeconds: seconds,
          retryAfterSeconds: Number(res.getHeader('Retry-After') ?? seconds),
        }),
      );
    },
  };
  return rateLimit(options);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeWindow(ms: number): string {
  const units: Array<[number, string]> = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];
  for (const [size, name] of units) {
    if (ms % size === 0) {
      const count = ms / size;
      return count === 1 ? name : `${count} ${name}s`;
    }
  }
  return `${ms} ms`;
}

/** Single-post reads (`GET /posts/:id`) are not counted: the dashboard polls them. */
const singleRead = /^\/posts\/[^/]+\/?$/;
/** Starting an OAuth connection is an account write (it ends in a stored account), not a list read. */
const oauthStart = /^\/oauth\/[^/]+\/start\/?$/;

/**
 * Mounted on the API router after authentication. Routes it does not name pass through; the
 * routes themselves stay where they are.
 */
export function rateLimits(deps: { redis: Redis; logger: Logger; settings: RateLimitSettings }): Router {
  const router = Router();
  const { settings } = deps;
  if (!settings.enabled) return router;
  const make = (bucket: RateLimitBucket) => limiter(bucket, settings[bucket], settings, deps.redis, deps.logger);
  const publish = make('publish');
  const multiPlatform = make('multiPlatform');
  const schedule = make('schedule');
  const list = make('list');
  const cancel = make('cancel');
  const accounts = make('accounts');
  router.post('/publish', publish);
  router.post('/publish/multi-platform', multiPlatform);
  router.post('/schedule', schedule);
  router.delete('/schedule/:postId', cancel);
  router.put('/schedule/:postId', cancel);
  router.post('/accounts', accounts);
  router.delete('/accounts/:id', accounts);
  // Credentials too: creating, rotating and revoking API keys.
  router.post('/keys', accounts);
  router.post('/keys/:id/rotate', accounts);
  router.delete('/keys/:id', accounts);
  router.get(/.*/, (req, res, next) => {
    if (singleRead.test(req.path)) return next();
    if (oauthStart.test(req.path)) return accounts(req, res, next);
    return list(req, res, next);
  });
  return router;
}

/**
 * The codec endpoint's limit, counted per caller (`keyOf`: the operator key, the API key's user, or
 * the dev UI's address) in its own bucket; a pass-through when limits are off.
 */
export function codecRateLimit(deps: { redis: Redis; logger: Logger; settings: RateLimitSettings; keyOf: (req: Request, res: Response) => string }): RequestHandler {
  if (!deps.settings.enabled) return (_req, _res, next) => next();
  return limiter('codec', deps.settings.codec, deps.settings, deps.redis, deps.logger, deps.keyOf);
}
