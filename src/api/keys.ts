/**
 * The API-key lifecycle (docs/SECURITY-KEYS.md), shared by the API (`/api/v2/keys`, src/api/routes/keys.ts)
 * and the operator's command line (`npm run admin -- keys …`, src/admin.ts): list, create (a name and
 * an optional expiry), revoke and rotate. A key belongs to a user. The plain key is returned once, by
 * create and rotate; the hash never leaves the database. Revoking is one conditional UPDATE, and every
 * request looks its key up again (src/api/auth.ts), so a revoked key answers 401 on every instance at once.
 */
import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ApiKey } from '../db/entities';
import { generateApiKey } from './auth';
import { MAX_KEY_LIFETIME_MS, type ApiKeyView } from './key-schemas';

export function keyStatus(key: ApiKey, now: Date): ApiKeyView['status'] {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

export function toApiKeyView(key: ApiKey, now: Date, currentKeyId?: number): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    status: keyStatus(key, now),
    current: key.id === currentKeyId,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

/** A user's keys, newest first, revoked and expired ones included. */
export async function listKeys(orm: MikroORM, userId: number): Promise<ApiKey[]> {
  return orm.em.fork().find(ApiKey, { userId }, { orderBy: { id: 'desc' } });
}

/** A new key for the user; `plain` is the only copy of the key itself. */
export async function createKey(
  orm: MikroORM,
  input: { userId: number; name: string; expiresAt?: Date | null },
): Promise<{ key: ApiKey; plain: string }> {
  const em = orm.em.fork();
  const generated = generateApiKey();
  const key = em.create(ApiKey, { userId: input.userId, name: input.name, keyHash: generated.hash, prefix: generated.prefix, expiresAt: input.expiresAt ?? null });
  await em.flush();
  return { key, plain: generated.plain };
}

/**
 * Revokes the key (the user's own, when `userId` is given). Revoking a revoked key changes nothing.
 * Undefined: no such key (or another user's).
 */
export async function revokeKey(orm: MikroORM, input: { id: number; userId?: number; now?: Date }): Promise<ApiKey | undefined> {
  const em = orm.em.fork();
  const where = input.userId === undefined ? { id: input.id } : { id: input.id, userId: input.userId };
  await em.nativeUpdate(ApiKey, { ...where, revokedAt: null }, { revokedAt: input.now ?? new Date() });
  return (await em.findOne(ApiKey, where)) ?? undefined;
}

export type RotateResult = { outcome: 'rotated'; old: ApiKey; key: ApiKey; plain: string } | { outcome: 'not_found' } | { outcome: 'revoked'; old: ApiKey };

/**
 * Replaces a key: the old one is revoked and a new one with the same name is created, in one
 * transaction under a row lock (two rotations at once make one new key, not two). The new key's
 * expiry: `expiresAt` when given (null: never); otherwise as long a validity as the old key had,
 * counted from now (at most 5 years), or none if the old key had none. A revoked key cannot be rotated.
 */
export async function rotateKey(
  orm: MikroORM,
  input: { id: number; userId?: number; expiresAt?: Date | null; now?: Date },
): Promise<RotateResult> {
  const now = input.now ?? new Date();
  return orm.em.fork().transactional(async (tx): Promise<RotateResult> => {
    const where = input.userId === undefined ? { id: input.id } : { id: input.id, userId: input.userId };
    const old = await tx.findOne(ApiKey, where, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!old) return { outcome: 'not_found' };
    if (old.revokedAt) return { outcome: 'revoked', old };
    let expiresAt = input.expiresAt;
    if (expiresAt === undefined) {
      expiresAt = old.expiresAt
        ? new Date(now.getTime() + Math.min(Math.max(old.expiresAt.getTime() - old.createdAt.getTime(), 60_000), MAX_KEY_LIFETIME_MS))
        : null;
    }
    old.revokedAt = now;
    const generated = generateApiKey();
    const key = tx.create(ApiKey, { userId: old.userId, name: old.name, keyHash: generated.hash, prefix: generated.prefix, expiresAt });
    await tx.flush();
    return { outcome: 'rotated', old, key, plain: generated.plain };
  });
}
