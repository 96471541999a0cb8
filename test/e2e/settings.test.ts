/**
 * Settings → API keys in headless Chromium against a real Herald (API, Postgres, Redis): the list
 * (name, prefix, created, last used, expiry, status), create with a name and an expiry (the key shown
 * once, and working), refusals shown at their field, rotate and revoke after confirming — including
 * the key the dashboard itself is signed in with.
 */
import type { Locator, Page } from 'playwright-core';
import { call, type Harness, type Tenant } from '../support/harness';
import { closeDashboard, horizontalOverflow, openDashboard, refusedWith, screenshot, unexpectedErrors, type DashboardSession, type Watched } from './support';

jest.setTimeout(120_000);

let session: DashboardSession | undefined;
let h: Harness;
let tenant: Tenant;
let page: Page;
let watched: Watched;

beforeAll(async () => {
  session = await openDashboard({ tenant: { name: `Settings e2e ${Date.now()}`, x: false }, signIn: true });
  ({ h, tenant, page, watched } = session);
});
afterAll(() => closeDashboard(session));

const works = async (apiKey: string) => (await call(h.app.url, apiKey, 'GET', '/api/v2/businesses')).status;
const keyItems = () => page.getByTestId('key-list').getByTestId('key-item');
const item = (name: string, status: 'Active' | 'Revoked' | 'Expired' = 'Active'): Locator =>
  keyItems().filter({ hasText: name }).filter({ has: page.locator('.badge', { hasText: new RegExp(`^${status}$`) }) });

/** The dialog that shows a new key once: its value, then closed. */
async function takeNewKey(): Promise<string> {
  const dialog = page.getByTestId('new-key');
  await dialog.waitFor();
  await dialog.getByText('this is the only time it is shown').waitFor();
  const value = await dialog.getByLabel('API key').inputValue();
  await dialog.getByRole('button', { name: 'I have stored it' }).click();
  await dialog.waitFor({ state: 'detached' });
  return value;
}

describe('Settings → API keys', () => {
  test('when Settings is opened from the navigation, then the signed-in key is listed with its prefix, "This session", and no secret', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    const own = item('bootstrap');
    await own.waitFor();
    await own.getByText('This session').waitFor();
    await own.getByText(`${tenant.apiKey.slice(0, 10)}…`).waitFor();
    expect(await own.textContent()).toMatch(/created .*(last used|never used).*does not expire/s);
    expect(await page.content()).not.toContain(tenant.apiKey);
    expect(unexpectedErrors(watched)).toEqual([]);
  });

  test('when a key is created with a name and an expiry, then it is shown once, works, and the list shows it with its expiry', async () => {
    await page.getByLabel('Name', { exact: true }).fill('CI e2e');
    await page.getByLabel('Expires', { exact: true }).selectOption({ label: 'In 30 days' });
    await page.getByRole('button', { name: 'Create key' }).click();
    const plain = await takeNewKey();
    expect(plain).toMatch(/^hk_/);
    expect(await works(plain)).toBe(200);

    const created = item('CI e2e');
    await created.waitFor();
    await created.getByText(`${plain.slice(0, 10)}…`).waitFor();
    expect(await created.textContent()).toContain('expires');
    // Shown once: not in the page any more.
    expect(await page.content()).not.toContain(plain);
    await screenshot(page, 'settings-api-keys');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(unexpectedErrors(watched)).toEqual([]);
  });

  test('when the name is missing or the expiry is in the past, then the form says so at the field and no key is made', async () => {
    const before = await keyItems().count();
    await page.getByLabel('Name', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Give the key a name').waitFor();

    await page.getByLabel('Name', { exact: true }).fill('Too late');
    await page.getByLabel('Expires', { exact: true }).selectOption({ label: 'On a date…' });
    await page.getByLabel('Expiry date').fill('2020-01-01');
    await page.getByRole('button', { name: 'Create key' }).click();
    // The API's 400 names the field; the form shows it there.
    await page.getByText('Expiry must be in the future.').waitFor();
    expect(await keyItems().count()).toBe(before);
    await page.getByLabel('Expires', { exact: true }).selectOption({ label: 'Never' });
    await page.getByLabel('Name', { exact: true }).fill('');
    expect(unexpectedErrors(watched, [refusedWith(400)])).toEqual([]);
    watched.errors.length = 0;
  });

  test('when a key is rotated and its successor revoked (each confirmed), then the old key and the revoked one answer 401 and the list says so', async () => {
    const oldPlain = await (async () => {
      await page.getByLabel('Name', { exact: true }).fill('Rotating e2e');
      await page.getByRole('button', { name: 'Create key' }).click();
      return takeNewKey();
    })();
    await item('Rotating e2e').getByRole('button', { name: 'Rotate' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate "Rotating e2e"?' });
    await confirm.getByRole('button', { name: 'Rotate' }).click();
    const newPlain = await takeNewKey();
    expect(newPlain).not.toBe(oldPlain);
    expect(await works(oldPlain)).toBe(401);
    expect(await works(newPlain)).toBe(200);
    await item('Rotating e2e', 'Revoked').waitFor();

    await item('Rotating e2e').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: 'Revoke "Rotating e2e"?' }).getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('revoked. Requests with it are refused from now on.').waitFor();
    // The notice can show before the list is read again: wait for the list itself.
    await item('Rotating e2e').waitFor({ state: 'detached' });
    await item('Rotating e2e', 'Revoked').nth(1).waitFor();
    expect(await item('Rotating e2e', 'Revoked').count()).toBe(2);
    expect(await item('Rotating e2e').count()).toBe(0);
    expect(await works(newPlain)).toBe(401);
    expect(unexpectedErrors(watched)).toEqual([]);
  });

  test('when the key of this session is rotated, then the dashboard carries on with the new key (also after a reload); revoking it signs out', async () => {
    await item('bootstrap').getByRole('button', { name: 'Rotate' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate "bootstrap"?' });
    await confirm.getByText('it switches to the new one').waitFor();
    await confirm.getByRole('button', { name: 'Rotate' }).click();
    const successor = await takeNewKey();
    expect(await works(tenant.apiKey)).toBe(401);
    expect(await works(successor)).toBe(200);
    await item('bootstrap').getByText('This session').waitFor();

    await page.reload();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await item('bootstrap').getByText('This session').waitFor();

    await item('bootstrap').getByRole('button', { name: 'Revoke' }).click();
    const revoke = page.getByRole('dialog', { name: 'Revoke "bootstrap"?' });
    await revoke.getByText('you will be signed out').waitFor();
    await revoke.getByRole('button', { name: 'Revoke' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await works(successor)).toBe(401);
    expect(unexpectedErrors(watched)).toEqual([]);
  });
});
