/**
 * The callback's work after the state checked out: exchange the code, find out which accounts the
 * consent covers, and store them with their tokens encrypted (one transaction: all or nothing).
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { SocialAccount } from '../db/entities';
import type { Platform } from '../domain/types';
import type { TokenCipher } from '../security/token-cipher';
import { exchangeCode, linkedInIdentity, metaPages, OAuthError, xIdentity, type ConnectedIdentity } from './http';
import { providerOf, type OAuthProviders } from './providers';
import type { OAuthStateData } from './state';

export interface ConnectResult {
  platform: Platform;
  accounts: Array<{ id: number; platformUserId: string; displayName: string | null }>;
}

export async function identitiesFor(providers: OAuthProviders, state: OAuthStateData, code: string): Promise<ConnectedIdentity[]> {
  const name = providerOf[state.platform];
  const tokens = await exchangeCode(name, providers, { code, redirectUri: state.redirectUri, codeVerifier: state.codeVerifier });
  if (name === 'x') return [await xIdentity(providers, tokens)];
  if (name === 'linkedin') return [await linkedInIdentity(providers, tokens)];
  // Meta: every granted Page (or only the one asked for at start); Instagram: the accounts linked to them.
  const pages = (await metaPages(providers, tokens.accessToken)).filter((page) => !state.pageId || page.id === state.pageId);
  if (state.platform === 'facebook') {
    return pages.map((page) => ({ platformUserId: page.id, displayName: page.name, tokens: { accessToken: page.accessToken } }));
  }
  return pages
    .filter((page) => page.instagram)
    .map((page) => ({
      platformUserId: page.instagram!.id,
      displayName: page.instagram!.username ? `@${page.instagram!.username}` : page.name,
      tokens: { accessToken: page.accessToken },
    }));
}

export async function storeConnectedAccounts(
  deps: { orm: MikroORM; cipher: TokenCipher; now?: () => Date },
  state: OAuthStateData,
  identities: ConnectedIdentity[],
): Promise<ConnectResult> {
  if (identities.length === 0) {
    const what = state.platform === 'instagram' ? 'Instagram professional account linked to a Facebook Page' : 'Facebook Page';
    throw new OAuthError(providerOf[state.platform], 'no_accounts', `The consent gave access to no ${what}${state.pageId ? ` with id ${state.pageId}` : ''}.`);
  }
  const now = deps.now?.() ?? new Date();
  const seconds = (value: number | undefined) => (value === undefined ? null : new Date(now.getTime() + value * 1000));
  return deps.orm.em.fork().transactional(async (em) => {
    const stored: SocialAccount[] = [];
    for (const identity of identities) {
      const where = { businessId: state.businessId, platform: state.platform, platformUserId: identity.platformUserId };
      const account = (await em.findOne(SocialAccount, where)) ?? em.create(SocialAccount, { ...where, accessTokenEnc: '' });
      account.displayName = identity.displayName;
      // Sealed for this account (its business, platform and user id: known before the row is inserted).
      account.accessTokenEnc = deps.cipher.encrypt(identity.tokens.accessToken, account, 'access');
      account.refreshTokenEnc = identity.tokens.refreshToken ? deps.cipher.encrypt(identity.tokens.refreshToken, account, 'refresh') : null;
      account.expiresAt = seconds(identity.tokens.expiresIn);
      account.refreshTokenExpiresAt = seconds(identity.tokens.refreshTokenExpiresIn);
      account.tokenRefreshedAt = now;
      account.needsReconnect = false;
      account.isActive = true;
      account.updatedAt = now;
      stored.push(account);
    }
    await em.flush();
    return {
      platform: state.platform,
      accounts: stored.map((a) => ({ id: a.id, platformUserId: a.platformUserId, displayName: a.displayName ?? null })),
    };
  });
}
