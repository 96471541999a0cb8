/**
 * Issue #12: every figure next to the bare engine measured in the same run, as a ratio. The
 * scenarios fill `Figures` as they go (a field stays undefined when its scenario did not run or
 * failed before measuring); `ratioTable` prints them: Herald | bare engine | ratio | goal.
 *
 * The bare engine is the same dev server and the same worker settings with the least workflow that
 * does the same job (bench/bare-workflow.ts), driven by the Temporal client instead of the API.
 */
import { round, type Summary } from './lib';

/** The rest of the machine's CPU (% of one core) during Herald's phase and during the bare one's: a ratio is only as good as these are alike. */
export interface OtherWork {
  herald?: number;
  bare?: number;
}

export interface Figures {
  create?: {
    concurrency: number;
    heraldRequests: number;
    heraldPerSecond: number;
    bareStarts: number;
    barePerSecond: number;
    sequential: number;
    heraldSequentialMs?: Summary;
    bareSequentialMs?: Summary;
    /** CPU of the timed creates @concurrency ÷ creates (the API; the worker runs each post's first workflow task). */
    apiCpuMsPerCreate?: number;
    workerCpuMsPerCreate?: number;
    bareWorkerCpuMsPerStart?: number;
    otherWork?: OtherWork;
    failedChecks: boolean;
  };
  burst?: {
    posts: number;
    heraldAllPublishedSeconds?: number;
    bareAllDoneSeconds?: number;
    heraldWorkerCpuMsPerPost?: number;
    bareWorkerCpuMsPerWorkflow?: number;
    otherWork?: OtherWork;
    failedChecks: boolean;
  };
  drain?: {
    workflows: number;
    heraldPerSecond: number;
    barePerSecond: number;
    apiCpuMsPerPost?: number;
    workerCpuMsPerPost?: number;
    bareWorkerCpuMsPerWorkflow?: number;
    /** The engine's own share: the dev server's CPU per Herald post and per bare workflow. */
    devServerCpuMsPerPost?: number;
    bareDevServerCpuMsPerWorkflow?: number;
    otherWork?: OtherWork;
    failedChecks: boolean;
  };
  memory?: {
    waitingPosts: number;
    workerIdleMb?: number;
    workerMb?: number;
    apiIdleMb?: number;
    apiMb?: number;
    /** (RSS with N waiting − idle) ÷ N × 1000. */
    workerMbPer1000?: number;
    apiMbPer1000?: number;
    cacheSize?: number;
    cacheSetting: number;
    failedChecks: boolean;
  };
  monthView?: {
    request: string;
    views: number;
    requests: number;
    postsPerView: number;
    /** Per request (page) and per whole month view. */
    latencyMs: Summary;
    viewLatencyMs: Summary;
    apiCpuMsPerRequest?: number;
    apiCpuMsPerView?: number;
    failedChecks: boolean;
  };
}

export const ratioGoals = { burst: 1.25, drain: 0.7, workerCpu: 2 } as const;

/** a ÷ b, undefined unless both are positive finite numbers. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return undefined;
  return a / b;
}

/** CPU ms of one process over a phase ÷ what the phase handled. */
export function perItem(cpuMs: number | undefined, items: number): number | undefined {
  return cpuMs === undefined || items <= 0 ? undefined : cpuMs / items;
}

const n = (value: number | undefined, digits = 1, unit = '') => (value === undefined || !Number.isFinite(value) ? '—' : `${round(value, digits).toLocaleString('en-US')}${unit}`);
const r = (value: number | undefined) => (value === undefined ? '—' : `**${round(value, 2)}**`);

interface RatioLine {
  figure: string;
  herald: string;
  bare: string;
  ratio: string;
  goal: string;
  otherWork?: OtherWork;
}

const otherText = (other: OtherWork | undefined) => (other ? `${other.herald ?? '?'} / ${other.bare ?? '?'} %` : '');

export function ratioLines(f: Figures): RatioLine[] {
  const lines: RatioLine[] = [];
  const flag = (failed: boolean | undefined) => (failed ? ' (checks FAILED: see above)' : '');
  if (f.create) {
    const c = f.create;
    lines.push({
      figure: `Create throughput @${c.concurrency}${flag(c.failedChecks)}`,
      herald: `${n(c.heraldPerSecond)} POST /schedule/s (${c.heraldRequests})`,
      bare: `${n(c.barePerSecond)} workflow.start/s (${c.bareStarts}, timer workflow)`,
      ratio: r(ratio(c.heraldPerSecond, c.barePerSecond)),
      goal: '—',
      otherWork: c.otherWork,
    });
    if (c.heraldSequentialMs && c.bareSequentialMs) {
      lines.push({
        figure: `Create latency @1, ${c.sequential} sequential`,
        herald: `p50 ${n(c.heraldSequentialMs.p50)} · p99 ${n(c.heraldSequentialMs.p99)} ms`,
        bare: `p50 ${n(c.bareSequentialMs.p50)} · p99 ${n(c.bareSequentialMs.p99)} ms`,
        ratio: `p50 ${r(ratio(c.heraldSequentialMs.p50, c.bareSequentialMs.p50))} · p99 ${r(ratio(c.heraldSequentialMs.p99, c.bareSequentialMs.p99))}`,
        goal: '—',
      });
    }
    lines.push({
      figure: `CPU per create @${c.concurrency} (ms)`,
      herald: `API ${n(c.apiCpuMsPerCreate)} · worker ${n(c.workerCpuMsPerCreate)}`,
      bare: `bare worker ${n(c.bareWorkerCpuMsPerStart)} (no API)`,
      ratio: `worker ÷ bare ${r(ratio(c.workerCpuMsPerCreate, c.bareWorkerCpuMsPerStart))}`,
      goal: '—',
    });
  }
  if (f.burst) {
    const b = f.burst;
    const burstRatio = ratio(b.heraldAllPublishedSeconds, b.bareAllDoneSeconds);
    lines.push({
      figure: `Burst: ${b.posts} due at one instant → all published${flag(b.failedChecks)}`,
      herald: `+${n(b.heraldAllPublishedSeconds, 2)} s`,
      bare: `+${n(b.bareAllDoneSeconds, 2)} s (1 no-op activity each)`,
      ratio: r(burstRatio),
      goal: `≤ ${ratioGoals.burst}${burstRatio === undefined ? '' : burstRatio <= ratioGoals.burst ? ' met' : ' **not met**'}`,
      otherWork: b.otherWork,
    });
    lines.push({
      figure: `CPU per post in the burst (ms, due → all done)`,
      herald: `worker ${n(b.heraldWorkerCpuMsPerPost)}`,
      bare: `bare worker ${n(b.bareWorkerCpuMsPerWorkflow)}`,
      ratio: r(ratio(b.heraldWorkerCpuMsPerPost, b.bareWorkerCpuMsPerWorkflow)),
      goal: '—',
    });
  }
  if (f.drain) {
    const d = f.drain;
    const drainRatio = ratio(d.heraldPerSecond, d.barePerSecond);
    lines.push({
      figure: `Drain: ${d.workflows} immediate, completed/s${flag(d.failedChecks)}`,
      herald: `${n(d.heraldPerSecond)} posts/s`,
      bare: `${n(d.barePerSecond)} workflows/s`,
      ratio: r(drainRatio),
      goal: `≥ ${ratioGoals.drain}${drainRatio === undefined ? '' : drainRatio >= ratioGoals.drain ? ' met' : ' **not met**'}`,
      otherWork: d.otherWork,
    });
    const cpuRatio = ratio(d.workerCpuMsPerPost, d.bareWorkerCpuMsPerWorkflow);
    lines.push({
      figure: 'CPU per post, whole life (ms, drain phase)',
      herald: `worker ${n(d.workerCpuMsPerPost)} · API ${n(d.apiCpuMsPerPost)}`,
      bare: `bare worker ${n(d.bareWorkerCpuMsPerWorkflow)} (no API)`,
      ratio: `worker ÷ bare ${r(cpuRatio)}`,
      goal: `≤ ${ratioGoals.workerCpu}${cpuRatio === undefined ? '' : cpuRatio <= ratioGoals.workerCpu ? ' met' : ' **not met**'}`,
    });
    lines.push({
      figure: 'Engine CPU per post (ms, dev server, drain phase)',
      herald: `dev server ${n(d.devServerCpuMsPerPost)}`,
      bare: `dev server ${n(d.bareDevServerCpuMsPerWorkflow)}`,
      ratio: r(ratio(d.devServerCpuMsPerPost, d.bareDevServerCpuMsPerWorkflow)),
      goal: '—',
    });
  }
  if (f.memory) {
    const m = f.memory;
    lines.push({
      figure: `Memory with ${m.waitingPosts.toLocaleString('en-US')} posts waiting${flag(m.failedChecks)}`,
      herald: `worker ${n(m.workerIdleMb, 0)} → ${n(m.workerMb, 0)} MB · API ${n(m.apiIdleMb, 0)} → ${n(m.apiMb, 0)} MB`,
      bare: '— (not measured)',
      ratio: '—',
      goal: 'worker < 300 MB',
    });
    lines.push({
      figure: 'RSS per 1,000 waiting posts (slope)',
      herald: `worker ${n(m.workerMbPer1000)} MB (cache ${m.cacheSize ?? '?'} of ${m.cacheSetting} bounds it) · API ${n(m.apiMbPer1000)} MB`,
      bare: '—',
      ratio: '—',
      goal: '—',
    });
  }
  if (f.monthView) {
    const v = f.monthView;
    lines.push({
      figure: `Month view: ${v.request}${flag(v.failedChecks)}`,
      herald:
        `view p50 ${n(v.viewLatencyMs.p50, 0)} · p99 ${n(v.viewLatencyMs.p99, 0)} ms (${v.postsPerView.toLocaleString('en-US')} posts, ${round(v.requests / Math.max(1, v.views), 1)} requests) · ` +
        `API CPU ${n(v.apiCpuMsPerRequest)} ms per request, ${n(v.apiCpuMsPerView)} ms per view`,
      bare: '— (no engine equivalent)',
      ratio: '—',
      goal: '—',
    });
  }
  return lines;
}

export function ratioTable(f: Figures): string {
  const lines = ratioLines(f);
  if (lines.length === 0) return '';
  const escape = (text: string) => text.replaceAll('|', '\\|');
  return [
    '| Figure (issue #12: Herald next to the bare engine, same run) | Herald | Bare engine | Herald ÷ bare | Goal | Other work, Herald / bare phase |',
    '|---|---|---|---|---|---|',
    ...lines.map((l) => `| ${[l.figure, l.herald, l.bare, l.ratio, l.goal, otherText(l.otherWork)].map(escape).join(' | ')} |`),
  ].join('\n');
}

/** The ratios themselves, for the JSON file. */
export function ratioData(f: Figures): Record<string, unknown> {
  const rounded = (value: number | undefined) => (value === undefined ? null : round(value, 3));
  return {
    createThroughput: rounded(ratio(f.create?.heraldPerSecond, f.create?.barePerSecond)),
    createLatencyP50AtOne: rounded(ratio(f.create?.heraldSequentialMs?.p50, f.create?.bareSequentialMs?.p50)),
    createLatencyP99AtOne: rounded(ratio(f.create?.heraldSequentialMs?.p99, f.create?.bareSequentialMs?.p99)),
    burst: rounded(ratio(f.burst?.heraldAllPublishedSeconds, f.burst?.bareAllDoneSeconds)),
    burstWorkerCpu: rounded(ratio(f.burst?.heraldWorkerCpuMsPerPost, f.burst?.bareWorkerCpuMsPerWorkflow)),
    drain: rounded(ratio(f.drain?.heraldPerSecond, f.drain?.barePerSecond)),
    drainWorkerCpu: rounded(ratio(f.drain?.workerCpuMsPerPost, f.drain?.bareWorkerCpuMsPerWorkflow)),
    drainDevServerCpu: rounded(ratio(f.drain?.devServerCpuMsPerPost, f.drain?.bareDevServerCpuMsPerWorkflow)),
    goals: ratioGoals,
    figures: f,
  };
}
