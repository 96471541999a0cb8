/**
 * Where the CPU went during a phase: each process under test (from /proc/<pid>/stat), every
 * PostgreSQL process together, this bench process (load generator and fakes), and the rest of
 * the machine (other work: the machine is shared), in percent of one core — and, per process, the
 * CPU milliseconds used (for "CPU ms per post": the phase's delta ÷ the posts it handled; /proc
 * counts in ticks of 10 ms, so small phases are coarse).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { round } from './lib';

const TICKS_PER_SECOND = 100;

export type CpuConsumer = 'api' | 'worker' | 'bareWorker' | 'devServer' | 'postgres' | 'bench';

interface Reading {
  at: number;
  seconds: Partial<Record<CpuConsumer, number>>;
  machineBusy: number;
  machineTotal: number;
}

export interface CpuPhase {
  phase: string;
  seconds: number;
  /** Percent of one core, per consumer; `other` is the rest of the machine's busy time. */
  percentOfOneCore: Partial<Record<CpuConsumer | 'other' | 'machineBusy', number>>;
  /** CPU time used in the phase, per process (utime + stime deltas), in milliseconds. */
  cpuMs: Partial<Record<CpuConsumer, number>>;
}

/** CPU seconds (utime + stime) a process has used so far; undefined when it is gone. */
export function processSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function postgresSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += processSeconds(Number(entry)) ?? 0;
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}

function machineSeconds(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { busy: (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND, total: (user + nice + system + idle + iowait + irq + softirq + steal) / TICKS_PER_SECOND };
}

/**
 * Waits until a process stops using CPU (no new tick over `quietMs`), at most `maxMs`: the work it
 * was handed is done, so a phase's CPU includes it. For processes that expose no counter of their own.
 */
export async function untilQuiet(pid: number | undefined, quietMs = 300, maxMs = 5000): Promise<void> {
  const stopAt = Date.now() + maxMs;
  let last = processSeconds(pid);
  let quietSince = Date.now();
  while (last !== undefined && Date.now() < stopAt && Date.now() - quietSince < quietMs) {
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    const now = processSeconds(pid);
    if (now !== last) quietSince = Date.now();
    last = now;
  }
}

export class CpuMeter {
  readonly phases: CpuPhase[] = [];

  constructor(private readonly pids: () => Partial<Record<Exclude<CpuConsumer, 'postgres'>, number | undefined>>) {}

  private read(): Reading {
    const seconds: Reading['seconds'] = {};
    for (const [name, pid] of Object.entries(this.pids()) as Array<[CpuConsumer, number | undefined]>) {
      const value = processSeconds(pid);
      if (value !== undefined) seconds[name] = value;
    }
    seconds.postgres = postgresSeconds();
    const machine = machineSeconds();
    return { at: Date.now(), seconds, machineBusy: machine.busy, machineTotal: machine.total };
  }

  /** Starts measuring a phase; the returned function ends it and records the result (unless `record` is false: see `record`). */
  start(phase: string, options: { record?: boolean } = {}): () => CpuPhase {
    const before = this.read();
    return () => {
      const after = this.read();
      const wall = Math.max(0.001, (after.at - before.at) / 1000);
      const percent: CpuPhase['percentOfOneCore'] = {};
      const cpuMs: CpuPhase['cpuMs'] = {};
      let ours = 0;
      for (const [name, value] of Object.entries(after.seconds) as Array<[CpuConsumer, number]>) {
        const start = before.seconds[name];
        if (start === undefined) continue;
        const used = Math.max(0, value - start);
        ours += used;
        cpuMs[name] = round(used * 1000, 0);
        percent[name] = round((used / wall) * 100, 0);
      }
      const busy = after.machineBusy - before.machineBusy;
      percent.other = round((Math.max(0, busy - ours) / wall) * 100, 0);
      percent.machineBusy = round((busy / wall) * 100, 0);
      const result = { phase, seconds: round(wall, 1), percentOfOneCore: percent, cpuMs };
      if (options.record !== false) this.phases.push(result);
      return result;
    };
  }

  /** Records a phase measured in parts (mergePhases). */
  record(phase: CpuPhase): CpuPhase {
    this.phases.push(phase);
    return phase;
  }

  async measure<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const stop = this.start(phase);
    try {
      return await work();
    } finally {
      stop();
    }
  }
}

const COLUMNS: Array<[CpuConsumer | 'other' | 'machineBusy', string]> = [
  ['api', 'API'],
  ['worker', 'worker'],
  ['bareWorker', 'bare worker'],
  ['devServer', 'dev server'],
  ['postgres', 'Postgres (all)'],
  ['bench', 'bench + fakes'],
  ['other', 'other work'],
  ['machineBusy', 'machine busy'],
];

export function cpuTable(phases: CpuPhase[], cores: number): string {
  const lines = [
    `| Phase (CPU, % of one core; the machine has ${cores * 100}%) | s | ${COLUMNS.map(([, title]) => title).join(' | ')} |`,
    `|---|---|${COLUMNS.map(() => '---').join('|')}|`,
    ...phases.map((p) => `| ${p.phase} | ${p.seconds} | ${COLUMNS.map(([key]) => (p.percentOfOneCore[key] === undefined ? '—' : `${p.percentOfOneCore[key]}`)).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** Parts of one phase measured apart (e.g. interleaved with another), as one: times added, percentages weighted by time. */
export function mergePhases(phase: string, parts: CpuPhase[]): CpuPhase {
  const seconds = parts.reduce((sum, part) => sum + part.seconds, 0);
  const percent: CpuPhase['percentOfOneCore'] = {};
  const cpuMs: CpuPhase['cpuMs'] = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part.percentOfOneCore) as Array<[keyof CpuPhase['percentOfOneCore'], number]>) {
      percent[key] = (percent[key] ?? 0) + (value * part.seconds) / Math.max(0.001, seconds);
    }
    for (const [key, value] of Object.entries(part.cpuMs) as Array<[CpuConsumer, number]>) cpuMs[key] = (cpuMs[key] ?? 0) + value;
  }
  for (const key of Object.keys(percent) as Array<keyof CpuPhase['percentOfOneCore']>) percent[key] = round(percent[key]!, 0);
  return { phase: parts.length > 1 ? `${phase} (${parts.length} parts)` : phase, seconds: round(seconds, 1), percentOfOneCore: percent, cpuMs };
}
