/**
 * The dashboard in headless Chromium against a whole Herald (real API, Temporal, Postgres, Redis; fake
 * X), part 1: sign in, compose with live previews that are exactly the engine's parts, publish now,
 * and what the page says when the API or X refuses.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { splitForPlatform } from '../../src/domain/platform-rules';
import { findRepeatedParts } from '../../src/domain/repeated-parts';
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

  test('when the text makes two identical X parts, then the X preview names them and nothing can be sent; numbering lifts it', async () => {
    await toggle('linkedin').check(); // LinkedIn posts this text whole: only X should warn
    await page.getByLabel(/Number the parts/).uncheck();
    const details = 'Doors open at 7 pm at the Old Mill on Harbour Street. Entry is free, but places are limited: reply to this post or write to tickets@acme.example to reserve yours, and bring a friend who loves live music!';
    const text = [
      `Our summer concert ${Date.now()} is back this Friday, with three local bands, food trucks from the market and a late bar on the terrace.`,
      details,
      'The line-up: The Gulls at 7:30, Low Tide at 8:30 and Harbour Lights at 9:30, with a surprise guest closing the night.',
      details,
    ].join('\n\n');
    expect(findRepeatedParts(splitForPlatform('twitter', text).parts)).toEqual([{ index: 3, sameAs: 1 }]);
    expect(splitForPlatform('linkedin', text).parts).toHaveLength(1);
    await textArea().fill(text);

    const twitter = page.getByTestId('preview-twitter');
    const repeatedWarning = twitter.locator('[data-warning="repeated_parts"]');
    await repeatedWarning.waitFor();
    const warning = await repeatedWarning.textContent();
    expect(warning).toContain('Parts 2 and 4 of the X thread have the same text, and X refuses a repeated post');
    expect(warning).toContain('Number the parts of a thread');
    await expect(repeatedWarning.getAttribute('class')).resolves.toContain('blocking');
    const repeatedCards = twitter.locator('[data-testid="preview-part"][data-repeated]');
    await expect(repeatedCards.locator('[data-part-text]').allTextContents()).resolves.toEqual([details, details]);
    await expect(repeatedCards.locator('[data-part-repeat]').allTextContents()).resolves.toEqual(['Same text as part 4', 'Same text as part 2']);
    await expect(page.getByTestId('preview-linkedin').locator('[data-warning="repeated_parts"]').count()).resolves.toBe(0);

    // Both ways out are disabled, and the reason is next to them and is their accessible description.
    const publishButton = page.getByRole('button', { name: 'Publish now' });
    const scheduleButton = page.getByRole('button', { name: 'Schedule…' });
    await expect(publishButton.isDisabled()).resolves.toBe(true);
    await expect(scheduleButton.isDisabled()).resolves.toBe(true);
    const heldBack = page.getByTestId('held-back');
    await expect(heldBack.textContent()).resolves.toContain('Parts 2 and 4 of the X thread have the same text');
    const heldBackId = await heldBack.getAttribute('id');
    for (const button of [publishButton, scheduleButton]) {
      await expect(button.getAttribute('aria-describedby').then((ids) => ids?.split(' '))).resolves.toContain(heldBackId);
    }
    await screenshot(page, 'compose-repeated-parts');

    // Numbered, every part differs (" 2/4" and " 4/4"): the warning goes and publishing is possible again.
    await page.getByLabel(/Number the parts/).check();
    await repeatedWarning.waitFor({ state: 'detached' });
    const numbered = splitForPlatform('twitter', text, { numbering: true }).parts;
    expect(findRepeatedParts(numbered)).toEqual([]);
    await expect(twitter.locator('[data-part-text]').allTextContents()).resolves.toEqual(numbered.map((part) => part.text));
    await expect(repeatedWarning.count()).resolves.toBe(0);
    await expect(repeatedCards.count()).resolves.toBe(0);
    await expect(publishButton.isEnabled()).resolves.toBe(true);
    await expect(scheduleButton.isEnabled()).resolves.toBe(true);
    await expect(heldBack.textContent()).resolves.toBe('');
    await expect(publishButton.getAttribute('aria-describedby')).resolves.not.toContain(heldBackId);

    await toggle('linkedin').uncheck();
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
