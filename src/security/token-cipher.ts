/**
 * AES-256-GCM for platform tokens at rest. Each ciphertext names the id of the key that sealed it,
 * so keys can rotate: the first configured key encrypts, every configured key can decrypt.
 *
 * Format: "v2:<keyId>:<iv b64>:<tag b64>:<ciphertext b64>". The associated data (authenticated, not
 * stored in the envelope) binds the ciphertext to the social account it belongs to and to the field
 * it sits in: its key id, the account's natural key (business id, platform, platform user id — the
 * columns `social_accounts` is unique on, known before the row is inserted and never changed) and
 * `access` or `refresh`. A ciphertext copied to another account's row, or swapped between the access
 * and refresh columns, fails to decrypt instead of handing out another account's token.
 *
 * Legacy "v1:…" envelopes (associated data = key id only, not bound to an account) still decrypt, so
 * a deploy causes no outage; `needsRotation` reports them, `admin reencrypt-tokens` re-seals them as
 * v2, and every write (connect, refresh) seals v2.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { TokenKey } from '../config';

/** Which column of the account row the token sits in. */
export type TokenField = 'access' | 'refresh';

/** What a token is bound to: the social account's unique (business_id, platform, platform_user_id). */
export interface TokenOwner {
  businessId: number;
  platform: string;
  platformUserId: string;
}

const CURRENT = 'v2';
const LEGACY = 'v1';

/** Unambiguous (JSON) associated data: no separator inside a platform user id can forge another binding. */
function boundAad(keyId: string, owner: TokenOwner, field: TokenField): Buffer {
  return Buffer.from(JSON.stringify(['herald-token', CURRENT, keyId, owner.businessId, owner.platform, owner.platformUserId, field]));
}

export class TokenCipher {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: TokenKey[]) {
    if (keys.length === 0) throw new Error('TokenCipher needs at least one key');
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  /** Seals `plain` for `owner`'s `field`: it decrypts only with the same owner and field. */
  encrypt(plain: string, owner: TokenOwner, field: TokenField): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(boundAad(id, owner, field));
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [CURRENT, id, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(':');
  }

  /**
   * Opens an envelope stored in `owner`'s `field`. Throws (never with the token in the message) when
   * the envelope is malformed, its key is not configured, or it was altered or sealed for another
   * account or field. Legacy v1 envelopes are not bound to an account and open anywhere.
   */
  decrypt(envelope: string, owner: TokenOwner, field: TokenField): string {
    const [version, keyId, iv, tag, sealed, extra] = envelope.split(':');
    if ((version !== CURRENT && version !== LEGACY) || !keyId || !iv || !tag || sealed === undefined || extra !== undefined) {
      throw new Error('token ciphertext is malformed');
    }
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`token was sealed with key "${keyId}", which is not configured`);
    // A fixed tag length: otherwise a tag cut short would be accepted, and forgery gets cheap.
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'), { authTagLength: 16 });
    decipher.setAAD(version === LEGACY ? Buffer.from(keyId) : boundAad(keyId, owner, field));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(
        version === LEGACY
          ? 'token ciphertext was altered'
          : `token ciphertext does not belong to this account's ${field} token (altered, or copied from another account or field)`,
      );
    }
  }

  /** True when the envelope should be re-sealed: an older key, or the legacy v1 format not bound to its account. */
  needsRotation(envelope: string): boolean {
    const [version, keyId] = envelope.split(':');
    return version !== CURRENT || keyId !== this.keys[0]!.id;
  }
}
