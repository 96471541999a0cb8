/**
 * Resident memory of the processes under test, read from /proc/<pid>/status (VmRSS) every half
 * second for the whole run, so each scenario can report its peak next to point readings.
 */
import { readFileSync } from 'node:fs';
import { parseMetrics } from './api-latency';
import type { CpuMeter } from './cpu';
import { callApi, eventually, memoryOf, round, runPool, seededRandom, sleep } from './lib';
import type { Figures } from './ratios';
import type { ScenarioOutcome } from './report';
import type { Stack } from './stack';
import { createTenant } from './tenants';

/** Memory sampled all along, CPU per phase, and the figures each scenario adds for the ratio table (bench/ratios.ts). */
export interface Meters {
  memory: MemorySampler;
  cpu: CpuMeter;
  figures: Figures;
}

export type ProcessName = 'worker' | 'api' | 'devServer' | 'bench';

export interface MemorySample {
  at: number;
  rssMb: Partial<Record<ProcessName, number>>;
}

export class MemorySampler {
  private readonly samples: MemorySample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly pids: () => Partial<Record<ProcessName, number | undefined>>) {}

  start(intervalMs = 500): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A reading now (also kept as a sample). */
  sample(): MemorySample {
    const rssMb: MemorySample['rssMb'] = {};
    for (const [name, pid] of Object.entries(this.pids()) as Array<[ProcessName, number | undefined]>) {
      const memory = memoryOf(pid);
      if (memory) rssMb[name] = round(memory.rssMb, 1);
    }
    const sample = { at: Date.now(), rssMb };
    this.samples.push(sample);
    if (this.samples.length > 20_000) this.samples.splice(0, 10_000);
    return sample;
  }

  /** The highest RSS of each process between two times (epoch ms). */
  peak(fromMs: number, toMs = Date.now()): Partial<Record<ProcessName, number>> {
    const peak: Partial<Record<ProcessName, number>> = {};
    for (const sample of this.samples) {
      if (sample.at < fromMs || sample.at > toMs) continue;
      for (const [name, mb] of Object.entries(sample.rssMb) as Array<[ProcessName, number]>) {
        peak[name] = Math.max(peak[name] ?? 0, mb);
      }
    }
    return peak;
  }
}

/**
 * Where a process's resident memory is, from /proc/<pid>/status and /proc/<pid>/smaps: file-backed
 * (code: node, the Temporal core's .node library) against anonymous, and of the anonymous part what
 * sits in glibc malloc arenas (64 MB-aligned heaps of the other threads: the Temporal core is
 * multi-threaded Rust) and the main brk heap. The rest is mostly V8 (both isolates: the main thread
 * and the workflow thread) and thread stacks.
 */
export interface RssSplit {
  rssMb: number;
  anonMb: number;
  fileMb: number;
  /** Rss of anonymous mappings that start on a 64 MB boundary next to a PROT_NONE tail (glibc non-main arenas). */
  arenasMb: number;
  arenas: number;
  /** The main arena ([heap], brk). */
  brkMb: number;
  threads: number;
}

const ARENA_BYTES = 64 * 1024 * 1024;

export function rssSplit(pid: number | undefined): RssSplit | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    const maps = parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
    let arenasKb = 0;
    let arenas = 0;
    let brkKb = 0;
    for (let i = 0; i < maps.length; i++) {
      const map = maps[i]!;
      if (map.name === '[heap]') brkKb += map.rssKb;
      if (map.name !== '' || map.start % BigInt(ARENA_BYTES) !== 0n || !map.perms.startsWith('rw')) continue;
      // A non-main arena: rw part + PROT_NONE remainder, 64 MB in all (glibc HEAP_MAX_SIZE on 64-bit).
      const next = maps[i + 1];
      const total = map.end - map.start + (next && next.start === map.end && next.perms.startsWith('---') ? next.end - next.start : 0n);
      if (total === BigInt(ARENA_BYTES)) {
        arenas++;
        arenasKb += map.rssKb;
      }
    }
    return {
      rssMb: round(kb('VmRSS') / 1024, 1),
      anonMb: round(kb('RssAnon') / 1024, 1),
      fileMb: round(kb('RssFile') / 1024, 1),
      arenasMb: round(arenasKb / 1024, 1),
      arenas,
      brkMb: round(brkKb / 1024, 1),
      threads: kb('Threads'),
    };
  } catch {
    return undefined;
  }
}

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  rssKb: number;
}

function parseSmaps(text: string): Mapping[] {
  const maps: Mapping[] = [];
  for (const line of text.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      maps.push({ start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), perms: header[3]!, name: header[4]!.trim(), rssKb: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && maps.length) maps[maps.length - 1]!.rssKb = Number(rss[1]);
  }
  return maps;
}

export interface MemoryStep {
  waitingPosts: number;
  worker?: RssSplit;
  /** The worker's main-thread V8 heap and external memory (its /metrics; the workflow thread's isolate is not in these). */
  workerHeapUsedMb?: number;
  workerHeapTotalMb?: number;
  workerExternalMb?: number;
  stickyCacheSize?: number;
  apiRssMb?: number;
  /** Worker RSS added since the step before, per 1,000 posts. */
  workerMbPer1000?: number;
}

/**
 * `--only=memory` (with `--waiting=N`, default the run's waiting posts): the memory scenario alone,
 * N posts created through the API 1,000 at a time; after each 1,000, once the worker has run every
 * new post's first workflow task (it waits on its timer), the worker's RSS and where it sits, so the
 * cost of 1,000 more waiting posts is read step by step, not only as an average.
 */
export async function runMemoryScenario(
  stack: Stack,
  meters: Meters,
  waitingPosts: number,
  concurrency: number,
  log: (line: string) => void,
): Promise<ScenarioOutcome> {
  const startedAt = Date.now();
  const tenant = await createTenant(stack, 'memory');
  const monthStart = Math.ceil((Date.now() + 2 * 3600_000) / 60_000) * 60_000;
  const random = seededRandom(20261201);
  const tasksAtStart = (await workerMetrics(stack)).get('temporal_workflow_task_execution_latency_count') ?? 0;
  const steps: MemoryStep[] = [await memoryStep(stack, 0)];
  log(`memory: ${describeStep(steps[0]!)}`);
  const problems: string[] = [];
  let created = 0;
  while (created < waitingPosts) {
    const to = Math.min(waitingPosts, created + 1000);
    const from = created;
    const responses = await runPool(to - from, concurrency, (i) =>
      callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/schedule', {
        businessId: tenant.businessId,
        content: `Memory post ${from + i + 1} of ${waitingPosts}, bench ${stack.runTag}`,
        platforms: ['twitter'],
        scheduledFor: new Date(monthStart + Math.floor(random() * 30 * 24 * 3600_000)).toISOString(),
      }),
    );
    const failed = responses.filter((r) => r?.status !== 201).length;
    if (failed) problems.push(`${failed} of ${to - from} creates did not answer 201`);
    created = to;
    try {
      await eventually(async () => (((await workerMetrics(stack)).get('temporal_workflow_task_execution_latency_count') ?? 0) - tasksAtStart >= created ? true : undefined), 300_000, `${created} first workflow tasks`, 500);
    } catch (err) {
      problems.push((err as Error).message);
      break;
    }
    const step = await memoryStep(stack, created);
    const before = steps.at(-1)!;
    if (step.worker && before.worker) step.workerMbPer1000 = round(((step.worker.rssMb - before.worker.rssMb) / (created - before.waitingPosts)) * 1000, 1);
    steps.push(step);
    log(`memory: ${describeStep(step)}`);
  }
  const idle = steps[0]!;
  const last = steps.at(-1)!;
  const peak = meters.memory.peak(startedAt);
  // The readings above come right after each 1,000 creates, with both V8 heaps full of that burst's
  // garbage. Posts waiting is also the quiet state after it: the same worker, nothing created for
  // REST_SECONDS (V8's memory reducer and glibc's trims get their turn).
  const rest: MemoryStep[] = [];
  for (let waited = 0; waited < REST_SECONDS; ) {
    await sleep(REST_READING_SECONDS * 1000);
    waited += REST_READING_SECONDS;
    rest.push(await memoryStep(stack, last.waitingPosts));
    log(`memory: ${waited} s after the last create: ${describeStep(rest.at(-1)!)}`);
  }
  const atRest = rest.at(-1);
  const slope = idle.worker && last.worker && last.waitingPosts > 0 ? round(((last.worker.rssMb - idle.worker.rssMb) / last.waitingPosts) * 1000, 1) : undefined;
  // After the cache is full, more waiting posts should cost nothing: the steps past the first 1,000.
  const later = steps.slice(2).map((s) => s.workerMbPer1000).filter((v): v is number => v !== undefined);
  const laterMean = later.length ? round(later.reduce((a, b) => a + b, 0) / later.length, 1) : undefined;
  // One reading swings by tens of MB with the V8 heaps' garbage (a major GC or not just before it):
  // the readings once the cache is full (from 2,000 waiting) give the level and the swing.
  const settled = steps.filter((s) => s.waitingPosts >= 2000).map((s) => s.worker?.rssMb).filter((v): v is number => v !== undefined);
  const settledText = settled.length
    ? `; from 2,000 waiting on, ${settled.length} readings: mean ${round(settled.reduce((a, b) => a + b, 0) / settled.length, 0)} · min ${Math.min(...settled)} · max ${Math.max(...settled)} MB`
    : '';
  return {
    id: 'memory',
    rows: [
      {
        scenario: 'Memory: posts waiting on timers (memory only)',
        load: `${waitingPosts.toLocaleString('en-US')} posts created 1,000 at a time @${concurrency}`,
        result:
          `worker RSS ${idle.worker?.rssMb} → ${last.worker?.rssMb} MB (peak ${peak.worker} MB; cache ${last.stickyCacheSize ?? '?'}; ` +
          `anon ${last.worker?.anonMb} · file ${last.worker?.fileMb} · malloc arenas ${last.worker?.arenasMb} in ${last.worker?.arenas} · brk ${last.worker?.brkMb} · ` +
          `main heap ${last.workerHeapUsedMb}/${last.workerHeapTotalMb} · external ${last.workerExternalMb} MB); ` +
          `per 1,000 waiting: +${slope} MB from idle, +${laterMean} MB a step after the first 1,000${settledText}; ` +
          `${REST_SECONDS} s after the last create: worker ${atRest?.worker?.rssMb} MB (main heap ${atRest?.workerHeapUsedMb}/${atRest?.workerHeapTotalMb}, arenas ${atRest?.worker?.arenasMb}, brk ${atRest?.worker?.brkMb}); ` +
          `API ${idle.apiRssMb} → ${last.apiRssMb} MB`,
        target: 'worker RSS < 300 MB, API < 250 MB',
        targetMet: (last.worker?.rssMb ?? Infinity) < 300 && (last.apiRssMb ?? Infinity) < 250,
        problems,
      },
    ],
    data: { steps, rest, workerRssAtRestMb: atRest?.worker?.rssMb, peakRssMb: peak, workerMbPer1000FromIdle: slope, workerMbPer1000AfterFirst: laterMean, workerRssFrom2000Mb: settled },
  };
}

/** How long the memory scenario waits after its last create, reading every REST_READING_SECONDS. */
const REST_SECONDS = 60;
const REST_READING_SECONDS = 15;

async function workerMetrics(stack: Stack): Promise<Map<string, number>> {
  return parseMetrics(await stack.workerMetrics());
}

async function memoryStep(stack: Stack, waitingPosts: number): Promise<MemoryStep> {
  const metrics = await workerMetrics(stack);
  const mb = (name: string) => (metrics.has(name) ? round(metrics.get(name)! / 1024 / 1024, 1) : undefined);
  return {
    waitingPosts,
    worker: rssSplit(stack.worker.pid),
    workerHeapUsedMb: mb('nodejs_heap_size_used_bytes'),
    workerHeapTotalMb: mb('nodejs_heap_size_total_bytes'),
    workerExternalMb: mb('nodejs_external_memory_bytes'),
    stickyCacheSize: metrics.get('temporal_sticky_cache_size'),
    apiRssMb: round(memoryOf(stack.api.pid)?.rssMb ?? NaN, 1),
  };
}

function describeStep(s: MemoryStep): string {
  const w = s.worker;
  return (
    `${s.waitingPosts.toLocaleString('en-US')} waiting: worker RSS ${w?.rssMb} MB${s.workerMbPer1000 === undefined ? '' : ` (+${s.workerMbPer1000} per 1,000)`}` +
    ` [anon ${w?.anonMb} · file ${w?.fileMb} · arenas ${w?.arenasMb}/${w?.arenas} · brk ${w?.brkMb} · main heap ${s.workerHeapUsedMb}/${s.workerHeapTotalMb} · external ${s.workerExternalMb} · threads ${w?.threads}]` +
    ` cache ${s.stickyCacheSize ?? '?'}; API ${s.apiRssMb} MB`
  );
}
