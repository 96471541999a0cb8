/**
 * API-key authentication. Keys are random, shown once, and stored as sha256 hashes; a request
 * carries `Authorization: Bearer <key>`. Tenant checks answer 404, never 403, so a foreign id
 * does not reveal that it exists.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RequestHandler, Request } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import { RequestContext } from '@mikro-orm/core';
import { ApiKey, Membership } from '../db/entities';
import { HttpError, notFound } from './errors';

export interface AuthContext {
  userId: number;
  apiKeyId: number;
  businessIds: Set<number>;
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: AuthContext;
  }
}

export function generateApiKey(): { plain: string; hash: string; prefix: string } {
  const plain = `hk_${randomBytes(32).toString('base64url')}`;
  return { plain, hash: hashApiKey(plain), prefix: plain.slice(0, 10) };
}

export function hashApiKey(plain: string): string {
  return createHash('sha256').update(plain).digest('hex');
}

export function requireApiKey(): RequestHandler {
  return async (req, _res, next) => {
    try {
      const header = req.get('authorization') ?? '';
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) throw new HttpError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".');
      const em = RequestContext.getEntityManager() as EntityManager;
      const key = await em.findOne(ApiKey, { keyHash: hashApiKey(match[1]!), revokedAt: null });
      if (!key) throw new HttpError('unauthorized', 'The API key is not valid.');
      const memberships = await em.find(Membership, { userId: key.userId });
      req.auth = { userId: key.userId, apiKeyId: key.id, businessIds: new Set(memberships.map((m) => m.businessId)) };
      next();
    } catch (err) {
      next(err);
    }
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
