/**
 * The admin command line on the real database: the runbook's key rotation (put a new key first in
 * TOKEN_ENCRYPTION_KEYS, run `npm run admin -- reencrypt-tokens`, then drop the old key), and
 * bootstrap, add-member and keys (issue #11).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { addMember, AdminError, bootstrap, reencryptTokens } from '../../src/admin';
import { createKey } from '../../src/api/keys';
import { SocialAccount } from '../../src/db/entities';
import { TokenCipher } from '../../src/security/token-cipher';
import { call, createHarness, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(60_000);

let h: Harness;
let tenant: Tenant;

beforeAll(async () => {
  h = await createHarness({ worker: false });
  tenant = await h.tenant({ linkedin: true });
});
afterAll(async () => h?.close());

const rawTokens = async (accountId: number) => {
  const rows = await h.orm.em.fork().getConnection().execute(
    'select access_token_enc, refresh_token_enc from social_accounts where id = ?', [accountId],
  );
  return rows[0] as { access_token_enc: string; refresh_token_enc: string | null };
};

describe('rotating the token encryption key', () => {
  test('when a new key is put first and tokens are re-encrypted, then every token is sealed with it and the old key is no longer needed', async () => {
    const accountId = tenant.accountId!;
    const before = await rawTokens(accountId);
    expect(before.access_token_enc.startsWith('v2:test1:')).toBe(true);
    expect(before.access_token_enc).not.toContain(tenant.xToken);

    const oldKey = { id: 'test1', key: Buffer.from(h.tokenKeysEnv.split(':')[1]!, 'base64') };
    const newKey = { id: `rot${randomBytes(3).toString('hex')}`, key: randomBytes(32) };
    const rotating = new TokenCipher([newKey, oldKey]);

    const first = await reencryptTokens(h.orm, rotating, { businessId: tenant.businessId });
    expect(first).toEqual({ accounts: 2, reencrypted: 2, unreadable: [] });

    const after = await rawTokens(accountId);
    expect(after.access_token_enc.startsWith(`v2:${newKey.id}:`)).toBe(true);
    const onlyNew = new TokenCipher([newKey]);
    const xAccount = await h.orm.em.fork().findOneOrFail(SocialAccount, { id: accountId });
    expect(onlyNew.decrypt(after.access_token_enc, xAccount, 'access')).toBe(tenant.xToken);
    const linkedIn = await h.orm.em.fork().findOneOrFail(SocialAccount, { id: tenant.linkedin!.accountId });
    expect(onlyNew.decrypt(linkedIn.accessTokenEnc, linkedIn, 'access')).toBe(tenant.linkedin!.token);

    const second = await reencryptTokens(h.orm, rotating, { businessId: tenant.businessId });
    expect(second).toEqual({ accounts: 2, reencrypted: 0, unreadable: [] });

    const wrongKeys = await reencryptTokens(h.orm, new TokenCipher([{ id: 'other', key: randomBytes(32) }]), { businessId: tenant.businessId });
    expect(wrongKeys).toEqual({ accounts: 2, reencrypted: 0, unreadable: [accountId, tenant.linkedin!.accountId].sort((a, b) => a - b) });
    expect((await rawTokens(accountId)).access_token_enc).toBe(after.access_token_enc);
  });
});

/**
 * Issue #11, hole 1: `admin bootstrap` put every business without --email under one user
 * (owner@localhost), so two keys made that way read and cancelled each other's posts. Bootstrap now
 * only ever creates; joining an existing user or business is `add-member`, explicitly.
 */
describe('admin bootstrap never joins an existing user or business', () => {
  const unique = () => randomBytes(4).toString('hex');
  const countUsers = async (email: string) =>
    (await h.orm.em.fork().getConnection().execute('select count(*)::int as n from users where email = ?', [email]))[0].n as number;
  const countBusinesses = async (name: string) =>
    (await h.orm.em.fork().getConnection().execute('select count(*)::int as n from businesses where lower(name) = lower(?)', [name]))[0].n as number;
  const scheduled = (apiKey: string, businessId: number) => call(h.app.url, apiKey, 'GET', `/api/v2/scheduled?businessId=${businessId}`);

  test('when two businesses are bootstrapped without --email, then each gets its own new user, and neither key sees the other business', async () => {
    const a = await bootstrap(h.orm, { business: `No email A ${unique()}` });
    const b = await bootstrap(h.orm, { business: `No email B ${unique()}` });
    expect(a.userId).not.toBe(b.userId);
    const emails = await h.orm.em.fork().getConnection().execute('select email from users where id in (?, ?) order by id', [a.userId, b.userId]);
    for (const { email } of emails) expect(email).toMatch(/^owner\+[0-9a-f]{12}@localhost$/);
    expect(await countUsers('owner@localhost')).toBe(0);

    expect((await scheduled(a.apiKey, a.businessId)).status).toBe(200);
    expect((await scheduled(a.apiKey, b.businessId)).status).toBe(404);
    expect((await scheduled(b.apiKey, a.businessId)).status).toBe(404);
  });

  test('when --email names an existing user, then bootstrap refuses, points to the explicit commands, and creates nothing', async () => {
    const email = `taken-${unique()}@example.test`;
    await bootstrap(h.orm, { business: `Taken ${unique()}`, email });
    const name = `Second ${unique()}`;
    const refusal = bootstrap(h.orm, { business: name, email: email.toUpperCase() });
    await expect(refusal).rejects.toThrow(AdminError);
    await expect(refusal).rejects.toThrow(/exists already.*keys create --email .*add-member --email .* --business/s);
    expect(await countBusinesses(name)).toBe(0);
    expect(await countUsers(email)).toBe(1);
  });

  test('when the business name exists (in any case), then bootstrap refuses instead of putting a new user into it', async () => {
    const name = `Acme ${unique()}`;
    const owner = await bootstrap(h.orm, { business: name, email: `first-${unique()}@example.test` });
    const intruder = `second-${unique()}@example.test`;
    await expect(bootstrap(h.orm, { business: `  ${name.toUpperCase()} `, email: intruder })).rejects.toThrow(
      new RegExp(`business named .* exists already \\(business ${owner.businessId}\\).*add-member`, 's'),
    );
    expect(await countUsers(intruder)).toBe(0);
    expect(await countBusinesses(name)).toBe(1);
  });

  test('when add-member names a business, then the user (created if new) joins it, explicitly, and their key sees it', async () => {
    const owner = await bootstrap(h.orm, { business: `Shared ${unique()}`, email: `owner-${unique()}@example.test` });
    const email = `colleague-${unique()}@example.test`;
    const joined = await addMember(h.orm, { email, business: String(owner.businessId) });
    expect(joined).toEqual({ userId: expect.any(Number), businessId: owner.businessId, role: 'member', userCreated: true, membershipCreated: true });
    expect(await addMember(h.orm, { email, business: String(owner.businessId) })).toEqual(expect.objectContaining({ userCreated: false, membershipCreated: false }));

    const { plain } = await createKey(h.orm, { userId: joined.userId, name: 'colleague' });
    expect((await scheduled(plain, owner.businessId)).status).toBe(200);
    await expect(addMember(h.orm, { email, business: `No such business ${unique()}` })).rejects.toThrow(/No business/);
  });

  test('when the admin command line is used, then bootstrap without --email, add-member and keys list/create/rotate/revoke print JSON, and refusals exit 1 with the reason', async () => {
    const run = async (...args: string[]) => {
      try {
        const { stdout } = await promisify(execFile)(resolve(__dirname, '../../node_modules/.bin/tsx'), ['src/admin.ts', ...args], {
          cwd: resolve(__dirname, '../..'),
          env: { ...process.env, DATABASE_URL: h.databaseUrl, NODE_ENV: 'test', LOG_LEVEL: 'silent' },
        });
        return { code: 0, out: JSON.parse(stdout.trim().split('\n').pop()!), err: '' };
      } catch (error) {
        const failed = error as { code: number; stderr: string };
        return { code: failed.code, out: undefined, err: failed.stderr };
      }
    };
    const created = await run('bootstrap', '--business', `CLI ${unique()}`);
    expect(created).toEqual({ code: 0, err: '', out: { userId: expect.any(Number), businessId: expect.any(Number), apiKey: expect.stringMatching(/^hk_/) } });
    const [{ email }] = await h.orm.em.fork().getConnection().execute('select email from users where id = ?', [created.out.userId]);

    const again = await run('bootstrap', '--business', `CLI ${unique()}`, '--email', email);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`npm run admin -- keys create --email ${email}`);

    const made = await run('keys', 'create', '--email', email, '--name', 'deploy bot', '--expires-at', new Date(Date.now() + 86_400_000).toISOString());
    expect(made.out).toEqual(expect.objectContaining({ apiKey: expect.stringMatching(/^hk_/), key: expect.objectContaining({ name: 'deploy bot', status: 'active' }) }));
    const rotated = await run('keys', 'rotate', '--id', String(made.out.key.id));
    expect(rotated.out).toEqual(expect.objectContaining({ revokedKeyId: made.out.key.id, key: expect.objectContaining({ name: 'deploy bot' }) }));
    expect((await scheduled(made.out.apiKey, created.out.businessId)).status).toBe(401);
    expect((await scheduled(rotated.out.apiKey, created.out.businessId)).status).toBe(200);
    expect((await run('keys', 'revoke', '--id', String(rotated.out.key.id))).out.key.status).toBe('revoked');
    expect((await scheduled(rotated.out.apiKey, created.out.businessId)).status).toBe(401);

    const listed = await run('keys', 'list', '--email', email);
    expect(listed.out.keys.map((k: { name: string; status: string }) => `${k.name}:${k.status}`)).toEqual(['deploy bot:revoked', 'deploy bot:revoked', 'bootstrap:active']);
    expect(JSON.stringify(listed.out)).not.toContain(created.out.apiKey);

    const badName = await run('keys', 'create', '--email', email, '--name', '');
    expect(badName.code).toBe(1);
    expect(badName.err).toMatch(/--name/);
    const joined = await run('add-member', '--email', `cli-member-${unique()}@example.test`, '--business', String(created.out.businessId));
    expect(joined.out).toEqual(expect.objectContaining({ businessId: created.out.businessId, membershipCreated: true }));
  });
});
