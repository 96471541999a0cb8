/**
 * Connecting accounts from the dashboard: "Connect X" goes through the provider's consent page (the
 * fake OAuth server of test/fakes) and back, and the account appears; a refused consent stores
 * nothing; disconnect asks first; a consent page opened from someone else's link (a browser without
 * the flow's cookie) connects nothing. Real API, Redis (the one-time state) and Postgres.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Harness, Tenant } from '../support/harness';
import { closeDashboard, newContext, openDashboard, refusedWith, screenshot, unexpectedErrors, type DashboardSession, type Watched } from './support';

jest.setTimeout(120_000);

let session: DashboardSession | undefined;
let h: Harness;
let tenant: Tenant;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let watched: Watched;

beforeAll(async () => {
  session = await openDashboard({ tenant: { name: `Accounts e2e ${Date.now()}`, x: false }, signIn: true });
  ({ h, tenant, browser, context, page, watched } = session);
});
afterAll(() => closeDashboard(session));

const accountsApi = async () => (await tenant.call('GET', `/api/v2/accounts?businessId=${tenant.businessId}`)).body.accounts as any[];

describe('connecting accounts in the dashboard', () => {
  test('when "Connect X" is clicked and the person consents, then the X account is stored and listed, and the page says so', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
    await page.getByText('No account is connected yet.').waitFor();
    const username = `herald_e2e_${Date.now().toString(36)}`;
    const xUserId = `${Date.now()}`;
    h.fakeOAuth.setNextX({ id: xUserId, username, name: 'Herald e2e' });

    await page.getByTestId('connect-twitter').click();
    // Through the provider's page and back to the dashboard.
    await page.waitForURL((url) => url.searchParams.has('connected') || url.hash === '#/accounts', { timeout: 15_000 });
    await page.getByTestId('account-list').getByText(xUserId).waitFor();
    await page.getByText('X: account connected.').waitFor();
    expect(new URL(page.url()).search).toBe('');

    const stored = await accountsApi();
    expect(stored).toEqual([expect.objectContaining({ platform: 'twitter', platformUserId: xUserId, isActive: true, needsReconnect: false })]);
    expect(JSON.stringify(stored)).not.toMatch(/token/i);
    // The flow's browser-binding cookie was set by the dashboard's start fetch, sent back, then cleared.
    expect((await context.cookies()).filter((cookie) => cookie.name.startsWith('herald_oauth_'))).toEqual([]);
    await screenshot(page, 'accounts-connected');
    expect(unexpectedErrors(watched)).toEqual([]);
  });

  test('when the person refuses consent, then nothing is stored and the dashboard stays signed in', async () => {
    const before = (await accountsApi()).length;
    h.fakeOAuth.denyNext();
    await page.goto(`${h.app.url}/#/accounts`);
    await page.getByTestId('connect-linkedin').click();
    // The provider sends the browser back with error=access_denied: the API answers 400 in its error shape.
    await page.waitForURL((url) => url.pathname.includes('/oauth/linkedin/callback'));
    expect(await page.textContent('body')).toMatch(/denied|refused/i);
    expect((await accountsApi()).length).toBe(before);
    await page.goto(`${h.app.url}/#/accounts`);
    await page.getByRole('heading', { name: 'Accounts', exact: true }).waitFor();
    // The 400 is the callback's answer; on that plain JSON page Chromium also asks for /favicon.ico (404).
    expect(unexpectedErrors(watched, [refusedWith(400), refusedWith(404)])).toEqual([]);
    watched.errors.length = 0;
  });

  test("when another browser opens the consent link of a flow this business started, then the callback refuses it and nothing is stored", async () => {
    const before = (await accountsApi()).length;
    // Someone with this business's key starts a flow (their browser gets the cookie) and sends the link on.
    const started = await tenant.call('GET', `/api/v2/oauth/twitter/start?businessId=${tenant.businessId}&redirect=0`);
    expect(started.status).toBe(200);
    h.fakeOAuth.setNextX({ id: `${Date.now()}9`, username: `victim_${Date.now().toString(36)}`, name: 'Victim' });
    const victimContext = await newContext(browser);
    try {
      const victim = await victimContext.newPage();
      await victim.goto(started.body.url);
      await victim.waitForURL((url) => url.pathname.includes('/oauth/twitter/callback'));
      const body = await victim.textContent('body');
      expect(body).toMatch(/did not start this connection/);
      expect(JSON.parse(body!).error.details[0].path).toBe('cookie');
      expect((await accountsApi()).length).toBe(before);
    } finally {
      await victimContext.close();
    }
  });

  test('when an account is disconnected (after confirming), then it leaves the list and the API shows it inactive', async () => {
    await page.goto(`${h.app.url}/#/accounts`);
    const list = page.getByTestId('account-list');
    await list.getByRole('button', { name: 'Disconnect' }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByText('No account is connected yet.').waitFor();
    const stored = await accountsApi();
    expect(stored.every((account) => !account.isActive)).toBe(true);
    expect(unexpectedErrors(watched)).toEqual([]);
  });
});
