/**
 * Sandbox mode (HERALD_SANDBOX=1; `npm start`'s default when no platform base URL is configured):
 * local fakes of X, LinkedIn and Meta's Graph API run inside the app, so Herald can be tried end to
 * end without real accounts. Any token connected through the API is accepted for its account;
 * what the fakes receive is kept in memory and shown by `GET /api/v2/sandbox/posts`.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { SocialAccount } from '../db/entities';
import type { Platform } from '../domain/types';
import type { Logger } from '../logger';
import type { TokenCipher } from '../security/token-cipher';
import { FakeLinkedInServer } from '../../test/fakes/linkedin-fake';
import { FakeMetaGraphServer } from '../../test/fakes/meta-fake';
import { FakeXServer } from '../../test/fakes/x-fake';

export interface Sandbox {
  fakeX: FakeXServer;
  fakeLinkedIn: FakeLinkedInServer;
  fakeMeta: FakeMetaGraphServer;
  baseUrls: { twitter: string; linkedin: string; meta: string };
  useCipher(cipher: TokenCipher): void;
  stop(): Promise<void>;
}

export async function startSandbox(deps: { orm: MikroORM; logger: Logger }): Promise<Sandbox> {
  let cipher: TokenCipher | undefined;
  /** The id of the active account of `platforms` connected with `token`: the fakes accept it for that id. */
  const accountIdFor = (platforms: Platform[]) => async (token: string) => {
    if (!cipher) return undefined;
    const accounts = await deps.orm.em.fork().find(SocialAccount, { platform: { $in: platforms }, isActive: true });
    return accounts.find((account) => safeDecrypt(cipher!, account) === token)?.platformUserId;
  };
  const fakeX = new FakeXServer({ authenticate: accountIdFor(['twitter']) });
  const fakeLinkedIn = new FakeLinkedInServer({ authenticate: accountIdFor(['linkedin']) });
  const fakeMeta = new FakeMetaGraphServer({ authenticate: accountIdFor(['facebook', 'instagram']) });
  const baseUrls = { twitter: await fakeX.start(), linkedin: await fakeLinkedIn.start(), meta: await fakeMeta.start() };
  deps.logger.warn({ baseUrls }, 'SANDBOX MODE: posts go to local fakes of X, LinkedIn and Meta, not to the real platforms');
  return {
    fakeX,
    fakeLinkedIn,
    fakeMeta,
    baseUrls,
    useCipher: (value) => (cipher = value),
    stop: async () => {
      await Promise.all([fakeX.stop(), fakeLinkedIn.stop(), fakeMeta.stop()]);
    },
  };
}

function safeDecrypt(cipher: TokenCipher, account: SocialAccount): string | undefined {
  try {
    return cipher.decrypt(account.accessTokenEnc, account, 'access');
  } catch {
    return undefined;
  }
}
