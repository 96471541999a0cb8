/**
 * `/api/v2/keys`: the caller's own API keys (those of the key's user). Another user's key id answers
 * 404, like any foreign id. The plain key appears only in the answers of create and rotate.
 */
import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { authOf } from '../auth';
import { HttpError, notFound, parseOrThrow } from '../errors';
import { createKeyBodySchema, rotateKeyBodySchema, type ApiKeyView, type CreatedApiKeyView } from '../key-schemas';
import { createKey, listKeys, revokeKey, rotateKey, toApiKeyView } from '../keys';
import { idParamSchema } from '../schemas';

export function keyRoutes(deps: { orm: MikroORM; now?: () => Date }): Router {
  const router = Router();
  const now = () => deps.now?.() ?? new Date();

  router.get('/keys', async (req, res) => {
    const auth = authOf(req);
    const at = now();
    const keys: ApiKeyView[] = (await listKeys(deps.orm, auth.userId)).map((key) => toApiKeyView(key, at, auth.apiKeyId));
    res.set('Cache-Control', 'no-store').json({ keys });
  });

  router.post('/keys', async (req, res) => {
    const auth = authOf(req);
    const body = parseOrThrow(createKeyBodySchema, req.body ?? {});
    const { key, plain } = await createKey(deps.orm, { userId: auth.userId, name: body.name, expiresAt: body.expiresAt ? new Date(body.expiresAt) : null });
    const answer: CreatedApiKeyView = { key: toApiKeyView(key, now(), auth.apiKeyId), apiKey: plain };
    res.status(201).set('Cache-Control', 'no-store').json(answer);
  });

  router.delete('/keys/:id', async (req, res) => {
    const auth = authOf(req);
    const id = parseOrThrow(idParamSchema, req.params.id, 'id');
    const key = await revokeKey(deps.orm, { id, userId: auth.userId, now: now() });
    if (!key) throw notFound('API key');
    res.status(204).end();
  });

  router.post('/keys/:id/rotate', async (req, res) => {
    const auth = authOf(req);
    const id = parseOrThrow(idParamSchema, req.params.id, 'id');
    const body = parseOrThrow(rotateKeyBodySchema, req.body ?? {});
    const result = await rotateKey(deps.orm, {
      id,
      userId: auth.userId,
      expiresAt: body.expiresAt === undefined ? undefined : body.expiresAt === null ? null : new Date(body.expiresAt),
      now: now(),
    });
    if (result.outcome === 'not_found') throw notFound('API key');
    if (result.outcome === 'revoked') {
      throw new HttpError('conflict', 'The API key is revoked; a revoked key cannot be rotated. Create a new key instead.', { reason: 'revoked' });
    }
    const answer: CreatedApiKeyView = { key: toApiKeyView(result.key, now(), auth.apiKeyId), apiKey: result.plain };
    res.status(201).set('Cache-Control', 'no-store').json(answer);
  });

  return router;
}
