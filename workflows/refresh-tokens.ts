/**
 * Started every few minutes by the `herald-token-refresh` Temporal Schedule: one activity refreshes
 * the access tokens that expire soon. Counts only in and out: tokens never enter history.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createRefreshActivities } from '../activities/refresh-tokens';

export const refreshTokensWorkflowType = 'refreshTokensWorkflow';
export const TOKEN_REFRESH_SCHEDULE_ID = 'herald-token-refresh';

export interface RefreshTokensInput {
  /** Refresh access tokens that expire within this many minutes (default 30). */
  windowMinutes?: number;
}

export interface RefreshTokensSummary {
  checked: number;
  refreshed: number;
  needsReconnect: number;
  failed: number;
  skipped: number;
}

const { refreshExpiringTokens } = proxyActivities<ReturnType<typeof createRefreshActivities>>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', maximumAttempts: 3 },
});

export async function refreshTokensWorkflow(input: RefreshTokensInput = {}): Promise<RefreshTokensSummary> {
  return refreshExpiringTokens(input);
}
