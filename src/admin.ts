/**
 * `npm run admin -- bootstrap --business "<name>" [--email <email>]`: creates a NEW user, a NEW
 * business and an API key, and prints one JSON line `{"userId","businessId","apiKey"}`. The key is
 * shown only here. It never joins what exists: an email of an existing user, or the name of an
 * existing business, is refused (pointing at the commands below). Without --email the user gets a
 * unique generated address, `owner+<random>@localhost`.
 * `npm run admin -- add-member --email <email> --business <id|name> [--role member|owner]`: the explicit
 * way to put a user (created if new) into an existing business. Prints one JSON line.
 * `npm run admin -- keys list --email <email>` | `keys create --email <email> --name <name> [--expires-at <iso>]`
 * | `keys revoke --id <keyId>` | `keys rotate --id <keyId> [--expires-at <iso>|never]`: API keys
 * (docs/SECURITY-KEYS.md). Create and rotate print the new key, once.
 * `npm run admin -- migrate`: applies pending migrations.
 * `npm run admin -- reencrypt-tokens`: after a new key was put first in TOKEN_ENCRYPTION_KEYS, seals
 * every stored platform token with it, so the old key can then be removed. Prints one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from './config';
import { ApiKey, Business, Membership, SocialAccount, User } from './db/entities';
import { ensureDatabase, migrate, openOrm } from './db/orm';
import { generateApiKey } from './api/auth';
import { expiryProblem, keyNameSchema } from './api/key-schemas';
import { createKey, listKeys, revokeKey, rotateKey, toApiKeyView } from './api/keys';
import { tokenKeysFor } from './security/dev-secrets';
import { TokenCipher } from './security/token-cipher';

/** A refusal of the admin command line: printed as it is, exit code 1. */
export class AdminError extends Error {}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const BUSINESS_NAME_MAX_LENGTH = 200;

function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 320) throw new AdminError(`"${raw}" is not an email address`);
  return email;
}

function businessName(raw: string): string {
  const name = raw.trim();
  if (!name || name.length > BUSINESS_NAME_MAX_LENGTH || /\p{Cc}/u.test(name)) {
    throw new AdminError(`--business must be 1 to ${BUSINESS_NAME_MAX_LENGTH} characters without control characters`);
  }
  return name;
}

/**
 * A new user, a new business (the user its owner) and an API key named "bootstrap". Never joins an
 * existing user or business: two bootstraps never share data unless `add-member` says so. Without
 * `email`, the user gets a unique generated address. Serialized by an advisory lock, so two
 * bootstraps at once with the same name or email cannot both pass the checks.
 */
export async function bootstrap(orm: MikroORM, input: { business: string; email?: string }): Promise<{ userId: number; businessId: number; apiKey: string }> {
  const name = businessName(input.business);
  const email = input.email === undefined ? `owner+${randomBytes(6).toString('hex')}@localhost` : normalizeEmail(input.email);
  return orm.em.fork().transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(hashtext(?))', ['herald:admin:bootstrap']);
    const existingUser = await tx.findOne(User, { email });
    if (existingUser) {
      throw new AdminError(
        `A user with the email ${email} exists already (user ${existingUser.id}). bootstrap only creates new users and never joins an existing one. ` +
          `To give that user another API key: npm run admin -- keys create --email ${email} --name "<name>". ` +
          `To add that user to a business: npm run admin -- add-member --email ${email} --business <id|name>.`,
      );
    }
    const [existingBusiness] = await tx.execute<Array<{ id: number }>>('select id from businesses where lower(name) = lower(?) order by id limit 1', [name]);
    if (existingBusiness) {
      throw new AdminError(
        `A business named "${name}" exists already (business ${existingBusiness.id}). bootstrap never puts a new user into an existing business. ` +
          `Choose another name, or add a user to that business with: npm run admin -- add-member --email <email> --business ${existingBusiness.id}.`,
      );
    }
    const user = tx.create(User, { email });
    const business = tx.create(Business, { name });
    await tx.flush();
    tx.create(Membership, { userId: user.id, businessId: business.id, role: 'owner' });
    const key = generateApiKey();
    tx.create(ApiKey, { userId: user.id, name: 'bootstrap', keyHash: key.hash, prefix: key.prefix });
    await tx.flush();
    return { userId: user.id, businessId: business.id, apiKey: key.plain };
  });
}

/**
 * Puts a user into an existing business: the explicit, separate way to share a business. The
 * business is named by id or by its (case-insensitive, unambiguous) name; the user is created when
 * the email is new (give them a key with `keys create`). Already a member: nothing changes.
 */
export async function addMember(
  orm: MikroORM,
  input: { email: string; business: string; role?: 'member' | 'owner' },
): Promise<{ userId: number; businessId: number; role: string; userCreated: boolean; membershipCreated: boolean }> {
  const email = normalizeEmail(input.email);
  return orm.em.fork().transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(hashtext(?))', ['herald:admin:bootstrap']);
    const byId = /^\d+$/.test(input.business.trim()) ? await tx.findOne(Business, { id: Number(input.business.trim()) }) : null;
    let business = byId;
    if (!business) {
      const rows = await tx.execute<Array<{ id: number }>>('select id from businesses where lower(name) = lower(?) order by id', [input.business.trim()]);
      if (rows.length > 1) throw new AdminError(`${rows.length} businesses are named "${input.business.trim()}" (ids ${rows.map((r) => r.id).join(', ')}); name one by its id`);
      if (rows.length === 1) business = await tx.findOneOrFail(Business, { id: rows[0]!.id });
    }
    if (!business) throw new AdminError(`No business "${input.business}" (give its id or its exact name)`);
    let user = await tx.findOne(User, { email });
    const userCreated = !user;
    user ??= tx.create(User, { email });
    await tx.flush();
    const existing = await tx.findOne(Membership, { userId: user.id, businessId: business.id });
    if (!existing) tx.create(Membership, { userId: user.id, businessId: business.id, role: input.role ?? 'member' });
    await tx.flush();
    return { userId: user.id, businessId: business.id, role: existing?.role ?? input.role ?? 'member', userCreated, membershipCreated: !existing };
  });
}

async function userIdByEmail(orm: MikroORM, raw: string | undefined): Promise<number> {
  if (!raw) throw new AdminError('name the user with --email <email>');
  const email = normalizeEmail(raw);
  const user = await orm.em.fork().findOne(User, { email });
  if (!user) throw new AdminError(`No user with the email ${email}`);
  return user.id;
}

function expiryArgument(raw: string | undefined): Date | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'never') return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) throw new AdminError('--expires-at must be an ISO 8601 time with an offset, e.g. 2027-06-30T00:00:00Z, or "never"');
  const at = new Date(raw);
  const problem = expiryProblem(at, new Date());
  if (problem) throw new AdminError(`--expires-at ${problem}`);
  return at;
}

/** `keys list|create|revoke|rotate`: the operator's view of every user's keys. Returns the JSON to print. */
export async function keysCommand(orm: MikroORM, args: string[]): Promise<unknown> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: { email: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' }, 'expires-at': { type: 'string' } },
  });
  const now = new Date();
  const keyId = () => {
    if (!values.id || !/^\d+$/.test(values.id)) throw new AdminError('name the key with --id <keyId> (see keys list)');
    return Number(values.id);
  };
  switch (action) {
    case 'list': {
      const userId = await userIdByEmail(orm, values.email);
      return { userId, keys: (await listKeys(orm, userId)).map((key) => toApiKeyView(key, now)) };
    }
    case 'create': {
      const userId = await userIdByEmail(orm, values.email);
      const name = keyNameSchema.safeParse(values.name ?? '');
      if (!name.success) throw new AdminError(`--name ${name.error.issues[0]?.message ?? 'is not valid'}`);
      const created = await createKey(orm, { userId, name: name.data, expiresAt: expiryArgument(values['expires-at']) ?? null });
      return { userId, key: toApiKeyView(created.key, now), apiKey: created.plain };
    }
    case 'revoke': {
      const key = await revokeKey(orm, { id: keyId(), now });
      if (!key) throw new AdminError(`No API key ${values.id}`);
      return { key: toApiKeyView(key, now) };
    }
    case 'rotate': {
      const result = await rotateKey(orm, { id: keyId(), expiresAt: expiryArgument(values['expires-at']), now });
      if (result.outcome === 'not_found') throw new AdminError(`No API key ${values.id}`);
      if (result.outcome === 'revoked') throw new AdminError(`API key ${values.id} is revoked; create a new one with keys create`);
      return { userId: result.key.userId, revokedKeyId: result.old.id, key: toApiKeyView(result.key, now), apiKey: result.plain };
    }
    default:
      throw new AdminError('use "keys list --email <email>", "keys create --email <email> --name <name> [--expires-at <iso>]", "keys revoke --id <keyId>" or "keys rotate --id <keyId> [--expires-at <iso>|never]"');
  }
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
    if (command === 'add-member') {
      const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, business: { type: 'string' }, role: { type: 'string' } } });
      if (!values.email || !values.business) throw new Error('add-member needs --email <email> --business <id|name>');
      if (values.role !== undefined && values.role !== 'member' && values.role !== 'owner') throw new Error('--role is "member" or "owner"');
      process.stdout.write(`${JSON.stringify(await addMember(orm, { email: values.email, business: values.business, role: values.role }))}\n`);
      return;
    }
    if (command === 'keys') {
      process.stdout.write(`${JSON.stringify(await keysCommand(orm, rest))}\n`);
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
    throw new Error(`unknown command "${command ?? ''}"; use "bootstrap --business <name> [--email <email>]", "add-member --email <email> --business <id|name>", "keys list|create|revoke|rotate …", "migrate" or "reencrypt-tokens"`);
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
