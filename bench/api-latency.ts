/**
 * Scenarios 1 and 4, on one population: a month of scheduled posts created through the API.
 *  - POST /api/v2/schedule latency: the first `scheduleRequests` creates (after a short warm-up).
 *  - The rest of the month is filled in slices, with the worker's memory read after each slice.
 *  - The month view over the whole month, once every post exists: GET /api/v2/calendar, one
 *    request per view, as the dashboard's calendar reads it (MONTH_VIEW).
 *  - Memory: worker RSS idle → after the posts were created → after each one's first workflow
 *    task (its timer is set and it waits), next to the worker's workflow cache size.
 */
import { performance } from 'node:perf_hooks';
import { describeCounts, countWorkflows, postStatusCounts } from './engine';
import { callApi, eventually, memoryOf, processName, round, runPool, seededRandom, summarize, type ApiResponse } from './lib';
import { mergePhases, type CpuPhase } from './cpu';
import type { HeraldTimedCreates } from './create';
import type { Meters } from './memory';
import { perItem } from './ratios';
import { latencyText, roundSummary, thousands, type Row, type ScenarioOutcome } from './report';
import type { Stack } from './stack';
import { createTenant, type Tenant } from './tenants';

export interface ApiScenarioSizes {
  scheduleRequests: number;
  waitingPosts: number;
  getRequests: number;
  concurrency: number;
}

const WARM_UP_REQUESTS = 50;
const MONTH_MS = 30 * 24 * 3600_000;
const DEFAULT_LIST_LIMIT = 500;

/**
 * The month view: how the bench reads the month — the one switch is MONTH_VIEW.
 * Since issue #12 goal 4 the dashboard's calendar reads ONE `GET /api/v2/calendar` per view: per
 * day of the business's zone (UTC here) the posts counted by status and the first
 * VISIBLE_PER_DAY (3) lean summaries; the day dialog ("+N more") reads one day with the paged list.
 * `checkCalendarViews` holds every view to the month exactly: its days, each day's counts against
 * the posts created (adding up to all of them) and its first posts in time order.
 * The earlier shapes of `GET /api/v2/scheduled` stay selectable: LEAN_MONTH_VIEW (the lean list in
 * pages of 1,000 by keyset cursor, up to 5,000 posts, the calendar before goal 4: 5 requests a view
 * at 10,000) and FULL_MONTH_VIEW (one request for the first 500 full posts); `checkMonthViews`
 * needs their `posts[]` with `scheduledFor` and `status`, the month's first posts in time order;
 * paged, a `nextCursor` exactly while posts remain.
 */
interface ListMonthView {
  kind: 'list';
  extraQuery: string;
  label: string;
  pageSize: number;
  /** Follow nextCursor until null or maxPosts. */
  paged: boolean;
  maxPosts: number;
}
interface CalendarMonthView {
  kind: 'calendar';
  /** Not a list query (bench/run.ts prints it when set). */
  extraQuery: '';
  label: string;
  perDay: number;
}
type MonthViewShape = ListMonthView | CalendarMonthView;
export const CALENDAR_MONTH_VIEW: CalendarMonthView = {
  kind: 'calendar',
  extraQuery: '',
  label: 'GET /api/v2/calendar, one request a view: per day the counts by status and the first 3 lean posts, as the dashboard calendar reads it',
  perDay: 3,
};
export const LEAN_MONTH_VIEW: ListMonthView = {
  kind: 'list',
  extraQuery: '&view=summary&limit=1000',
  label: 'GET /api/v2/scheduled, lean list (view=summary), pages of 1,000 by cursor, up to 5,000 posts (the calendar before issue #12 goal 4)',
  pageSize: 1000,
  paged: true,
  maxPosts: 5000,
};
export const FULL_MONTH_VIEW: ListMonthView = { kind: 'list', extraQuery: '', label: 'GET /api/v2/scheduled, full posts, one request, default limit', pageSize: DEFAULT_LIST_LIMIT, paged: false, maxPosts: DEFAULT_LIST_LIMIT };

/** The switch. */
export const MONTH_VIEW: MonthViewShape = CALENDAR_MONTH_VIEW;
/**
 * Read the month this way too, right after MONTH_VIEW (same posts, same run: the change measured
 * side by side on a shared machine); undefined to leave it out. At 10,000 posts about 1,500
 * requests (5 a view), some 40 s of a full run; a quick run's 2 a view, a few seconds.
 */
export const COMPARE_MONTH_VIEW: ListMonthView | undefined = LEAN_MONTH_VIEW;

interface MonthViewRead {
  pages: ApiResponse[];
  posts: Array<{ scheduledFor: string; status: string }>;
  /** The calendar's answer (kind 'calendar'). */
  calendar?: CalendarAnswer;
  /** The whole view, first request sent → last page read. */
  ms: number;
  /** A nextCursor was left (paged), or undefined when a page was not a list (or the calendar not 200). */
  more?: boolean;
}

interface CalendarAnswer {
  timezone: string;
  days: Array<{ date: string; start: string; end: string; total: number; counts: Record<string, number>; matching: number; posts: Array<{ id: number; scheduledFor: string; status: string }> }>;
}

interface MemoryPoint {
  label: string;
  waitingPosts: number;
  workerRssMb?: number;
  apiRssMb?: number;
  devServerRssMb?: number;
  workerHeapUsedMb?: number;
  stickyCacheSize?: number;
  workflowTasks?: number;
}

/**
 * The timed creates in `rounds`, `afterRound` run after each (the bare client's starts, bench/create.ts):
 * interleaved, other work on this shared machine weighs on both sides alike. Before it runs, the
 * worker has run the first workflow task of every post created so far (counted in the round's CPU,
 * not in its time).
 */
export interface Interleave {
  rounds: number;
  afterRound(requests: number): Promise<void>;
}

export async function runApiAndMemoryScenario(
  stack: Stack,
  meters: Meters,
  sizes: ApiScenarioSizes,
  log: (line: string) => void,
  interleave?: Interleave,
): Promise<{ outcome: ScenarioOutcome; scheduleRatePerSecond: number; timedCreates: HeraldTimedCreates }> {
  const startedAt = Date.now();
  const tenant = await createTenant(stack, 'month');
  const monthStart = Math.ceil((Date.now() + 2 * 3600_000) / 60_000) * 60_000;
  const random = seededRandom(20261122);
  const slots = Array.from({ length: sizes.waitingPosts }, () => monthStart + Math.floor(random() * MONTH_MS));
  const schedule = (index: number) =>
    callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/schedule', {
      businessId: tenant.businessId,
      content: `Month post ${index + 1} of ${sizes.waitingPosts}, bench ${stack.runTag}`,
      platforms: ['twitter'],
      scheduledFor: new Date(slots[index]!).toISOString(),
    });

  const memory: MemoryPoint[] = [await memoryPoint(stack, 'idle, before any post', 0)];
  const responses: Array<ApiResponse | undefined> = [];
  const createSlice = async (from: number, to: number) => {
    const slice = await runPool(to - from, sizes.concurrency, (i) => schedule(from + i));
    responses.push(...slice);
    return slice;
  };

  const warmUp = Math.min(WARM_UP_REQUESTS, sizes.waitingPosts - sizes.scheduleRequests);
  await createSlice(0, warmUp);
  const rounds = Math.max(1, interleave?.rounds ?? 1);
  log(`schedule: ${thousands(sizes.scheduleRequests)} POST /api/v2/schedule at concurrency ${sizes.concurrency}${rounds > 1 ? ` in ${rounds} rounds, each followed by as many bare starts` : ''}`);
  const timed: Array<ApiResponse | undefined> = [];
  const timedCpuParts: CpuPhase[] = [];
  let timedSeconds = 0;
  for (let round = 0, from = warmUp; round < rounds; round++) {
    const to = warmUp + Math.round((sizes.scheduleRequests * (round + 1)) / rounds);
    const stopRoundCpu = meters.cpu.start('API: schedule (timed creates)', { record: false });
    const roundStart = performance.now();
    timed.push(...(await createSlice(from, to)));
    timedSeconds += (performance.now() - roundStart) / 1000;
    if (interleave) await waitForFirstWorkflowTasks(stack, memory[0]!.workflowTasks ?? 0, to);
    timedCpuParts.push(stopRoundCpu());
    if (interleave) await interleave.afterRound(to - from);
    from = to;
  }
  const timedCpu = meters.cpu.record(mergePhases('API: schedule (timed creates)', timedCpuParts));
  const scheduleRate = timed.length / timedSeconds;

  log(`filling the month to ${thousands(sizes.waitingPosts)} waiting posts`);
  const fillStart = performance.now();
  let created = warmUp + sizes.scheduleRequests;
  memory.push(await memoryPoint(stack, 'after the timed creates', created));
  const sliceSize = Math.max(500, Math.ceil((sizes.waitingPosts - created) / 4));
  const fillCpu = meters.cpu.start('API: filling the month');
  while (created < sizes.waitingPosts) {
    const to = Math.min(sizes.waitingPosts, created + sliceSize);
    await createSlice(created, to);
    created = to;
    memory.push(await memoryPoint(stack, `after ${thousands(created)} created`, created));
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  fillCpu();
  const fill = responses.slice(warmUp + sizes.scheduleRequests);

  const firstTasks = await waitForFirstWorkflowTasks(stack, memory[0]!.workflowTasks ?? 0, sizes.waitingPosts);
  memory.push({ ...(await memoryPoint(stack, 'after every waiting post\'s first workflow task', created)), ...firstTasks.extra });
  log(`memory: worker ${memory.at(-1)?.workerRssMb} MB RSS with ${thousands(created)} waiting posts (cache ${memory.at(-1)?.stickyCacheSize ?? '?'})`);

  const problems = await checkPopulation(stack, tenant, responses, sizes.waitingPosts);

  const view = MONTH_VIEW;
  // The calendar's days (UTC: the bench business's zone): from the first post's day to the last one's.
  const firstDay = new Date(monthStart).toISOString().slice(0, 10);
  const afterLastDay = new Date(Date.parse(`${new Date(monthStart + MONTH_MS).toISOString().slice(0, 10)}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const pathOf = (shape: MonthViewShape) =>
    shape.kind === 'calendar'
      ? `/api/v2/calendar?businessId=${tenant.businessId}&from=${firstDay}&to=${afterLastDay}&perDay=${shape.perDay}`
      : `/api/v2/scheduled?businessId=${tenant.businessId}&from=${encodeURIComponent(new Date(monthStart).toISOString())}&to=${encodeURIComponent(new Date(monthStart + MONTH_MS + 60_000).toISOString())}${shape.extraQuery}`;
  const listPath = pathOf(view);
  log(`month view: ${sizes.getRequests} views at concurrency ${sizes.concurrency}, each ${view.kind === 'calendar' ? `one GET ${listPath.replace(/businessId=\d+&/, '')}` : `GET /api/v2/scheduled${view.extraQuery.replace(/^&/, '?')}${view.paged ? ', every page' : ''}`}`);
  const readMonthView = (shape: MonthViewShape, path: string) => async (): Promise<MonthViewRead> => {
    const read: MonthViewRead = { pages: [], posts: [], ms: 0 };
    const started = performance.now();
    if (shape.kind === 'calendar') {
      const answer = await callApi(stack.api.url, tenant.apiKey, 'GET', path);
      read.ms = performance.now() - started;
      read.pages.push(answer);
      const body = answer.body as CalendarAnswer | undefined;
      if (answer.status === 200 && Array.isArray(body?.days)) {
        read.calendar = body;
        read.posts = body.days.flatMap((day) => (Array.isArray(day.posts) ? day.posts : []));
        read.more = false;
      }
      return read;
    }
    let cursor: string | null = null;
    do {
      const page = await callApi(stack.api.url, tenant.apiKey, 'GET', cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path);
      read.pages.push(page);
      const body = page.body as { posts?: MonthViewRead['posts']; nextCursor?: unknown } | undefined;
      if (page.status !== 200 || !Array.isArray(body?.posts) || (shape.paged && typeof body.nextCursor !== 'string' && body.nextCursor !== null)) {
        read.more = undefined;
        read.ms = performance.now() - started;
        return read;
      }
      read.posts.push(...body.posts);
      cursor = shape.paged ? (body.nextCursor as string | null) : null;
      read.more = cursor !== null;
    } while (cursor && read.posts.length < shape.maxPosts);
    read.ms = performance.now() - started;
    return read;
  };
  /** The same views read the way the calendar read them before (same posts, right after): the change in one run. */
  const runListComparison = async (shape: ListMonthView, path: string) => {
    log(`month view as before: ${sizes.getRequests} views, each GET /api/v2/scheduled${shape.extraQuery.replace(/^&/, '?')}${shape.paged ? ', every page' : ''}`);
    const started = performance.now();
    const stopCpu = meters.cpu.start('API: month views (paged list, before)');
    const read = await runPool(sizes.getRequests, sizes.concurrency, readMonthView(shape, path));
    const seconds = (performance.now() - started) / 1000;
    const cpu = stopCpu();
    const pages = read.flatMap((v) => v?.pages ?? []);
    const rows = Math.min(shape.paged ? shape.maxPosts : shape.pageSize, sizes.waitingPosts);
    return {
      shape,
      views: read.length,
      requests: pages.length,
      seconds,
      rows,
      requestStats: summarize(okLatencies(pages)),
      viewStats: summarize(read.filter((v): v is MonthViewRead => v?.more !== undefined).map((v) => v.ms)),
      apiCpuMsPerRequest: perItem(cpu.cpuMs.api, pages.length),
      apiCpuMsPerView: perItem(cpu.cpuMs.api, read.length),
      problems: checkMonthViews(read, rows, slots, shape.paged ? sizes.waitingPosts > rows : undefined),
    };
  };
  const listStart = performance.now();
  const stopListCpu = meters.cpu.start('API: month views');
  const views = await runPool(sizes.getRequests, sizes.concurrency, readMonthView(view, listPath));
  const listSeconds = (performance.now() - listStart) / 1000;
  const listCpu = stopListCpu();
  const lists = views.flatMap((view) => view?.pages ?? []);
  // The posts a view accounts for: the calendar counts every post of the month (and lists the first of each day).
  const expectedRows = view.kind === 'calendar' ? sizes.waitingPosts : Math.min(view.paged ? view.maxPosts : view.pageSize, sizes.waitingPosts);
  const listProblems =
    view.kind === 'calendar'
      ? checkCalendarViews(views, slots, view.perDay, firstDay, afterLastDay)
      : checkMonthViews(views, expectedRows, slots, view.paged ? sizes.waitingPosts > expectedRows : undefined);
  const listedPerView = view.kind === 'calendar' ? round((views.find((v) => v?.calendar)?.posts.length ?? 0), 0) : expectedRows;
  const before = COMPARE_MONTH_VIEW && COMPARE_MONTH_VIEW !== view ? await runListComparison(COMPARE_MONTH_VIEW, pathOf(COMPARE_MONTH_VIEW)) : undefined;
  const peak = meters.memory.peak(startedAt);

  const timedStats = summarize(okLatencies(timed));
  const fillStats = summarize(okLatencies(fill));
  const listStats = summarize(okLatencies(lists));
  const viewStats = summarize(views.filter((view): view is MonthViewRead => view?.more !== undefined).map((view) => view.ms));
  const pagesPerView = lists.length / Math.max(1, views.length);
  const settled = memory.at(-1)!;
  const idle = memory[0]!;
  const cacheSetting = stack.workerSettings.maxCachedWorkflows;
  const slope = memorySlope(memory);
  const apiCpuMsPerList = perItem(listCpu.cpuMs.api, lists.length);
  const apiCpuMsPerView = perItem(listCpu.cpuMs.api, views.length);
  meters.figures.memory = {
    waitingPosts: sizes.waitingPosts,
    workerIdleMb: idle.workerRssMb,
    workerMb: settled.workerRssMb,
    apiIdleMb: idle.apiRssMb,
    apiMb: settled.apiRssMb,
    ...slope,
    cacheSize: settled.stickyCacheSize,
    cacheSetting,
    failedChecks: problems.population.length + firstTasks.problems.length > 0,
  };
  meters.figures.monthView = {
    request: `${view.label}; ${thousands(sizes.getRequests)} views @${sizes.concurrency}, month of ${thousands(sizes.waitingPosts)}`,
    views: views.length,
    requests: lists.length,
    postsPerView: expectedRows,
    latencyMs: roundSummary(listStats),
    viewLatencyMs: roundSummary(viewStats),
    apiCpuMsPerRequest: apiCpuMsPerList,
    apiCpuMsPerView,
    failedChecks: listProblems.length > 0,
  };
  const mb = (value: number | undefined) => (value === undefined ? '?' : String(round(value, 1)));
  const rows: Row[] = [
    {
      scenario: 'API: POST /api/v2/schedule',
      load: `${thousands(sizes.scheduleRequests)} requests @${sizes.concurrency}`,
      result: `${latencyText(timedStats)} · ${round(scheduleRate, 0)} req/s`,
      target: 'p99 < 50 ms',
      targetMet: timedStats.p99 < 50,
      problems: problems.timed,
    },
    {
      scenario: view.kind === 'calendar' ? 'API: GET /api/v2/calendar (month view)' : 'API: GET /api/v2/scheduled (month view)',
      load:
        view.kind === 'calendar'
          ? `${thousands(sizes.getRequests)} month views @${sizes.concurrency} (${round(pagesPerView, 1)} request each: ${firstDay} to ${afterLastDay}, perDay=${view.perDay}), month holds ${thousands(sizes.waitingPosts)} posts`
          : `${thousands(sizes.getRequests)} month views @${sizes.concurrency} (${round(pagesPerView, 1)} requests each, ${view.extraQuery ? view.extraQuery.replace(/^&/, '') : 'full posts, default limit'}), month holds ${thousands(sizes.waitingPosts)} posts`,
      result:
        `view ${latencyText(viewStats)} · request ${latencyText(listStats)} · ${round(lists.length / listSeconds, 0)} req/s · ` +
        (view.kind === 'calendar' ? `${thousands(expectedRows)} posts counted, ${thousands(listedPerView)} listed per view · ` : `${thousands(expectedRows)} posts per view · `) +
        `API CPU ${mb(apiCpuMsPerList)} ms per request, ${mb(apiCpuMsPerView)} ms per view`,
      target: 'request p99 < 100 ms',
      targetMet: listStats.p99 < 100 && listProblems.length === 0,
      problems: listProblems,
    },
    ...(before
      ? [
          {
            scenario: 'API: GET /api/v2/scheduled (month view as before, same posts)',
            load: `${thousands(before.views)} month views @${sizes.concurrency} (${round(before.requests / Math.max(1, before.views), 1)} requests each, ${before.shape.extraQuery.replace(/^&/, '')})`,
            result:
              `view ${latencyText(before.viewStats)} · request ${latencyText(before.requestStats)} · ${round(before.requests / before.seconds, 0)} req/s · ${thousands(before.rows)} posts per view · ` +
              `API CPU ${mb(before.apiCpuMsPerRequest)} ms per request, ${mb(before.apiCpuMsPerView)} ms per view`,
            problems: before.problems,
          },
        ]
      : []),
    {
      scenario: 'Memory: posts waiting on timers',
      load: `${thousands(sizes.waitingPosts)} posts scheduled ${Math.round((monthStart - Date.now()) / 3600_000)} h–30 d ahead`,
      result:
        `worker RSS ${idle.workerRssMb} MB idle → ${memory.at(-2)?.workerRssMb} MB created → ${settled.workerRssMb} MB after first tasks ` +
        `(cache ${settled.stickyCacheSize ?? '?'} of ${cacheSetting}; heap ${settled.workerHeapUsedMb ?? '?'} MB); ` +
        `API ${idle.apiRssMb} → ${settled.apiRssMb} MB; dev server ${idle.devServerRssMb} → ${settled.devServerRssMb} MB; ` +
        `per 1,000 waiting (slope from idle): worker +${mb(slope.workerMbPer1000)} MB, API +${mb(slope.apiMbPer1000)} MB`,
      target: 'worker RSS < 300 MB',
      targetMet: (settled.workerRssMb ?? Infinity) < 300,
      problems: [...problems.population, ...firstTasks.problems],
    },
  ];
  return {
    scheduleRatePerSecond: scheduleRate,
    timedCreates: {
      requests: timed.length,
      concurrency: sizes.concurrency,
      perSecond: scheduleRate,
      latencyMs: roundSummary(timedStats),
      cpu: timedCpu,
      failedChecks: problems.timed.length > 0,
    },
    outcome: {
      id: 'api-and-memory',
      rows,
      data: {
        businessId: tenant.businessId,
        monthStart: new Date(monthStart).toISOString(),
        schedule: { requests: timed.length, concurrency: sizes.concurrency, seconds: round(timedSeconds, 2), requestsPerSecond: round(scheduleRate, 1), latencyMs: roundSummary(timedStats) },
        fill: { requests: fill.length, seconds: round(fillSeconds, 2), requestsPerSecond: round(fill.length / fillSeconds, 1), latencyMs: roundSummary(fillStats) },
        list: {
          monthView: view,
          path: listPath.replace(/businessId=\d+&/, ''),
          postsListedPerView: listedPerView,
          views: views.length,
          requests: lists.length,
          seconds: round(listSeconds, 2),
          requestsPerSecond: round(lists.length / listSeconds, 1),
          postsPerView: expectedRows,
          viewLatencyMs: roundSummary(viewStats),
          requestLatencyMs: roundSummary(listStats),
          apiCpuMsPerRequest: apiCpuMsPerList === undefined ? null : round(apiCpuMsPerList, 1),
          apiCpuMsPerView: apiCpuMsPerView === undefined ? null : round(apiCpuMsPerView, 1),
          before: before && {
            monthView: before.shape,
            views: before.views,
            requests: before.requests,
            seconds: round(before.seconds, 2),
            postsPerView: before.rows,
            viewLatencyMs: roundSummary(before.viewStats),
            requestLatencyMs: roundSummary(before.requestStats),
            apiCpuMsPerRequest: before.apiCpuMsPerRequest === undefined ? null : round(before.apiCpuMsPerRequest, 1),
            apiCpuMsPerView: before.apiCpuMsPerView === undefined ? null : round(before.apiCpuMsPerView, 1),
          },
        },
        memory,
        rssPer1000WaitingMb: slope,
        firstWorkflowTasksSeconds: firstTasks.seconds,
        peakRssMb: peak,
        processNames: { worker: processName(stack.worker.pid), api: processName(stack.api.pid), devServer: processName(stack.devServer.process.pid) },
      },
    },
  };
}

/**
 * RSS per 1,000 waiting posts: (after the last one's first workflow task − idle) ÷ posts, for the
 * worker and the API. Only the end points are compared: the points in between are read while the
 * worker still lags behind the creates. The worker's cache (WORKER_MAX_CACHED_WORKFLOWS) bounds its
 * share, so the slope is an average over this run's N, not a cost per post at any N.
 */
function memorySlope(points: MemoryPoint[]): { workerMbPer1000?: number; apiMbPer1000?: number } {
  const idle = points[0]!;
  const last = points.at(-1)!;
  const per1000 = (from: MemoryPoint, to: MemoryPoint, key: 'workerRssMb' | 'apiRssMb') => {
    const posts = to.waitingPosts - from.waitingPosts;
    const a = from[key];
    const b = to[key];
    return posts > 0 && a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) ? round(((b - a) / posts) * 1000, 1) : undefined;
  };
  return { workerMbPer1000: per1000(idle, last, 'workerRssMb'), apiMbPer1000: per1000(idle, last, 'apiRssMb') };
}

const okLatencies = (responses: Array<ApiResponse | undefined>) =>
  responses.filter((r): r is ApiResponse => r !== undefined && r.status >= 200 && r.status < 300).map((r) => r.ms);

/** Resident memory now, and the worker's own view: workflow cache size, heap, workflow tasks run. */
async function memoryPoint(stack: Stack, label: string, waitingPosts: number): Promise<MemoryPoint> {
  const metrics = parseMetrics(await stack.workerMetrics());
  return {
    label,
    waitingPosts,
    workerRssMb: round(memoryOf(stack.worker.pid)?.rssMb ?? NaN),
    apiRssMb: round(memoryOf(stack.api.pid)?.rssMb ?? NaN),
    devServerRssMb: round(memoryOf(stack.devServer.process.pid)?.rssMb ?? NaN),
    workerHeapUsedMb: metrics.has('nodejs_heap_size_used_bytes') ? round(metrics.get('nodejs_heap_size_used_bytes')! / 1024 / 1024) : undefined,
    stickyCacheSize: metrics.get('temporal_sticky_cache_size'),
    workflowTasks: metrics.get('temporal_workflow_task_execution_latency_count'),
  };
}

/** Prometheus text → metric name → sum over its label sets. */
export function parseMetrics(text: string | undefined): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + value);
  }
  return sums;
}

/**
 * Each new post's workflow runs one workflow task (start → timer) and then waits. The worker's own
 * counter of executed workflow tasks tells when all have run; without SDK metrics, the API's
 * stored status cannot tell, so the check is skipped and said so.
 */
async function waitForFirstWorkflowTasks(stack: Stack, before: number, expected: number): Promise<{ seconds: number; problems: string[]; extra: Partial<MemoryPoint> }> {
  const started = Date.now();
  const probe = parseMetrics(await stack.workerMetrics());
  if (!probe.has('temporal_workflow_task_execution_latency_count')) {
    return { seconds: 0, problems: [], extra: { label: 'after creation (the worker exposes no SDK metrics: first tasks not confirmed)' } };
  }
  try {
    await eventually(async () => {
      const tasks = parseMetrics(await stack.workerMetrics()).get('temporal_workflow_task_execution_latency_count') ?? 0;
      return tasks - before >= expected ? true : undefined;
    }, 300_000, `${expected} first workflow tasks`, 500);
    return { seconds: round((Date.now() - started) / 1000, 1), problems: [], extra: {} };
  } catch (err) {
    return { seconds: round((Date.now() - started) / 1000, 1), problems: [(err as Error).message], extra: {} };
  }
}

/** Every create answered 201 with a distinct post; Postgres and Temporal both hold every post as waiting. */
async function checkPopulation(stack: Stack, tenant: Tenant, responses: Array<ApiResponse | undefined>, expected: number) {
  const timed: string[] = [];
  const population: string[] = [];
  const failed = responses.filter((r) => r?.status !== 201);
  if (responses.length !== expected || failed.length > 0) {
    const sample = failed[0];
    const problem = `${failed.length + expected - responses.length} of ${expected} creates did not answer 201 (e.g. ${sample?.status} ${JSON.stringify(sample?.body ?? sample?.error).slice(0, 160)})`;
    timed.push(problem);
    population.push(problem);
  }
  const ids = new Set(responses.map((r) => (r?.body as { id?: number } | undefined)?.id));
  if (ids.size !== expected) population.push(`${ids.size} distinct post ids for ${expected} creates`);
  const counts = await postStatusCounts(stack, tenant.businessId);
  if (counts.scheduled !== expected || Object.keys(counts).length !== 1) population.push(`Postgres holds ${describeCounts(counts)}, expected ${expected} scheduled`);
  const query = `HeraldBusinessId = ${tenant.businessId} AND ExecutionStatus = 'Running'`;
  try {
    await eventually(async () => ((await countWorkflows(stack, query)) === expected ? true : undefined), 60_000, 'the waiting workflows to be visible');
  } catch {
    population.push(`Temporal shows ${await countWorkflows(stack, query)} running workflows, expected ${expected}`);
  }
  return { timed, population };
}

/**
 * Every month view read every page with 200 and holds the month's first `expectedRows` posts, in
 * time order, all waiting; when `moreExpected` is set (paged), it left a `nextCursor` exactly when
 * more posts remain.
 */
function checkMonthViews(views: Array<MonthViewRead | undefined>, expectedRows: number, slots: number[], moreExpected?: boolean): string[] {
  const problems: string[] = [];
  const firstSlots = [...slots].sort((a, b) => a - b).slice(0, expectedRows);
  let wrong = 0;
  for (const view of views) {
    if (!view || view.more === undefined || view.pages.some((page) => page.status !== 200)) {
      wrong++;
      continue;
    }
    const times = view.posts.map((p) => Date.parse(p.scheduledFor));
    const inOrder = times.every((t, i) => i === 0 || times[i - 1]! <= t);
    const sameAsExpected = times.length === expectedRows && times.every((t, i) => t === firstSlots[i]);
    const cursorRight = moreExpected === undefined || view.more === moreExpected;
    if (!inOrder || !sameAsExpected || !cursorRight || view.posts.some((p) => p.status !== 'scheduled')) wrong++;
  }
  if (views.length === 0) problems.push('no month view ran');
  if (wrong > 0) problems.push(`${wrong} of ${views.length} month views were not the month's first ${expectedRows} waiting posts in time order${moreExpected === undefined ? '' : `, with ${moreExpected ? 'a' : 'no'} nextCursor left`}`);
  return problems;
}

/**
 * Every calendar view answered 200 with the month exactly: one day per date from `firstDay` to the
 * day before `afterLastDay`, each from UTC midnight to the next (the bench business's zone is UTC);
 * each day's total and counts equal the posts created for it (all waiting, so `scheduled` = total =
 * matching), adding up to every post created; and its posts are the day's first `perDay` in time order.
 */
function checkCalendarViews(views: Array<MonthViewRead | undefined>, slots: number[], perDay: number, firstDay: string, afterLastDay: string): string[] {
  const problems: string[] = [];
  const byDay = new Map<string, number[]>();
  for (const slot of [...slots].sort((a, b) => a - b)) {
    const key = new Date(slot).toISOString().slice(0, 10);
    byDay.set(key, [...(byDay.get(key) ?? []), slot]);
  }
  const dates: string[] = [];
  for (let ms = Date.parse(`${firstDay}T00:00:00Z`); ms < Date.parse(`${afterLastDay}T00:00:00Z`); ms += 86_400_000) dates.push(new Date(ms).toISOString().slice(0, 10));
  // Per reason: how many views had it, and the first example.
  const reasons = new Map<string, { views: number; example: string }>();
  for (const view of views) {
    const found = new Map<string, string>();
    const wrong = (reason: string, example = '') => {
      if (!found.has(reason)) found.set(reason, example);
    };
    const calendar = view?.calendar;
    if (!calendar) wrong('not a calendar', `answered ${view?.pages[0]?.status ?? 'nothing'}`);
    else if (calendar.days.map((day) => day.date).join() !== dates.join()) {
      wrong('other days than the month\'s', `${calendar.days[0]?.date}…${calendar.days.at(-1)?.date} (${calendar.days.length}), expected ${dates[0]}…${dates.at(-1)} (${dates.length})`);
    } else {
      if (calendar.timezone !== 'UTC') wrong('not the business\'s zone', calendar.timezone);
      const sum = calendar.days.reduce((total, day) => total + day.total, 0);
      if (sum !== slots.length) wrong(`the days' totals do not add up to the ${slots.length} posts created`, String(sum));
      for (const day of calendar.days) {
        const expected = byDay.get(day.date) ?? [];
        const nextMidnight = new Date(Date.parse(`${day.date}T00:00:00Z`) + 86_400_000).toISOString();
        if (day.start !== `${day.date}T00:00:00.000Z` || day.end !== nextMidnight) wrong('a day not from UTC midnight to the next', `${day.date}: ${day.start}–${day.end}`);
        const otherStatuses = Object.entries(day.counts).filter(([status, count]) => status !== 'scheduled' && count !== 0);
        if (day.total !== expected.length || day.counts.scheduled !== expected.length || day.matching !== expected.length || otherStatuses.length > 0) {
          wrong('a day\'s counts other than the posts created for it', `${day.date}: total ${day.total}, matching ${day.matching}, ${JSON.stringify(day.counts)}; created ${expected.length}`);
        }
        const first = expected.slice(0, perDay);
        const times = day.posts.map((post) => Date.parse(post.scheduledFor));
        if (times.length !== first.length || times.some((t, i) => t !== first[i]) || day.posts.some((post) => post.status !== 'scheduled')) {
          wrong(`a day's posts not its first ${perDay} waiting ones in time order`, day.date);
        }
      }
    }
    for (const [reason, example] of found) {
      const seen = reasons.get(reason);
      reasons.set(reason, { views: (seen?.views ?? 0) + 1, example: seen?.example ?? example });
    }
  }
  if (views.length === 0) problems.push('no month view ran');
  for (const [reason, { views: count, example }] of reasons) problems.push(`${count} of ${views.length} calendar views: ${reason}${example ? ` (e.g. ${example})` : ''}`);
  return problems;
}
