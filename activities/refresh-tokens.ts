/**
 * Token refresh, two ways:
 * - `refreshExpiringTokens`, the activity of the `herald-token-refresh` Schedule's workflow: every
 *   account whose access token expires within the window and that has a refresh token is refreshed
 *   (one row lock per account, see src/oauth/refresh.ts). Input and result hold counts only.
 * - `withTokenRefresh`, used by publishPart: a call that fails with the `auth` class gets one
 *   refresh and one retry; when the refresh fails the target fails with "reconnect the account".
 */
import { Context } from '@temporalio/activity';
import type { MikroORM } from '@mikro-orm/postgresql';
import { SocialAccount } from '../src/db/entities';
import type { Logger } from '../src/logger';
import type { OAuthProviders } from '../src/oauth/providers';
import { accountsExpiringBefore, refreshAccountToken, type RefreshOutcome } from '../src/oauth/refresh';
import { PublishError, type PublisherCredentials } from '../src/platforms/publisher';
import type { TokenCipher } from '../src/security/token-cipher';
import type { RefreshTokensInput, RefreshTokensSummary } from '../workflows/refresh-tokens';

export interface RefreshActivityDeps {
  orm: MikroORM;
  cipher: TokenCipher;
  logger: Logger;
  oauth?: OAuthProviders;
  clock?: () => Date;
}

export const DEFAULT_REFRESH_WINDOW_MINUTES = 30;

export function createRefreshActivities(deps: RefreshActivityDeps) {
  const clock = deps.clock ?? (() => new Date());
  return {
    async refreshExpiringTokens(input: RefreshTokensInput = {}): Promise<RefreshTokensSummary> {
      const windowMinutes = input.windowMinutes ?? DEFAULT_REFRESH_WINDOW_MINUTES;
      const before = new Date(clock().getTime() + windowMinutes * 60_000);
      const ids = await accountsExpiringBefore(deps.orm, before);
      const summary: RefreshTokensSummary = { checked: ids.length, refreshed: 0, needsReconnect: 0, failed: 0, skipped: 0 };
      for (const id of ids) {
        heartbeat();
        const { outcome } = await refreshAccountToken(deps, id, { onlyIfExpiringBefore: before });
        count(summary, outcome);
      }
      if (ids.length > 0) deps.logger.info({ ...summary }, 'token refresh sweep');
      return summary;
    },
  };
}

function count(summary: RefreshTokensSummary, outcome: RefreshOutcome): void {
  if (outcome === 'refreshed') summary.refreshed += 1;
  else if (outcome === 'needs_reconnect') summary.needsReconnect += 1;
  else if (outcome === 'failed') summary.failed += 1;
  else summary.skipped += 1;
}

function heartbeat(): void {
  try {
    Context.current().heartbeat();
  } catch {
    // outside an activity
  }
}

const platformLabel: Record<string, string> = { twitter: 'X', linkedin: 'LinkedIn', facebook: 'Facebook', instagram: 'Instagram' };

/**
 * Runs `call` with the account's token; an `auth` failure that certainly posted nothing gets one
 * refresh of the token (when the account has a refresh token) and one more call with the new one.
 * `credentials.accessToken` is updated in place, so later calls (reconciliation) use the new token.
 */
export async function withTokenRefresh<T>(
  deps: RefreshActivityDeps,
  account: Pick<SocialAccount, 'id' | 'platform' | 'accessTokenEnc' | 'refreshTokenEnc'>,
  credentials: PublisherCredentials,
  call: (credentials: PublisherCredentials) => Promise<T>,
): Promise<T> {
  try {
    return await call(credentials);
  } catch (err) {
    if (!(err instanceof PublishError) || err.failureClass !== 'auth' || err.mayHavePosted || !account.refreshTokenEnc) throw err;
    const label = platformLabel[account.platform] ?? account.platform;
    const { outcome, reason, transient } = await refreshAccountToken(deps, account.id, { staleAccessTokenEnc: account.accessTokenEnc });
    if (transient) {
      // The provider is down for a moment: retry the part later (a new attempt refreshes again).
      throw new PublishError('retryable', `The ${label} access token was refused and could not be refreshed right now (${reason}); retrying.`, { mayHavePosted: false });
    }
    if (outcome !== 'refreshed' && outcome !== 'already_refreshed') {
      const why = reason ? ` (${reason})` : '';
      throw new PublishError('auth', `The ${label} access token was refused and could not be refreshed${why}: reconnect the ${label} account.`, { mayHavePosted: false, httpStatus: err.httpStatus });
    }
    const fresh = await deps.orm.em.fork().findOneOrFail(SocialAccount, { id: account.id });
    credentials.accessToken = deps.cipher.decrypt(fresh.accessTokenEnc, fresh, 'access');
    deps.logger.info({ accountId: account.id, outcome }, 'access token refreshed after an auth failure: retrying once');
    return call(credentials);
  }
}
