/**
 * Issue #12, creates next to the bare engine in the same run:
 *  - throughput at the API scenario's concurrency: Herald's timed POST /api/v2/schedule (measured
 *    by bench/api-latency.ts) ÷ the bare Temporal client's `workflow.start` of a timer workflow
 *    (bench/bare-workflow.ts benchBareDueWorkflow, a month ahead), as many starts, same concurrency,
 *    same dev server, a bare worker with the same settings running each one's first workflow task;
 *  - latency at concurrency 1: sequential creates through the API next to sequential starts.
 * Herald's sequential posts belong to a business of their own, scheduled 35+ days ahead (after
 * the month the API scenario lists), and are left waiting, like the month's.
 */
import { performance } from 'node:perf_hooks';
import type { CpuPhase } from './cpu';
import { countWorkflows, describeCounts, postStatusCounts, withBareWorker } from './engine';
import { callApi, eventually, round, runPool, summarize, type ApiResponse, type Summary } from './lib';
import type { Meters } from './memory';
import { perItem, ratio } from './ratios';
import { latencyText, roundSummary, thousands, type Row, type ScenarioOutcome } from './report';
import type { Stack } from './stack';
import { createTenant } from './tenants';

const BARE_WARM_UP = 20;
const DAY_MS = 24 * 3600_000;

/** What the API scenario measured for Herald's creates at concurrency. */
export interface HeraldTimedCreates {
  requests: number;
  concurrency: number;
  perSecond: number;
  latencyMs: Summary;
  cpu: CpuPhase;
  failedChecks: boolean;
}

export async function runCreateComparison(
  stack: Stack,
  meters: Meters,
  herald16: HeraldTimedCreates,
  sequential: number,
  log: (line: string) => void,
): Promise<ScenarioOutcome> {
  const taskQueue = `bench-bare-create-${stack.runTag}`;
  const dueAt = Date.now() + 40 * DAY_MS;
  const bareProblems: string[] = [];
  const startOne = async (id: string): Promise<number | undefined> => {
    const t0 = performance.now();
    try {
      await stack.temporal.workflow.start('benchBareDueWorkflow', { workflowId: id, taskQueue, args: [dueAt] });
      return performance.now() - t0;
    } catch {
      return undefined;
    }
  };

  log(`create: bare client, ${thousands(herald16.requests)} workflow.start @${herald16.concurrency} and ${sequential} @1 (timer workflow)`);
  const bare = await withBareWorker(stack, taskQueue, async () => {
    await runPool(BARE_WARM_UP, 4, (i) => startOne(`bare-create-${stack.runTag}-warm-${i}`));
    const stop = meters.cpu.start(`Create: bare workflow.start @${herald16.concurrency}`);
    const clock = performance.now();
    const atConcurrency = await runPool(herald16.requests, herald16.concurrency, (i) => startOne(`bare-create-${stack.runTag}-c-${i}`));
    const seconds = (performance.now() - clock) / 1000;
    const cpu = stop();
    const atOne = await runPool(sequential, 1, (i) => startOne(`bare-create-${stack.runTag}-one-${i}`));
    const total = BARE_WARM_UP + herald16.requests + sequential;
    const failed = [...atConcurrency, ...atOne].filter((ms) => ms === undefined).length;
    if (failed) bareProblems.push(`${failed} of ${herald16.requests + sequential} bare starts failed`);
    const query = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`;
    try {
      await eventually(async () => ((await countWorkflows(stack, query)) === total ? true : undefined), 60_000, `${total} bare timer workflows to be visible`);
    } catch {
      bareProblems.push(`Temporal shows ${await countWorkflows(stack, query)} running bare timer workflows, expected ${total}`);
    }
    return { atConcurrency, atOne, seconds, cpu };
  });
  const barePerSecond = herald16.requests / bare.seconds;
  const bareConcurrencyStats = summarize(bare.atConcurrency.filter((ms): ms is number => ms !== undefined));
  const bareOneStats = summarize(bare.atOne.filter((ms): ms is number => ms !== undefined));

  log(`create: Herald, ${sequential} POST /api/v2/schedule @1`);
  const tenant = await createTenant(stack, 'create-at-1');
  const contentOf = (index: number) => `Sequential post ${index + 1} of ${sequential}, bench ${stack.runTag}`;
  const heraldStop = meters.cpu.start('Create: Herald POST /schedule @1');
  const heraldResponses = await runPool(sequential, 1, (index) =>
    callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/schedule', {
      businessId: tenant.businessId,
      content: contentOf(index),
      platforms: ['twitter'],
      scheduledFor: new Date(dueAt + 35 * DAY_MS + index * 60_000).toISOString(),
    }),
  );
  heraldStop();
  const heraldProblems = await checkSequential(stack, tenant.businessId, heraldResponses, sequential);
  const heraldOneStats = summarize(heraldResponses.filter((r): r is ApiResponse => r?.status === 201).map((r) => r.ms));

  const throughputRatio = ratio(herald16.perSecond, barePerSecond);
  const p50Ratio = ratio(heraldOneStats.p50, bareOneStats.p50);
  meters.figures.create = {
    concurrency: herald16.concurrency,
    heraldRequests: herald16.requests,
    heraldPerSecond: herald16.perSecond,
    bareStarts: herald16.requests,
    barePerSecond,
    sequential,
    heraldSequentialMs: roundSummary(heraldOneStats),
    bareSequentialMs: roundSummary(bareOneStats),
    apiCpuMsPerCreate: perItem(herald16.cpu.cpuMs.api, herald16.requests),
    workerCpuMsPerCreate: perItem(herald16.cpu.cpuMs.worker, herald16.requests),
    bareWorkerCpuMsPerStart: perItem(bare.cpu.cpuMs.bareWorker, herald16.requests),
    failedChecks: herald16.failedChecks || bareProblems.length > 0 || heraldProblems.length > 0,
  };
  const rows: Row[] = [
    {
      scenario: 'Create: bare client workflow.start (timer workflow)',
      load: `${thousands(herald16.requests)} @${herald16.concurrency}, then ${sequential} @1`,
      result: `@${herald16.concurrency}: ${round(barePerSecond, 0)} starts/s, ${latencyText(bareConcurrencyStats)} · @1: ${latencyText(bareOneStats, 'ms', 1)}`,
      problems: bareProblems,
    },
    {
      scenario: 'Create: Herald POST /api/v2/schedule @1',
      load: `${sequential} sequential requests`,
      result: `${latencyText(heraldOneStats, 'ms', 1)} · ratio to bare @1: p50 ${p50Ratio === undefined ? '—' : round(p50Ratio, 1)}`,
      problems: heraldProblems,
    },
    {
      scenario: `Create: Herald ÷ bare, throughput @${herald16.concurrency}`,
      load: 'same dev server, same worker settings',
      result: `${throughputRatio === undefined ? '—' : round(throughputRatio, 2)} (${round(herald16.perSecond, 1)} ÷ ${round(barePerSecond, 1)} per s)`,
      problems: herald16.failedChecks || bareProblems.length ? ['one of the two runs failed its checks'] : [],
    },
  ];
  return {
    id: 'create',
    rows,
    data: {
      bare: { starts: herald16.requests, concurrency: herald16.concurrency, seconds: round(bare.seconds, 2), perSecond: round(barePerSecond, 1), latencyMs: roundSummary(bareConcurrencyStats), sequentialLatencyMs: roundSummary(bareOneStats), cpu: bare.cpu },
      herald: { requests: herald16.requests, concurrency: herald16.concurrency, perSecond: round(herald16.perSecond, 1), latencyMs: herald16.latencyMs, sequentialLatencyMs: roundSummary(heraldOneStats), businessId: tenant.businessId },
      throughputRatio: throughputRatio === undefined ? null : round(throughputRatio, 3),
    },
  };
}

/** Every sequential create answered 201 with a distinct post; Postgres and Temporal hold each as waiting. */
async function checkSequential(stack: Stack, businessId: number, responses: Array<ApiResponse | undefined>, expected: number): Promise<string[]> {
  const problems: string[] = [];
  const failed = responses.filter((r) => r?.status !== 201);
  if (responses.length !== expected || failed.length > 0) {
    problems.push(`${failed.length + expected - responses.length} of ${expected} creates did not answer 201 (e.g. ${failed[0]?.status} ${JSON.stringify(failed[0]?.body ?? failed[0]?.error).slice(0, 160)})`);
  }
  const ids = new Set(responses.map((r) => (r?.body as { id?: number } | undefined)?.id));
  if (ids.size !== expected) problems.push(`${ids.size} distinct post ids for ${expected} creates`);
  const counts = await postStatusCounts(stack, businessId);
  if (counts.scheduled !== expected || Object.keys(counts).length !== 1) problems.push(`Postgres holds ${describeCounts(counts)}, expected ${expected} scheduled`);
  const query = `HeraldBusinessId = ${businessId} AND ExecutionStatus = 'Running'`;
  try {
    await eventually(async () => ((await countWorkflows(stack, query)) === expected ? true : undefined), 60_000, 'the sequential posts\' workflows to be visible');
  } catch {
    problems.push(`Temporal shows ${await countWorkflows(stack, query)} running workflows, expected ${expected}`);
  }
  return problems;
}
