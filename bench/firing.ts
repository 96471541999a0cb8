/**
 * Scenario 2: N posts all due at the same instant, created well before it. Lateness is measured
 * where it matters — when the part reaches the (fake) platform: receivedAt − scheduledFor.
 */
import { performance } from 'node:perf_hooks';
import { describeCounts, postStatusCounts } from './engine';
import { callApi, eventually, round, runPool, sleep, summarize, type ApiResponse } from './lib';
import type { Meters } from './memory';
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
  cpu();

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
      peakRssMb: meters.memory.peak(startedAt),
    },
  };
}
