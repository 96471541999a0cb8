/**
 * Issue #12, creates next to the bare engine in the same run:
 *  - throughput at the API scenario's concurrency: Herald's timed POST /api/v2/schedule (measured
 *    by bench/api-latency.ts) ÷ the bare Temporal client's `workflow.start` of a timer workflow
 *    (bench/bare-workflow.ts benchBareDueWorkflow, 40 days ahead), as many starts, same concurrency,
 *    same dev server, a bare worker with the same settings running each one's first workflow task;
 *  - latency at concurrency 1: sequential creates through the API next to sequential starts.
 * The two sides alternate in rounds (Herald, bare, Herald, bare, …): the machine is shared, and
 * other work that comes and goes then weighs on both alike. Herald's sequential posts belong to a
 * business of their own, scheduled 75+ days ahead, and are left waiting, like the month's.
 */
import { performance } from 'node:perf_hooks';
import { mergePhases, untilQuiet, type CpuPhase } from './cpu';
import { countWorkflows, describeCounts, postStatusCounts } from './engine';
import { callApi, eventually, round, runPool, summarize, type ApiResponse, type Summary } from './lib';
import type { Meters } from './memory';
import { perItem, ratio } from './ratios';
import { latencyText, roundSummary, thousands, type Row, type ScenarioOutcome } from './report';
import type { BenchChild, Stack } from './stack';
import { createTenant } from './tenants';

const BARE_WARM_UP = 20;
const DAY_MS = 24 * 3600_000;
/** Rounds each side's timed creates are split into, alternating with the other side's. */
export const CREATE_ROUNDS = 4;

/** What the API scenario measured for Herald's creates at concurrency. */
export interface HeraldTimedCreates {
  requests: number;
  concurrency: number;
  perSecond: number;
  latencyMs: Summary;
  cpu: CpuPhase;
  failedChecks: boolean;
}

/** The bare client's side: its worker runs from `start` to `finish`; `round` is called between Herald's rounds. */
export class CreateBaseline {
  readonly taskQueue: string;
  readonly dueAt = Date.now() + 40 * DAY_MS;
  private readonly atConcurrency: Array<number | undefined> = [];
  private readonly cpuParts: CpuPhase[] = [];
  private seconds = 0;
  private started = 0;

  private constructor(
    private readonly stack: Stack,
    private readonly meters: Meters,
    private readonly concurrency: number,
    private readonly worker: BenchChild,
  ) {
    this.taskQueue = `bench-bare-create-${stack.runTag}`;
  }

  static async start(stack: Stack, meters: Meters, concurrency: number): Promise<CreateBaseline> {
    const worker = await stack.startBareWorker(`bench-bare-create-${stack.runTag}`);
    stack.bareWorkerPid = worker.pid;
    const baseline = new CreateBaseline(stack, meters, concurrency, worker);
    await runPool(BARE_WARM_UP, 4, (i) => baseline.startOne(`warm-${i}`));
    return baseline;
  }

  /** One workflow.start, timed; undefined when it failed. */
  async startOne(suffix: string): Promise<number | undefined> {
    this.started += 1;
    const t0 = performance.now();
    try {
      await this.stack.temporal.workflow.start('benchBareDueWorkflow', { workflowId: `bare-create-${this.stack.runTag}-${suffix}`, taskQueue: this.taskQueue, args: [this.dueAt] });
      return performance.now() - t0;
    } catch {
      return undefined;
    }
  }

  /** `requests` starts at the concurrency, timed and metered. */
  async round(requests: number): Promise<void> {
    const offset = this.atConcurrency.length;
    const stop = this.meters.cpu.start(`Create: bare workflow.start @${this.concurrency}`, { record: false });
    const t0 = performance.now();
    this.atConcurrency.push(...(await runPool(requests, this.concurrency, (i) => this.startOne(`c-${offset + i}`))));
    this.seconds += (performance.now() - t0) / 1000;
    // Each start's first workflow task counts in the round's CPU, not in its time (as Herald's do).
    await untilQuiet(this.worker.pid);
    this.cpuParts.push(stop());
  }

  results(): { starts: Array<number | undefined>; seconds: number; cpu: CpuPhase; total: number } {
    return { starts: this.atConcurrency, seconds: this.seconds, cpu: this.meters.cpu.record(mergePhases(`Create: bare workflow.start @${this.concurrency}`, this.cpuParts)), total: this.started };
  }

  async finish(): Promise<void> {
    await this.worker.stop();
    this.stack.bareWorkerPid = undefined;
  }
}

export async function runCreateComparison(
  stack: Stack,
  meters: Meters,
  herald16: HeraldTimedCreates,
  baseline: CreateBaseline,
  sequential: number,
  log: (line: string) => void,
): Promise<ScenarioOutcome> {
  const bareProblems: string[] = [];
  const tenant = await createTenant(stack, 'create-at-1').catch(async (err: unknown) => {
    await baseline.finish();
    throw err;
  });
  const contentOf = (index: number) => `Sequential post ${index + 1} of ${sequential}, bench ${stack.runTag}`;
  const heraldOne: Array<ApiResponse | undefined> = [];
  const bareOne: Array<number | undefined> = [];
  const heraldCpu: CpuPhase[] = [];
  log(`create: ${sequential} POST /api/v2/schedule @1 and ${sequential} bare workflow.start @1, in ${CREATE_ROUNDS} alternating rounds`);
  let bare: ReturnType<CreateBaseline['results']>;
  try {
    for (let r = 0, from = 0; r < CREATE_ROUNDS; r++) {
      const to = Math.round((sequential * (r + 1)) / CREATE_ROUNDS);
      const stop = meters.cpu.start('Create: Herald POST /schedule @1', { record: false });
      heraldOne.push(
        ...(await runPool(to - from, 1, (i) =>
          callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/schedule', {
            businessId: tenant.businessId,
            content: contentOf(from + i),
            platforms: ['twitter'],
            scheduledFor: new Date(baseline.dueAt + 35 * DAY_MS + (from + i) * 60_000).toISOString(),
          }),
        )),
      );
      heraldCpu.push(stop());
      bareOne.push(...(await runPool(to - from, 1, (i) => baseline.startOne(`one-${from + i}`))));
      from = to;
    }
    bare = baseline.results();
    const failed = [...bare.starts, ...bareOne].filter((ms) => ms === undefined).length;
    if (failed) bareProblems.push(`${failed} of ${bare.starts.length + bareOne.length} bare starts failed`);
    const query = `TaskQueue = '${baseline.taskQueue}' AND ExecutionStatus = 'Running'`;
    try {
      await eventually(async () => ((await countWorkflows(stack, query)) === bare.total ? true : undefined), 60_000, `${bare.total} bare timer workflows to be visible`);
    } catch {
      bareProblems.push(`Temporal shows ${await countWorkflows(stack, query)} running bare timer workflows, expected ${bare.total}`);
    }
  } finally {
    await baseline.finish();
  }
  meters.cpu.record(mergePhases('Create: Herald POST /schedule @1', heraldCpu));
  const heraldProblems = await checkSequential(stack, tenant.businessId, heraldOne, sequential);

  const requests = bare.starts.length;
  const barePerSecond = requests / bare.seconds;
  const bareConcurrencyStats = summarize(bare.starts.filter((ms): ms is number => ms !== undefined));
  const bareOneStats = summarize(bareOne.filter((ms): ms is number => ms !== undefined));
  const heraldOneStats = summarize(heraldOne.filter((r): r is ApiResponse => r?.status === 201).map((r) => r.ms));
  const throughputRatio = ratio(herald16.perSecond, barePerSecond);
  const p50Ratio = ratio(heraldOneStats.p50, bareOneStats.p50);
  if (requests !== herald16.requests) bareProblems.push(`${requests} bare starts at concurrency for ${herald16.requests} Herald creates`);
  meters.figures.create = {
    concurrency: herald16.concurrency,
    heraldRequests: herald16.requests,
    heraldPerSecond: herald16.perSecond,
    bareStarts: requests,
    barePerSecond,
    sequential,
    heraldSequentialMs: roundSummary(heraldOneStats),
    bareSequentialMs: roundSummary(bareOneStats),
    apiCpuMsPerCreate: perItem(herald16.cpu.cpuMs.api, herald16.requests),
    workerCpuMsPerCreate: perItem(herald16.cpu.cpuMs.worker, herald16.requests),
    bareWorkerCpuMsPerStart: perItem(bare.cpu.cpuMs.bareWorker, requests),
    otherWork: { herald: herald16.cpu.percentOfOneCore.other, bare: bare.cpu.percentOfOneCore.other },
    failedChecks: herald16.failedChecks || bareProblems.length > 0 || heraldProblems.length > 0,
  };
  const rows: Row[] = [
    {
      scenario: 'Create: bare client workflow.start (timer workflow)',
      load: `${thousands(requests)} @${herald16.concurrency} and ${sequential} @1, each in ${CREATE_ROUNDS} rounds alternating with Herald's`,
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
      load: 'same dev server, same worker settings, alternating rounds',
      result: `${throughputRatio === undefined ? '—' : round(throughputRatio, 2)} (${round(herald16.perSecond, 1)} ÷ ${round(barePerSecond, 1)} per s)`,
      problems: herald16.failedChecks || bareProblems.length ? ['one of the two runs failed its checks'] : [],
    },
  ];
  return {
    id: 'create',
    rows,
    data: {
      rounds: CREATE_ROUNDS,
      bare: { starts: requests, concurrency: herald16.concurrency, seconds: round(bare.seconds, 2), perSecond: round(barePerSecond, 1), latencyMs: roundSummary(bareConcurrencyStats), sequentialLatencyMs: roundSummary(bareOneStats), cpu: bare.cpu },
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
