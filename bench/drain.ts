/**
 * Scenario 3: how many workflows per second the engine completes, on the same dev server, for
 *  - the bare baseline (bench/bare-workflow.ts: one no-op activity; own worker child, own task
 *    queue, same slot and cache settings), started with the Temporal client; and
 *  - Herald's post workflow, N immediate posts through POST /api/v2/publish/multi-platform.
 * Rate = N ÷ (last close time − first start request), the close times being the server's own.
 */
import { performance } from 'node:perf_hooks';
import { closedWorkflows, countWorkflows, describeCounts, postStatusCounts, waitForCount } from './engine';
import { callApi, round, runPool, type ApiResponse } from './lib';
import type { CpuPhase } from './cpu';
import type { Meters } from './memory';
import { perItem, ratio as ratioOf, ratioGoals } from './ratios';
import { thousands, type Row, type ScenarioOutcome } from './report';
import type { Stack } from './stack';
import { createTenant } from './tenants';

const BARE_WARM_UP = 20;

interface DrainMeasure {
  workflows: number;
  startSeconds: number;
  drainSeconds: number;
  completedPerSecond: number;
  startsPerSecond: number;
  problems: string[];
  /** CPU ms per process over the measured phase (bench/cpu.ts). */
  cpuMs?: CpuPhase['cpuMs'];
  /** The rest of the machine's CPU during the phase, % of one core. */
  otherWork?: number;
}

export async function runDrainScenario(stack: Stack, meters: Meters, workflows: number, concurrency: number, log: (line: string) => void): Promise<ScenarioOutcome> {
  const startedAt = Date.now();
  log(`drain: bare baseline, ${thousands(workflows)} workflows`);
  const bare = await measureBare(stack, meters, workflows, concurrency);
  const bareDone = Date.now();
  log(`drain: bare ${round(bare.completedPerSecond, 1)} workflows/s; Herald, ${thousands(workflows)} immediate posts`);
  const stopHeraldCpu = meters.cpu.start('Drain: Herald posts');
  const herald = await measureHerald(stack, workflows, concurrency);
  const heraldPhase = stopHeraldCpu();
  herald.cpuMs = heraldPhase.cpuMs;
  const ratio = herald.completedPerSecond / bare.completedPerSecond;
  const cpu = {
    apiCpuMsPerPost: perItem(herald.cpuMs.api, workflows),
    workerCpuMsPerPost: perItem(herald.cpuMs.worker, workflows),
    bareWorkerCpuMsPerWorkflow: perItem(bare.cpuMs?.bareWorker, workflows),
    devServerCpuMsPerPost: perItem(herald.cpuMs.devServer, workflows),
    bareDevServerCpuMsPerWorkflow: perItem(bare.cpuMs?.devServer, workflows),
  };
  const cpuRatio = ratioOf(cpu.workerCpuMsPerPost, cpu.bareWorkerCpuMsPerWorkflow);
  const failedChecks = [...bare.problems, ...herald.problems].length > 0;
  const otherWork = { herald: heraldPhase.percentOfOneCore.other, bare: bare.otherWork };
  meters.figures.drain = { workflows, heraldPerSecond: herald.completedPerSecond, barePerSecond: bare.completedPerSecond, ...cpu, otherWork, failedChecks };
  const ms = (value: number | undefined) => (value === undefined ? '?' : String(round(value, 1)));
  log(`drain: Herald ${round(herald.completedPerSecond, 1)} workflows/s, ratio ${round(ratio, 2)}`);

  const describe = (m: DrainMeasure, unit: string) =>
    `${round(m.completedPerSecond, 1)} workflows/s (${thousands(m.workflows)} done in ${round(m.drainSeconds, 1)} s; ${unit} ${round(m.startsPerSecond, 0)}/s)`;
  const rows: Row[] = [
    { scenario: 'Drain: bare workflow (1 no-op activity)', load: `${thousands(workflows)} started @${concurrency} by the client`, result: describe(bare, 'starts'), problems: bare.problems },
    {
      scenario: 'Drain: Herald post workflow (X, 1 part)',
      load: `${thousands(workflows)} POST /publish/multi-platform @${concurrency}`,
      result: describe(herald, 'API creates'),
      problems: herald.problems,
    },
    {
      scenario: 'Drain: Herald ÷ bare',
      load: 'same dev server, same worker settings',
      result: `${round(ratio, 2)}`,
      target: '≥ 0.7',
      targetMet: ratio >= 0.7,
      problems: failedChecks ? ['one of the two runs failed its checks'] : [],
    },
    {
      scenario: 'CPU per post: Herald worker ÷ bare worker (drain)',
      load: 'utime+stime over each drain phase ÷ workflows',
      result:
        `${cpuRatio === undefined ? '—' : round(cpuRatio, 2)} (worker ${ms(cpu.workerCpuMsPerPost)} ms per post ÷ bare worker ${ms(cpu.bareWorkerCpuMsPerWorkflow)} ms per workflow; ` +
        `API ${ms(cpu.apiCpuMsPerPost)} ms per post; dev server ${ms(cpu.devServerCpuMsPerPost)} vs ${ms(cpu.bareDevServerCpuMsPerWorkflow)} ms)`,
      target: `≤ ${ratioGoals.workerCpu}`,
      targetMet: cpuRatio !== undefined && cpuRatio <= ratioGoals.workerCpu,
      problems: failedChecks ? ['one of the two runs failed its checks'] : [],
    },
  ];
  return {
    id: 'drain',
    rows,
    data: { bare, herald, ratio: round(ratio, 3), cpuMsPerWorkflow: cpu, workerCpuRatio: cpuRatio === undefined ? null : round(cpuRatio, 3), peakRssMb: { bare: meters.memory.peak(startedAt, bareDone), herald: meters.memory.peak(bareDone) } },
  };
}

async function measureBare(stack: Stack, meters: Meters, workflows: number, concurrency: number): Promise<DrainMeasure> {
  const taskQueue = `bench-bare-${stack.runTag}`;
  const worker = await stack.startBareWorker(taskQueue);
  stack.bareWorkerPid = worker.pid;
  const problems: string[] = [];
  try {
    const start = (id: string, index: number) =>
      stack.temporal.workflow.start('benchBareWorkflow', { workflowId: id, taskQueue, args: [index] }).then(
        () => true,
        () => false,
      );
    // Warm-up: the worker's first workflows pay for bundle loading and JIT; Herald's worker is warm by now.
    await runPool(BARE_WARM_UP, 4, (i) => start(`bare-${stack.runTag}-warm-${i}`, i));
    await waitForCount(stack, `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`, BARE_WARM_UP, 60_000, 'the bare warm-up');

    const cpu = meters.cpu.start('Drain: bare workflows');
    const t0 = Date.now();
    const startClock = performance.now();
    const started = await runPool(workflows, concurrency, (i) => start(`bare-${stack.runTag}-m-${i}`, i));
    const startSeconds = (performance.now() - startClock) / 1000;
    const failedStarts = started.filter((ok) => ok !== true).length;
    if (failedStarts) problems.push(`${failedStarts} workflow starts failed`);
    const total = BARE_WARM_UP + workflows;
    try {
      await waitForCount(stack, `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`, total, Math.max(120_000, workflows * 100), `${total} bare workflows to complete`);
    } catch (err) {
      problems.push((err as Error).message);
    }
    const { cpuMs, percentOfOneCore } = cpu();
    const closed = (await closedWorkflows(stack, `TaskQueue = '${taskQueue}'`, total + 10)).filter((w) => w.workflowId.includes('-m-'));
    const completed = closed.filter((w) => w.status === 'COMPLETED');
    if (completed.length !== workflows) problems.push(`${completed.length} of ${workflows} bare workflows completed (${closed.length} found)`);
    const lastClose = Math.max(...completed.map((w) => w.closeMs));
    const drainSeconds = (lastClose - t0) / 1000;
    return { workflows, startSeconds, drainSeconds, completedPerSecond: completed.length / drainSeconds, startsPerSecond: workflows / startSeconds, problems, cpuMs, otherWork: percentOfOneCore.other };
  } finally {
    await worker.stop();
    stack.bareWorkerPid = undefined;
  }
}

async function measureHerald(stack: Stack, posts: number, concurrency: number): Promise<DrainMeasure> {
  const tenant = await createTenant(stack, 'drain');
  const contentOf = (index: number) => `Right now: post ${index + 1} of ${posts}, bench ${stack.runTag} drain`;
  const problems: string[] = [];
  const t0 = Date.now();
  const startClock = performance.now();
  const created = await runPool(posts, concurrency, (index) =>
    callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/publish/multi-platform', { businessId: tenant.businessId, content: contentOf(index), platforms: ['twitter'] }),
  );
  const startSeconds = (performance.now() - startClock) / 1000;
  const refused = created.filter((r: ApiResponse | undefined) => r?.status !== 202);
  if (refused.length) problems.push(`${refused.length} creates did not answer 202 (e.g. ${refused[0]?.status} ${JSON.stringify(refused[0]?.body ?? refused[0]?.error).slice(0, 160)})`);

  const query = `HeraldBusinessId = ${tenant.businessId}`;
  try {
    await waitForCount(stack, `${query} AND ExecutionStatus = 'Completed'`, posts, Math.max(120_000, posts * 150), `${posts} post workflows to complete`);
  } catch (err) {
    problems.push(`${(err as Error).message}; ${await countWorkflows(stack, `${query} AND ExecutionStatus = 'Running'`)} still running`);
  }
  const closed = await closedWorkflows(stack, query, posts + 10);
  const completed = closed.filter((w) => w.status === 'COMPLETED');
  if (completed.length !== posts) problems.push(`${completed.length} of ${posts} post workflows completed`);

  const tweets = stack.fakeX.tweetsBy(tenant.xUserId);
  const seen = new Map<string, number>();
  for (const tweet of tweets) seen.set(tweet.text, (seen.get(tweet.text) ?? 0) + 1);
  const notOnce = Array.from({ length: posts }, (_, i) => seen.get(contentOf(i)) ?? 0).filter((n) => n !== 1).length;
  if (notOnce || tweets.length !== posts) problems.push(`${notOnce} posts not on X exactly once (${tweets.length} received for ${posts})`);
  const counts = await postStatusCounts(stack, tenant.businessId);
  if (counts.published !== posts) problems.push(`Postgres holds ${describeCounts(counts)}, expected ${posts} published`);

  const lastClose = Math.max(...completed.map((w) => w.closeMs));
  const drainSeconds = (lastClose - t0) / 1000;
  return { workflows: posts, startSeconds, drainSeconds, completedPerSecond: completed.length / drainSeconds, startsPerSecond: posts / startSeconds, problems };
}
