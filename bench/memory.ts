/**
 * Resident memory of the processes under test, read from /proc/<pid>/status (VmRSS) every half
 * second for the whole run, so each scenario can report its peak next to point readings.
 */
import type { CpuMeter } from './cpu';
import { memoryOf, round } from './lib';
import type { Figures } from './ratios';

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
