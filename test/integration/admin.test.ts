/**
 * The runbook's key rotation: put a new key first in TOKEN_ENCRYPTION_KEYS, run
 * `npm run admin -- reencrypt-tokens`, then drop the old key. Checked on the real database.
 */
import { randomBytes } from 'node:crypto';
import { reencryptTokens } from '../../src/admin';
import { SocialAccount } from '../../src/db/entities';
import { TokenCipher } from '../../src/security/token-cipher';
import { createHarness, type Harness, type Tenant } from '../support/harness';

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
