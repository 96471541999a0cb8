/**
 * Helpers for the dashboard's e2e tests: headless Chromium (Debian's), a watch on console errors and
 * requested URLs, sign-in, screenshots into test-artifacts/, and time-zone arithmetic done
 * independently of the dashboard's own code (brute force over offsets), so the tests check it.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createHarness, type Harness, type Tenant, type TenantOptions } from '../support/harness';

export const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.HERALD_E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A browser context as a person in Berlin with an English browser would have (the business may be elsewhere). */
export async function newContext(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'Europe/Berlin' });
  context.setDefaultTimeout(15_000);
  return context;
}

/** What a dashboard test file drives: a whole Herald, Chromium, one tenant and one watched page. */
export interface DashboardSession {
  h: Harness;
  tenant: Tenant;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  watched: Watched;
}

/**
 * Starts a Herald (the harness, with a worker) and Chromium together, makes a tenant, opens a page in
 * a fresh context (after `prepare`, e.g. init scripts) and, when asked, signs in. Close with `closeDashboard`.
 */
export async function openDashboard(options: {
  tenant: TenantOptions;
  harness?: Parameters<typeof createHarness>[0];
  signIn?: boolean;
  prepare?: (context: BrowserContext) => Promise<unknown>;
}): Promise<DashboardSession> {
  const [h, browser] = await Promise.all([createHarness(options.harness), launchChromium()]);
  const tenant = await h.tenant(options.tenant);
  const context = await newContext(browser);
  await options.prepare?.(context);
  const page = await context.newPage();
  const watched = watch(page);
  if (options.signIn) await signIn(page, h.app.url, tenant.apiKey);
  return { h, tenant, browser, context, page, watched };
}

export async function closeDashboard(session: Partial<DashboardSession> | undefined): Promise<void> {
  await session?.context?.close();
  await session?.browser?.close();
  await session?.h?.close();
}

export interface Watched {
  /** Console errors and uncaught page errors. */
  errors: string[];
  /** Every URL the page requested. */
  urls: string[];
}

export function watch(page: Page): Watched {
  const watched: Watched = { errors: [], urls: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') watched.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => watched.errors.push(`pageerror: ${error.message}`));
  page.on('request', (request) => watched.urls.push(request.url()));
  return watched;
}

/**
 * Errors other than `allowed`. Chromium logs every HTTP error answer to the console ("Failed to load
 * resource: … 400"), so a flow that expects the API to refuse something allows exactly that status.
 */
export function unexpectedErrors(watched: Watched, allowed: RegExp[] = []): string[] {
  return watched.errors.filter((error) => !allowed.some((pattern) => pattern.test(error)));
}

export const refusedWith = (status: number) => new RegExp(`Failed to load resource: the server responded with a status of ${status}`);

export async function signIn(page: Page, baseUrl: string, apiKey: string, options: { remember?: boolean } = {}): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('API key').fill(apiKey);
  if (options.remember) await page.getByLabel('Keep me signed in on this device').check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = resolve(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Evaluates `expression` in the page. A string, because the tests' tsconfig has no DOM types (and
 * must not: it also covers the server code).
 */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** Nothing wider than the viewport (no sideways scrolling on a phone). */
export function horizontalOverflow(page: Page): Promise<number> {
  return inPage<number>(page, 'document.documentElement.scrollWidth - window.innerWidth');
}

/** The text of the element that has the keyboard focus. */
export function focusedText(page: Page): Promise<string | undefined> {
  return inPage<string | undefined>(page, 'document.activeElement?.textContent');
}

/** Whether the keyboard focus is inside an open modal dialog. */
export function focusInOpenDialog(page: Page): Promise<boolean> {
  return inPage<boolean>(page, "Boolean(document.activeElement?.closest('dialog[open]'))");
}

/* ---------------------------------------------------------------- zones, independently */

const clocks = new Map<string, Intl.DateTimeFormat>();

function wallClock(instant: number, zone: string): string {
  let clock = clocks.get(zone);
  if (!clock) {
    clock = new Intl.DateTimeFormat('en-CA', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    clocks.set(zone, clock);
  }
  const parts = clock.formatToParts(new Date(instant));
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}`;
}

/** "YYYY-MM-DD" of `instant` in `zone`. */
export function dateIn(instant: Date | number | string, zone: string): string {
  return wallClock(new Date(instant).getTime(), zone).slice(0, 10);
}

/** "HH:MM" of `instant` in `zone`. */
export function timeIn(instant: Date | number | string, zone: string): string {
  return wallClock(new Date(instant).getTime(), zone).slice(11);
}

/** The (first) instant whose wall clock in `zone` reads `date`T`time`: every quarter-hour offset is tried. */
export function instantAt(date: string, time: string, zone: string): Date {
  const asUtc = Date.parse(`${date}T${time}:00Z`);
  const matches: number[] = [];
  for (let offsetMinutes = -14 * 60; offsetMinutes <= 14 * 60; offsetMinutes += 15) {
    const candidate = asUtc - offsetMinutes * 60_000;
    if (wallClock(candidate, zone) === `${date}T${time}`) matches.push(candidate);
  }
  if (matches.length === 0) throw new Error(`${date} ${time} does not exist in ${zone}`);
  return new Date(Math.min(...matches));
}

/** `date` ("YYYY-MM-DD") plus `days`. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** The 10th of next month in `zone`: always in the future, with room for moves within the month. */
export function tenthOfNextMonth(zone: string): string {
  const [year, month] = dateIn(Date.now(), zone).split('-').map(Number) as [number, number];
  const next = new Date(Date.UTC(year, month, 10));
  return next.toISOString().slice(0, 10);
}
