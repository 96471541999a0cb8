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
 * - No Authorization: only outside production, only when the API listens on loopback, only from a
 *   loopback peer and an allowed UI origin. That is the dev Web UI of `npm start`, which sends no
 *   Authorization over plain HTTP; whoever can reach a loopback-bound API in development can read
 *   the generated dev key in DEV_SECRETS_FILE anyway, so this opens nothing new. In production a
 *   header is always required.
 * Whatever the caller, `X-Namespace` must be the namespace Herald runs in: this codec's keys are
 * that namespace's, and a request for another one is refused rather than answered with its data.
 */
import { isIP } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
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
import { requireApiKey } from '../auth';
import { HttpError, notFound, parseOrThrow, validationFailed } from '../errors';

export interface CodecRouteOptions {
  codec: AesGcmPayloadCodec;
  /** The Temporal namespace Herald runs in; X-Namespace must name it. */
  namespace: string;
  /** Origins of the Web UI allowed to call from a browser (exact match). */
  corsOrigins: string[];
  /** TEMPORAL_CODEC_API_KEY: a Bearer token with access to the whole namespace. */
  operatorKey?: string;
  /** Development on a loopback-bound API: the dev UI may call without Authorization. */
  allowLoopbackUi: boolean;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const bodySchema = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
    .max(10_000),
});

const ALLOWED_HEADERS = 'X-Namespace, Content-Type, Authorization';

type Caller = { kind: 'operator' } | { kind: 'dev-ui' } | { kind: 'tenant'; businessIds: Set<number> };

export function codecRoutes(options: CodecRouteOptions & { orm: MikroORM }): Router {
  const router = Router();
  const origins = new Set(options.corsOrigins.map((origin) => origin.replace(/\/+$/, '')));
  const tenantAuth = requireApiKey();

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

  router.use(express.json({ limit: '8mb' }));

  const caller = async (req: Request, res: Response): Promise<Caller> => {
    const header = req.get('authorization');
    if (!header) {
      const origin = req.get('origin');
      if (options.allowLoopbackUi && isLoopback(req.socket.remoteAddress) && origin && origins.has(origin)) return { kind: 'dev-ui' };
      throw new HttpError('unauthorized', 'Send "Authorization: Bearer <key>" (a Herald API key, or TEMPORAL_CODEC_API_KEY).');
    }
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (token && options.operatorKey && sameSecret(token, options.operatorKey)) return { kind: 'operator' };
    await new Promise<void>((resolveAuth, rejectAuth) =>
      RequestContext.create(options.orm.em, () => tenantAuth(req, res, (err?: unknown) => (err ? rejectAuth(err) : resolveAuth()))),
    );
    return { kind: 'tenant', businessIds: req.auth!.businessIds };
  };

  const handle =
    (direction: 'encode' | 'decode'): RequestHandler =>
    async (req, res, next) => {
      try {
        const namespace = req.get('x-namespace');
        if (namespace !== options.namespace) {
          throw validationFailed([{ path: 'X-Namespace', message: `this codec serves the namespace "${options.namespace}" only` }]);
        }
        const who = await caller(req, res);
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

  router.post('/decode', handle('decode'));
  router.post('/encode', handle('encode'));
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

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.replace(/^::ffff:/, '');
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

/** True when HOST binds loopback only (the dev UI may then call without Authorization). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
