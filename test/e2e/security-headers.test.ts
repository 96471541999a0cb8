/**
 * The dashboard under its Content-Security-Policy, in real Chromium: every page it has renders with
 * no CSP violation (no inline script or style, nothing from another origin), while markup injected
 * into the page cannot run script, and no other site can frame it.
 */
import type { BrowserContext, Page } from 'playwright-core';
import type { Harness, Tenant } from '../support/harness';
import { closeDashboard, inPage, openDashboard, signIn, unexpectedErrors, type DashboardSession, type Watched } from './support';

jest.setTimeout(120_000);

let session: DashboardSession | undefined;
let h: Harness;
let tenant: Tenant;
let context: BrowserContext;
let page: Page;
let watched: Watched;

interface Violation {
  directive: string;
  blocked: string;
}

beforeAll(async () => {
  session = await openDashboard({
    tenant: { name: `CSP e2e ${Date.now()}`, linkedin: true },
    // Runs before the page's own scripts (through the DevTools protocol, not subject to the CSP).
    prepare: (browserContext: BrowserContext) =>
      browserContext.addInitScript({
        content: `window.__cspViolations = [];
          document.addEventListener('securitypolicyviolation', (event) => window.__cspViolations.push({ directive: event.effectiveDirective, blocked: event.blockedURI }));`,
      }),
  });
  ({ h, tenant, context, page, watched } = session);
});
afterAll(() => closeDashboard(session));

const violations = () => inPage<Violation[]>(page, 'window.__cspViolations');

describe('the dashboard under its CSP', () => {
  test('when every page is visited and a thread is previewed, then Chromium reports no CSP violation', async () => {
    const response = await page.goto(h.app.url);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await signIn(page, h.app.url, tenant.apiKey);
    await page.getByRole('heading', { name: 'Compose' }).waitFor();
    // A long text: the preview draws its parts and their length bars (styles set from script).
    await page.getByLabel('Post text').fill(`CSP check ${Date.now()}. ${'A sentence that makes the post long enough to become a thread. '.repeat(8)}`);
    await page.getByTestId('preview-twitter').waitFor();
    for (const [link, heading] of [['Scheduled', /Scheduled/], ['Accounts', /Accounts/], ['Settings', /Settings/], ['Compose', /Compose/]] as const) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
      await page.getByRole('heading', { name: heading }).first().waitFor();
    }
    expect(await violations()).toEqual([]);
    expect(unexpectedErrors(watched)).toEqual([]);
  });

  test('when markup with an inline handler gets into the page, then the CSP stops its script', async () => {
    await inPage(page, `(() => {
      document.body.insertAdjacentHTML('beforeend', '<img id="injected" src="/no-such-image.png" onerror="window.__injectedRan = true">');
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.body.appendChild(script);
    })()`);
    await page.waitForFunction('window.__cspViolations.length >= 2');
    const ran = await inPage<{ handler: boolean; inline: boolean }>(page, '({ handler: window.__injectedRan ?? false, inline: window.__inlineRan ?? false })');
    expect(ran).toEqual({ handler: false, inline: false });
    expect((await violations()).map((v) => v.directive)).toEqual(expect.arrayContaining(['script-src-attr', 'script-src-elem']));
  });

  test('when another site frames the dashboard, then Chromium refuses to render it (frame-ancestors)', async () => {
    const framer = await context.newPage();
    const blocked: string[] = [];
    framer.on('console', (message) => blocked.push(message.text()));
    // A page of another origin (about:blank in a fresh tab) that tries to frame the dashboard.
    await framer.setContent(`<iframe id="f" src="${h.app.url}/"></iframe>`);
    // Chromium says why it refused: the dashboard's frame-ancestors directive.
    for (let waited = 0; waited < 10_000 && !blocked.some((text) => text.includes('frame-ancestors')); waited += 100) await framer.waitForTimeout(100);
    expect(blocked.join('\n')).toMatch(/violates the following Content Security Policy directive: "frame-ancestors 'none'"/);
    const frame = framer.frames().find((candidate) => candidate.url().startsWith(h.app.url));
    const rendered = frame ? await frame.evaluate('document.querySelector("#app") !== null').catch(() => false) : false;
    expect(rendered).toBe(false);
    await framer.close();
  });
});
