/**
 * After the last post is due: wait (bounded) until every post is in a final state, polling the API
 * (`GET /api/v2/posts/:id`) for the posts still open only.
 */
import type { PostView } from '../src/api/schemas';
import { isFinalPostStatus } from '../src/domain/types';
import { runPool } from '../bench/lib';
import { callApi, isPostView } from './api';
import { sleep } from './services';
import type { Tenant } from './stack';
import type { PostRecord } from './workload';

export interface DrainOutcome {
  drained: boolean;
  seconds: number;
  stillOpen: number;
  stopReason: string;
}

/**
 * Polls until nothing is open, or the deadline. It also ends early once nothing moves any more: no
 * open post changed its status and the fakes received no request at all for `stallMs` (longer than
 * any wait Herald is told to make by the fault plan, e.g. Meta's one-minute throttle): a post that
 * is stuck then will stay stuck, and CI does not have to wait for the deadline to say so.
 */
export async function drain(
  apiUrl: string,
  tenants: Tenant[],
  records: PostRecord[],
  options: { deadlineMs: number; stallMs: number; activity: () => number; log: (line: string) => void },
): Promise<DrainOutcome> {
  const started = Date.now();
  let open = records.filter((r) => r.postId !== undefined);
  let lastChange = Date.now();
  let lastActivity = options.activity();
  let previous = '';
  let lastReport = 0;
  for (;;) {
    const statuses = new Map<PostRecord, string>();
    await runPool(open.length, 16, async (i) => {
      const record = open[i]!;
      const answer = await callApi<PostView>(apiUrl, tenants[record.plan.tenantIndex]!.apiKey, 'GET', `/api/v2/posts/${record.postId}`, { timeoutMs: 10_000 });
      statuses.set(record, isPostView(answer.body) ? answer.body.status : `http ${answer.status}`);
    });
    const stillOpen = open.filter((r) => !isFinalPostStatus(statuses.get(r) as never));
    const activity = options.activity();
    const fingerprint = (list: PostRecord[]) => list.map((r) => `${r.postId}:${statuses.get(r)}`).join(',');
    if (stillOpen.length !== open.length || activity !== lastActivity || fingerprint(stillOpen) !== previous) lastChange = Date.now();
    previous = fingerprint(stillOpen);
    lastActivity = activity;
    open = stillOpen;
    const elapsed = Date.now() - started;
    if (open.length === 0) return { drained: true, seconds: Math.round(elapsed / 1000), stillOpen: 0, stopReason: 'every post is final' };
    if (Date.now() - lastChange > options.stallMs) {
      return { drained: false, seconds: Math.round(elapsed / 1000), stillOpen: open.length, stopReason: `nothing moved for ${options.stallMs / 1000} s (no status change, no request to any fake)` };
    }
    if (elapsed > options.deadlineMs) return { drained: false, seconds: Math.round(elapsed / 1000), stillOpen: open.length, stopReason: 'deadline' };
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      const tally = new Map<string, number>();
      for (const r of open) tally.set(statuses.get(r) ?? '?', (tally.get(statuses.get(r) ?? '?') ?? 0) + 1);
      options.log(`drain: ${open.length} post(s) still open (${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')})`);
    }
    await sleep(2000);
  }
}
