/**
 * Proactive token refresh (the `herald-token-refresh` Temporal Schedule → refreshTokensWorkflow →
 * refreshExpiringTokens) and the one refresh on an auth failure while publishing. Real Temporal,
 * Postgres, Redis, API and worker; the OAuth servers and X are fakes.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { SocialAccount } from '../../src/db/entities';
import { createLogger } from '../../src/logger';
import { ensureTokenRefreshSchedule, REFRESH_TOKENS_WORKFLOW_TYPE, TOKEN_REFRESH_SCHEDULE_ID } from '../../src/oauth/refresh-schedule';
import { refreshAccountToken } from '../../src/oauth/refresh';
import { createRefreshActivities } from '../../activities/refresh-tokens';
import { heraldDataConverter, PayloadDecryptionError } from '../../src/temporal/payload-codec';
import { reencryptTokens } from '../../src/admin';
import { sealV1 } from '../support/legacy-token';
import { createHarness, eventually, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(90_000);

let h: Harness;
const scheduleIds: string[] = [];

beforeAll(async () => {
  h = await createHarness();
  // Tokens the fake OAuth server issues for X are valid at the fake X from then on.
  h.fakeOAuth.onAccessToken = (issued) => {
    if (issued.provider === 'x') h.fakeX.addUser(issued.user.id, issued.accessToken, issued.user.username);
  };
});
afterAll(async () => {
  for (const id of scheduleIds) await h?.temporal.schedule.getHandle(id).delete().catch(() => undefined);
  await h?.close();
});

const logger = createLogger('silent');
const refreshDeps = () => ({ orm: h.orm, cipher: h.cipher, logger, oauth: h.oauth });

/** Connects an X (or LinkedIn) account of a new business through the real OAuth flow. */
async function connected(platform: 'twitter' | 'linkedin' = 'twitter'): Promise<{ tenant: Tenant; account: SocialAccount; xUserId: string }> {
  const tenant = await h.tenant({ x: false });
  const xUserId = `19${Date.now()}${Math.floor(Math.random() * 1000)}`;
  if (platform === 'twitter') h.fakeOAuth.setNextX({ id: xUserId, username: `refresh_${randomBytes(3).toString('hex')}`, name: 'Refresh' });
  const start = await fetch(`${h.app.url}/api/v2/oauth/${platform}/start?businessId=${tenant.businessId}`, { redirect: 'manual', headers: { Authorization: `Bearer ${tenant.apiKey}` } });
  // The browser that started the flow comes back with the cookie start set.
  const cookie = start.headers.getSetCookie().map((line) => line.split(';')[0]!).join('; ');
  const consent = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const done = await fetch(consent.headers.get('location')!, { redirect: 'manual', headers: { Cookie: cookie } });
  expect(done.status).toBe(302);
  const account = await h.orm.em.fork().findOneOrFail(SocialAccount, { businessId: tenant.businessId, platform });
  return { tenant, account, xUserId };
}

const reload = (id: number) => h.orm.em.fork().findOneOrFail(SocialAccount, { id });
const expiringIn = (id: number, minutes: number) => h.orm.em.fork().nativeUpdate(SocialAccount, { id }, { expiresAt: new Date(Date.now() + minutes * 60_000) });

describe('the herald-token-refresh schedule', () => {
  test('when ensured twice, then one schedule exists, visible to any client, every N minutes, starting refreshTokensWorkflow on the task queue', async () => {
    expect(TOKEN_REFRESH_SCHEDULE_ID).toBe('herald-token-refresh');
    const scheduleId = `herald-token-refresh-test-${randomBytes(4).toString('hex')}`;
    scheduleIds.push(scheduleId);
    await ensureTokenRefreshSchedule(h.temporal, { scheduleId, taskQueue: h.taskQueue, intervalMinutes: 10, windowMinutes: 30 });
    const first = await h.temporal.schedule.getHandle(scheduleId).describe();
    expect(first.spec.intervals?.[0]?.every).toBe(10 * 60_000);
    expect(first.action).toMatchObject({ type: 'startWorkflow', workflowType: REFRESH_TOKENS_WORKFLOW_TYPE, taskQueue: h.taskQueue });
    expect(first.policies.overlap).toBe('SKIP');

    // Idempotent at every start: an existing schedule is updated in place.
    await ensureTokenRefreshSchedule(h.temporal, { scheduleId, taskQueue: h.taskQueue, intervalMinutes: 5, windowMinutes: 30 });
    const second = await h.temporal.schedule.getHandle(scheduleId).describe();
    expect(second.spec.intervals?.[0]?.every).toBe(5 * 60_000);
    expect(second.action).toMatchObject({ workflowType: REFRESH_TOKENS_WORKFLOW_TYPE, taskQueue: h.taskQueue });
    await expect(ensureTokenRefreshSchedule(h.temporal, { scheduleId, taskQueue: h.taskQueue, intervalMinutes: 5, windowMinutes: 30 })).resolves.toBe(scheduleId);
  });

  test('when the payload key that sealed the schedule was dropped, then ensuring it makes it anew with the current key', async () => {
    const scheduleId = `herald-token-refresh-test-${randomBytes(4).toString('hex')}`;
    scheduleIds.push(scheduleId);
    const oldKeyClient = new Client({
      connection: h.temporal.connection,
      namespace: h.temporal.options.namespace,
      dataConverter: heraldDataConverter([{ id: 'dropped', key: randomBytes(32) }]),
    });
    await ensureTokenRefreshSchedule(oldKeyClient, { scheduleId, taskQueue: h.taskQueue, intervalMinutes: 10, windowMinutes: 30 });
    await expect(h.temporal.schedule.getHandle(scheduleId).describe()).rejects.toThrow(PayloadDecryptionError);

    await expect(ensureTokenRefreshSchedule(h.temporal, { scheduleId, taskQueue: h.taskQueue, intervalMinutes: 5, windowMinutes: 30 })).resolves.toBe(scheduleId);
    const remade = await h.temporal.schedule.getHandle(scheduleId).describe();
    expect(remade.spec.intervals?.[0]?.every).toBe(5 * 60_000);
    expect(remade.action).toMatchObject({ workflowType: REFRESH_TOKENS_WORKFLOW_TYPE, taskQueue: h.taskQueue, args: [{ windowMinutes: 30 }] });
  });

  test('when the schedule fires, then an X token expiring soon is refreshed and its refresh token rotated', async () => {
    const { account } = await connected();
    const oldRefresh = h.cipher.decrypt(account.refreshTokenEnc!, account, 'refresh');
    const oldAccess = h.cipher.decrypt(account.accessTokenEnc, account, 'access');
    await expiringIn(account.id, 5);

    const scheduleId = `herald-token-refresh-test-${randomBytes(4).toString('hex')}`;
    scheduleIds.push(scheduleId);
    await ensureTokenRefreshSchedule(h.temporal, { scheduleId, taskQueue: h.taskQueue, intervalMinutes: 10, windowMinutes: 30 });
    const handle = h.temporal.schedule.getHandle(scheduleId);
    await handle.trigger();

    const run = await eventually(async () => (await handle.describe()).info.recentActions[0]?.action.workflow, 20_000, 'the schedule to start a run');
    const summary = await h.temporal.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result();
    expect(summary.refreshed).toBeGreaterThanOrEqual(1);
    // Counts only: no token in the workflow's input or result.
    const history = JSON.stringify(await h.temporal.workflow.getHandle(run.workflowId, run.firstExecutionRunId).fetchHistory());
    expect(history).not.toContain(oldRefresh);

    const after = await reload(account.id);
    const newAccess = h.cipher.decrypt(after.accessTokenEnc, after, 'access');
    const newRefresh = h.cipher.decrypt(after.refreshTokenEnc!, after, 'refresh');
    expect(newAccess).not.toBe(oldAccess);
    expect(newRefresh).not.toBe(oldRefresh);
    expect(after.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 7000_000);
    expect(after.needsReconnect).toBe(false);
    expect(h.fakeOAuth.isAccessTokenValid(newAccess)).toBe(true);
  });
});

describe('refreshExpiringTokens', () => {
  test('when the provider answers invalid_grant, then the account needs reconnecting and its tokens are kept', async () => {
    const { account } = await connected();
    h.fakeOAuth.revokeRefreshToken(h.cipher.decrypt(account.refreshTokenEnc!, account, 'refresh'));
    await expiringIn(account.id, 10);
    const summary = await createRefreshActivities(refreshDeps()).refreshExpiringTokens({ windowMinutes: 30 });
    expect(summary.needsReconnect).toBeGreaterThanOrEqual(1);
    const after = await reload(account.id);
    expect(after.needsReconnect).toBe(true);
    expect(after.accessTokenEnc).toBe(account.accessTokenEnc);
    // A dead account is not tried again by the next sweep.
    const requests = h.fakeOAuth.requests.length;
    await createRefreshActivities(refreshDeps()).refreshExpiringTokens({ windowMinutes: 30 });
    expect(h.fakeOAuth.requests.slice(requests).filter((r) => r.path === '/2/oauth2/token')).toHaveLength(0);
  });

  test('when the token expires later than the window, or the provider is down, then nothing changes', async () => {
    const { account } = await connected();
    await expiringIn(account.id, 90);
    await createRefreshActivities(refreshDeps()).refreshExpiringTokens({ windowMinutes: 30 });
    expect((await reload(account.id)).accessTokenEnc).toBe(account.accessTokenEnc);

    await expiringIn(account.id, 5);
    h.fakeOAuth.failTokenEndpoint(1);
    const result = await refreshAccountToken(refreshDeps(), account.id);
    expect(result.outcome).toBe('failed');
    const after = await reload(account.id);
    expect(after.accessTokenEnc).toBe(account.accessTokenEnc);
    expect(after.needsReconnect).toBe(false);
  });

  test('when two refreshers race for one account, then the refresh token is spent once and both see the new token', async () => {
    const { account } = await connected();
    await expiringIn(account.id, 5);
    const before = h.fakeOAuth.refreshCount;
    const soon = new Date(Date.now() + 30 * 60_000);
    const outcomes = await Promise.all([
      refreshAccountToken(refreshDeps(), account.id, { onlyIfExpiringBefore: soon }),
      refreshAccountToken(refreshDeps(), account.id, { onlyIfExpiringBefore: soon }),
      refreshAccountToken(refreshDeps(), account.id, { staleAccessTokenEnc: account.accessTokenEnc }),
    ]);
    expect(outcomes.filter((o) => o.outcome === 'refreshed')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome !== 'refreshed').map((o) => o.outcome)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(not_needed|already_refreshed)$/)]),
    );
    expect(outcomes.filter((o) => o.outcome === 'needs_reconnect' || o.outcome === 'failed')).toHaveLength(0);
    expect(h.fakeOAuth.refreshCount - before).toBe(1);
    expect((await reload(account.id)).needsReconnect).toBe(false);
  });

  test('when a LinkedIn token is refreshed, then the access token changes and the (non-rotating) refresh token is kept', async () => {
    const { account } = await connected('linkedin');
    const refresh = h.cipher.decrypt(account.refreshTokenEnc!, account, 'refresh');
    await expiringIn(account.id, 5);
    expect((await refreshAccountToken(refreshDeps(), account.id)).outcome).toBe('refreshed');
    const after = await reload(account.id);
    expect(after.accessTokenEnc).not.toBe(account.accessTokenEnc);
    expect(h.cipher.decrypt(after.refreshTokenEnc!, after, 'refresh')).toBe(refresh);
    expect(after.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 59 * 86400_000);
  });
});

describe('publishing with an expired access token', () => {
  /** The stored access token is one X no longer accepts (401), as after its 2 hours. */
  async function expire(account: SocialAccount): Promise<void> {
    await h.orm.em.fork().nativeUpdate(SocialAccount, { id: account.id }, {
      accessTokenEnc: h.cipher.encrypt(`expired-${randomBytes(8).toString('hex')}`, account, 'access'),
      expiresAt: new Date(Date.now() - 60_000),
    });
  }

  test('when X answers 401, then the token is refreshed once and the post is published', async () => {
    const { tenant, account, xUserId } = await connected();
    await expire(account);
    const before = h.fakeOAuth.refreshCount;
    const content = `Refreshed on the way ${Date.now()}`;
    const response = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('published');
    expect(h.fakeX.tweetsBy(xUserId).map((t) => t.text)).toEqual([content]);
    expect(h.fakeOAuth.refreshCount - before).toBe(1);
    const after = await reload(account.id);
    expect(h.fakeOAuth.isAccessTokenValid(h.cipher.decrypt(after.accessTokenEnc, after, 'access'))).toBe(true);
  });

  test('when the token endpoint is down for a moment, then the part is retried and published after a refresh', async () => {
    const { tenant, account, xUserId } = await connected();
    await expire(account);
    h.fakeOAuth.failTokenEndpoint(1);
    const before = h.fakeOAuth.refreshCount;
    const content = `Refreshed on the second try ${Date.now()}`;
    const response = await tenant.call('POST', '/api/v2/publish?wait=25', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    expect(response.body.status).toBe('published');
    expect(h.fakeX.tweetsBy(xUserId).map((t) => t.text)).toEqual([content]);
    expect(h.fakeOAuth.refreshCount - before).toBe(1);
    expect((await reload(account.id)).needsReconnect).toBe(false);
  });

  test('when the refresh token is refused too, then the target fails with "reconnect the X account" and nothing is posted', async () => {
    const { tenant, account, xUserId } = await connected();
    h.fakeOAuth.revokeRefreshToken(h.cipher.decrypt(account.refreshTokenEnc!, account, 'refresh'));
    await expire(account);
    const response = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content: `Doomed ${Date.now()}`, platforms: ['twitter'] });
    expect(response.body.status).toBe('failed');
    expect(response.body.targets[0]).toMatchObject({ status: 'failed', errorClass: 'auth' });
    expect(response.body.targets[0].error).toMatch(/reconnect the X account/);
    expect(h.fakeX.tweetsBy(xUserId)).toEqual([]);
    expect((await reload(account.id)).needsReconnect).toBe(true);
  });
});

describe('a token ciphertext copied to another account row', () => {
  /** Raw SQL, as someone with write access to the table (or a bad migration) would do it. */
  const setRaw = (id: number, column: 'access_token_enc' | 'refresh_token_enc', value: string) =>
    h.orm.em.getConnection().execute(`update social_accounts set ${column} = ? where id = ?`, [value, id]);

  test("when A's access token ciphertext is put in B's row, then B's publish fails as an auth failure and nothing is posted with A's token", async () => {
    const a = await connected();
    const b = await connected();
    const aToken = h.cipher.decrypt(a.account.accessTokenEnc, a.account, 'access');
    await setRaw(b.account.id, 'access_token_enc', a.account.accessTokenEnc);
    const refreshes = h.fakeOAuth.refreshCount;

    const response = await b.tenant.call('POST', '/api/v2/publish?wait=20', { businessId: b.tenant.businessId, content: `Not with A's token ${Date.now()}`, platforms: ['twitter'] });

    expect(response.body.status).toBe('failed');
    expect(response.body.targets[0]).toMatchObject({ status: 'failed', errorClass: 'auth' });
    expect(response.body.targets[0].error).toMatch(/cannot be decrypted.*another account/);
    expect(JSON.stringify(response.body)).not.toContain(aToken);
    expect(h.fakeX.tweetsBy(a.xUserId)).toEqual([]);
    expect(h.fakeX.tweetsBy(b.xUserId)).toEqual([]);
    expect(h.fakeOAuth.refreshCount).toBe(refreshes);
  });

  test("when A's refresh token ciphertext is put in B's row, then refreshing B fails cleanly and spends nothing of A's", async () => {
    const a = await connected();
    const b = await connected();
    const aRefresh = h.cipher.decrypt(a.account.refreshTokenEnc!, a.account, 'refresh');
    await setRaw(b.account.id, 'refresh_token_enc', a.account.refreshTokenEnc!);
    await expiringIn(b.account.id, 5);
    const refreshes = h.fakeOAuth.refreshCount;

    const result = await refreshAccountToken(refreshDeps(), b.account.id);

    expect(result.outcome).toBe('failed');
    expect(result.transient).toBeFalsy();
    expect(result.reason).toMatch(/cannot be decrypted.*another account/);
    expect(result.reason).not.toContain(aRefresh);
    expect(h.fakeOAuth.refreshCount).toBe(refreshes);
    const after = await reload(b.account.id);
    expect(after.accessTokenEnc).toBe(b.account.accessTokenEnc);
    // A's refresh token was not spent: A still refreshes.
    await expiringIn(a.account.id, 5);
    expect((await refreshAccountToken(refreshDeps(), a.account.id)).outcome).toBe('refreshed');
  });

  test("when an account's access and refresh ciphertexts are swapped, then publishing fails as an auth failure", async () => {
    const { tenant, account, xUserId } = await connected();
    await setRaw(account.id, 'access_token_enc', account.refreshTokenEnc!);
    await setRaw(account.id, 'refresh_token_enc', account.accessTokenEnc);

    const response = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content: `Swapped ${Date.now()}`, platforms: ['twitter'] });

    expect(response.body.status).toBe('failed');
    expect(response.body.targets[0]).toMatchObject({ status: 'failed', errorClass: 'auth' });
    expect(response.body.targets[0].error).toMatch(/cannot be decrypted.*access token/);
    expect(h.fakeX.tweetsBy(xUserId)).toEqual([]);
    // Refused before any call to X or to the token endpoint: the refresh token was not spent as an access token.
    expect((await reload(account.id)).needsReconnect).toBe(false);
  });
});

describe('tokens sealed before the account binding (v1)', () => {
  const testKey = () => ({ id: 'test1', key: Buffer.from(h.tokenKeysEnv.split(':')[1]!, 'base64') });
  const legacy = async (account: SocialAccount) => {
    const access = h.cipher.decrypt(account.accessTokenEnc, account, 'access');
    const refresh = h.cipher.decrypt(account.refreshTokenEnc!, account, 'refresh');
    await h.orm.em.fork().nativeUpdate(SocialAccount, { id: account.id }, { accessTokenEnc: sealV1(testKey(), access), refreshTokenEnc: sealV1(testKey(), refresh) });
    return { access, refresh };
  };

  test('when an account still holds v1 tokens, then it publishes, and its next refresh stores both tokens as v2', async () => {
    const { tenant, account, xUserId } = await connected('twitter');
    await legacy(account);
    const content = `Still readable ${Date.now()}`;
    const response = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content, platforms: ['twitter'] });
    expect(response.body.status).toBe('published');
    expect(h.fakeX.tweetsBy(xUserId).map((t) => t.text)).toEqual([content]);

    await expiringIn(account.id, 5);
    expect((await refreshAccountToken(refreshDeps(), account.id)).outcome).toBe('refreshed');
    const after = await reload(account.id);
    expect(after.accessTokenEnc.startsWith('v2:test1:')).toBe(true);
    expect(after.refreshTokenEnc!.startsWith('v2:test1:')).toBe(true);
  });

  test('when LinkedIn (which keeps its refresh token) refreshes a v1 account, then the kept refresh token is re-sealed as v2', async () => {
    const { account } = await connected('linkedin');
    const { refresh } = await legacy(account);
    await expiringIn(account.id, 5);
    expect((await refreshAccountToken(refreshDeps(), account.id)).outcome).toBe('refreshed');
    const after = await reload(account.id);
    expect(after.refreshTokenEnc!.startsWith('v2:test1:')).toBe(true);
    expect(h.cipher.decrypt(after.refreshTokenEnc!, after, 'refresh')).toBe(refresh);
  });

  test('when admin reencrypt-tokens runs, then v1 tokens become v2 bound to their row, and a second run changes nothing', async () => {
    const { tenant, account } = await connected();
    const { access, refresh } = await legacy(account);

    const first = await reencryptTokens(h.orm, h.cipher, { businessId: tenant.businessId });
    expect(first).toEqual({ accounts: 1, reencrypted: 1, unreadable: [] });
    const after = await reload(account.id);
    expect(after.accessTokenEnc.startsWith('v2:test1:')).toBe(true);
    expect(h.cipher.decrypt(after.accessTokenEnc, after, 'access')).toBe(access);
    expect(h.cipher.decrypt(after.refreshTokenEnc!, after, 'refresh')).toBe(refresh);
    expect(() => h.cipher.decrypt(after.accessTokenEnc, { ...after, businessId: after.businessId + 1 }, 'access')).toThrow();

    expect(await reencryptTokens(h.orm, h.cipher, { businessId: tenant.businessId })).toEqual({ accounts: 1, reencrypted: 0, unreadable: [] });
  });
});
