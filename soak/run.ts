/**
 * `npm run soak` — a chaos soak in the spirit of Jepsen: starts its own Herald (soak/stack.ts),
 * drives a workload of posts due in waves (soak/plan.ts, soak/workload.ts) while a nemesis injects
 * platform and process faults (soak/faults.ts), drains, then checks every post against what the
 * fakes received (soak/verdict.ts) and writes soak/results/<YYYY-MM-DD-HHMM>.json and .md.
 * Exits 0 only when no post was duplicated, lost, stuck, misreported or published after a cancel.
 *
 *   npm run soak                      2,000 posts (about 15 minutes on 2 cores)
 *   npm run soak -- --posts 10000     the full run
 *   npm run soak -- --short           200 posts, one fault of each kind (CI; 2.5–4 minutes)
 *   options: --seed N, --fault-rate 0.1, --drain-seconds S, --keep (keep the work folder)
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultCliPath } from '../src/temporal/dev-server';
import { Cleanup, projectRoot } from '../bench/stack';
import { drain, type DrainOutcome } from './drain';
import { PROCESS_FAULT_COUNTS, platformFaultStats, runNemesis, scheduleFaults, startPlatformFaults, stopPlatformFaults, type FaultRecord } from './faults';
import { adoptUnansweredCreates, apiViews, createRequests, databaseFacts, fakeItems, workflowOutcomes } from './observe';
import { makePlan } from './plan';
import { createsNeverAccepted, findingLines, verdictTable, writeResults, type RunInfo } from './report';
import { startSoakStack, type SoakStack } from './stack';
import { judge } from './verdict';
import { Workload, type PostRecord } from './workload';

/** The children's platform timeout: short, so that late answers and late creates do not make the run slow. */
const HTTP_TIMEOUT_MS = 5000;
/** The dev server and Redis stay down this long; workers give up on Temporal a little after the outage. */
const DOWN_MS = 3000;
const UNREACHABLE_EXIT_AFTER_MS = 15_000;

interface Options {
  mode: RunInfo['mode'];
  posts: number;
  seed: number;
  faultRate: number;
  drainSeconds: number;
  keep: boolean;
  tenants: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      posts: { type: 'string' },
      short: { type: 'boolean', default: false },
      seed: { type: 'string' },
      'fault-rate': { type: 'string' },
      'drain-seconds': { type: 'string' },
      tenants: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const number = (raw: string | undefined, name: string, fallback: number, valid: (n: number) => boolean) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!valid(value)) throw new Error(`--${name} ${raw} is not valid`);
    return value;
  };
  const posts = number(values.posts, 'posts', values.short ? 200 : 2000, (n) => Number.isInteger(n) && n >= 20);
  const mode: RunInfo['mode'] = values.short ? 'short' : values.posts === undefined ? 'default' : posts >= 10_000 ? 'full' : 'custom';
  return {
    mode,
    posts,
    seed: number(values.seed, 'seed', Math.floor(Math.random() * 2 ** 31), Number.isInteger),
    faultRate: number(values['fault-rate'], 'fault-rate', 0.1, (n) => n >= 0 && n <= 1),
    drainSeconds: number(values['drain-seconds'], 'drain-seconds', values.short ? 120 : 600, (n) => n > 0),
    tenants: number(values.tenants, 'tenants', 2, (n) => Number.isInteger(n) && n >= 1 && n <= 20),
    keep: values.keep ?? false,
  };
}

const runStarted = Date.now();
function log(line: string): void {
  const seconds = ((Date.now() - runStarted) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[soak ${seconds}s] ${line}\n`);
}

function command(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  const short = opts.mode === 'short';
  // The run window: a wave every few seconds, 0.35 s of window per post (2,000 posts: ~12 minutes of waves),
  // what two cores sustain with the faults (at 0.25 s the workers fell minutes behind: an overload
  // test, with most cancels answered 202 because no worker confirmed them in time).
  const waveIntervalMs = short ? 4000 : 5000;
  const windowMs = Math.max(short ? 72_000 : 120_000, opts.posts * 350);
  const waves = Math.max(3, Math.round(windowMs / waveIntervalMs));
  log(`${opts.mode} run: ${opts.posts} posts in ${waves} waves ${waveIntervalMs / 1000} s apart, seed ${opts.seed} (repeat with --seed ${opts.seed}), platform faults on ${opts.faultRate * 100} % of creates`);

  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything the soak started`);
    void cleanup.runAll(log).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Every wait below is bounded; this is the last resort, well above their sum.
  const hardDeadlineMs = 10 * 60_000 + windowMs + opts.drainSeconds * 1000 + 5 * 60_000;
  const watchdog = setTimeout(() => {
    log(`the run exceeded ${Math.round(hardDeadlineMs / 60_000)} minutes: stopping`);
    void cleanup.runAll(log).finally(() => process.exit(2));
  }, hardDeadlineMs);
  watchdog.unref();

  const phases: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (name: string) => {
    phases[name] = Math.round((Date.now() - phaseStart) / 1000);
    phaseStart = Date.now();
  };

  let stack: SoakStack | undefined;
  let passed = false;
  try {
    stack = await startSoakStack({ httpTimeoutMs: HTTP_TIMEOUT_MS, unreachableExitAfterMs: UNREACHABLE_EXIT_AFTER_MS, tenants: opts.tenants }, cleanup, log);
    phase('start-up');

    const firstDueAt = Date.now() + (short ? 20_000 : 30_000);
    const plan = makePlan({
      runTag: stack.runTag,
      seed: opts.seed,
      posts: opts.posts,
      tenants: opts.tenants,
      firstDueAt,
      waves,
      waveIntervalMs,
      leadMs: short ? [6000, 20_000] : [10_000, 60_000],
      operatorActionsPerKindAndPhase: short ? 1 : Math.max(2, Math.round(opts.posts * 0.003)),
    });
    const waveDueTimes = Array.from({ length: waves }, (_, i) => firstDueAt + i * waveIntervalMs);
    const lastDueAt = Math.max(...plan.map((p) => p.userAction?.newDueAt ?? p.dueAt));
    const schedule = scheduleFaults(short ? PROCESS_FAULT_COUNTS.short : PROCESS_FAULT_COUNTS.long, waveDueTimes, opts.seed);
    log(`plan: ${plan.filter((p) => p.thread !== 'single').length} threads, ${plan.filter((p) => p.userAction).length} user actions, ${plan.filter((p) => p.operatorAction).length} operator actions, ` +
      `${plan.filter((p) => p.clientRetry !== 'none').length} client retries; process faults: ${schedule.map((f) => `${f.kind} +${Math.round((f.at - Date.now()) / 1000)} s`).join(', ')}`);

    startPlatformFaults(stack, { rate: opts.faultRate, seed: opts.seed, httpTimeoutMs: HTTP_TIMEOUT_MS });
    const workload = new Workload(plan, { apiUrl: stack.api.url, tenants: stack.tenants, temporal: stack.temporal, log, deadline: lastDueAt + 60_000 });
    const progress = setInterval(() => {
      const items = stack ? fakeItems(stack).length : 0;
      log(`progress: ${workload.created}/${opts.posts} posts created, ${items} items on the fakes`);
    }, 15_000);
    let faultRecords: FaultRecord[] = [];
    try {
      [, faultRecords] = await Promise.all([
        workload.run(),
        runNemesis(stack, schedule, { seed: opts.seed, stopMs: [15_000, 20_000], downMs: DOWN_MS, httpTimeoutMs: HTTP_TIMEOUT_MS, log }),
      ]);
    } finally {
      clearInterval(progress);
    }
    phase('workload');
    // The drain measures recovery, not more chaos: the fakes answer normally from here on.
    stopPlatformFaults(stack);

    const adopted = await adoptUnansweredCreates(stack, workload.records);
    if (adopted) log(`${adopted} post(s) exist although their create never got a 2xx answer: judged like the others`);
    const fakes = stack.fakes;
    log(`drain: waiting up to ${opts.drainSeconds} s for every post to reach a final state`);
    const drained: DrainOutcome = await drain(stack.api.url, stack.tenants, workload.records, {
      deadlineMs: opts.drainSeconds * 1000,
      stallMs: short ? 75_000 : 240_000,
      activity: () => fakes.x.requests.length + fakes.linkedin.requests.length + fakes.meta.requests.length,
      log,
    });
    log(`drain: ${drained.stopReason} after ${drained.seconds} s${drained.stillOpen ? ` (${drained.stillOpen} still open)` : ''}`);
    phase('drain');

    log('checking every post against the fakes, the API, the workflows and the database');
    const items = fakeItems(stack);
    // Kept with the logs (the work folder survives a failed run): what each fake held, for post-mortems.
    writeFileSync(join(stack.workDir, 'fake-items.json'), JSON.stringify(items));
    const [views, workflows, database] = await Promise.all([
      apiViews(stack, workload.records),
      workflowOutcomes(stack.temporal, workload.records),
      databaseFacts(stack),
    ]);
    const verdict = judge({ runTag: stack.runTag, records: workload.records, tenants: stack.tenants, items, views, workflows, database, faults: faultRecords });
    phase('checks');
    passed = verdict.passed;

    const run: RunInfo = {
      mode: opts.mode,
      options: { posts: opts.posts, seed: opts.seed, faultRate: opts.faultRate, drainSeconds: opts.drainSeconds, tenants: opts.tenants, waves, waveIntervalMs },
      startedAt: new Date(runStarted).toISOString(),
      durationSeconds: Math.round((Date.now() - runStarted) / 1000),
      phases,
      nproc: Number(command('nproc', [])) || cpus().length,
      node: process.version,
      temporalCli: command(defaultCliPath, ['--version'])?.replace(/^temporal version /, 'temporal CLI '),
      gitCommit: command('git', ['rev-parse', '--short', 'HEAD']),
      gitDirty: Boolean(command('git', ['status', '--porcelain'])),
      childEnv: stack.childEnv,
      workDir: stack.workDir,
    };
    const extras = {
      records: workload.records,
      childExits: [stack.api, ...stack.workers].flatMap((child) => child.exits).sort((a, b) => a.at - b.at),
      platformFaults: platformFaultStats(stack),
      createRequests: createRequests(stack),
      ledger: database.ledger,
      drained: drained.drained,
    };
    const files = writeResults(run, verdict, extras);
    if (!verdict.passed) {
      // The evidence outlives the run: the database (ledger, posts) next to the logs and the SQLite file.
      await stack.postgres.dump(join(stack.workDir, 'herald_soak.sql')).catch((err: unknown) => log(`pg_dump failed: ${String(err)}`));
    }
    process.stdout.write(`\n${verdictTable(verdict)}\n\n`);
    process.stdout.write(`${markdownSummary(verdict, extras)}\n\n`);
    if (!verdict.passed) process.stdout.write(`${findingLines(verdict, 8).join('\n')}\n`);
    process.stdout.write(`Results: ${files.json}\n         ${files.markdown}\n`);
  } catch (err) {
    log(`the soak could not run: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    log('stopping the stack');
    await cleanup.runAll(log);
    clearTimeout(watchdog);
    if (stack) {
      if (passed && !opts.keep) rmSync(stack.workDir, { recursive: true, force: true });
      else log(`logs of the Herald processes and the dev server's SQLite file kept in ${stack.workDir}`);
    }
  }
  log(passed ? 'PASSED' : 'FAILED');
  return passed ? 0 : 1;
}

/** The few lines worth seeing in a terminal; the rest is in the results' Markdown. */
function markdownSummary(verdict: ReturnType<typeof judge>, extras: { records: PostRecord[]; platformFaults: Record<string, Record<string, number>>; childExits: unknown[]; ledger: { sends: number; rows: number; resent: number } }): string {
  const p = verdict.platforms;
  const parts = (Object.keys(p) as Array<keyof typeof p>).map((name) => `${name} ${p[name].foundParts}/${p[name].expectedParts}${p[name].duplicateItems ? ` (+${p[name].duplicateItems} extra)` : ''}`);
  const faults = Object.entries(extras.platformFaults).map(([fake, stats]) => `${fake}: ${Object.entries(stats).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  const l = verdict.lateness;
  return [
    `Parts found / expected: ${parts.join(' · ')}`,
    `Posts: ${Object.entries(verdict.posts.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}; ${createsNeverAccepted(extras.records)}`,
    `Lateness (first part vs scheduledFor): ${l.count ? `p50 ${Math.round(l.p50)} · p95 ${Math.round(l.p95)} · p99 ${Math.round(l.p99)} · max ${Math.round(l.max)} ms` : 'no samples'}`,
    `Platform faults: ${faults.join(' | ')}`,
    `Creates retried: ${extras.ledger.resent} parts sent more than once (${extras.ledger.sends} sends for ${extras.ledger.rows} ledger rows); Herald processes restarted: ${extras.childExits.length}`,
    `Process faults: ${verdict.faults.map((f) => `${f.kind} ${f.target} back ${f.backAt ? `${((f.backAt - f.injectedAt) / 1000).toFixed(1)} s` : 'never'}, healed ${f.healedInMs === undefined ? '?' : `${(f.healedInMs / 1000).toFixed(1)} s`}`).join('; ')}`,
  ].join('\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
