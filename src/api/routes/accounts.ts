import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Business, SocialAccount } from '../../db/entities';
import type { TokenCipher } from '../../security/token-cipher';
import { assertMember, authOf } from '../auth';
import { notFound, parseOrThrow } from '../errors';
import { accountBodySchema, accountsQuerySchema, idParamSchema, type AccountView } from '../schemas';

/** The caller's businesses; connect (with tokens the user already has), list and disconnect social accounts. Tokens are never returned. */
export function accountRoutes(deps: { orm: MikroORM; cipher: TokenCipher }): Router {
  const router = Router();

  // The businesses the key's user belongs to (the dashboard's business selector).
  router.get('/businesses', async (req, res) => {
    const auth = authOf(req);
    const businesses = await deps.orm.em.fork().find(Business, { id: { $in: [...auth.businessIds] } }, { orderBy: { name: 'asc' } });
    res.json({ businesses: businesses.map((b) => ({ id: b.id, name: b.name, timezone: b.timezone })) });
  });

  router.post('/accounts', async (req, res) => {
    const auth = authOf(req);
    const body = parseOrThrow(accountBodySchema, req.body);
    assertMember(auth, body.businessId);
    const em = deps.orm.em.fork();
    const existing = await em.findOne(SocialAccount, { businessId: body.businessId, platform: body.platform, platformUserId: body.platformUserId });
    const account = existing ?? em.create(SocialAccount, {
      businessId: body.businessId,
      platform: body.platform,
      platformUserId: body.platformUserId,
      accessTokenEnc: '',
    });
    account.displayName = body.displayName ?? account.displayName ?? null;
    account.accessTokenEnc = deps.cipher.encrypt(body.accessToken, account, 'access');
    account.refreshTokenEnc = body.refreshToken ? deps.cipher.encrypt(body.refreshToken, account, 'refresh') : null;
    account.expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
    account.isActive = true;
    // New tokens: whatever refresh failure marked the account is over.
    account.needsReconnect = false;
    account.updatedAt = new Date();
    await em.flush();
    res.status(201).json(toAccountView(account));
  });

  router.get('/accounts', async (req, res) => {
    const auth = authOf(req);
    const { businessId } = parseOrThrow(accountsQuerySchema, req.query);
    assertMember(auth, businessId);
    const accounts = await deps.orm.em.fork().find(SocialAccount, { businessId }, { orderBy: { id: 'asc' } });
    res.json({ accounts: accounts.map(toAccountView) });
  });

  router.delete('/accounts/:id', async (req, res) => {
    const auth = authOf(req);
    const id = parseOrThrow(idParamSchema, req.params.id, 'id');
    const em = deps.orm.em.fork();
    const account = await em.findOne(SocialAccount, { id });
    if (!account || !auth.businessIds.has(account.businessId)) throw notFound('account');
    account.isActive = false;
    account.updatedAt = new Date();
    await em.flush();
    res.json(toAccountView(account));
  });

  return router;
}

export function toAccountView(account: SocialAccount): AccountView {
  return {
    id: account.id,
    businessId: account.businessId,
    platform: account.platform,
    platformUserId: account.platformUserId,
    displayName: account.displayName ?? null,
    isActive: account.isActive,
    needsReconnect: account.needsReconnect,
    expiresAt: account.expiresAt?.toISOString() ?? null,
  };
}
