/**
 * `Idempotency-Key` on the endpoints that create posts (POST /publish, /publish/multi-platform,
 * /schedule). Records live in Redis under `<prefix><userId>:<sha256(key)>`:
 *
 * - First request with a key: claims it atomically (`SET NX`, a "pending" record that expires
 *   after `lockTtlMs`, so a crashed instance cannot block the key for a day), runs the route, and
 *   when the route answers 2xx stores `{status, body}` for `ttlSeconds` (24 h) before sending it.
 * - Same key, same user, same request (method, path and a canonical hash of the JSON body) within
 *   24 h: the stored status and body are replayed (`Idempotent-Replayed: true`); nothing is created.
 * - Same key with a different request: 409 `conflict` (reason `idempotency_key_reused`).
 * - Same key while the first request is still running: 409 `conflict` (reason
 *   `idempotency_key_in_flight`, `Retry-After: 1`). We answer at once rather than wait: a publish
 *   may wait 30 s for its outcome, and a parked connection per retry helps nobody.
 * - A non-2xx answer is not recorded: the claim is released, so a corrected retry with the same
 *   key goes through. Every error of these routes means "nothing was created" (400/404 before any
 *   write; 503 after the post was rolled back), so a retry cannot duplicate anything.
 * - If Redis fails just when the 2xx is to be recorded, the answer is still sent (the post exists)
 *   and the key stays "in flight" until `lockTtlMs` passes: retries meanwhile get 409, not a copy.
 * - Redis unavailable: 503 `unavailable` and nothing is created (fail CLOSED) — a client that
 *   sends a key asked for "never twice", which cannot be promised without the store. Requests
 *   without the header do not touch Redis here.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';
import { authOf } from './auth';
import { HttpError, validationFailed } from './errors';

export interface IdempotencySettings {
  /** How long a completed response is replayed. */
  ttlSeconds: number;
  /** How long an unfinished request holds its key (longest route: publish with ?wait=30 and a slow Temporal). */
  lockTtlMs: number;
  keyPrefix: string;
  /** A Redis command slower than this counts as Redis being down. */
  redisTimeoutMs: number;
}

export const defaultIdempotencySettings: IdempotencySettings = {
  ttlSeconds: 24 * 3600,
  lockTtlMs: 120_000,
  keyPrefix: 'herald:idem:',
  redisTimeoutMs: 2000,
};

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

type StoredRecord =
  | { state: 'pending'; token: string; fingerprint: string; startedAt: string }
  | { state: 'done'; fingerprint: string; status: number; body: unknown; completedAt: string };

/** Replaces the value only while it is still our own pending claim. */
const REPLACE_OWN_CLAIM = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, record = pcall(cjson.decode, current)
if not ok or record.state ~= 'pending' or record.token ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`;

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function idempotency(deps: { redis: Redis; logger: Logger; settings?: Partial<IdempotencySettings> }): RequestHandler {
  const settings = { ...defaultIdempotencySettings, ...deps.settings };
  const redis = deps.redis;

  const withTimeout = async <T>(what: string, work: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer ${what} within ${settings.redisTimeoutMs} ms`)), settings.redisTimeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const unavailable = (err: unknown) => {
    deps.logger.warn({ err: (err as Error).message }, 'idempotency store unavailable: refusing a request with an Idempotency-Key');
    return new HttpError('unavailable', 'The idempotency store is unavailable, so the Idempotency-Key cannot be honoured; nothing was created. Retry later with the same key.');
  };

  /** Claims the key, or returns what is already there. */
  async function claimOrRead(redisKey: string, pending: StoredRecord): Promise<StoredRecord | 'claimed'> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const claimed = await withTimeout('SET NX', redis.set(redisKey, JSON.stringify(pending), 'PX', settings.lockTtlMs, 'NX'));
      if (claimed === 'OK') return 'claimed';
      const raw = await withTimeout('GET', redis.get(redisKey));
      if (raw !== null) return JSON.parse(raw) as StoredRecord;
      // Expired between SET and GET: try to claim again.
    }
    throw new Error('the idempotency key kept changing');
  }

  return async (req, res, next) => {
    const key = req.get(IDEMPOTENCY_HEADER);
    if (key === undefined) {
      next();
      return;
    }
    try {
      if (!KEY_PATTERN.test(key)) {
        throw validationFailed([{ path: IDEMPOTENCY_HEADER, message: 'must be 1 to 255 visible ASCII characters (a UUID is a good choice)' }]);
      }
      const auth = authOf(req);
      const redisKey = `${settings.keyPrefix}${auth.userId}:${sha256(key)}`;
      const fingerprint = sha256(canonicalJson({ method: req.method, path: requestPath(req), body: req.body ?? null }));
      const token = randomBytes(12).toString('hex');
      const pending: StoredRecord = { state: 'pending', token, fingerprint, startedAt: new Date().toISOString() };
      let existing: StoredRecord | 'claimed';
      try {
        existing = await claimOrRead(redisKey, pending);
      } catch (err) {
        throw unavailable(err);
      }
      if (existing !== 'claimed') {
        if (existing.fingerprint !== fingerprint) {
          throw new HttpError('conflict', 'This Idempotency-Key was already used for a different request; use a new key for a new post.', {
            reason: 'idempotency_key_reused',
          });
        }
        if (existing.state === 'pending') {
          res.setHeader('Retry-After', '1');
          throw new HttpError('conflict', 'A request with this Idempotency-Key is still being processed; retry shortly to get its result.', {
            reason: 'idempotency_key_in_flight',
          });
        }
        res.setHeader('Idempotent-Replayed', 'true');
        res.status(existing.status).json(existing.body);
        return;
      }
      recordOnAnswer(res, redisKey, token, fingerprint);
      next();
    } catch (err) {
      next(err);
    }
  };

  /**
   * The route's answer (success or the error middleware's) goes through `res.json`: record a 2xx
   * before sending it, so a retry that races the answer finds it; release the key otherwise.
   */
  function recordOnAnswer(res: Response, redisKey: string, token: string, fingerprint: string): void {
    const send = res.json.bind(res);
    let settled = false;
    res.json = ((body: unknown) => {
      if (settled) return send(body);
      settled = true;
      const status = res.statusCode;
      const success = status >= 200 && status < 300;
      const value = success
        ? JSON.stringify({ state: 'done', fingerprint, status, body, completedAt: new Date().toISOString() } satisfies StoredRecord)
        : '';
      withTimeout('EVAL', redis.eval(REPLACE_OWN_CLAIM, 1, redisKey, token, value, String(settings.ttlSeconds * 1000)))
        .catch((err: unknown) => {
          // The answer still goes out (the post exists); the claim then expires after lockTtlMs.
          deps.logger.error({ err: (err as Error).message, success }, 'could not record the result of an Idempotency-Key');
        })
        .finally(() => send(body));
      return res;
    }) as Response['json'];
  }
}

function requestPath(req: Request): string {
  return (req.originalUrl.split('?')[0] ?? '').replace(/\/+$/, '');
}
