/**
 * `npm run admin -- bootstrap --business "<name>" [--email <email>]`: creates (or reuses) the user and
 * business and prints one JSON line `{"userId","businessId","apiKey"}`. The key is shown only here.
 * `npm run admin -- migrate`: applies pending migrations.
 * `npm run admin -- reencrypt-tokens`: after a new key was put first in TOKEN_ENCRYPTION_KEYS, seals
 * every stored platform token with it, so the old key can then be removed. Prints one JSON line.
 */
import { parseArgs } from 'node:util';
import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from './config';
import { ApiKey, Business, Membership, SocialAccount, User } from './db/entities';
import { ensureDatabase, migrate, openOrm } from './db/orm';
import { generateApiKey } from './api/auth';
import { tokenKeysFor } from './security/dev-secrets';
import { TokenCipher } from './security/token-cipher';

export async function bootstrap(orm: MikroORM, input: { business: string; email?: string }) {
  const em = orm.em.fork();
  return em.transactional(async (tx) => {
    const email = (input.email ?? 'owner@localhost').toLowerCase();
    const user = (await tx.findOne(User, { email })) ?? tx.create(User, { email });
    const business = (await tx.findOne(Business, { name: input.business })) ?? tx.create(Business, { name: input.business });
    await tx.flush();
    if (!(await tx.findOne(Membership, { userId: user.id, businessId: business.id }))) {
      tx.create(Membership, { userId: user.id, businessId: business.id, role: 'owner' });
    }
    const key = generateApiKey();
    tx.create(ApiKey, { userId: user.id, name: 'bootstrap', keyHash: key.hash, prefix: key.prefix });
    await tx.flush();
    return { userId: user.id, businessId: business.id, apiKey: key.plain };
  });
}

/**
 * Re-seals every stored token that is not sealed with the cipher's current (first) key, or is still in
 * the legacy v1 format (not bound to its account): afterwards each ciphertext opens only in its own
 * account row and column (src/security/token-cipher.ts). Each account
 * is rewritten in its own transaction under a row lock, so a token refresh running at the same time
 * cannot be overwritten with a stale token. Idempotent: a second run changes nothing. An account
 * whose token no configured key opens is listed in `unreadable` (and left as it is), not fatal.
 */
export async function reencryptTokens(
  orm: MikroORM,
  cipher: TokenCipher,
  scope: { businessId?: number } = {},
): Promise<{ accounts: number; reencrypted: number; unreadable: number[] }> {
  const where = scope.businessId === undefined ? {} : { businessId: scope.businessId };
  const ids = (await orm.em.fork().find(SocialAccount, where, { fields: ['id'], orderBy: { id: 'asc' } })).map((a) => a.id);
  let reencrypted = 0;
  const unreadable: number[] = [];
  for (const id of ids) {
    try {
      const changed = await orm.em.fork().transactional(async (tx) => {
        const account = await tx.findOneOrFail(SocialAccount, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        let dirty = false;
        if (cipher.needsRotation(account.accessTokenEnc)) {
          account.accessTokenEnc = cipher.encrypt(cipher.decrypt(account.accessTokenEnc, account, 'access'), account, 'access');
          dirty = true;
        }
        if (account.refreshTokenEnc && cipher.needsRotation(account.refreshTokenEnc)) {
          account.refreshTokenEnc = cipher.encrypt(cipher.decrypt(account.refreshTokenEnc, account, 'refresh'), account, 'refresh');
          dirty = true;
        }
        return dirty;
      });
      if (changed) reencrypted += 1;
    } catch {
      unreadable.push(id);
    }
  }
  return { accounts: ids.length, reencrypted, unreadable };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  await ensureDatabase(config.databaseUrl);
  const orm = await openOrm(config.databaseUrl);
  try {
    await migrate(orm);
    if (command === 'migrate') return;
    if (command === 'bootstrap') {
      const { values } = parseArgs({ args: rest, options: { business: { type: 'string' }, email: { type: 'string' } } });
      if (!values.business) throw new Error('bootstrap needs --business "<name>"');
      process.stdout.write(`${JSON.stringify(await bootstrap(orm, { business: values.business, email: values.email }))}\n`);
      return;
    }
    if (command === 'reencrypt-tokens') {
      const result = await reencryptTokens(orm, new TokenCipher(tokenKeysFor(config)));
      process.stdout.write(`${JSON.stringify(result)}\n`);
      if (result.unreadable.length) {
        throw new Error(`accounts ${result.unreadable.join(', ')}: no configured key opens their tokens; keep the old key configured, or reconnect them`);
      }
      return;
    }
    throw new Error(`unknown command "${command ?? ''}"; use "bootstrap --business <name> [--email <email>]", "migrate" or "reencrypt-tokens"`);
  } finally {
    await orm.close(true);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
