/**
 * The bench's output: one row per measured thing, each with its correctness checks, written as
 * bench/results/<YYYY-MM-DD-HHMM>.json and .md, and printed as a Markdown table.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resultFiles, round, type Summary } from './lib';

export interface Row {
  scenario: string;
  load: string;
  result: string;
  /** Shown in the Target column; undefined when the row has none. */
  target?: string;
  targetMet?: boolean;
  /** Problems found by the correctness checks; any makes the row FAILED. */
  problems: string[];
}

export interface ScenarioOutcome {
  id: string;
  rows: Row[];
  /** Raw numbers for the JSON file. */
  data: Record<string, unknown>;
}

export interface RunEnvironment {
  mode: 'quick' | 'full';
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  nproc: number;
  loadAverageAtStart: string;
  loadAverageAtEnd?: string;
  node: string;
  temporalCli?: string;
  gitCommit?: string;
  gitDirty?: boolean;
  workerSettings?: Record<string, unknown>;
  childEnv?: Record<string, string>;
  notes: string[];
}

export const resultsDir = resolve(__dirname, 'results');

export function verdict(row: Row): string {
  if (row.problems.length > 0) return '**FAILED**';
  if (row.target === undefined) return '—';
  return row.targetMet ? 'met' : '**not met**';
}

export function markdownTable(rows: Row[]): string {
  const escape = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [
    '| Scenario | Load | Result | Target | Verdict | Checks |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) =>
      `| ${[row.scenario, row.load, row.result, row.target ?? '—', verdict(row), row.problems.length ? `FAILED: ${row.problems.join('; ')}` : 'ok']
        .map(escape)
        .join(' | ')} |`,
    ),
  ];
  return lines.join('\n');
}

export function markdownReport(environment: RunEnvironment, rows: Row[], sections: string[] = []): string {
  const settings = environment.workerSettings ?? {};
  const header = [
    `# Herald bench — ${environment.mode} run, ${environment.startedAt}`,
    '',
    `Machine: ${environment.nproc} CPU cores (nproc), shared with other work — load average ${environment.loadAverageAtStart} at start, ${environment.loadAverageAtEnd ?? '?'} at end. ` +
      `Node ${environment.node}, ${environment.temporalCli ?? 'temporal CLI'}, commit ${environment.gitCommit ?? '?'}${environment.gitDirty ? ' (with uncommitted changes)' : ''}. ` +
      `Everything (dev server, Postgres, Redis, API, worker, fakes, load generator) runs on this one machine.`,
    '',
    `Worker settings: ${Object.entries(settings).map(([k, v]) => `${k}=${String(v)}`).join(', ')}. Duration ${environment.durationSeconds ?? '?'} s.`,
    '',
  ];
  const notes = environment.notes.length ? ['', 'Notes:', ...environment.notes.map((note) => `- ${note}`)] : [];
  return [...header, markdownTable(rows), ...sections.flatMap((section) => ['', section]), ...notes, ''].join('\n');
}

/** bench/results/<YYYY-MM-DD-HHMM>.json and .md (UTC); a second run in the same minute gets a suffix. */
export function writeResults(
  environment: RunEnvironment,
  outcomes: ScenarioOutcome[],
  rows: Row[],
  extra: { data: Record<string, unknown>; sections: string[] },
): { json: string; markdown: string } {
  const { json, markdown } = resultFiles(resultsDir, environment.startedAt);
  const scenarios = Object.fromEntries(outcomes.map((outcome) => [outcome.id, outcome.data]));
  writeFileSync(json, `${JSON.stringify({ environment, rows: rows.map((row) => ({ ...row, verdict: verdict(row).replaceAll('*', '') })), scenarios, ...extra.data }, null, 2)}\n`);
  writeFileSync(markdown, markdownReport(environment, rows, extra.sections));
  return { json, markdown };
}

/** "p50 8 · p95 15 · p99 22 · max 40 ms" */
export function latencyText(summary: Summary, unit = 'ms', digits = 0): string {
  if (summary.count === 0) return 'no samples';
  const f = (value: number) => round(value, digits).toLocaleString('en-US');
  return `p50 ${f(summary.p50)} · p95 ${f(summary.p95)} · p99 ${f(summary.p99)} · max ${f(summary.max)} ${unit}`;
}

export const thousands = (n: number) => n.toLocaleString('en-US');

export function roundSummary(summary: Summary, digits = 1): Summary {
  return Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, round(v, digits)])) as unknown as Summary;
}
