/**
 * The codec endpoint of the Temporal Web UI and CLI (`--ui-codec-endpoint`, `--codec-endpoint`):
 * `POST /codec/decode` and `POST /codec/encode` with `{ payloads: [{ metadata: { k: base64 }, data:
 * base64 }] }`, answering with the same shape. Browsers call it from the UI's origin, so it answers
 * the CORS preflight for the configured UI origins.
 *
 * Who may call it (decoding shows what the encryption hides, so it is never open):
 * - `Authorization: Bearer <TEMPORAL_CODEC_API_KEY>`: an operator (or a Web UI deployed behind a
 *   proxy that adds the header): every payload of the namespace.
 * - `Authorization: Bearer <Herald API key>`: a tenant: only payloads bound to workflows of posts of
 *   the key's businesses (the codec authenticates the owning workflow id with each payload, so it
 *   cannot be swapped); anything else answers 404 like every other foreign resource.
 * - No Authorization: only when the operator turned it on for local development
 *   (TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED, which `npm start` sets and production refuses), only
 *   when the API listens on loopback, only from a loopback peer that is not a proxy, and only from
 *   an allowed UI origin (a CSRF guard, not authentication). That is the dev Web UI of `npm
 *   start`, which sends no Authorization over plain HTTP; whoever can reach a loopback-bound API in
 *   development can read the generated dev key in DEV_SECRETS_FILE anyway.
 * Order: the caller is authenticated from the headers first, then counted against its rate limit
 * (RATE_LIMIT_CODEC), and only then is the body read, up to TEMPORAL_CODEC_MAX_BODY_BYTES: nobody
 * gets a large body parsed without a valid credential.
 * Whatever the caller, `X-Namespace` must be the namespace Herald runs in: this codec's keys are
 * that namespace's, and a request for another one is refused rather than answered with its data.
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { RequestContext } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import { legacyPostWorkflowId, postIdOfWorkflowId } from '../../../workflows/contract';
import { Post } from '../../db/entities';
import {
  AesGcmPayloadCodec,
  PayloadDecryptionError,
  boundWorkflowId,
  isEncrypted,
  payloadFromJson,
  payloadToJson,
  type JsonPayload,
} from '../../temporal/payload-codec';
import { HttpError, notFound, parseOrThrow, validationFailed } from '../errors';
import { bearerToken, isForwarded, isLoopbackAddress, sameSecret } from '../../security/credentials';

export interface CodecRouteOptions {
  codec: AesGcmPayloadCodec;
  /** The Temporal namespace Herald runs in; X-Namespace must name it. */
  namespace: string;
  /** Origins of the Web UI allowed to call from a browser (exact match). */
  corsOrigins: string[];
  /** TEMPORAL_CODEC_API_KEY: a Bearer token with access to the whole namespace. */
  operatorKey?: string;
  /** TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED on a loopback-bound API outside production: the dev UI may call without Authorization. */
  allowLoopbackUi: boolean;
  /** TEMPORAL_CODEC_MAX_BODY_BYTES: bodies beyond answer 413 (read only after authentication). */
  maxBodyBytes: number;
}

export interface CodecRouteDeps extends CodecRouteOptions {
  orm: MikroORM;
  /** Authenticates a Herald API key (sets req.auth): the API's own, with its failed-attempt limit. */
  tenantAuth: RequestHandler;
  /** Counts each caller's requests (RATE_LIMIT_CODEC); `codecCallerKey` names the caller. */
  rateLimit: RequestHandler;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const bodySchema = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
    .max(10_000),
});

const ALLOWED_HEADERS = 'X-Namespace, Content-Type, Authorization';

type Caller = { kind: 'operator' } | { kind: 'dev-ui' } | { kind: 'tenant'; userId: number; businessIds: Set<number> };

/** The rate-limit key of an authenticated codec request (see `authenticate`). */
export function codecCallerKey(_req: Request, res: Response): string {
  const caller = res.locals.codecCaller as Caller | undefined;
  if (caller?.kind === 'operator') return 'codec:operator';
  if (caller?.kind === 'tenant') return `codec:u:${caller.userId}`;
  return `codec:ip:${res.req.socket.remoteAddress ?? 'unknown'}`;
}

export function codecRoutes(options: CodecRouteDeps): Router {
  const router = Router();
  const origins = new Set(options.corsOrigins.map((origin) => origin.replace(/\/+$/, '')));

  router.use((req, res, next) => {
    const origin = req.get('origin');
    if (origin && origins.has(origin)) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
    }
    res.vary('Origin');
    if (req.method === 'OPTIONS') {
      if (origin && origins.has(origin)) {
        res.set('Access-Control-Allow-Methods', 'POST, OPTIONS');
        res.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
        res.set('Access-Control-Max-Age', '600');
      }
      res.status(204).end();
      return;
    }
    next();
  });

  const caller = async (req: Request, res: Response): Promise<Caller> => {
    const header = req.get('authorization');
    if (!header) {
      const origin = req.get('origin');
      const localPeer = isLoopbackAddress(req.socket.remoteAddress) && !isForwarded(req.headers);
      if (options.allowLoopbackUi && localPeer && origin && origins.has(origin)) return { kind: 'dev-ui' };
      throw new HttpError('unauthorized', 'Send "Authorization: Bearer <key>" (a Herald API key, or TEMPORAL_CODEC_API_KEY).');
    }
    const token = bearerToken(header);
    if (token && options.operatorKey && sameSecret(token, options.operatorKey)) return { kind: 'operator' };
    await new Promise<void>((resolveAuth, rejectAuth) =>
      RequestContext.create(options.orm.em, () => options.tenantAuth(req, res, (err?: unknown) => (err ? rejectAuth(err) : resolveAuth()))),
    );
    return { kind: 'tenant', userId: req.auth!.userId, businessIds: req.auth!.businessIds };
  };

  /** Headers only, before the body is read: the namespace, then who calls. */
  const authenticate: RequestHandler = async (req, res, next) => {
    try {
      const namespace = req.get('x-namespace');
      if (namespace !== options.namespace) {
        throw validationFailed([{ path: 'X-Namespace', message: `this codec serves the namespace "${options.namespace}" only` }]);
      }
      res.locals.codecCaller = await caller(req, res);
      next();
    } catch (err) {
      next(err);
    }
  };

  const handle =
    (direction: 'encode' | 'decode'): RequestHandler =>
    async (req, res, next) => {
      try {
        const who = res.locals.codecCaller as Caller;
        const { payloads: json } = parseOrThrow(bodySchema, req.body);
        const payloads = json.map((payload) => payloadFromJson(payload as JsonPayload));
        if (direction === 'encode') {
          res.json({ payloads: (await options.codec.encode(payloads)).map(payloadToJson) });
          return;
        }
        if (who.kind === 'tenant') await assertOwned(options.orm, who.businessIds, payloads);
        const decoded = await options.codec.decode(payloads).catch((err: unknown) => {
          if (err instanceof PayloadDecryptionError) throw validationFailed([{ path: 'payloads', message: err.message }]);
          throw err;
        });
        res.json({ payloads: decoded.map(payloadToJson) });
      } catch (err) {
        next(err);
      }
    };

  const body = express.json({ limit: options.maxBodyBytes });
  router.post('/decode', authenticate, options.rateLimit, body, handle('decode'));
  router.post('/encode', authenticate, options.rateLimit, body, handle('encode'));
  return router;
}

/**
 * Every encrypted payload must belong to a post workflow of one of the caller's businesses; plain
 * payloads (recorded before encryption) pass, encrypted ones bound to no workflow cannot be
 * attributed to a tenant and are refused.
 */
async function assertOwned(orm: MikroORM, businessIds: Set<number>, payloads: Payload[]): Promise<void> {
  const bound = payloads.filter(isEncrypted).map(boundWorkflowId);
  const postIds = new Set<number>();
  for (const workflowId of bound) {
    const postId = workflowId === undefined ? undefined : postIdOfWorkflowId(workflowId);
    if (postId === undefined) throw notFound('workflow');
    postIds.add(postId);
  }
  if (postIds.size === 0) return;
  const posts = await orm.em.fork().find(Post, { id: { $in: [...postIds] } }, { fields: ['id', 'businessId', 'workflowId'] });
  // The row's own workflow id: an old workflow whose serial a re-created database reused is not the post's.
  const owned = new Set(posts.filter((post) => businessIds.has(post.businessId)).map((post) => post.workflowId ?? legacyPostWorkflowId(post.id)));
  if (bound.some((workflowId) => !owned.has(workflowId!))) throw notFound('workflow');
}

/** True when HOST binds loopback only (the dev UI may then call without Authorization). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}
