/**
 * The dashboard in headless Chromium against a whole Herald, part 2: schedule in the business's time
 * zone, find the post on the calendar, drag it to another day (and move it with the keyboard), cancel
 * from the list, and see a cancel signalled straight to Temporal without reloading.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Business } from '../../src/db/entities';
import { createHarness, eventually, postHandle, sleep, workflowIdOf, type Harness, type Tenant } from '../support/harness';
import {
  addDays,
  dateIn,
  focusedText,
  focusInOpenDialog,
  horizontalOverflow,
  instantAt,
  launchChromium,
  newContext,
  refusedWith,
  screenshot,
  signIn,
  tenthOfNextMonth,
  timeIn,
  unexpectedErrors,
  watch,
  type Watched,
} from './support';

jest.setTimeout(120_000);

/** The business plans in New York; the browser sits in Berlin: the page must keep the two apart. */
const ZONE = 'America/New_York';

let h: Harness;
let tenant: Tenant;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let watched: Watched;

beforeAll(async () => {
  [h, browser] = await Promise.all([createHarness(), launchChromium()]);
  tenant = await h.tenant({ name: `Scheduling e2e ${Date.now()}` });
  await h.orm.em.fork().nativeUpdate(Business, { id: tenant.businessId }, { timezone: ZONE });
  context = await newContext(browser);
  page = await context.newPage();
  watched = watch(page);
  await signIn(page, h.app.url, tenant.apiKey, { remember: true });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await h?.close();
});

function expectCleanConsole() {
  expect(unexpectedErrors(watched)).toEqual([]);
  watched.errors.length = 0;
}

async function apiPost(postId: number) {
  const { status, body } = await tenant.call('GET', `/api/v2/posts/${postId}`);
  expect(status).toBe(200);
  return body;
}

async function scheduleThroughApi(content: string, when: Date) {
  const { status, body } = await tenant.call('POST', '/api/v2/schedule', {
    businessId: tenant.businessId, content, platforms: ['twitter'], scheduledFor: when.toISOString(), timezone: ZONE,
  });
  expect(status).toBe(201);
  return body;
}

const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });
const chip = (postId: number) => page.locator(`.chip[data-post-id="${postId}"]`);
const dayCell = (date: string) => page.locator(`td[data-day="${date}"]`);
const openCalendar = (month: string) => page.goto(`${h.app.url}/#/scheduled?view=calendar&month=${month}`);

let scheduledId: number;
let scheduledDate: string;

describe('scheduling in the dashboard', () => {
  test('when a business has no posts, then the calendar shows the month, today, and an empty state', async () => {
    await nav('Scheduled').click();
    await page.getByTestId('calendar').waitFor();
    await page.getByTestId('empty-state').waitFor();
    const today = dateIn(Date.now(), ZONE);
    await expect(dayCell(today).getAttribute('aria-current')).resolves.toBe('date');
    await expect(page.locator('td[aria-current="date"]').count()).resolves.toBe(1);
    expectCleanConsole();
  });

  test('when "Schedule…" opens, then it proposes tomorrow 09:00 in the business\'s zone, traps focus, closes on Escape and refuses the past', async () => {
    await nav('Compose').click();
    await page.getByLabel('Post text').fill(`Scheduled from the dashboard ${Date.now()}`);
    await page.getByRole('button', { name: 'Schedule…' }).click();
    const dialog = page.getByTestId('schedule-dialog');
    await dialog.waitFor();

    const tomorrow = addDays(dateIn(Date.now(), ZONE), 1);
    await expect(dialog.getByLabel('Date', { exact: true }).inputValue()).resolves.toBe(tomorrow);
    await expect(dialog.getByLabel('Time', { exact: true }).inputValue()).resolves.toBe('09:00');
    await expect(dialog.getByLabel('Time zone').inputValue()).resolves.toBe(ZONE);
    const utc = instantAt(tomorrow, '09:00', ZONE).toISOString();
    await expect(dialog.getByTestId('when-utc').textContent()).resolves.toBe(`${utc.slice(0, 10)} ${utc.slice(11, 16)} UTC`);

    // Focus starts inside and Tab (either way) never leaves the dialog.
    expect(await focusInOpenDialog(page)).toBe(true);
    for (const key of ['Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
      await page.keyboard.press(key);
      expect(await focusInOpenDialog(page)).toBe(true);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // Focus goes back to the button that opened the dialog (within a frame of the dialog leaving).
    await page.waitForFunction("document.activeElement?.textContent === 'Schedule…'", undefined, { timeout: 2000 }).catch(() => undefined);
    await expect(focusedText(page)).resolves.toBe('Schedule…');

    // A time that has passed is refused before anything is sent.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await dialog.getByLabel('Date', { exact: true }).fill(dateIn(Date.now() - 86_400_000, ZONE));
    await expect(dialog.getByTestId('when-error').textContent()).resolves.toContain('already passed');
    await expect(dialog.getByRole('button', { name: 'Schedule', exact: true }).isDisabled()).resolves.toBe(true);
    await page.keyboard.press('Escape');
    expectCleanConsole();
  });

  test('when scheduled for the 10th of next month at 09:00 New York time, then the API has that instant and the calendar shows it on that day', async () => {
    scheduledDate = tenthOfNextMonth(ZONE);
    await page.getByRole('button', { name: 'Schedule…' }).click();
    const dialog = page.getByTestId('schedule-dialog');
    await dialog.getByLabel('Date', { exact: true }).fill(scheduledDate);
    await dialog.getByLabel('Time', { exact: true }).fill('09:00');
    await screenshot(page, 'schedule-dialog');
    await dialog.getByRole('button', { name: 'Schedule', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const notice = page.getByTestId('notices').locator('[data-kind="success"]');
    await expect(notice.textContent()).resolves.toContain('Scheduled for');

    const { body } = await tenant.call('GET', `/api/v2/scheduled?businessId=${tenant.businessId}`);
    expect(body.posts).toHaveLength(1);
    const post = body.posts[0];
    scheduledId = post.id;
    expect(post.scheduledFor).toBe(instantAt(scheduledDate, '09:00', ZONE).toISOString());
    expect(post.timezone).toBe(ZONE);

    await notice.getByRole('link', { name: 'See it on the calendar' }).click();
    await dayCell(scheduledDate).locator(`.chip[data-post-id="${scheduledId}"]`).waitFor();
    await expect(chip(scheduledId).locator('.chip-marks [aria-label="X"]').count()).resolves.toBe(1);
    await screenshot(page, 'calendar-desktop');
    expectCleanConsole();
  });

  test('when the post is dragged two days later, then the workflow fires two days later at the same New York time', async () => {
    const target = addDays(scheduledDate, 2);
    await chip(scheduledId).locator('.chip-link').dragTo(dayCell(target));
    await dayCell(target).locator(`.chip[data-post-id="${scheduledId}"]`).waitFor();
    await page.getByTestId('notices').locator('[data-kind="success"]', { hasText: `Post ${scheduledId} moved` }).waitFor();

    const expected = instantAt(target, '09:00', ZONE).toISOString();
    const post = await apiPost(scheduledId);
    expect(post.scheduledFor).toBe(expected);
    expect(timeIn(post.scheduledFor, ZONE)).toBe('09:00');
    const live = await (await postHandle(h, scheduledId)).query<{ scheduledFor: string; status: string }>('status');
    expect(live).toMatchObject({ scheduledFor: expected, status: 'scheduled' });
    await expect(dayCell(scheduledDate).locator('.chip').count()).resolves.toBe(0);
    expectCleanConsole();
  });

  test('when the post is dropped on a past day, then nothing is sent and it stays where it was', async () => {
    // Drop targets refuse days before today; check through the month that has today in it.
    const today = dateIn(Date.now(), ZONE);
    const post = await scheduleThroughApi(`Stays put ${Date.now()}`, instantAt(addDays(today, 1), '23:00', ZONE));
    await openCalendar(today.slice(0, 7));
    const from = post.scheduledFor;
    const yesterday = addDays(today, -1);
    if ((await dayCell(yesterday).count()) > 0 && (await chip(post.id).count()) > 0) {
      await chip(post.id).locator('.chip-link').dragTo(dayCell(yesterday));
      await sleep(500);
      expect((await apiPost(post.id)).scheduledFor).toBe(from);
      await expect(dayCell(yesterday).locator(`.chip[data-post-id="${post.id}"]`).count()).resolves.toBe(0);
    }
    await tenant.call('DELETE', `/api/v2/schedule/${post.id}`);
    expectCleanConsole();
  });

  test('when "Move to…" is used from the keyboard, then the post moves to the chosen day at the chosen time', async () => {
    await openCalendar(scheduledDate.slice(0, 7));
    const moveButton = page.getByRole('button', { name: `Move post ${scheduledId} to another day` });
    await moveButton.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByTestId('move-dialog');
    await dialog.waitFor();
    const target = addDays(scheduledDate, 4);
    await dialog.getByLabel('Date', { exact: true }).fill(target);
    await dialog.getByLabel('Time', { exact: true }).fill('14:30');
    await dialog.getByLabel('Time', { exact: true }).press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await dayCell(target).locator(`.chip[data-post-id="${scheduledId}"]`).waitFor();
    expect((await apiPost(scheduledId)).scheduledFor).toBe(instantAt(target, '14:30', ZONE).toISOString());
    expectCleanConsole();
  });

  test('when the API refuses a move (the post was cancelled elsewhere meanwhile), then the post goes back to its day and the page says why', async () => {
    const day = addDays(scheduledDate, 6);
    const post = await scheduleThroughApi(`Cancelled behind the page's back ${Date.now()}`, instantAt(day, '11:15', ZONE));
    await openCalendar(day.slice(0, 7));
    await chip(post.id).waitFor();

    // Hold the page's polls so it still believes the post is scheduled when it is dragged.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const pattern = /\/api\/v2\/calendar\?/;
    await page.route(pattern, async (route) => {
      await held;
      await route.continue().catch(() => undefined);
    });
    try {
      await h.temporal.workflow.getHandle(post.workflowId).signal('cancel');
      await eventually(async () => ((await apiPost(post.id)).status === 'cancelled' ? true : undefined), 10_000, 'the cancel');
      await chip(post.id).locator('.chip-link').dragTo(dayCell(addDays(day, 1)));
      const refusal = page.getByTestId('notices').locator('[data-kind="error"]', { hasText: `Post ${post.id} was not moved` });
      await refusal.waitFor();
      await expect(refusal.textContent()).resolves.toContain('cancelled');
      await dayCell(day).locator(`.chip[data-post-id="${post.id}"]`).waitFor();
      await expect(dayCell(addDays(day, 1)).locator(`.chip[data-post-id="${post.id}"]`).count()).resolves.toBe(0);
      await refusal.getByRole('button', { name: 'Dismiss' }).click();
    } finally {
      release();
      await page.unroute(pattern);
    }
    // Once the page polls again, it shows the truth: cancelled, so off the calendar unless asked for.
    await chip(post.id).waitFor({ state: 'detached' });
    await page.getByLabel(/Show cancelled \(\d+\)/).check();
    await dayCell(day).locator(`.chip[data-post-id="${post.id}"][data-status="cancelled"]`).waitFor();
    await page.getByLabel(/Show cancelled/).uncheck();
    expect((await apiPost(post.id)).scheduledFor).toBe(instantAt(day, '11:15', ZONE).toISOString());
    expect(unexpectedErrors(watched, [refusedWith(409)])).toEqual([]);
    watched.errors.length = 0;
  });

  test('when a day has more posts than fit, then it shows three and "+N more", which lists them all', async () => {
    const day = addDays(scheduledDate, 8);
    const times = ['08:00', '10:30', '12:00', '16:45', '18:00'];
    const posts = [];
    for (const time of times) posts.push(await scheduleThroughApi(`Busy day at ${time} ${Date.now()}`, instantAt(day, time, ZONE)));
    await openCalendar(day.slice(0, 7));
    const cell = dayCell(day);
    await cell.getByRole('button', { name: /2 more posts/ }).waitFor();
    await expect(cell.locator('.chip').evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute('data-post-id'))))).resolves.toEqual(posts.slice(0, 3).map((p) => p.id));
    await cell.getByRole('button', { name: /2 more posts/ }).click();
    const dayDialog = page.getByTestId('day-dialog');
    // The dialog reads the day with the lean list (the calendar holds only the first three).
    await dayDialog.locator(`[data-post-id="${posts[4].id}"]`).waitFor();
    await expect(dayDialog.locator('[data-post-id]').evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute('data-post-id'))))).resolves.toEqual(posts.map((p) => p.id));
    await screenshot(page, 'calendar-day-dialog');
    await page.keyboard.press('Escape');
    await dayDialog.waitFor({ state: 'detached' });
    // A cancel made elsewhere: the next poll of the calendar leaves the post out and counts it as cancelled.
    const cancelledBefore = Number(/\((\d+)\)/.exec((await page.getByText(/Show cancelled \(\d+\)/).textContent()) ?? '')?.[1]);
    expect((await tenant.call('DELETE', `/api/v2/schedule/${posts[0].id}`)).status).toBe(200);
    await cell.getByRole('button', { name: /^1 more posts/ }).waitFor({ timeout: 15_000 });
    await page.getByText(`Show cancelled (${cancelledBefore + 1})`).waitFor();
    await expect(cell.locator('.chip').evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute('data-post-id'))))).resolves.toEqual(posts.slice(1, 4).map((p) => p.id));
    for (const post of posts) await tenant.call('DELETE', `/api/v2/schedule/${post.id}`);
    expectCleanConsole();
  });

  test('when a post is cancelled from the list, then it shows as cancelled and nothing is published at its time', async () => {
    const content = `Cancel me from the list ${Date.now()}`;
    const post = await scheduleThroughApi(content, new Date(Date.now() + 12_000));
    await page.getByRole('navigation', { name: 'View' }).getByRole('link', { name: 'List' }).click();
    const row = page.locator(`.post-row[data-post-id="${post.id}"]`);
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain(content);
    await screenshot(page, 'list-desktop');

    await row.getByRole('button', { name: `Cancel post ${post.id}` }).click();
    const confirm = page.getByTestId('cancel-dialog');
    await confirm.waitFor();
    // The safe choice has the focus: Enter right away keeps the post.
    await expect(focusedText(page)).resolves.toBe('Keep it');
    await confirm.getByRole('button', { name: 'Cancel post' }).click();
    await page.locator(`.post-row[data-post-id="${post.id}"][data-status="cancelled"]`).waitFor();
    await expect(row.locator('.badge').first().textContent()).resolves.toBe('Cancelled');
    expect((await apiPost(post.id)).status).toBe('cancelled');

    await sleep(Math.max(0, Date.parse(post.scheduledFor) + 1500 - Date.now()));
    expect(h.fakeX.tweets.filter((tweet) => tweet.text === content)).toHaveLength(0);
    expect((await apiPost(post.id)).status).toBe('cancelled');
    expectCleanConsole();
  });

  test('when a cancel is signalled straight to the workflow, then the open detail page and list show it without a reload', async () => {
    const content = `Cancelled by a Temporal signal ${Date.now()}`;
    const post = await scheduleThroughApi(content, new Date(Date.now() + 3_600_000));
    await page.goto(`${h.app.url}/#/posts/${post.id}`);
    const detail = page.getByTestId('post-detail');
    await detail.locator('[data-status="scheduled"]').first().waitFor();
    await expect(page.getByTestId('temporal-link').getAttribute('href')).resolves.toBe(`http://localhost:8233/namespaces/default/workflows/${post.workflowId}`);
    await screenshot(page, 'detail-scheduled');

    // A second tab on the list (same browser profile: signed in through localStorage).
    const listPage = await context.newPage();
    const listWatch = watch(listPage);
    await listPage.goto(`${h.app.url}/#/scheduled?view=list`);
    await listPage.locator(`.post-row[data-post-id="${post.id}"][data-status="scheduled"]`).waitFor();

    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    await h.temporal.workflow.getHandle(post.workflowId).signal('cancel');

    await page.locator('[data-testid="post-detail"][data-status="cancelled"]').waitFor({ timeout: 15_000 });
    await expect(detail.locator('.badge[data-status]').first().textContent()).resolves.toBe('Cancelled');
    await expect(page.getByTestId('target-twitter').textContent()).resolves.toContain('Cancelled');
    await listPage.locator(`.post-row[data-post-id="${post.id}"][data-status="cancelled"]`).waitFor({ timeout: 15_000 });
    expect(navigations).toEqual([]);
    await screenshot(page, 'detail-cancelled');
    expect(unexpectedErrors(listWatch)).toEqual([]);
    await listPage.close();
    expectCleanConsole();
  });

  test('when the Temporal Web UI address is changed in Settings, then post pages link there', async () => {
    await nav('Settings').click();
    await page.getByLabel('Web UI address').fill('https://temporal.example.com/');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.goto(`${h.app.url}/#/posts/${scheduledId}`);
    await expect(page.getByTestId('temporal-link').getAttribute('href')).resolves.toBe(`https://temporal.example.com/namespaces/default/workflows/${await workflowIdOf(h.orm, scheduledId)}`);
    expectCleanConsole();
  });

  test('when a post has been published, then its detail page shows each part with its link', async () => {
    const content = `Published on time ${Date.now()}`;
    const post = await scheduleThroughApi(content, new Date(Date.now() + 2_000));
    await page.goto(`${h.app.url}/#/posts/${post.id}`);
    await page.locator('[data-testid="post-detail"][data-status="published"]').waitFor({ timeout: 20_000 });
    const published = await eventually(async () => {
      const body = await apiPost(post.id);
      return body.targets[0].parts[0]?.url ? body : undefined;
    }, 10_000, 'the part url');
    await expect(page.getByTestId('part-link-twitter-0').getAttribute('href')).resolves.toBe(published.targets[0].parts[0].url);
    expectCleanConsole();
  });

  test('at a phone\'s width (375 px), calendar, list and detail fit the screen', async () => {
    const phone = await newContext(browser, { width: 375, height: 812 });
    try {
      const mobile = await phone.newPage();
      const mobileWatch = watch(mobile);
      await signIn(mobile, h.app.url, tenant.apiKey);
      await mobile.goto(`${h.app.url}/#/scheduled?view=calendar&month=${scheduledDate.slice(0, 7)}`);
      await mobile.locator(`.chip[data-post-id="${scheduledId}"]`).waitFor();
      expect(await horizontalOverflow(mobile)).toBeLessThanOrEqual(0);
      await screenshot(mobile, 'calendar-mobile');
      // On a phone, a day opens as a list; "Move…" is there.
      await mobile.locator(`td[data-day="${addDays(scheduledDate, 4)}"] .day-number`).click();
      await mobile.getByTestId('day-dialog').getByRole('button', { name: 'Move…' }).waitFor();
      await mobile.keyboard.press('Escape');

      await mobile.goto(`${h.app.url}/#/scheduled?view=list`);
      await mobile.getByTestId('post-list').waitFor();
      expect(await horizontalOverflow(mobile)).toBeLessThanOrEqual(0);
      await screenshot(mobile, 'list-mobile');

      await mobile.goto(`${h.app.url}/#/posts/${scheduledId}`);
      await mobile.getByTestId('post-detail').waitFor();
      expect(await horizontalOverflow(mobile)).toBeLessThanOrEqual(0);
      await screenshot(mobile, 'detail-mobile');
      expect(unexpectedErrors(mobileWatch)).toEqual([]);
    } finally {
      await phone.close();
    }
  });
});

describe('long lists and busy months (issue #12: the lean, paged list; the calendar in one request)', () => {
  test('when a business has more posts than a page, then the list shows 200 and "Show more" the next ones; the calendar counts every day in one request and a day\'s dialog lists all of it', async () => {
    const busy = await h.tenant({ name: `Busy e2e ${Date.now()}` });
    const now = new Date();
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 10));
    const day = (offset: number) => new Date(start.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
    // 1,250 waiting posts, one every 3 minutes from the 10th of next month (UTC, the business's zone):
    // 479 on the 10th, 480 on the 11th, 291 on the 12th, of which 250 lie beyond the first page of 1000.
    // Rows only (no workflows): marked started, or a reconciler run in a test sharing this database
    // (crash-recovery's) would find 1,250 unstarted posts and start them.
    await h.orm.em.getConnection().execute(
      `insert into posts (business_id, created_by_user_id, content, platforms, status, scheduled_for, timezone, workflow_id, workflow_started_at)
       select ?, ?, 'Busy post ' || g || ' ' || repeat('long text ', 20), '{twitter}', 'scheduled', ?::timestamptz + g * interval '3 minutes', 'UTC', 'post-busy-' || g || '-' || ?, now()
       from generate_series(1, 1250) g`,
      [busy.businessId, busy.userId, start.toISOString(), String(Date.now())],
    );
    const busyContext = await newContext(browser);
    try {
      const busyPage = await busyContext.newPage();
      const busyWatch = watch(busyPage);
      await signIn(busyPage, h.app.url, busy.apiKey);
      await busyPage.goto(`${h.app.url}/#/scheduled?view=list&status=upcoming`);
      const rows = busyPage.locator('.post-row');
      await busyPage.getByTestId('list-more').waitFor();
      await expect(rows.count()).resolves.toBe(200);
      // A summary carries the first 100 characters, marked as cut.
      await expect(rows.first().locator('.row-content').textContent()).resolves.toMatch(/^Busy post 1 (long text )+.*…$/);
      await busyPage.getByTestId('list-more').click();
      await busyPage.waitForFunction("document.querySelectorAll('.post-row').length === 400");

      // The month view is one GET /calendar (counts and the first three of each day), not pages of the list.
      const requests: string[] = [];
      busyPage.on('request', (request) => requests.push(new URL(request.url()).pathname));
      await busyPage.goto(`${h.app.url}/#/scheduled?view=calendar&month=${day(0).slice(0, 7)}`);
      await busyPage.locator(`td[data-day="${day(2)}"] .more`).waitFor();
      for (const [offset, count] of [[0, 479], [1, 480], [2, 291]] as const) {
        await expect(busyPage.locator(`td[data-day="${day(offset)}"] .more`).textContent()).resolves.toBe(`+${count - 3} more`);
        await expect(busyPage.locator(`td[data-day="${day(offset)}"] .chip`).count()).resolves.toBe(3);
      }
      expect(requests.filter((path) => path === '/api/v2/scheduled')).toEqual([]);
      expect(requests.filter((path) => path === '/api/v2/calendar').length).toBeGreaterThanOrEqual(1);
      // "+N more": the day's posts through the paged lean list, all 291 of them (one page).
      await busyPage.locator(`td[data-day="${day(2)}"] .more`).click();
      const dayDialog = busyPage.getByTestId('day-dialog');
      await dayDialog.waitFor();
      await dayDialog.locator('[data-post-id]').nth(290).waitFor();
      await expect(dayDialog.locator('[data-post-id]').count()).resolves.toBe(291);
      // Another day's dialog reads that day: the 11th's 480.
      await busyPage.keyboard.press('Escape');
      await busyPage.locator(`td[data-day="${day(1)}"] .more`).click();
      await dayDialog.locator('[data-post-id]').nth(479).waitFor();
      await expect(dayDialog.locator('[data-post-id]').count()).resolves.toBe(480);
      await busyPage.keyboard.press('Escape');
      expect(unexpectedErrors(busyWatch)).toEqual([]);
    } finally {
      await busyContext.close();
    }
  });
});
