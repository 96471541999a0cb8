/**
 * The soak's output: the verdict as Markdown tables (printed, and written with the raw figures as
 * soak/results/<YYYY-MM-DD-HHMM>.json and .md, like the bench's results: small, commit-friendly).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resultFiles, round } from '../bench/lib';
import { PLATFORMS } from '../src/domain/types';
import type { ChildExit } from './children';
import { MUST_BE_ZERO, type Figure, type Verdict } from './verdict';
import type { PostRecord } from './workload';

export const resultsDir = resolve(__dirname, 'results');

export interface RunInfo {
  mode: 'short' | 'default' | 'full' | 'custom';
  options: Record<string, unknown>;
  startedAt: string;
  durationSeconds: number;
  phases: Record<string, number>;
  nproc: number;
  node: string;
  temporalCli?: string;
  gitCommit?: string;
  gitDirty?: boolean;
  childEnv: Record<string, string>;
  workDir: string;
}

export interface Extras {
  records: PostRecord[];
  childExits: ChildExit[];
  platformFaults: Record<string, Record<string, number>>;
  createRequests: Record<string, number>;
  ledger: { rows: number; sends: number; resent: number };
  drained: boolean;
}

const FIGURE_NAMES: Record<Figure, string> = {
  duplicates: 'Duplicates (a part twice on a fake, a stray item, a post created twice)',
  lost: 'Lost (a post that had to publish and did not, a missing part, a wrong id)',
  stuck: 'Stuck (not in a final state after the drain)',
  apiVsWorkflow: 'API vs workflow (status, targets, part ids)',
  cancelledPublished: 'Cancelled posts published',
  movedPublishedEarly: 'Rescheduled posts published before their new time',
};

const escape = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const table = (head: string[], rows: Array<Array<string | number>>) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map((cell) => escape(String(cell))).join(' | ')} |`)].join('\n');
const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${round(ms / 1000, 1)} s`);

export function verdictTable(verdict: Verdict): string {
  return table(['Check (must be 0)', 'Found', 'Verdict'], MUST_BE_ZERO.map((figure) => [FIGURE_NAMES[figure], verdict.figures[figure], verdict.figures[figure] === 0 ? 'ok' : '**FAILED**']));
}

export function markdownReport(run: RunInfo, verdict: Verdict, extras: Extras): string {
  const started = Date.parse(run.startedAt);
  const at = (ms: number) => `+${round((ms - started) / 1000, 1)} s`;
  const faultsByPlatform: Record<string, Record<string, number>> = {
    twitter: extras.platformFaults.x ?? {},
    linkedin: extras.platformFaults.linkedin ?? {},
    'facebook + instagram': extras.platformFaults.meta ?? {},
  };
  const lines: string[] = [
    `# Herald soak — ${run.mode} run, ${run.startedAt}: ${verdict.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `Options: ${Object.entries(run.options).map(([k, v]) => `${k}=${String(v)}`).join(', ')}. Duration ${run.durationSeconds} s ` +
      `(${Object.entries(run.phases).map(([k, v]) => `${k} ${v} s`).join(', ')}). ${run.nproc} cores, Node ${run.node}, ${run.temporalCli ?? 'temporal CLI'}, ` +
      `commit ${run.gitCommit ?? '?'}${run.gitDirty ? ' (with uncommitted changes)' : ''}.${extras.drained ? '' : ' **The drain ended at its deadline with posts still open.**'}`,
    '',
    verdictTable(verdict),
    '',
    '## Parts per platform',
    '',
    table(
      ['Platform', 'Parts expected (posts that had to publish)', 'Found on the fake', 'Items of this run on the fake', 'Duplicate or stray items', 'Create requests received'],
      PLATFORMS.map((p) => [p, verdict.platforms[p].expectedParts, verdict.platforms[p].foundParts, verdict.platforms[p].items, verdict.platforms[p].duplicateItems, extras.createRequests[p] ?? 0]),
    ),
    '',
    `Instagram containers created: ${extras.createRequests.instagramContainers ?? 0}. Ledger: ${extras.ledger.rows} part rows, ${extras.ledger.sends} sends, ${extras.ledger.resent} parts sent more than once (creates retried).`,
    '',
    '## Posts',
    '',
    `${verdict.posts.planned} planned, ${verdict.posts.created} created; ${createsNeverAccepted(extras.records)}. ` +
      `Final status: ${Object.entries(verdict.posts.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}. ` +
      `Expected by what the soak did: must publish ${verdict.posts.byExpectation.must_publish}, must not ${verdict.posts.byExpectation.must_not_publish}, either ${verdict.posts.byExpectation.either}.`,
    '',
    `Lateness of the first part on a fake against scheduledFor: ${latenessText(verdict)}.`,
    '',
    `Client retries with the same Idempotency-Key: ${clientRetries(extras.records)}.`,
    '',
    '## Platform faults injected (faultStats)',
    '',
    table(['Fake', 'Faults by kind', 'Total'], Object.entries(faultsByPlatform).map(([name, stats]) => [name, Object.entries(stats).map(([k, v]) => `${k} ${v}`).join(', ') || 'none', Object.values(stats).reduce((a, b) => a + b, 0)])),
    '',
    '## Process faults',
    '',
    table(
      ['Fault', 'Target', 'Injected', 'Back after', 'Next part after injection', 'Healed in (back → next part)', 'Detail'],
      verdict.faults.map((f) => [f.kind, f.target, at(f.injectedAt), f.backAt ? seconds(f.backAt - f.injectedAt) : `not back${f.error ? `: ${f.error}` : ''}`, seconds(f.nextPartAfterInjectionMs), seconds(f.healedInMs), f.detail]),
    ),
    '',
    `Herald processes that exited (restarted by the soak's supervisor): ${extras.childExits.length === 0 ? 'none' : ''}`,
    '',
    ...(extras.childExits.length
      ? [table(['Process', 'Pid', 'At', 'Exit', 'Restarted as', 'After'], extras.childExits.map((e) => [e.child, e.pid, at(e.at), e.signal ?? `code ${e.code}`, e.restartedPid ?? '—', e.restartedAt ? seconds(e.restartedAt - e.at) : '—']))]
      : []),
    '',
    '## User actions (API) and operator actions (Temporal)',
    '',
    table(['Action', 'Answers'], userActionRows(extras.records)),
    '',
    table(['Operator action', 'Accepted', 'Refused or failed', 'Post status just before'], operatorRows(extras.records)),
    '',
    '## Findings',
    '',
    ...findingLines(verdict, 15),
    '',
  ];
  return lines.join('\n');
}

/** Creates the API never accepted within the client's retry window (availability, not a lost post: nothing was created). */
export function createsNeverAccepted(records: PostRecord[]): string {
  const failed = records.filter((r) => r.postId === undefined);
  if (failed.length === 0) return 'every create was accepted';
  const answers = new Map<string, number[]>();
  for (const r of failed) {
    const key = `${r.create?.status ?? 'none'}${r.create?.firstError ? ` after "${r.create.firstError}"` : ''}`;
    answers.set(key, [...(answers.get(key) ?? []), r.plan.n]);
  }
  return `${failed.length} create(s) never accepted within the client's retry window (${[...answers].map(([k, ns]) => `last answer ${k}: soak #${ns.join(', #')}`).join('; ')})`;
}

function latenessText(verdict: Verdict): string {
  const l = verdict.lateness;
  if (l.count === 0) return 'no samples';
  return `p50 ${round(l.p50, 0)} · p95 ${round(l.p95, 0)} · p99 ${round(l.p99, 0)} · max ${round(l.max, 0)} ms (post ${l.latestPostId ?? '?'}), ${l.count} posts`;
}

function clientRetries(records: PostRecord[]): string {
  const retried = records.filter((r) => r.retry);
  const same = retried.filter((r) => r.retry!.postId !== undefined && r.retry!.postId === r.postId).length;
  const other = retried.filter((r) => r.retry!.postId !== undefined && r.retry!.postId !== r.postId).length;
  const resent = records.filter((r) => (r.create?.attempts ?? 0) > 1).length;
  const adopted = records.filter((r) => r.adopted).length;
  return `${retried.length} sent twice on purpose (${same} got the same post, ${other} another post, ${retried.length - same - other} no post); ${resent} creates sent again after a lost answer, a 5xx, a 429 or a key still in flight; ` +
    `${adopted} posts exist although their create never got a 2xx answer`;
}

function userActionRows(records: PostRecord[]): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  type When = 'waiting' | 'before' | 'after';
  const plannedWhen = (r: PostRecord): When => (!r.plan.userAction?.racing ? 'waiting' : r.plan.userAction.at < r.plan.dueAt ? 'before' : 'after');
  const label: Record<When, string> = { waiting: 'while waiting', before: '100–400 ms before due', after: '0.2–1 s after due' };
  for (const kind of ['cancel', 'reschedule'] as const) {
    for (const when of ['waiting', 'before', 'after'] as const) {
      const done = records.filter((r) => r.user?.kind === kind && plannedWhen(r) === when);
      const planned = records.filter((r) => r.plan.userAction?.kind === kind && plannedWhen(r) === when).length;
      const answers = new Map<string, number>();
      for (const r of done) {
        const label = { 200: '200 confirmed', 202: '202 queued', 409: '409 too late', 0: 'no answer' }[r.user!.status] ?? `${r.user!.status}`;
        answers.set(label, (answers.get(label) ?? 0) + 1);
      }
      const text = [...answers].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
      rows.push([`${kind === 'cancel' ? 'DELETE' : 'PUT'} /api/v2/schedule/:id ${label[when]} (${done.length} of ${planned} planned)`, text]);
    }
  }
  return rows;
}

function operatorRows(records: PostRecord[]): Array<[string, number, number, string]> {
  const groups = new Map<string, PostRecord[]>();
  for (const r of records.filter((x) => x.operator)) {
    const key = `${r.operator!.kind} (${r.operator!.phase})`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups].map(([key, list]) => {
    const before = new Map<string, number>();
    for (const r of list) before.set(r.operator!.statusBefore ?? '?', (before.get(r.operator!.statusBefore ?? '?') ?? 0) + 1);
    const errors = list.filter((r) => !r.operator!.ok).map((r) => r.operator!.error ?? '');
    return [key, list.length - errors.length, errors.length, [...before].map(([k, v]) => `${k} ${v}`).join(', ') + (errors.length ? `; errors: ${[...new Set(errors)].slice(0, 2).join(' / ')}` : '')];
  });
}

export function findingLines(verdict: Verdict, perFigure: number): string[] {
  if (verdict.findings.length === 0) return ['None.'];
  const lines: string[] = [];
  for (const figure of MUST_BE_ZERO) {
    const list = verdict.findings.filter((f) => f.figure === figure);
    if (list.length === 0) continue;
    lines.push(`**${FIGURE_NAMES[figure]}**: ${list.length}${list.length > perFigure ? ` (first ${perFigure}; all in the JSON)` : ''}`, '');
    for (const f of list.slice(0, perFigure)) lines.push(`- post ${f.postId ?? '—'} (soak #${f.n})${f.platform ? ` ${f.platform}` : ''}: ${f.detail}`);
    lines.push('');
  }
  return lines;
}

/** soak/results/<YYYY-MM-DD-HHMM>.json and .md (UTC); a second run in the same minute gets a suffix. */
export function writeResults(run: RunInfo, verdict: Verdict, extras: Extras): { json: string; markdown: string } {
  const { json, markdown } = resultFiles(resultsDir, run.startedAt);
  const posts = extras.records.map((r) => ({
    n: r.plan.n,
    postId: r.postId,
    workflowId: r.workflowId,
    platforms: r.plan.platforms,
    thread: r.plan.thread,
    dueAt: new Date(r.plan.dueAt).toISOString(),
    create: r.create,
    retry: r.retry,
    user: r.user,
    operator: r.operator,
  }));
  const document = {
    run,
    verdict: { passed: verdict.passed, figures: verdict.figures, platforms: verdict.platforms, posts: verdict.posts, lateness: verdict.lateness, faults: verdict.faults },
    findings: verdict.findings,
    platformFaults: extras.platformFaults,
    createRequests: extras.createRequests,
    ledger: extras.ledger,
    childExits: extras.childExits,
    drained: extras.drained,
    // Only posts something happened to: the full plan is reproducible from the seed.
    notablePosts: posts.filter((p) => p.user || p.operator || p.retry || (p.create?.attempts ?? 1) > 1 || p.postId === undefined || verdict.findings.some((f) => f.n === p.n)),
  };
  writeFileSync(json, `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(markdown, markdownReport(run, verdict, extras));
  return { json, markdown };
}
