/**
 * Refreshing one account's access token. The account row is locked (SELECT … FOR UPDATE) for the
 * whole exchange, and the new access token and the rotated refresh token are written in that same
 * transaction: two refreshers never both spend the same refresh token (the second one waits, then
 * sees the fresh token and does nothing). A provider that says the grant is dead (invalid_grant)
 * marks the account `needsReconnect`.
 */
import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { SocialAccount } from '../db/entities';
import type { Logger } from '../logger';
import type { TokenCipher } from '../security/token-cipher';
import { OAuthError, refreshTokens } from './http';
import { providerOf, type OAuthProviders } from './providers';

export type RefreshOutcome =
  /** New tokens stored. */
  | 'refreshed'
  /** Another refresher got there first (the access token changed since the caller read it). */
  | 'already_refreshed'
  /** The token does not expire within the window asked about. */
  | 'not_needed'
  /** No refresh token, or a platform whose tokens are not refreshed (Meta Page tokens). */
  | 'not_refreshable'
  /** The provider refused the refresh token: the account is marked needsReconnect. */
  | 'needs_reconnect'
  /** A transient problem (network, 5xx, misconfiguration): nothing changed, try again later. */
  | 'failed';

export interface RefreshDeps {
  orm: MikroORM;
  cipher: TokenCipher;
  oauth?: OAuthProviders;
  logger: Logger;
  clock?: () => Date;
}

export interface RefreshOptions {
  /** Refresh only when the access token expires before this time (the schedule's sweep). */
  onlyIfExpiringBefore?: Date;
  /** The encrypted access token the caller saw fail: if the row holds another one, it was refreshed meanwhile. */
  staleAccessTokenEnc?: string;
}

export interface RefreshResult {
  outcome: RefreshOutcome;
  /** For people and logs; never contains a token. */
  reason?: string;
  /** `failed` because the provider could not be reached or answered 5xx: the same refresh may work later. */
  transient?: boolean;
}

export async function refreshAccountToken(deps: RefreshDeps, accountId: number, options: RefreshOptions = {}): Promise<RefreshResult> {
  const clock = deps.clock ?? (() => new Date());
  const log = deps.logger.child({ accountId });
  const result = await deps.orm.em.fork().transactional(async (em): Promise<RefreshResult> => {
    const account = await em.findOne(SocialAccount, { id: accountId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!account) return { outcome: 'not_refreshable', reason: 'the account no longer exists' };
    if (options.staleAccessTokenEnc !== undefined && account.accessTokenEnc !== options.staleAccessTokenEnc) {
      return { outcome: 'already_refreshed' };
    }
    if (options.onlyIfExpiringBefore && (!account.expiresAt || account.expiresAt > options.onlyIfExpiringBefore)) {
      return { outcome: 'not_needed' };
    }
    const provider = providerOf[account.platform];
    if (!account.refreshTokenEnc || provider === 'meta') return { outcome: 'not_refreshable', reason: 'no refresh token' };
    if (account.needsReconnect) return { outcome: 'needs_reconnect', reason: 'the refresh token was refused before' };
    if (!deps.oauth || !deps.oauth[provider].clientId) {
      return { outcome: 'failed', reason: `OAuth is not configured for ${account.platform}` };
    }
    let refreshToken: string;
    try {
      refreshToken = deps.cipher.decrypt(account.refreshTokenEnc, account, 'refresh');
    } catch (err) {
      return { outcome: 'failed', reason: `the stored refresh token cannot be decrypted (${(err as Error).message})` };
    }
    const now = clock();
    try {
      const tokens = await refreshTokens(provider, deps.oauth, refreshToken);
      account.accessTokenEnc = deps.cipher.encrypt(tokens.accessToken, account, 'access');
      // X rotates refresh tokens; LinkedIn keeps the same one (its lifetime runs from the first consent):
      // re-sealed anyway when it is in an older format or key, so every refresh upgrades the row.
      if (tokens.refreshToken) account.refreshTokenEnc = deps.cipher.encrypt(tokens.refreshToken, account, 'refresh');
      else if (deps.cipher.needsRotation(account.refreshTokenEnc)) account.refreshTokenEnc = deps.cipher.encrypt(refreshToken, account, 'refresh');
      account.expiresAt = tokens.expiresIn === undefined ? null : new Date(now.getTime() + tokens.expiresIn * 1000);
      if (tokens.refreshTokenExpiresIn !== undefined) account.refreshTokenExpiresAt = new Date(now.getTime() + tokens.refreshTokenExpiresIn * 1000);
      account.tokenRefreshedAt = now;
      account.updatedAt = now;
      await em.flush();
      return { outcome: 'refreshed' };
    } catch (err) {
      if (err instanceof OAuthError && err.grantIsDead) {
        account.needsReconnect = true;
        account.updatedAt = now;
        await em.flush();
        return { outcome: 'needs_reconnect', reason: err.message };
      }
      const transient = err instanceof OAuthError && (err.code === 'network' || (err.httpStatus ?? 0) >= 500);
      return { outcome: 'failed', reason: err instanceof Error ? err.message : String(err), transient };
    }
  });
  if (result.outcome === 'refreshed' || result.outcome === 'needs_reconnect' || result.outcome === 'failed') {
    const level = result.outcome === 'refreshed' ? 'info' : 'warn';
    log[level]({ outcome: result.outcome, reason: result.reason }, 'access token refresh');
  }
  return result;
}

/** Accounts the sweep should look at: a refresh token, not dead, access token expiring before `before`. */
export async function accountsExpiringBefore(orm: MikroORM, before: Date, limit = 500): Promise<number[]> {
  const accounts = await orm.em.fork().find(
    SocialAccount,
    { refreshTokenEnc: { $ne: null }, needsReconnect: false, isActive: true, expiresAt: { $ne: null, $lt: before }, platform: { $in: ['twitter', 'linkedin'] } },
    { fields: ['id'], orderBy: { expiresAt: 'asc' }, limit },
  );
  return accounts.map((account) => account.id);
}
