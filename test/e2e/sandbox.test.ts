/**
 * The dashboard in sandbox mode (what `npm start` runs with no platform configured): every page says
 * the platforms are fakes, and the "received" page shows what a published post became on each.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createHarness, type Harness, type Tenant } from '../support/harness';
import { launchChromium, newContext, screenshot, signIn, unexpectedErrors, watch, type Watched } from './support';

jest.setTimeout(120_000);

let h: Harness;
let tenant: Tenant;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let watched: Watched;

beforeAll(async () => {
  [h, browser] = await Promise.all([createHarness({ sandbox: true }), launchChromium()]);
  tenant = await h.tenant({ name: `Sandbox e2e ${Date.now()}`, linkedin: true });
  context = await newContext(browser);
  page = await context.newPage();
  watched = watch(page);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await h?.close();
});

describe('the dashboard in sandbox mode', () => {
  test('when signed in, then a banner says the platforms are fakes; after publishing, the sandbox page shows what each fake received', async () => {
    await signIn(page, h.app.url, tenant.apiKey);
    const banner = page.getByTestId('sandbox-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/nothing is sent to the real platforms/i);

    await page.getByRole('link', { name: 'See what they received' }).click();
    await page.getByRole('heading', { name: 'Received by the sandbox' }).waitFor();
    await page.getByText('Nothing yet').waitFor();

    const content = `Sandbox e2e ${Date.now()}: first sentence of the post. Second sentence, with more words in it.`;
    const published = await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content, platforms: ['twitter', 'linkedin'] });
    expect(published.status).toBe(200);
    expect(published.body.status).toBe('published');

    // The page polls: both platforms' copies appear without a reload.
    const list = page.getByTestId('sandbox-posts');
    await list.getByText(content).first().waitFor();
    const items = list.locator('li');
    await expect(items.count()).resolves.toBe(2);
    const texts = await items.allTextContents();
    expect(texts.some((t) => t.includes('X') && t.includes(published.body.targets.find((x: any) => x.platform === 'twitter').parts[0].platformPostId))).toBe(true);
    expect(texts.some((t) => t.includes('LinkedIn') && t.includes(published.body.targets.find((x: any) => x.platform === 'linkedin').parts[0].platformPostId))).toBe(true);
    await screenshot(page, 'sandbox-received');
    expect(unexpectedErrors(watched)).toEqual([]);
  });
});
