/**
 * A token envelope as releases before the account binding sealed it ("v1": the associated data is
 * the key id only, so it opens in any account row). Tests use it to stand for data already in the
 * database at deploy time: it must keep decrypting, and be re-sealed as v2.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import type { TokenKey } from '../../src/config';

export function sealV1(key: TokenKey, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(key.id));
  const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', key.id, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(':');
}
