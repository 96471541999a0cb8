/**
 * Drives the plan against the running Herald: creates posts through `POST /api/v2/schedule` with an
 * Idempotency-Key (sent again when the answer is lost, as a careful client does, and sometimes on
 * purpose), cancels and reschedules some of them while they race their due time, and acts on a few
 * through Temporal itself (terminate, cancel request, reset). Everything that was answered is
 * recorded: the verdict judges each post against what the soak did to it.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { PostView } from '../src/api/schemas';
import { isFinalPostStatus, type PostStatus } from '../src/domain/types';
import { callApi, errorReason, isPostView, type ApiAnswer } from './api';
import type { OperatorActionKind, OperatorPhase, PlannedPost } from './plan';
import { sleep } from './services';
import type { Tenant } from './stack';

export interface CreateRecord {
  /** Final status after the client's own retries (0: never answered). */
  status: number;
  attempts: number;
  firstError?: string;
  /** Epoch ms of the answer that gave the post id. */
  answeredAt?: number;
  /** What `scheduledFor` was sent (a create that comes too late is moved to "now"). */
  scheduledFor: string;
}

export interface UserActionRecord {
  kind: 'cancel' | 'reschedule';
  racing: boolean;
  /** Epoch ms the request was sent; how far before the due time (negative: after). */
  sentAt: number;
  msBeforeDue: number;
  /** Final HTTP status: 200 confirmed, 202 queued, 409 too late; 0 no answer. */
  status: number;
  reason?: string;
  attempts: number;
  newScheduledFor?: string;
}

export interface OperatorActionRecord {
  kind: OperatorActionKind;
  phase: OperatorPhase;
  sentAt: number;
  msBeforeDue: number;
  /** The post's API status just before the action. */
  statusBefore?: PostStatus;
  ok: boolean;
  error?: string;
}

export interface PostRecord {
  plan: PlannedPost;
  postId?: number;
  workflowId?: string;
  /** No 2xx answer came for the create, yet the post exists (found by its text in the database). */
  adopted?: boolean;
  create?: CreateRecord;
  /** A client retry with the same key: the post id it returned (must equal postId). */
  retry?: { status: number; postId?: number; reason?: string };
  user?: UserActionRecord;
  operator?: OperatorActionRecord;
}

export interface WorkloadContext {
  apiUrl: string;
  tenants: Tenant[];
  temporal: Client;
  log: (line: string) => void;
  /** Stop starting new work after this (epoch ms). */
  deadline: number;
}

const CREATE_CONCURRENCY = 8;
/** How long a client keeps sending a create again (same key) while the API is away. */
const CREATE_RETRY_WINDOW_MS = 90_000;

export class Workload {
  readonly records: PostRecord[];
  private createdCount = 0;
  /** Settles when the record's create is over (whatever its outcome): actions on it wait for that. */
  private readonly createDone = new Map<PostRecord, { promise: Promise<void>; resolve: () => void }>();

  constructor(plan: PlannedPost[], private readonly ctx: WorkloadContext) {
    this.records = plan.map((post) => ({ plan: post }));
    for (const record of this.records) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.createDone.set(record, { promise, resolve });
    }
  }

  /** Waits until `at`, and until the record's create is over (a create may run late while the API is down). */
  private async actionTime(record: PostRecord, at: number): Promise<void> {
    await sleepUntil(at);
    await Promise.race([this.createDone.get(record)!.promise, sleep(Math.max(0, this.ctx.deadline - Date.now()))]);
  }

  get created(): number {
    return this.createdCount;
  }

  /** Runs creations, user actions and operator actions until each is done (or the deadline passed). */
  async run(): Promise<void> {
    await Promise.all([this.createAll(), this.userActions(), this.operatorActions()]);
  }

  // --- creation ------------------------------------------------------------------------------

  private async createAll(): Promise<void> {
    const queue = [...this.records].sort((a, b) => a.plan.createAt - b.plan.createAt);
    let next = 0;
    const lane = async () => {
      while (next < queue.length) {
        const record = queue[next++]!;
        await sleepUntil(record.plan.createAt);
        try {
          if (Date.now() <= this.ctx.deadline) await this.create(record);
        } finally {
          this.createDone.get(record)!.resolve();
        }
      }
    };
    await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, lane));
  }

  private tenantOf(record: PostRecord): Tenant {
    return this.ctx.tenants[record.plan.tenantIndex]!;
  }

  private body(record: PostRecord, scheduledFor: string): Record<string, unknown> {
    const plan = record.plan;
    const tenant = this.tenantOf(record);
    return {
      businessId: tenant.businessId,
      content: plan.content,
      platforms: plan.platforms,
      scheduledFor,
      ...(Object.keys(plan.platformParams).length ? { platformParams: plan.platformParams } : {}),
      ...(plan.numbering ? { thread: { numbering: true } } : {}),
    };
  }

  private async create(record: PostRecord): Promise<void> {
    const plan = record.plan;
    // A create that comes late (the API was down) would be refused 60 s past its time: make it due now.
    const scheduledFor = new Date(Math.max(plan.dueAt, Date.now() + 1000)).toISOString();
    const body = this.body(record, scheduledFor);
    const send = () => this.sendCreate(record, body);
    const concurrent = plan.clientRetry === 'concurrent' ? sleep(50).then(send) : undefined;
    const first = await send();
    record.create = { status: first.answer.status, attempts: first.attempts, firstError: first.firstError, scheduledFor };
    if (isPostView(first.answer.body) && (first.answer.status === 201 || first.answer.status === 200)) {
      record.postId = first.answer.body.id;
      record.workflowId = first.answer.body.workflowId;
      record.create.answeredAt = Date.now();
      this.createdCount += 1;
    } else {
      this.ctx.log(`create of soak post ${plan.n} failed after ${first.attempts} attempt(s): ${first.answer.status} ${first.answer.error ?? errorReason(first.answer.body) ?? ''}`);
    }
    const second = concurrent ? await concurrent : plan.clientRetry === 'after' ? await send() : undefined;
    if (second) {
      const post = isPostView(second.answer.body) ? second.answer.body : undefined;
      record.retry = { status: second.answer.status, postId: post?.id, reason: errorReason(second.answer.body) ?? second.answer.error };
      // The concurrent one may have been the one that created it.
      if (record.postId === undefined && post) {
        record.postId = post.id;
        record.workflowId = post.workflowId;
        this.createdCount += 1;
      }
    }
  }

  /**
   * One logical create: sent again with the same Idempotency-Key when no answer came, the API failed
   * (5xx), limited (429) or the same key is still in flight (409, Retry-After).
   */
  private async sendCreate(record: PostRecord, body: Record<string, unknown>): Promise<{ answer: ApiAnswer<PostView>; attempts: number; firstError?: string }> {
    const tenant = this.tenantOf(record);
    const giveUpAt = Date.now() + CREATE_RETRY_WINDOW_MS;
    let attempts = 0;
    let firstError: string | undefined;
    for (;;) {
      attempts += 1;
      const answer = await callApi<PostView>(this.ctx.apiUrl, tenant.apiKey, 'POST', '/api/v2/schedule', {
        body,
        headers: { 'Idempotency-Key': record.plan.idempotencyKey },
        timeoutMs: 30_000,
      });
      // With an Idempotency-Key every failure but a refusal of the request itself is safe to send again.
      const inFlight = answer.status === 409 && errorReason(answer.body)?.includes('in_flight');
      const retryable = answer.status === 0 || answer.status >= 500 || answer.status === 429 || inFlight;
      if (!retryable || Date.now() > giveUpAt) return { answer, attempts, firstError };
      firstError ??= `${answer.status} ${answer.error ?? errorReason(answer.body) ?? ''}`.trim();
      await sleep(inFlight ? (answer.retryAfterSeconds ?? 1) * 1000 : 1000);
    }
  }

  // --- user actions --------------------------------------------------------------------------

  private async userActions(): Promise<void> {
    const due = this.records.filter((r) => r.plan.userAction).sort((a, b) => a.plan.userAction!.at - b.plan.userAction!.at);
    await Promise.all(due.map(async (record) => {
      const action = record.plan.userAction!;
      await this.actionTime(record, action.at);
      if (record.postId === undefined) return; // its create failed: nothing to act on
      const tenant = this.tenantOf(record);
      const path = `/api/v2/schedule/${record.postId}`;
      const newScheduledFor = action.newDueAt ? new Date(action.newDueAt).toISOString() : undefined;
      const sentAt = Date.now();
      let attempts = 0;
      let answer: ApiAnswer;
      // A DELETE, or a PUT to the same time, is safe to send again when no answer or a 5xx came.
      do {
        attempts += 1;
        answer = action.kind === 'cancel'
          ? await callApi(this.ctx.apiUrl, tenant.apiKey, 'DELETE', path, { timeoutMs: 30_000 })
          : await callApi(this.ctx.apiUrl, tenant.apiKey, 'PUT', path, { body: { scheduledFor: newScheduledFor }, timeoutMs: 30_000 });
        if (answer.status === 0 || answer.status >= 500) await sleep(1000);
      } while ((answer.status === 0 || answer.status >= 500) && attempts < 20);
      record.user = {
        kind: action.kind,
        racing: action.racing,
        sentAt,
        msBeforeDue: record.plan.dueAt - sentAt,
        status: answer.status,
        reason: errorReason(answer.body) ?? answer.error,
        attempts,
        newScheduledFor,
      };
    }));
  }

  // --- operator actions (Temporal) -----------------------------------------------------------

  private async operatorActions(): Promise<void> {
    const due = this.records.filter((r) => r.plan.operatorAction);
    await Promise.all(due.map(async (record) => {
      const action = record.plan.operatorAction!;
      await this.actionTime(record, action.at);
      if (record.postId === undefined || !record.workflowId) return;
      // "While publishing" and "after it published" mean it: a post fires late under load, so wait
      // (bounded) until the API shows that phase.
      const reached = (status: PostStatus | undefined) =>
        action.phase === 'waiting' || (action.phase === 'publishing' ? status !== 'scheduled' : status !== undefined && isFinalPostStatus(status));
      let statusBefore = await this.apiStatus(record);
      for (const giveUpAt = Date.now() + (action.phase === 'published' ? 180_000 : 30_000); !reached(statusBefore) && Date.now() < giveUpAt; ) {
        await sleep(action.phase === 'publishing' ? 150 : 1000);
        statusBefore = await this.apiStatus(record);
      }
      const sentAt = Date.now();
      const result: OperatorActionRecord = { kind: action.kind, phase: action.phase, sentAt, msBeforeDue: record.plan.dueAt - sentAt, statusBefore, ok: false };
      try {
        await withDeadline(this.operate(action.kind, record.workflowId), 30_000, `${action.kind} of ${record.workflowId}`);
        result.ok = true;
      } catch (err) {
        result.error = err instanceof Error ? err.message.slice(0, 200) : String(err);
      }
      record.operator = result;
    }));
  }

  private async apiStatus(record: PostRecord): Promise<PostStatus | undefined> {
    const answer = await callApi<PostView>(this.ctx.apiUrl, this.tenantOf(record).apiKey, 'GET', `/api/v2/posts/${record.postId}`, { timeoutMs: 5000 });
    return isPostView(answer.body) ? answer.body.status : undefined;
  }

  private async operate(kind: OperatorActionKind, workflowId: string): Promise<void> {
    const handle = this.ctx.temporal.workflow.getHandle(workflowId);
    if (kind === 'terminate') await handle.terminate('soak: an operator terminated the run');
    else if (kind === 'cancel') await handle.cancel();
    else await resetToFirstWorkflowTask(this.ctx.temporal, workflowId);
  }
}

/**
 * What an operator's "reset to the first workflow task" does (Web UI, `temporal workflow reset
 * --type FirstWorkflowTask`): the current run is ended and a new one replays from the first
 * WorkflowTaskCompleted event; signals after it are reapplied.
 */
export async function resetToFirstWorkflowTask(client: Client, workflowId: string): Promise<string> {
  const namespace = client.options.namespace;
  // A run whose first task has not completed yet (no worker took it so far) cannot be reset: wait a little.
  let runId = '';
  let firstTask: proto.api.history.v1.IHistoryEvent | undefined;
  for (const giveUpAt = Date.now() + 45_000; ; await sleep(500)) {
    runId = (await client.workflow.getHandle(workflowId).describe()).runId;
    const history = await client.workflowService.getWorkflowExecutionHistory({
      namespace,
      execution: { workflowId, runId },
      maximumPageSize: 50,
    });
    firstTask = history.history?.events?.find((event) => event.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    if (firstTask?.eventId || Date.now() > giveUpAt) break;
  }
  if (!firstTask?.eventId) throw new Error(`no completed workflow task in the history of ${workflowId} after 45 s`);
  const reset = await client.workflowService.resetWorkflowExecution({
    namespace,
    workflowExecution: { workflowId, runId },
    reason: 'soak: an operator reset the run to its first workflow task',
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: randomUUID(),
  });
  return reset.runId ?? '';
}

export async function sleepUntil(at: number): Promise<void> {
  const wait = at - Date.now();
  if (wait > 0) await sleep(wait);
}

export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    }),
  ]);
}
