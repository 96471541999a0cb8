/**
 * The dashboard in headless Chromium against a whole Herald (real API, Temporal, Postgres, Redis; fake
 * X), part 1: sign in, compose with live previews that are exactly the engine's parts, publish now,
 * and what the page says when the API or X refuses.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { splitForPlatform } from '../../src/domain/platform-rules';
import { createHarness, longText, type Harness, type Tenant } from '../support/harness';
import { horizontalOverflow, inPage, launchChromium, newContext, refusedWith, screenshot, signIn, unexpectedErrors, watch, type Watched } from './support';

jest.setTimeout(120_000);

let h: Harness;
let tenant: Tenant;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let watched: Watched;

beforeAll(async () => {
  [h, browser] = await Promise.all([createHarness(), launchChromium()]);
  tenant = await h.tenant({ name: `Compose e2e ${Date.now()}` });
  // A LinkedIn account too, so the page previews two platforms; the tests publish to X only.
  const linkedIn = await tenant.call('POST', '/api/v2/accounts', {
    businessId: tenant.businessId, platform: 'linkedin', platformUserId: 'urn:li:person:e2e', displayName: 'Acme on LinkedIn', accessToken: 'li-token',
  });
  expect(linkedIn.status).toBe(201);
  context = await newContext(browser);
  page = await context.newPage();
  watched = watch(page);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await h?.close();
});

/** Each flow ends without console errors, except the HTTP refusals it provoked on purpose. */
function expectCleanConsole(allowed: RegExp[] = []) {
  expect(unexpectedErrors(watched, allowed)).toEqual([]);
  watched.errors.length = 0;
}

const textArea = () => page.getByLabel('Post text');
const publishStatus = () => page.getByTestId('publish-status');
const toggle = (platform: string) => page.getByTestId(`toggle-${platform}`).locator('input');

describe('the compose page', () => {
  test('when a wrong key is entered, then sign-in refuses it; with the right key the compose page opens', async () => {
    await page.goto(h.app.url);
    await page.getByLabel('API key').fill('hk_not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('not valid');

    await signIn(page, h.app.url, tenant.apiKey);
    await page.getByRole('heading', { name: 'Compose' }).waitFor();
    expect(await toggle('twitter').isChecked()).toBe(true);
    expect(await toggle('linkedin').isChecked()).toBe(true);
    expectCleanConsole([refusedWith(401)]);
  });

  test('when a long text is typed, then each preview shows exactly the parts splitForPlatform makes, with their counts', async () => {
    const text = `${longText(8)}\n\nRead more at https://example.com/announcements/${Date.now()} #launch @acme`;
    await textArea().fill(text);
    await page.getByLabel(/Number the parts/).check();

    const expected = splitForPlatform('twitter', text, { numbering: true }).parts;
    expect(expected.length).toBeGreaterThan(2);
    const twitter = page.getByTestId('preview-twitter');
    await expect(twitter.locator('[data-part-text]').allTextContents()).resolves.toEqual(expected.map((part) => part.text));
    const lengths = await twitter.locator('[data-part-length]').evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute('data-part-length'))));
    expect(lengths).toEqual(expected.map((part) => part.length));
    await expect(twitter.textContent()).resolves.toContain(`A thread of ${expected.length} posts`);

    const linkedIn = splitForPlatform('linkedin', text, { numbering: true }).parts;
    await expect(page.getByTestId('preview-linkedin').locator('[data-part-text]').allTextContents()).resolves.toEqual(linkedIn.map((part) => part.text));
    await screenshot(page, 'compose-desktop');

    // A word longer than a post can only be cut inside: the splitter's own warning shows.
    const unbreakable = `Too long a word: ${'x'.repeat(300)} and more.`;
    await textArea().fill(unbreakable);
    const split = splitForPlatform('twitter', unbreakable, { numbering: true });
    await expect(twitter.locator('[data-part-text]').allTextContents()).resolves.toEqual(split.parts.map((part) => part.text));
    const hardSplits = split.warnings.filter((w) => w.code === 'hard_split');
    expect(hardSplits.length).toBeGreaterThan(0);
    await expect(twitter.locator('[data-warning="hard_split"]').allTextContents()).resolves.toEqual(hardSplits.map((w) => w.message));
    expectCleanConsole();
  });

  test('when "Publish now" is clicked, then it shows progress, then links to each published part; X received exactly the previewed parts', async () => {
    await toggle('linkedin').uncheck();
    await expect(page.getByTestId('preview-linkedin').count()).resolves.toBe(0);
    const text = longText(7);
    await textArea().fill(text);
    const expected = splitForPlatform('twitter', text, { numbering: true }).parts.map((part) => part.text);
    expect(expected.length).toBeGreaterThan(1);

    h.fakeX.injectFault({ kind: 'slow', delayMs: 1500 }); // long enough to see the loading state
    await page.getByRole('button', { name: 'Publish now' }).click();
    await page.locator('[data-testid="publish-status"][data-state="sending"]').waitFor();
    await expect(page.getByRole('button', { name: 'Publishing…' }).isDisabled()).resolves.toBe(true);

    await page.locator('[data-testid="publish-status"][data-state="published"]').waitFor({ timeout: 30_000 });
    await expect(publishStatus().textContent()).resolves.toContain('Published to X.');
    const links = publishStatus().locator('[data-testid^="link-twitter-"]');
    await expect(links.count()).resolves.toBe(expected.length);
    const hrefs = await links.evaluateAll((nodes) => nodes.map((node) => node.getAttribute('href')));

    const detailsHref = await publishStatus().getByRole('link', { name: /Details of post/ }).getAttribute('href');
    const postId = Number(/#\/posts\/(\d+)/.exec(detailsHref ?? '')?.[1]);
    const { body: post } = await tenant.call('GET', `/api/v2/posts/${postId}`);
    expect(post.status).toBe('published');
    expect(hrefs).toEqual(post.targets[0].parts.map((part: any) => part.url));

    const tweets = h.fakeX.tweetsBy(tenant.xUserId).filter((tweet) => expected.includes(tweet.text));
    expect(tweets.map((tweet) => tweet.text)).toEqual(expected);
    tweets.slice(1).forEach((tweet, i) => expect(tweet.inReplyToTweetId).toBe(tweets[i]!.id));
    expect(hrefs).toEqual(tweets.map((tweet) => `https://x.com/i/web/status/${tweet.id}`));

    await expect(textArea().inputValue()).resolves.toBe('');
    await screenshot(page, 'publish-success');
    expectCleanConsole();
  });

  test('when the text becomes more parts than the API allows, then its field error shows next to the text', async () => {
    await textArea().fill(longText(90));
    await page.getByRole('button', { name: 'Publish now' }).click();
    const contentField = page.locator('.field', { has: textArea() });
    await contentField.locator('.field-error').waitFor();
    await expect(contentField.locator('.field-error').textContent()).resolves.toMatch(/at most 25 are allowed/);
    await expect(textArea().getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(publishStatus().textContent()).resolves.toContain('Not published.');

    // Editing the text clears the error: it was about the old text.
    await textArea().fill('Short again.');
    await expect(contentField.locator('.field-error').count()).resolves.toBe(0);
    expectCleanConsole([refusedWith(400)]);
  });

  test('when X refuses the account\'s token, then the page says nothing was published and to reconnect the account', async () => {
    const text = `A post X will refuse ${Date.now()}`;
    await textArea().fill(text);
    h.fakeX.injectFault({ kind: 'unauthorized' });
    await page.getByRole('button', { name: 'Publish now' }).click();
    await page.locator('[data-testid="publish-status"][data-state="failed"]').waitFor({ timeout: 30_000 });
    const status = await publishStatus().textContent();
    expect(status).toContain('Nothing was published.');
    expect(status).toContain('Reconnect the X account, then publish again.');
    expect(h.fakeX.tweets.filter((tweet) => tweet.text === text)).toHaveLength(0);
    // The text stays, so the person can publish it once the account is reconnected.
    await expect(textArea().inputValue()).resolves.toBe(text);
    await screenshot(page, 'publish-failed');
    expectCleanConsole();
  });

  test('when the person signs out, then the key is gone from the browser, and it never appeared in a URL', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    const stored = await inPage(page, "[sessionStorage.getItem('herald.apiKey'), localStorage.getItem('herald.apiKey')]");
    expect(stored).toEqual([null, null]);
    expect(watched.urls.length).toBeGreaterThan(10);
    expect(watched.urls.filter((url) => url.includes(tenant.apiKey))).toEqual([]);
    expectCleanConsole();
  });

  test('at a phone\'s width (375 px), the compose page fits the screen', async () => {
    const phone = await newContext(browser, { width: 375, height: 812 });
    try {
      const mobile = await phone.newPage();
      const mobileWatch = watch(mobile);
      await signIn(mobile, h.app.url, tenant.apiKey);
      await mobile.getByLabel('Post text').fill(longText(4));
      await mobile.getByTestId('preview-twitter').waitFor();
      expect(await horizontalOverflow(mobile)).toBeLessThanOrEqual(0);
      await screenshot(mobile, 'compose-mobile');
      await mobile.getByRole('button', { name: 'Schedule…' }).click();
      await mobile.getByTestId('schedule-dialog').waitFor();
      expect(await horizontalOverflow(mobile)).toBeLessThanOrEqual(0);
      await screenshot(mobile, 'schedule-dialog-mobile');
      expect(unexpectedErrors(mobileWatch)).toEqual([]);
    } finally {
      await phone.close();
    }
  });
});
