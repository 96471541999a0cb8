/**
 * The checks. Every post is judged against what the soak did to it (cancelled, moved, terminated,
 * reset, nothing) and against the four witnesses (fakes, API, workflow, database):
 *
 * - duplicates: a part found more than once on a fake, an item of a post that is none of its parts
 *   (or on another account), a post created twice by one client request;
 * - lost: a post that had to be published (not cancelled or terminated by the soak) and is not
 *   `published`, a part of it missing on its fake, a part the API reports with an id the fake does
 *   not have for it;
 * - stuck: a post not in a final state after the drain;
 * - API vs workflow: the API's status, target statuses or part ids against the workflow's own final
 *   state (a terminated run has none: its targets are checked against the fakes);
 * - cancelled posts published: a post whose cancel was confirmed (API 200, or a Temporal cancel or
 *   terminate accepted while it was waiting) with anything on a fake;
 * - moved posts published early: a post whose reschedule to a later time was confirmed (API 200)
 *   with a part on a fake before that time.
 */
import { summarize, type Summary } from '../bench/lib';
import type { PostView } from '../src/api/schemas';
import { splitForPlatform } from '../src/domain/platform-rules';
import { isFinalPostStatus, PLATFORMS, type Platform } from '../src/domain/types';
import { comparableText } from '../src/platforms/publisher';
import type { FaultRecord } from './faults';
import type { DatabaseFacts, FakeItem, WorkflowOutcome } from './observe';
import { SENTENCE_TAG } from './plan';
import type { Tenant } from './stack';
import type { PostRecord } from './workload';

export const MUST_BE_ZERO = ['duplicates', 'lost', 'stuck', 'apiVsWorkflow', 'cancelledPublished', 'movedPublishedEarly'] as const;
export type Figure = (typeof MUST_BE_ZERO)[number];

export interface Finding {
  figure: Figure;
  /** The soak's number of the post, and Herald's id when it has one. */
  n: number;
  postId?: number;
  platform?: Platform;
  detail: string;
}

/** What the soak's actions allow for a post: it must publish, must not, or either is right. */
export type Expectation = 'must_publish' | 'must_not_publish' | 'either';

export interface PlatformTally {
  /** Parts of the posts that had to be published, and how many of them are on the fake. */
  expectedParts: number;
  foundParts: number;
  /** Everything of this soak on the fake (parts of every post, duplicates included). */
  items: number;
  duplicateItems: number;
}

export interface HealedFault extends FaultRecord {
  /** From the injection to the first part created on a fake after it, and from "back" to that part. */
  nextPartAfterInjectionMs?: number;
  healedInMs?: number;
}

export interface Verdict {
  passed: boolean;
  figures: Record<Figure, number>;
  findings: Finding[];
  platforms: Record<Platform, PlatformTally>;
  posts: {
    planned: number;
    created: number;
    createsFailed: number;
    byStatus: Record<string, number>;
    byExpectation: Record<Expectation, number>;
  };
  /** First part on a fake against the post's (final) scheduledFor, in ms. */
  lateness: Summary & { latestPostId?: number };
  faults: HealedFault[];
}

interface VerdictInputs {
  runTag: string;
  records: PostRecord[];
  tenants: Tenant[];
  items: FakeItem[];
  views: Map<number, PostView>;
  workflows: Map<number, WorkflowOutcome>;
  database: DatabaseFacts;
  faults: FaultRecord[];
}

/** A part may land this much before its time (clock reads of the fakes and of the engine differ a little). */
const EARLY_TOLERANCE_MS = 1000;

/** Where an item belongs: its post (by the tag in its text) and its part (by its whole text). */
interface Placement {
  record: PostRecord;
  index?: number;
  wrongAccount: boolean;
}

export function judge(inputs: VerdictInputs): Verdict {
  const findings: Finding[] = [];
  const add = (figure: Figure, record: PostRecord, detail: string, platform?: Platform) =>
    findings.push({ figure, n: record.plan.n, postId: record.postId, platform, detail });
  const byN = new Map(inputs.records.map((r) => [r.plan.n, r]));

  // Expected parts of every planned post, by the engine's own pure splitter.
  const expected = new Map<string, string[]>(); // `${n}/${platform}` → part texts
  for (const record of inputs.records) {
    for (const platform of record.plan.platforms) {
      const { parts } = splitForPlatform(platform, record.plan.content, record.plan.numbering ? { numbering: true } : {}, record.plan.platformParams[platform]);
      expected.set(`${record.plan.n}/${platform}`, parts.map((part) => comparableText(part.text)));
    }
  }

  // Place every item the fakes hold.
  const found = new Map<string, FakeItem[]>(); // `${n}/${platform}/${index}` → items
  const itemsOf = new Map<number, FakeItem[]>(); // n → every item of the post
  const byId = new Map<string, { item: FakeItem; placement?: Placement }>(); // `${platform}/${id}`
  const platforms = Object.fromEntries(PLATFORMS.map((p) => [p, { expectedParts: 0, foundParts: 0, items: 0, duplicateItems: 0 }])) as Record<Platform, PlatformTally>;
  for (const item of inputs.items) {
    const placement = place(item, inputs.runTag, byN, expected, inputs.tenants);
    byId.set(`${item.platform}/${item.id}`, { item, placement });
    if (!placement) {
      findings.push({ figure: 'duplicates', n: 0, platform: item.platform, detail: `item ${item.id} carries no tag of this run: "${item.text.slice(0, 80)}"` });
      continue;
    }
    platforms[item.platform].items += 1;
    const n = placement.record.plan.n;
    itemsOf.set(n, [...(itemsOf.get(n) ?? []), item]);
    if (placement.index === undefined || placement.wrongAccount) {
      platforms[item.platform].duplicateItems += 1;
      const why = placement.wrongAccount ? `on account ${item.account}, not the post's` : `text is none of the post's ${item.platform} parts${item.truncated ? ' (stored truncated)' : ''}`;
      add('duplicates', placement.record, `${item.platform} item ${item.id}: ${why}: "${item.text.slice(0, 80)}"`, item.platform);
      continue;
    }
    const key = `${n}/${item.platform}/${placement.index}`;
    found.set(key, [...(found.get(key) ?? []), item]);
  }
  for (const [key, list] of found) {
    if (list.length < 2) continue;
    const [n, platform, index] = key.split('/') as [string, Platform, string];
    platforms[platform].duplicateItems += list.length - 1;
    const described = list.map((item) => `${item.id}${item.parent ? ` (reply to ${item.parent})` : ''} at ${new Date(item.createdAt).toISOString()}`).join(', ');
    add('duplicates', byN.get(Number(n))!, `${platform} part ${Number(index) + 1} is on the fake ${list.length} times: ${described}`, platform);
  }

  // One client request, one post: the same content twice in the database means a second post.
  const contents = new Map<string, number[]>();
  for (const row of inputs.database.posts) contents.set(row.content, [...(contents.get(row.content) ?? []), row.id]);
  const contentToRecord = new Map(inputs.records.map((r) => [r.plan.content, r]));
  for (const [content, ids] of contents) {
    const record = contentToRecord.get(content);
    if (ids.length > 1 && record) add('duplicates', record, `created ${ids.length} times (post ids ${ids.join(', ')}) from one client request (Idempotency-Key ${record.plan.idempotencyKey})`);
  }
  for (const record of inputs.records) {
    if (record.retry?.postId !== undefined && record.postId !== undefined && record.retry.postId !== record.postId) {
      add('duplicates', record, `the client's retry with the same Idempotency-Key returned post ${record.retry.postId}, the first answer post ${record.postId}`);
    }
  }

  // Each post against what the soak did to it.
  const byStatus: Record<string, number> = {};
  const byExpectation: Record<Expectation, number> = { must_publish: 0, must_not_publish: 0, either: 0 };
  const lateness: Array<{ ms: number; postId?: number }> = [];
  for (const record of inputs.records) {
    const expectation = expectationOf(record);
    byExpectation[expectation] += 1;
    const view = record.postId === undefined ? undefined : inputs.views.get(record.postId);
    const status = record.postId === undefined ? 'not_created' : (view?.status ?? 'unreadable');
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    const postItems = itemsOf.get(record.plan.n) ?? [];

    // A create the API never accepted (and that made no post) is an availability problem, reported
    // with the posts; a post that exists although its create was never answered is judged below.
    if (record.postId === undefined) continue;
    if (!view) {
      add('stuck', record, 'the API did not answer GET /api/v2/posts/:id');
      continue;
    }
    if (!isFinalPostStatus(view.status)) {
      const outcome = inputs.workflows.get(record.postId);
      const workflow = outcome ? `${outcome.status}${outcome.pending ? ` (${outcome.pending})` : ''}${outcome.state ? ` saying ${outcome.state.status}` : ''}${outcome.error ? ` (${outcome.error.slice(0, 100)})` : ''}` : 'not asked';
      // The ledger of the first part each open target has not published: where it hangs.
      const ledger = view.targets
        .filter((t) => !isFinalTargetStatus(t.status))
        .map((t) => {
          const parts = expected.get(`${record.plan.n}/${t.platform}`) ?? [];
          const next = parts.findIndex((_, index) => !t.parts.find((p) => p.index === index)?.platformPostId);
          return next < 0 ? '' : `${t.platform}${describeLedger(inputs.database, record.postId, t.platform, next)}`;
        })
        .filter(Boolean);
      add('stuck', record, `status ${view.status} after the drain${describeTargets(view)}; workflow ${record.workflowId ?? '?'}: ${workflow}${describeOperator(record)}${ledger.length ? `; ${ledger.join('; ')}` : ''}`);
    }

    for (const platform of record.plan.platforms) {
      const parts = expected.get(`${record.plan.n}/${platform}`) ?? [];
      const present = parts.map((_, index) => (found.get(`${record.plan.n}/${platform}/${index}`) ?? []).length > 0);
      if (expectation === 'must_publish') {
        platforms[platform].expectedParts += parts.length;
        platforms[platform].foundParts += present.filter(Boolean).length;
        const missing = present.flatMap((ok, index) => (ok ? [] : [index + 1]));
        if (missing.length > 0) {
          const ledger = describeLedger(inputs.database, record.postId, platform, missing[0]! - 1);
          add('lost', record, `${platform} part(s) ${missing.join(', ')} of ${parts.length} not on the fake${describeTarget(view, platform)}${ledger}`, platform);
        }
      }
      // Every id the API reports must be that very part on the fake.
      const target = view.targets.find((t) => t.platform === platform);
      for (const part of target?.parts ?? []) {
        if (!part.platformPostId) {
          if (target?.status === 'published') add('lost', record, `${platform} target is published but part ${part.index + 1} has no id`, platform);
          continue;
        }
        const onFake = byId.get(`${platform}/${part.platformPostId}`);
        if (!onFake) add('lost', record, `the API reports ${platform} part ${part.index + 1} as ${part.platformPostId}, which the fake does not have`, platform);
        else if (onFake.placement?.record !== record || onFake.placement.index !== part.index) {
          const other = onFake.placement ? `post #${onFake.placement.record.plan.n} part ${(onFake.placement.index ?? -1) + 1}` : 'no soak post';
          add('lost', record, `the API reports ${platform} part ${part.index + 1} as ${part.platformPostId}, which on the fake is ${other}`, platform);
        }
      }
    }
    if (expectation === 'must_publish' && view.status !== 'published' && isFinalPostStatus(view.status)) {
      // What the platforms have of the targets the API gave up on: the evidence for "said failed, but is live".
      const onFakes = view.targets
        .filter((t) => t.status !== 'published')
        .flatMap((t) => (expected.get(`${record.plan.n}/${t.platform}`) ?? []).flatMap((_, index) => {
          const known = t.parts.find((p) => p.index === index)?.platformPostId;
          return (found.get(`${record.plan.n}/${t.platform}/${index}`) ?? [])
            .filter((item) => item.id !== known)
            .map((item) => `${t.platform} part ${index + 1} is live as ${item.id} (created ${new Date(item.createdAt).toISOString()}) and the API has ${known ?? 'no id'} for it${describeLedger(inputs.database, record.postId, t.platform, index)}`);
        }));
      add('lost', record, `status ${view.status}, expected published${describeTargets(view)}${onFakes.length ? `; yet ${onFakes.join('; ')}` : ''}`);
    }
    if (expectation === 'must_not_publish' && postItems.length > 0) {
      add('cancelledPublished', record, `${whyMustNotPublish(record)}, yet ${postItems.length} item(s) are on the fakes: ${postItems.slice(0, 4).map((i) => `${i.platform} ${i.id}`).join(', ')}`);
    }
    compareWithWorkflow(record, view, inputs.workflows.get(record.postId), expected, found, add);
    if (record.user?.kind === 'reschedule' && record.user.status === 200 && record.user.newScheduledFor && postItems.length > 0) {
      const first = Math.min(...postItems.map((i) => i.createdAt));
      const movedTo = Date.parse(record.user.newScheduledFor);
      if (first < movedTo - EARLY_TOLERANCE_MS) {
        add('movedPublishedEarly', record, `rescheduled to ${record.user.newScheduledFor} (200, ${Math.round(record.user.msBeforeDue)} ms before the old time), yet its first part was on a fake at ${new Date(first).toISOString()}`);
      }
    }

    if (postItems.length > 0 && !(record.create && Date.parse(record.create.scheduledFor) > record.plan.dueAt)) {
      const first = Math.min(...postItems.map((i) => i.createdAt));
      lateness.push({ ms: first - Date.parse(view.scheduledFor), postId: record.postId });
    }
  }

  const figures = Object.fromEntries(MUST_BE_ZERO.map((figure) => [figure, findings.filter((f) => f.figure === figure).length])) as Record<Figure, number>;
  const latest = lateness.reduce<{ ms: number; postId?: number } | undefined>((worst, entry) => (!worst || entry.ms > worst.ms ? entry : worst), undefined);
  return {
    passed: MUST_BE_ZERO.every((figure) => figures[figure] === 0),
    figures,
    findings,
    platforms,
    posts: {
      planned: inputs.records.length,
      created: inputs.records.filter((r) => r.postId !== undefined).length,
      createsFailed: inputs.records.filter((r) => r.postId === undefined).length,
      byStatus,
      byExpectation,
    },
    lateness: { ...summarize(lateness.map((l) => l.ms)), latestPostId: latest?.postId },
    faults: healing(inputs.faults, inputs.items),
  };
}

function place(item: FakeItem, runTag: string, byN: Map<number, PostRecord>, expected: Map<string, string[]>, tenants: Tenant[]): Placement | undefined {
  const tag = SENTENCE_TAG.exec(item.text);
  if (!tag || tag[1] !== runTag) return undefined;
  const record = byN.get(Number(tag[2]));
  if (!record) return undefined;
  const tenant = tenants[record.plan.tenantIndex]!;
  const account = { twitter: tenant.xUserId, linkedin: tenant.linkedinUrn, facebook: tenant.facebookPageId, instagram: tenant.instagramId }[item.platform];
  const parts = expected.get(`${record.plan.n}/${item.platform}`) ?? [];
  const index = parts.indexOf(comparableText(item.text));
  return { record, index: index >= 0 ? index : undefined, wrongAccount: item.account !== account };
}

/** Cancel confirmed (200), or a Temporal cancel/terminate accepted while the post was still waiting. */
export function expectationOf(record: PostRecord): Expectation {
  if (record.user?.kind === 'cancel') {
    if (record.user.status === 200) return 'must_not_publish';
    if (record.user.status !== 409) return 'either'; // queued (202) or unknown: either outcome is right
  }
  const operator = record.operator;
  if (operator && (operator.kind === 'cancel' || operator.kind === 'terminate')) {
    if (operator.ok && operator.statusBefore === 'scheduled' && operator.msBeforeDue >= 1000) return 'must_not_publish';
    return 'either';
  }
  return 'must_publish';
}

function whyMustNotPublish(record: PostRecord): string {
  if (record.user?.kind === 'cancel' && record.user.status === 200) return `cancel answered 200 ${Math.round(record.user.msBeforeDue)} ms before the due time`;
  const operator = record.operator!;
  return `a Temporal ${operator.kind} was accepted ${Math.round(operator.msBeforeDue)} ms before the due time, while the post was ${operator.statusBefore}`;
}

/**
 * The API against the workflow's own final state. A terminated run has none: the API must then
 * show every target whose parts are all on the fake as published and the others as cancelled.
 */
function compareWithWorkflow(
  record: PostRecord,
  view: PostView,
  outcome: WorkflowOutcome | undefined,
  expected: Map<string, string[]>,
  found: Map<string, FakeItem[]>,
  add: (figure: Figure, record: PostRecord, detail: string, platform?: Platform) => void,
): void {
  if (!isFinalPostStatus(view.status)) return; // already counted as stuck
  if (!outcome) return add('apiVsWorkflow', record, `no workflow to compare with (${record.workflowId ?? 'no workflow id'})`);
  if (outcome.status === 'TERMINATED') {
    for (const target of view.targets) {
      const parts = expected.get(`${record.plan.n}/${target.platform}`) ?? [];
      const allLive = parts.length > 0 && parts.every((_, index) => (found.get(`${record.plan.n}/${target.platform}/${index}`) ?? []).length > 0);
      const want = allLive ? 'published' : 'cancelled';
      if (target.status !== want) add('apiVsWorkflow', record, `terminated run: the API shows ${target.platform} ${target.status}, the fake has ${allLive ? 'every part' : 'not every part'} (expected ${want})`, target.platform);
    }
    return;
  }
  if (!outcome.state) return add('apiVsWorkflow', record, `workflow ${outcome.status} without a readable state: ${outcome.error ?? 'no result'}; the API says ${view.status}`);
  const state = outcome.state;
  if (state.status !== view.status) add('apiVsWorkflow', record, `the API says ${view.status}, the workflow (${outcome.status}) says ${state.status}`);
  for (const live of state.targets) {
    const target = view.targets.find((t) => t.platform === live.platform);
    if (!target) {
      add('apiVsWorkflow', record, `the workflow has a ${live.platform} target the API does not show`, live.platform);
      continue;
    }
    if (target.status !== live.status) add('apiVsWorkflow', record, `${live.platform}: the API says ${target.status}, the workflow says ${live.status}`, live.platform);
    for (const part of live.parts) {
      const apiPart = target.parts.find((p) => p.index === part.index);
      if (apiPart?.platformPostId !== part.platformPostId) {
        add('apiVsWorkflow', record, `${live.platform} part ${part.index + 1}: the API says ${apiPart?.platformPostId ?? 'nothing'}, the workflow ${part.platformPostId}`, live.platform);
      }
    }
  }
}

function isFinalTargetStatus(status: string): boolean {
  return status === 'published' || status === 'failed' || status === 'cancelled';
}

/** The ledger row of a part, briefly: what Herald itself recorded about its sends. */
function describeLedger(database: DatabaseFacts, postId: number | undefined, platform: Platform, index: number): string {
  const row = database.parts.get(`${postId}/${platform}/${index}`);
  if (!row) return ` [ledger: no row for part ${index + 1}]`;
  const extra = Object.entries(row.extra)
    .filter(([key]) => !['id', 'progress', 'claim_token', 'account_id'].includes(key))
    .map(([key, value]) => `${key} ${value instanceof Date ? value.toISOString() : String(value)}`);
  return ` [ledger part ${index + 1}: id ${row.platformPostId ?? 'none'}, ${row.attempts} send(s)${extra.length ? `, ${extra.join(', ')}` : ''}${row.lastError ? `, last error "${row.lastError.slice(0, 120)}"` : ''}]`;
}

function describeOperator(record: PostRecord): string {
  const op = record.operator;
  if (op) return `; the soak sent a Temporal ${op.kind} ${Math.abs(Math.round(op.msBeforeDue))} ms ${op.msBeforeDue >= 0 ? 'before' : 'after'} the due time (post ${op.statusBefore ?? '?'}; ${op.ok ? 'accepted' : `refused: ${op.error ?? ''}`})`;
  if (record.adopted) return `; its create never got a 2xx answer (last ${record.create?.status ?? 'none'}${record.create?.firstError ? `, first "${record.create.firstError}"` : ''})`;
  return '';
}

function describeTarget(view: PostView, platform: Platform): string {
  const target = view.targets.find((t) => t.platform === platform);
  return target ? ` (API: ${target.status}${target.error ? `, "${target.error.slice(0, 160)}"` : ''})` : '';
}

function describeTargets(view: PostView): string {
  return view.targets.length ? ` (${view.targets.map((t) => `${t.platform} ${t.status}${t.error ? `: "${t.error.slice(0, 120)}"` : ''}`).join('; ')})` : '';
}

/** For each fault: the first part any fake created after the injection, and after the component was back. */
function healing(faults: FaultRecord[], items: FakeItem[]): HealedFault[] {
  const times = items.map((i) => i.createdAt).sort((a, b) => a - b);
  const firstAtOrAfter = (t: number) => times.find((time) => time >= t);
  return faults.map((fault) => {
    const afterInjection = firstAtOrAfter(fault.injectedAt);
    const afterBack = fault.backAt === undefined ? undefined : firstAtOrAfter(fault.backAt);
    return {
      ...fault,
      nextPartAfterInjectionMs: afterInjection === undefined ? undefined : afterInjection - fault.injectedAt,
      healedInMs: afterBack === undefined || fault.backAt === undefined ? undefined : afterBack - fault.backAt,
    };
  });
}

