/**
 * `npm run bench` (about 20 minutes) / `npm run bench -- --quick` (about 3):
 * starts its own Herald stack (bench/stack.ts), measures API latency, firing accuracy, drain rate
 * against a bare-workflow baseline, memory with many waiting posts, and threads; checks every
 * scenario for correctness; writes bench/results/<YYYY-MM-DD-HHMM>.json and .md; prints the table.
 *
 * Issue #12: next to Herald, the bare engine in the same run (bench/bare-workflow.ts on the same dev
 * server, same worker settings) for creates, the burst, the drain and CPU per workflow; the table
 * of ratios (bench/ratios.ts) is printed and written with the results.
 *
 * Options: --quick; --only=api,firing,drain,threads (a subset, for working on one scenario);
 * --only=memory (never in the default set) runs the memory scenario alone, --waiting=N posts (bench/memory.ts).
 * Worker tuning set in the environment (WORKER_MAX_CONCURRENT_ACTIVITIES, WORKER_MAX_CACHED_WORKFLOWS)
 * is passed to the worker child and recorded with the results.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { defaultCliPath } from '../src/temporal/dev-server';
import { MONTH_VIEW, runApiAndMemoryScenario } from './api-latency';
import { CREATE_ROUNDS, CreateBaseline, runCreateComparison, type HeraldTimedCreates } from './create';
import { runDrainScenario } from './drain';
import { burstRatioRow, runBareBurstScenario, runFiringScenario } from './firing';
import { connectionRetries, loadAverage, processName } from './lib';
import { CpuMeter, cpuTable } from './cpu';
import { MemorySampler, runMemoryScenario, type Meters } from './memory';
import { ratioData, ratioTable, type Figures } from './ratios';
import { markdownTable, writeResults, type Row, type RunEnvironment, type ScenarioOutcome } from './report';
import { Cleanup, projectRoot, startStack, type Stack } from './stack';
import { runThreadsScenario } from './threads';

const SCENARIOS = ['api', 'firing', 'drain', 'threads'] as const;
/** Run only when named in --only. */
const OPTIONAL_SCENARIOS = ['memory'] as const;
type ScenarioName = (typeof SCENARIOS)[number] | (typeof OPTIONAL_SCENARIOS)[number];

const SIZES = {
  quick: { scheduleRequests: 300, sequentialCreates: 100, waitingPosts: 2000, getRequests: 100, firing: [50, 200], burst: 50, drain: 200, threads: 20, deadlineMinutes: 12 },
  full: { scheduleRequests: 2000, sequentialCreates: 200, waitingPosts: 10_000, getRequests: 300, firing: [50, 500, 2000], burst: 50, drain: 2000, threads: 200, deadlineMinutes: 60 },
};
const CONCURRENCY = 16;
/** Used for lead times when the API scenario is skipped (--only). */
const ASSUMED_CREATES_PER_SECOND = 40;

function parseArgs(argv: string[]): { quick: boolean; only: Set<ScenarioName>; waiting?: number } {
  const quick = argv.includes('--quick');
  const waitingArg = argv.find((arg) => arg.startsWith('--waiting='));
  const waiting = waitingArg ? Number(waitingArg.slice('--waiting='.length)) : undefined;
  if (waiting !== undefined && !(Number.isInteger(waiting) && waiting > 0)) throw new Error(`--waiting needs a positive whole number, not ${waitingArg}`);
  const onlyArg = argv.find((arg) => arg.startsWith('--only='));
  const only = new Set<ScenarioName>(SCENARIOS);
  if (onlyArg) {
    only.clear();
    for (const name of onlyArg.slice('--only='.length).split(',')) {
      if (![...SCENARIOS, ...OPTIONAL_SCENARIOS].includes(name as ScenarioName)) throw new Error(`unknown scenario "${name}"; use ${[...SCENARIOS, ...OPTIONAL_SCENARIOS].join(',')}`);
      only.add(name as ScenarioName);
    }
  }
  const unknown = argv.filter((arg) => arg !== '--quick' && !arg.startsWith('--only=') && !arg.startsWith('--waiting='));
  if (unknown.length) throw new Error(`unknown option ${unknown.join(' ')}; use --quick, --only=${[...SCENARIOS, ...OPTIONAL_SCENARIOS].join(',')} and/or --waiting=N`);
  return { quick, only, waiting };
}

const runStarted = Date.now();
function log(line: string): void {
  const seconds = ((Date.now() - runStarted) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[bench ${seconds}s] ${line}\n`);
}

function command(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

function environmentAtStart(quick: boolean): RunEnvironment {
  return {
    mode: quick ? 'quick' : 'full',
    startedAt: new Date(runStarted).toISOString(),
    nproc: Number(command('nproc', [])) || cpus().length,
    loadAverageAtStart: loadAverage(),
    node: process.version,
    temporalCli: command(defaultCliPath, ['--version'])?.replace(/^temporal version /, 'temporal CLI '),
    gitCommit: command('git', ['rev-parse', '--short', 'HEAD']),
    gitDirty: Boolean(command('git', ['status', '--porcelain'])),
    notes: [],
  };
}

async function main(): Promise<number> {
  const { quick, only, waiting } = parseArgs(process.argv.slice(2));
  const sizes = { ...(quick ? SIZES.quick : SIZES.full), ...(waiting ? { waitingPosts: waiting } : {}) };
  const environment = environmentAtStart(quick);
  log(`${environment.mode} run on ${environment.nproc} cores (nproc), load average ${environment.loadAverageAtStart} — other work on this machine affects every number`);

  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything the bench started`);
    void cleanup.runAll(log).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const deadline = setTimeout(() => {
    log(`the run exceeded ${sizes.deadlineMinutes} minutes: stopping`);
    void cleanup.runAll(log).finally(() => process.exit(2));
  }, sizes.deadlineMinutes * 60_000);
  deadline.unref();

  const outcomes: ScenarioOutcome[] = [];
  const rows: Row[] = [];
  let sampler: MemorySampler | undefined;
  let cpu: CpuMeter | undefined;
  const figures: Figures = {};
  try {
    const stack = await startStack(cleanup, log);
    environment.workerSettings = stack.workerSettings;
    environment.childEnv = stack.childEnv;
    environment.notes.push(
      `Month view (the switch is MONTH_VIEW in bench/api-latency.ts): ${MONTH_VIEW.label}${MONTH_VIEW.extraQuery ? `, query \`${MONTH_VIEW.extraQuery.replace(/^&/, '')}\`` : ''}.`,
      `Processes measured: worker pid ${stack.worker.pid} (${processName(stack.worker.pid)}), API pid ${stack.api.pid} (${processName(stack.api.pid)}), dev server pid ${stack.devServer.process.pid} (${processName(stack.devServer.process.pid)}).`,
    );
    sampler = new MemorySampler(() => ({ worker: stack.worker.pid, api: stack.api.pid, devServer: stack.devServer.process.pid, bench: process.pid }));
    sampler.start();
    cpu = new CpuMeter(() => ({ api: stack.api.pid, worker: stack.worker.pid, bareWorker: stack.bareWorkerPid, devServer: stack.devServer.process.pid, bench: process.pid }));
    const meters: Meters = { memory: sampler, cpu, figures };

    const run = async (name: string, scenario: () => Promise<ScenarioOutcome>) => {
      try {
        const outcome = await scenario();
        outcomes.push(outcome);
        rows.push(...outcome.rows);
      } catch (err) {
        log(`${name} failed: ${err instanceof Error ? err.stack : String(err)}`);
        rows.push({ scenario: name, load: '—', result: 'did not finish', problems: [err instanceof Error ? err.message.split('\n')[0]! : String(err)] });
      }
    };

    let createsPerSecond = ASSUMED_CREATES_PER_SECOND;
    if (only.has('api')) {
      let timedCreates: HeraldTimedCreates | undefined;
      // The bare client's starts alternate with Herald's timed creates (bench/create.ts).
      const baseline = await CreateBaseline.start(stack, meters, CONCURRENCY).catch((err: unknown) => {
        log(`the bare create baseline could not start: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      });
      const interleave = baseline && { rounds: CREATE_ROUNDS, afterRound: (requests: number) => baseline.round(requests) };
      await run('API latency and memory', async () => {
        const result = await runApiAndMemoryScenario(stack, meters, { ...sizes, concurrency: CONCURRENCY }, log, interleave);
        createsPerSecond = result.scheduleRatePerSecond;
        timedCreates = result.timedCreates;
        return result.outcome;
      });
      if (baseline && timedCreates) {
        const herald16 = timedCreates;
        await run('Create: Herald vs bare client', () => runCreateComparison(stack, meters, herald16, baseline, sizes.sequentialCreates, log));
      } else {
        await baseline?.finish();
      }
    }
    if (only.has('firing')) {
      await run(`Burst ${sizes.burst} (bare engine)`, () => runBareBurstScenario(stack, meters, sizes.burst, createsPerSecond, CONCURRENCY, log));
      for (const posts of sizes.firing) {
        await run(`Firing ${posts}`, () => runFiringScenario(stack, meters, posts, createsPerSecond, CONCURRENCY, log));
        const ratioRow = posts === sizes.burst ? burstRatioRow(meters) : undefined;
        if (ratioRow) rows.push(ratioRow);
      }
    }
    if (only.has('drain')) await run('Drain', () => runDrainScenario(stack, meters, sizes.drain, CONCURRENCY, log));
    if (only.has('memory')) await run('Memory', () => runMemoryScenario(stack, meters, sizes.waitingPosts, CONCURRENCY, log));
    if (only.has('threads')) await run('Threads', () => runThreadsScenario(stack, meters, sizes.threads, createsPerSecond, CONCURRENCY, log));

    rows.push(memoryRow(stack, sampler));
    if (connectionRetries.count > 0) {
      environment.notes.push(`${connectionRetries.count} create(s) were sent again with the same Idempotency-Key after the connection dropped before any answer (first: ${connectionRetries.sample}); the checks above still count every post exactly once.`);
    }
  } catch (err) {
    log(`the bench could not run: ${err instanceof Error ? err.stack : String(err)}`);
    rows.push({ scenario: 'Stack start-up', load: '—', result: 'did not start', problems: [err instanceof Error ? err.message.split('\n')[0]! : String(err)] });
  } finally {
    sampler?.stop();
    log('stopping the stack');
    await cleanup.runAll(log);
    clearTimeout(deadline);
  }

  environment.finishedAt = new Date().toISOString();
  environment.durationSeconds = Math.round((Date.now() - runStarted) / 1000);
  environment.loadAverageAtEnd = loadAverage();
  const cpuPhases = cpu?.phases ?? [];
  const cpuSection = cpuPhases.length ? cpuTable(cpuPhases, environment.nproc) : '';
  const ratioSection = ratioTable(figures);
  const sections = [ratioSection, cpuSection].filter(Boolean);
  const files = writeResults(environment, outcomes, rows, { data: { ratios: ratioData(figures), cpu: cpuPhases }, sections });
  process.stdout.write(`\n${markdownTable(rows)}\n\n${sections.map((section) => `${section}\n\n`).join('')}`);
  process.stdout.write(`nproc ${environment.nproc}; load average ${environment.loadAverageAtStart} at start, ${environment.loadAverageAtEnd} at end (other work on this machine counts).\n`);
  process.stdout.write(`Results: ${files.json}\n         ${files.markdown}\n`);
  return rows.some((row) => row.problems.length > 0) ? 1 : 0;
}

/** Peak resident memory over the whole run, per process. */
function memoryRow(stack: Stack, sampler: MemorySampler): Row {
  const peak = sampler.peak(0);
  return {
    scenario: 'Memory: peak RSS over the whole run',
    load: 'sampled every 0.5 s',
    result: `worker ${peak.worker ?? '?'} MB · API ${peak.api ?? '?'} MB · dev server ${peak.devServer ?? '?'} MB · bench (load generator + fakes) ${peak.bench ?? '?'} MB`,
    problems: stack.worker.process.exitCode !== null || stack.api.process.exitCode !== null ? ['the worker or the API exited during the run'] : [],
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
