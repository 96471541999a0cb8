/**
 * Scenario 2: N posts all due at the same instant, created well before it. Lateness is measured
 * where it matters — when the part reaches the (fake) platform: receivedAt − scheduledFor.
 */
import { performance } from 'node:perf_hooks';
import { describeCounts, postStatusCounts } from './engine';
import { callApi, eventually, round, runPool, sleep, summarize, type ApiResponse } from './lib';
import { withBareWorker } from './engine';
import type { Meters } from './memory';
import { perItem, ratio, ratioGoals } from './ratios';
import { latencyText, roundSummary, thousands, type Row, type ScenarioOutcome } from './report';
import type { Stack } from './stack';
import { createTenant } from './tenants';

/** How far ahead the instant lies: the creates at the measured rate, with room to spare. */
export function leadTimeMs(posts: number, createsPerSecond: number, slowdown = 1): number {
  const rate = Math.max(10, createsPerSecond);
  return Math.ceil(((posts / rate) * 1.6 * slowdown + 6) * 1000);
}

export async function runFiringScenario(
  stack: Stack,
  meters: Meters,
  posts: number,
  createsPerSecond: number,
  concurrency: number,
  log: (line: string) => void,
): Promise<ScenarioOutcome> {
  const startedAt = Date.now();
  const tenant = await createTenant(stack, `firing-${posts}`);
  const dueAt = Math.ceil((Date.now() + leadTimeMs(posts, createsPerSecond)) / 1000) * 1000;
  const contentOf = (index: number) => `Due together: post ${index + 1} of ${posts}, bench ${stack.runTag}`;
  log(`firing: ${thousands(posts)} posts due at ${new Date(dueAt).toISOString()} (in ${round((dueAt - Date.now()) / 1000, 0)} s)`);

  const createStart = performance.now();
  const created = await runPool(posts, concurrency, (index) =>
    callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/schedule', {
      businessId: tenant.businessId,
      content: contentOf(index),
      platforms: ['twitter'],
      scheduledFor: new Date(dueAt).toISOString(),
    }),
  );
  const createSeconds = (performance.now() - createStart) / 1000;
  const createdBy = Date.now();
  const problems: string[] = [];
  const notCreated = created.filter((r: ApiResponse | undefined) => r?.status !== 201);
  if (notCreated.length > 0) problems.push(`${notCreated.length} creates did not answer 201 (e.g. ${notCreated[0]?.status} ${JSON.stringify(notCreated[0]?.body ?? notCreated[0]?.error).slice(0, 160)})`);
  if (createdBy > dueAt - 500) problems.push(`creating took until ${round((createdBy - dueAt) / 1000, 1)} s relative to the due time: not all were waiting when it came`);

  const expected = posts - notCreated.length;
  const mine = () => stack.fakeX.tweetsBy(tenant.xUserId);
  const timeoutMs = Math.max(120_000, posts * 150);
  await sleep(Math.max(0, dueAt - Date.now()));
  const cpu = meters.cpu.start(`Firing ${thousands(posts)}: due → all published`);
  try {
    await eventually(async () => {
      if (mine().length < expected) return undefined;
      const counts = await postStatusCounts(stack, tenant.businessId);
      return (counts.published ?? 0) + (counts.failed ?? 0) >= expected ? true : undefined;
    }, timeoutMs, `${expected} posts to be published`, 250);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const firingCpu = cpu();

  const tweets = mine();
  const byText = new Map<string, number[]>();
  for (const tweet of tweets) byText.set(tweet.text, [...(byText.get(tweet.text) ?? []), tweet.receivedAt.getTime()]);
  const lateness: number[] = [];
  let missing = 0;
  let duplicated = 0;
  for (let index = 0; index < posts; index++) {
    const arrivals = byText.get(contentOf(index)) ?? [];
    if (arrivals.length === 0) missing++;
    if (arrivals.length > 1) duplicated++;
    if (arrivals.length > 0) lateness.push(Math.min(...arrivals) - dueAt);
  }
  if (missing) problems.push(`${missing} posts never reached X`);
  if (duplicated) problems.push(`${duplicated} posts reached X more than once`);
  if (tweets.length !== posts) problems.push(`X received ${tweets.length} posts for ${posts} scheduled`);
  const early = lateness.filter((ms) => ms < 0).length;
  if (early) problems.push(`${early} posts reached X before their time`);
  const counts = await postStatusCounts(stack, tenant.businessId);
  if (counts.published !== posts) problems.push(`Postgres holds ${describeCounts(counts)}, expected ${posts} published`);

  const stats = summarize(lateness);
  const lastSeconds = stats.count ? stats.max / 1000 : NaN;
  const isSmall = posts <= 50;
  if (meters.figures.burst?.posts === posts) {
    meters.figures.burst.heraldAllPublishedSeconds = stats.count === posts ? lastSeconds : undefined;
    meters.figures.burst.heraldWorkerCpuMsPerPost = perItem(firingCpu.cpuMs.worker, posts);
    meters.figures.burst.otherWork = { ...meters.figures.burst.otherWork, herald: firingCpu.percentOfOneCore.other };
    meters.figures.burst.failedChecks ||= problems.length > 0;
  }
  const row: Row = {
    scenario: `Firing: ${thousands(posts)} posts due at the same instant`,
    load: `created ${round((dueAt - createdBy) / 1000, 0)} s before it (${round(posts / createSeconds, 0)} creates/s)`,
    result: `lateness ${latencyText(stats)} · last published +${round(lastSeconds, 1)} s (${round(posts / lastSeconds, 0)} posts/s)`,
    ...(isSmall ? { target: 'p99 lateness < 1 s', targetMet: stats.p99 < 1000 } : {}),
    problems,
  };
  return {
    id: `firing-${posts}`,
    rows: [row],
    data: {
      businessId: tenant.businessId,
      posts,
      dueAt: new Date(dueAt).toISOString(),
      createSeconds: round(createSeconds, 2),
      createdSecondsBeforeDue: round((dueAt - createdBy) / 1000, 1),
      latenessMs: roundSummary(stats),
      lastPublishedSeconds: round(lastSeconds, 2),
      publishedPerSecond: round(posts / lastSeconds, 1),
      cpuMs: firingCpu.cpuMs,
      peakRssMb: meters.memory.peak(startedAt),
    },
  };
}

const BARE_WARM_UP = 20;

/**
 * The bare engine's burst, in the same run as Herald's: `posts` bare due workflows
 * (bench/bare-workflow.ts benchBareDueWorkflow: a timer, then one no-op activity that says when it
 * ran) started with the client, all due at one instant, on a bare worker with Herald's worker
 * settings (warmed up first, as Herald's is). "All done" = the last activity's run − the instant.
 * Run it before Herald's burst of the same size; that one fills in Herald's side of the ratio.
 */
export async function runBareBurstScenario(stack: Stack, meters: Meters, posts: number, createsPerSecond: number, concurrency: number, log: (line: string) => void): Promise<ScenarioOutcome> {
  const taskQueue = `bench-bare-burst-${stack.runTag}`;
  const problems: string[] = [];
  const measured = await withBareWorker(stack, taskQueue, async () => {
    const start = (id: string, dueAt: number) => stack.temporal.workflow.start('benchBareDueWorkflow', { workflowId: id, taskQueue, args: [dueAt] });
    const warm = await runPool(BARE_WARM_UP, 4, (i) => start(`bare-burst-${stack.runTag}-warm-${i}`, Date.now()).then((h) => h.result()));
    if (warm.some((stamp) => typeof stamp !== 'number')) throw new Error('the bare burst warm-up did not complete');

    const dueAt = Math.ceil((Date.now() + leadTimeMs(posts, createsPerSecond)) / 1000) * 1000;
    log(`burst: bare engine, ${thousands(posts)} due workflows at ${new Date(dueAt).toISOString()} (in ${round((dueAt - Date.now()) / 1000, 0)} s)`);
    const handles = await runPool(posts, concurrency, (i) =>
      start(`bare-burst-${stack.runTag}-m-${i}`, dueAt).catch((err: unknown) => {
        problems.push(`start ${i} failed: ${String(err)}`.slice(0, 200));
        return undefined;
      }),
    );
    if (Date.now() > dueAt - 500) problems.push(`starting took until ${round((Date.now() - dueAt) / 1000, 1)} s relative to the due time`);
    await sleep(Math.max(0, dueAt - Date.now()));
    const stop = meters.cpu.start(`Burst ${thousands(posts)} (bare): due → all done`);
    const stamps = await Promise.all(
      handles.map((h) =>
        h
          ? Promise.race([h.result() as Promise<number>, sleep(Math.max(120_000, posts * 150)).then(() => undefined)]).catch(() => undefined)
          : Promise.resolve(undefined),
      ),
    );
    const cpu = stop();
    return { dueAt, stamps, cpu };
  });
  const done = measured.stamps.filter((stamp): stamp is number => typeof stamp === 'number');
  if (done.length !== posts) problems.push(`${done.length} of ${posts} bare due workflows completed`);
  const early = done.filter((stamp) => stamp < measured.dueAt).length;
  if (early) problems.push(`${early} bare activities ran before their time`);
  const lateness = done.map((stamp) => stamp - measured.dueAt);
  const stats = summarize(lateness);
  const allDoneSeconds = done.length === posts ? stats.max / 1000 : undefined;
  meters.figures.burst = {
    posts,
    bareAllDoneSeconds: allDoneSeconds,
    bareWorkerCpuMsPerWorkflow: perItem(measured.cpu.cpuMs.bareWorker, posts),
    otherWork: { bare: measured.cpu.percentOfOneCore.other },
    failedChecks: problems.length > 0,
  };
  return {
    id: `burst-bare-${posts}`,
    rows: [
      {
        scenario: `Burst: bare engine, ${thousands(posts)} due workflows at the same instant`,
        load: '1 timer + 1 no-op activity each, same worker settings',
        result: `lateness ${latencyText(stats)} · all done +${allDoneSeconds === undefined ? '—' : round(allDoneSeconds, 2)} s`,
        problems,
      },
    ],
    data: { posts, dueAt: new Date(measured.dueAt).toISOString(), latenessMs: roundSummary(stats), allDoneSeconds: allDoneSeconds ?? null, cpu: measured.cpu },
  };
}

/** Herald's burst ÷ the bare one, both measured above in this run (goal ≤ 1.25). */
export function burstRatioRow(meters: Meters): Row | undefined {
  const burst = meters.figures.burst;
  if (!burst) return undefined;
  const value = ratio(burst.heraldAllPublishedSeconds, burst.bareAllDoneSeconds);
  return {
    scenario: `Burst: Herald ÷ bare, ${thousands(burst.posts)} due at once, time until all published`,
    load: 'same dev server, same worker settings',
    result: value === undefined ? '— (one side did not finish)' : `${round(value, 2)} (+${round(burst.heraldAllPublishedSeconds!, 2)} s ÷ +${round(burst.bareAllDoneSeconds!, 2)} s)`,
    target: `≤ ${ratioGoals.burst}`,
    targetMet: value !== undefined && value <= ratioGoals.burst,
    problems: burst.failedChecks ? ['one of the two runs failed its checks'] : [],
  };
}
