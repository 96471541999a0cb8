/**
 * One post, one workflow: wait durably until the post's time (movable by `reschedule`, ended by
 * `cancel`), then publish every target in parallel, each as a chain of parts.
 */
import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { FailureClass, PostStatus } from '../src/domain/types';
import { PostStatusAttribute, ScheduledForAttribute } from '../src/temporal/search-attributes';
import {
  cancelSignal,
  rescheduleSignal,
  statusQuery,
  type LivePart,
  type LivePostState,
  type LiveTarget,
  type PublishPartInput,
  type PublishPostInput,
  type TargetPlan,
} from './contract';

type Activities = ReturnType<typeof createActivities>;

const bookkeepingOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};
const remoteBookkeeping = proxyActivities<Activities>(bookkeepingOptions);
const localBookkeeping = proxyLocalActivities<Activities>(bookkeepingOptions);

/**
 * The bookkeeping activities (mirror the state into Postgres, freeze the parts) are short, idempotent
 * database writes: since the `local-bookkeeping` patch they run as local activities, in the worker
 * that runs the workflow task, with no server round trip. Between a post's timer and its first part
 * that saves a whole activity task dispatch (measured by `npm run bench`), and the engine does a
 * third less work per post. Histories from before the patch replay through the old, remote path.
 */
function bookkeeping(): typeof remoteBookkeeping {
  return has('local-bookkeeping') ? localBookkeeping : remoteBookkeeping;
}

/** The behaviours added to this workflow after its first version, each once gated by `patched()`. */
type Behaviour = 'local-bookkeeping' | 'operator-cancel' | 'operator-cancel-while-publishing' | 'record-every-reschedule' | 'ledger-catch-up';

/** Runs started as this version or later have every Behaviour above (contract.ts POST_WORKFLOW_VERSION). */
const ALL_BEHAVIOURS_SINCE = 3;

/**
 * The version this run was started as (its input; 0 before versions were named). Module state is
 * per run: the SDK gives every workflow run its own instances of the workflow's modules.
 */
let startedAsVersion = 0;

/**
 * Whether this run has a behaviour. A run started as version 3 or later has them all, decided by its
 * input, which is in its history: no marker. Each `patched()` records a marker and upserts the
 * TemporalChangeVersion search attribute, two more commands for the engine in every post (measured
 * with `npm run bench`: docs/PROFILE-WORKER.md); older runs keep deciding with it, as when they were recorded.
 *
 * Replaying, a version-3 run still calls `patched()`: a worker from before version 3 may have run part
 * of it (it ignores the version and took every behaviour through `patched()`, recording markers), and
 * a marker in history must meet its call. Replaying, `patched()` records nothing when the marker is
 * absent, and the behaviour is the same either way.
 */
function has(behaviour: Behaviour): boolean {
  if (startedAsVersion < ALL_BEHAVIOURS_SINCE) return patched(behaviour);
  if (workflowInfo().unsafe.isReplaying) patched(behaviour);
  return true;
}

/**
 * Publishing a part: `auth` and `rejected` are final at once; `retryable` backs off (or waits for the
 * platform's reset through nextRetryDelay); `unknown_outcome` retries, and the next attempt reconciles
 * with the platform before it posts again. No attempt cap: an attempt lost to a dead worker or a
 * database outage must not end a target; the activity itself gives up after 12 failures the platform
 * caused (counted in the ledger). The numbers agree with the fence (docs/EXACTLY-ONCE.md): a new
 * attempt never sends before the previous one's send deadline (50 s by default), whatever the timeouts.
 */
const publishingOptions: ActivityOptions = {
  startToCloseTimeout: '3m',
  heartbeatTimeout: '10s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    // Fence waits and outages add attempts: a short cap keeps a part from idling minutes after they end
    // (a platform's own reset time still comes through nextRetryDelay).
    maximumInterval: '30s',
    nonRetryableErrorTypes: ['auth', 'rejected'],
  },
};

/** Each part's activity carries a summary ("twitter part 2 of 5") for the Web UI. */
function publishingFor(platform: string, partIndex: number, partCount: number) {
  return proxyActivities<Activities>({ ...publishingOptions, summary: `${platform} part ${partIndex + 1} of ${partCount}` });
}

export async function publishPostWorkflow(input: PublishPostInput): Promise<LivePostState> {
  startedAsVersion = input.workflowVersion ?? 0;
  const state = initialState(input);
  const wait = { cancelled: false, moved: false };

  setHandler(statusQuery, () => state);
  setHandler(cancelSignal, () => {
    if (state.status === 'scheduled') wait.cancelled = true;
    else log.info('cancel ignored: publishing has begun', { status: state.status });
  });
  setHandler(rescheduleSignal, ({ scheduledFor }) => {
    const when = Date.parse(scheduledFor);
    if (state.status !== 'scheduled' || Number.isNaN(when)) {
      log.warn('reschedule ignored', { status: state.status, scheduledFor });
      return;
    }
    state.scheduledFor = new Date(when).toISOString();
    wait.moved = true;
  });

  try {
    // A post due already (publish now) goes straight on: no wait, not even an empty one.
    if (Date.parse(state.scheduledFor) > Date.now()) await waitUntilDue(state, wait);
  } catch (err) {
    // Cancelled in Temporal itself (Web UI, CLI) while waiting: the post is cancelled like by the signal.
    if (isCancellation(err) && has('operator-cancel')) {
      await CancellationScope.nonCancellable(() => finishCancelled(state, 'Cancelled in Temporal before publishing'));
    }
    throw err;
  }

  if (wait.cancelled) return finishCancelled(state);
  return publishAndFinish(state);
}

/** The timer, movable by `reschedule`; every move is recorded, even one that arrives while the previous is being recorded. */
async function waitUntilDue(state: LivePostState, wait: { cancelled: boolean; moved: boolean }): Promise<void> {
  while (!wait.cancelled) {
    const remaining = Date.parse(state.scheduledFor) - Date.now();
    if (remaining <= 0) break;
    setCurrentDetails(`Waiting until ${state.scheduledFor}`);
    wait.moved = false;
    await condition(() => wait.cancelled || wait.moved, remaining, { summary: `wait until ${state.scheduledFor}` });
    if (!wait.moved || wait.cancelled) continue;
    let recorded = await recordRescheduled(state);
    while (state.scheduledFor !== recorded && !wait.cancelled && has('record-every-reschedule')) {
      recorded = await recordRescheduled(state);
    }
  }
}

/**
 * Once publishing begins it is not taken back: parts already sent stay sent. A cancel requested in
 * Temporal meanwhile lets the parts in flight finish, sends no further part, and ends the run cancelled
 * after the final state is recorded.
 */
async function publishAndFinish(state: LivePostState): Promise<LivePostState> {
  if (!has('operator-cancel-while-publishing')) {
    await publishAllTargets(state, () => false);
    return finish(state, false);
  }
  let cancellation: unknown;
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    cancellation = err;
  });
  const finished = await CancellationScope.nonCancellable(async () => {
    const recordedByLastPart = await publishAllTargets(state, () => cancellation !== undefined);
    return finish(state, recordedByLastPart);
  });
  // The run ends cancelled, as asked; the state is recorded and the status query still answers.
  if (cancellation !== undefined) throw cancellation;
  return finished;
}

function initialState(input: PublishPostInput): LivePostState {
  return {
    postId: input.postId,
    status: 'scheduled',
    scheduledFor: new Date(Date.parse(input.scheduledFor)).toISOString(),
    publishedAt: null,
    targets: input.platforms.map((platform) => ({
      platform,
      accountId: null,
      status: 'pending',
      url: null,
      error: null,
      errorClass: null,
      partCount: null,
      parts: [],
    })),
  };
}

/**
 * Every bookkeeping write carries a version that grows within a run and from one run to the next
 * (workflow time, then a counter): Postgres keeps the newest, so a write from a stalled worker's
 * stale workflow task, arriving after the final state, cannot undo it.
 */
function nextVersion(state: LivePostState): string {
  state.revision = (state.revision ?? 0) + 1;
  state.version = `${String(Date.now()).padStart(15, '0')}-${String(state.revision).padStart(6, '0')}`;
  return state.version;
}

async function recordState(state: LivePostState): Promise<void> {
  nextVersion(state);
  await bookkeeping().recordPostState(state);
}

/** Returns the time it recorded (a signal may move the post again while it is being recorded). */
async function recordRescheduled(state: LivePostState): Promise<string> {
  const recording = state.scheduledFor;
  upsertSearchAttributes([{ key: ScheduledForAttribute, value: new Date(recording) }]);
  await recordState(state);
  return recording;
}

async function finishCancelled(state: LivePostState, details = 'Cancelled before publishing'): Promise<LivePostState> {
  state.status = 'cancelled';
  for (const target of state.targets) target.status = 'cancelled';
  setCurrentDetails(details);
  upsertSearchAttributes([{ key: PostStatusAttribute, value: state.status }]);
  await recordState(state);
  return state;
}

/** True when the last part's attempt recorded the post's final state too (see `finishingState`). */
async function publishAllTargets(state: LivePostState, stopRequested: () => boolean): Promise<boolean> {
  state.status = 'publishing';
  setCurrentDetails(`Publishing to ${state.targets.map((t) => t.platform).join(', ')}`);
  upsertSearchAttributes([{ key: PostStatusAttribute, value: state.status }]);
  // One round trip between the timer and the first part: preparing also records "publishing".
  const plans = await bookkeeping().preparePublication({ postId: state.postId, version: nextVersion(state) });
  if (refusesToPublish(state, plans)) return false;
  const [only, ...others] = state.targets;
  if (only && others.length === 0) {
    // One target (most posts): awaited as it is (Promise.all would only add promises for the SDK to
    // track), and since version 3 its last part's attempt may record the final state too.
    const finishing = startedAsVersion >= ALL_BEHAVIOURS_SINCE ? () => finishingState(state, only) : undefined;
    return publishTarget(state.postId, only, planFor(plans, only), stopRequested, finishing);
  }
  await Promise.all(state.targets.map((target) => publishTarget(state.postId, target, planFor(plans, target), stopRequested)));
  return false;
}

function planFor(plans: TargetPlan[], target: LiveTarget): TargetPlan | undefined {
  return plans.find((candidate) => candidate.platform === target.platform);
}

/**
 * The final state as `finish` will compute it if the last part is published, under a new version:
 * the attempt fills in that part's time (and, for a one-part target, the link) and records it.
 */
function finishingState(state: LivePostState, target: LiveTarget): LivePostState {
  const version = nextVersion(state);
  const publishedAt = target.parts.map((part) => part.publishedAt).sort().pop() ?? null;
  return {
    ...state,
    status: 'published',
    publishedAt,
    version,
    targets: [{ ...target, status: 'published', url: target.parts[0]?.url ?? null, parts: [] }],
  };
}

/**
 * The stored post says no: it was cancelled (this run is a reset replaying an old wait), or no row
 * belongs to this workflow any more. Nothing is sent; the targets say why.
 */
function refusesToPublish(state: LivePostState, plans: TargetPlan[]): boolean {
  const refusal = plans.find((plan) => plan.outcome !== undefined);
  if (!refusal) return false;
  for (const target of state.targets) {
    if (refusal.outcome === 'cancelled') target.status = 'cancelled';
    else failTarget(target, refusal.failure ?? { errorClass: 'rejected', message: 'The post no longer exists.' });
  }
  return true;
}

/**
 * Parts go out one after another, each replying to the one before it. True when the last part's
 * attempt also recorded the post's final state (`finishing`, given for a post's only target).
 */
async function publishTarget(
  postId: number,
  target: LiveTarget,
  plan: TargetPlan | undefined,
  stopRequested: () => boolean,
  finishing?: () => LivePostState,
): Promise<boolean> {
  if (!plan || plan.failure || plan.accountId === null) {
    failTarget(target, plan?.failure ?? { errorClass: 'rejected', message: 'No publishing plan for this platform.' });
    return false;
  }
  target.accountId = plan.accountId;
  target.partCount = plan.partCount;
  target.parts = [...plan.alreadyPublished];
  target.status = 'publishing';
  let finished = false;
  for (let partIndex = target.parts.length; partIndex < plan.partCount; partIndex++) {
    if (stopRequested()) {
      cancelTarget(target, partIndex, plan.partCount);
      return false;
    }
    try {
      const { finished: recordedFinalState, ...part } = await publishOnePart({
        postId,
        platform: target.platform,
        partIndex,
        partCount: plan.partCount,
        accountId: plan.accountId,
        replyToPlatformPostId: target.parts[partIndex - 1]?.platformPostId,
        rootPlatformPostId: target.parts[0]?.platformPostId,
        ...(finishing && partIndex === plan.partCount - 1 ? { finishing: finishing() } : {}),
      });
      target.parts.push(part);
      finished = recordedFinalState === true;
    } catch (err) {
      failTarget(target, describeFailure(err, partIndex, plan.partCount));
      return false;
    }
  }
  target.status = 'published';
  target.url = target.parts[0]?.url ?? null;
  return finished;
}

/** A bound on durable waits for a multi-step publish; the publisher sets its own, shorter ones. */
const MAX_PROGRESS_CHECKS = 120;

/** One part; a multi-step publish (media processing) is checked again after a durable timer. */
async function publishOnePart(input: PublishPartInput): Promise<LivePart> {
  const activities = publishingFor(input.platform, input.partIndex, input.partCount);
  for (let check = 0; check <= MAX_PROGRESS_CHECKS; check++) {
    const result = await activities.publishPart(input);
    if (!('inProgress' in result)) return result.ledgerPending ? recordLedgerIfPending(input, result) : result;
    await sleep(result.checkAfterMs, { summary: `${input.platform} part ${input.partIndex + 1}: waiting for the platform to process it` });
  }
  throw ApplicationFailure.nonRetryable(`The platform was still processing the post after ${MAX_PROGRESS_CHECKS} checks.`, 'rejected');
}

/**
 * The platform accepted the part but the database was away: the part is live, so the target goes on;
 * the ledger is written by a bookkeeping activity that retries until the database answers.
 */
async function recordLedgerIfPending(input: PublishPartInput, part: LivePart): Promise<LivePart> {
  const { ledgerPending, ...live } = part;
  if (ledgerPending && has('ledger-catch-up')) {
    await bookkeeping().recordPartLedger({ postId: input.postId, platform: input.platform, part: live }).catch((err: unknown) => {
      log.error('the ledger could not record a published part', { partIndex: input.partIndex, error: String(err) });
    });
  }
  return live;
}

function cancelTarget(target: LiveTarget, partIndex: number, partCount: number): void {
  target.status = 'cancelled';
  target.error = `Cancelled in Temporal while publishing: ${partIndex} of ${partCount} part(s) had been published; the rest were not sent.`;
  target.url = target.parts[0]?.url ?? null;
}

function failTarget(target: LiveTarget, failure: { errorClass: FailureClass; message: string }): void {
  target.status = 'failed';
  target.errorClass = failure.errorClass;
  target.error = failure.message;
  target.url = target.parts[0]?.url ?? null;
}

function describeFailure(err: unknown, partIndex: number, partCount: number): { errorClass: FailureClass; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const where = partCount > 1 ? ` (part ${partIndex + 1} of ${partCount})` : '';
  if (cause instanceof ApplicationFailure) {
    const errorClass = isFailureClass(cause.type) ? cause.type : 'retryable';
    const gaveUp = errorClass === 'retryable' || errorClass === 'unknown_outcome' ? 'Gave up after retries: ' : '';
    return { errorClass, message: `${gaveUp}${cause.message}${where}` };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return { errorClass: 'retryable', message: `Gave up after retries: ${message}${where}` };
}

function isFailureClass(type: string | undefined | null): type is FailureClass {
  return type === 'retryable' || type === 'auth' || type === 'rejected' || type === 'unknown_outcome';
}

/** `recordedByLastPart`: the last part's attempt recorded this very state (see `finishingState`). */
async function finish(state: LivePostState, recordedByLastPart: boolean): Promise<LivePostState> {
  state.status = overallStatus(state.targets);
  const publishedParts = state.targets.flatMap((target) => target.parts.map((part) => part.publishedAt));
  state.publishedAt = publishedParts.length > 0 ? publishedParts.sort()[publishedParts.length - 1]! : null;
  setCurrentDetails(describeOutcome(state));
  upsertSearchAttributes([{ key: PostStatusAttribute, value: state.status }]);
  if (!recordedByLastPart) await recordState(state);
  return state;
}

function overallStatus(targets: LiveTarget[]): PostStatus {
  const published = targets.filter((target) => target.status === 'published').length;
  if (published === targets.length) return 'published';
  if (published > 0) return 'partially_published';
  return targets.every((target) => target.status === 'cancelled') ? 'cancelled' : 'failed';
}

function describeOutcome(state: LivePostState): string {
  const lines = state.targets.map((target) =>
    target.status === 'published'
      ? `${target.platform}: published ${target.parts.length} part(s) ${target.url ?? ''}`
      : `${target.platform}: ${target.status} — ${target.error ?? ''}`,
  );
  return [`Post ${state.postId}: ${state.status}`, ...lines].join('\n');
}
