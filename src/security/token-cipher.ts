/**
 * AES-256-GCM for platform tokens at rest. Each ciphertext names the id of the key that sealed it,
 * so keys can rotate: the first configured key encrypts, every configured key can decrypt.
 * Format: "v1:<keyId>:<iv b64>:<tag b64>:<ciphertext b64>".
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { TokenKey } from '../config';

export class TokenCipher {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: TokenKey[]) {
    if (keys.length === 0) throw new Error('TokenCipher needs at least one key');
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  encrypt(plain: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(id));
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', id, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(':');
  }

  decrypt(envelope: string): string {
    const [version, keyId, iv, tag, sealed] = envelope.split(':');
    if (version !== 'v1' || !keyId || !iv || !tag || sealed === undefined) {
      throw new Error('token ciphertext is malformed');
    }
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`token was sealed with key "${keyId}", which is not configured`);
    // A fixed tag length: otherwise a tag cut short would be accepted, and forgery gets cheap.
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64')), decipher.final()]).toString('utf8');
  }

  /** True when the envelope was sealed with an older key and should be re-encrypted. */
  needsRotation(envelope: string): boolean {
    return envelope.split(':')[1] !== this.keys[0]!.id;
  }
}
