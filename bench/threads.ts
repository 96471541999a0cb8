/**
 * Scenario 5: many long posts due at once to X and LinkedIn. Each becomes a 5-part reply chain on X
 * and a LinkedIn post followed by the author's comments on it. Checked against what the fakes
 * received and what the API reports (`targets[].parts` of GET /api/v2/posts/:id).
 */
import { splitForPlatform } from '../src/domain/platform-rules';
import type { FakeLinkedInComment, FakeLinkedInPost } from '../test/fakes/linkedin-fake';
import type { FakeTweet } from '../test/fakes/x-fake';
import { countWorkflows, waitForCount } from './engine';
import { callApi, round, runPool, sleep, summarize, type ApiResponse } from './lib';
import type { Meters } from './memory';
import { leadTimeMs } from './firing';
import { latencyText, roundSummary, thousands, type Row, type ScenarioOutcome } from './report';
import type { Stack } from './stack';
import { createTenant } from './tenants';

const X_PARTS = 5;

/**
 * A text that X cuts into exactly 5 parts and LinkedIn into a post and comments: long links count
 * 23 characters on X (t.co) but their full length on LinkedIn, where a post holds 3000.
 */
export function threadText(tag: string): { text: string; xParts: number; linkedinParts: number } {
  // Longer links first: more LinkedIn comments per post for the same 5 X parts.
  for (const repeats of [22, 18, 15, 12]) {
    for (let sentences = 4; sentences <= 30; sentences++) {
      const text = Array.from(
        { length: sentences },
        (_, i) => `Update ${i + 1} on the Herald launch ${tag}, read the notes at https://example.com/${'launch-notes/'.repeat(repeats)}${tag}/${i + 1} today.`,
      ).join(' ');
      const xParts = splitForPlatform('twitter', text).parts.length;
      if (xParts !== X_PARTS) continue;
      const linkedinParts = splitForPlatform('linkedin', text).parts.length;
      if (linkedinParts >= 2) return { text, xParts, linkedinParts };
    }
  }
  throw new Error('no thread text with 5 X parts and 2+ LinkedIn parts: the splitting rules changed, adjust bench/threads.ts');
}

interface PartView {
  index: number;
  text: string;
  platformPostId: string | null;
}
interface PostView {
  id: number;
  status: string;
  targets: Array<{ platform: string; status: string; parts: PartView[] }>;
}

export async function runThreadsScenario(
  stack: Stack,
  meters: Meters,
  posts: number,
  createsPerSecond: number,
  concurrency: number,
  log: (line: string) => void,
): Promise<ScenarioOutcome> {
  const startedAt = Date.now();
  const tenant = await createTenant(stack, 'threads', { linkedin: true });
  const texts = Array.from({ length: posts }, (_, i) => threadText(`t${stack.runTag}n${String(i + 1).padStart(4, '0')}`));
  const { xParts, linkedinParts } = texts[0]!;
  if (texts.some((t) => t.xParts !== xParts || t.linkedinParts !== linkedinParts)) throw new Error('thread texts split unevenly');
  // Long texts take longer to create (both splitters run in the API): allow three times the lead.
  const dueAt = Math.ceil((Date.now() + leadTimeMs(posts, createsPerSecond, 3)) / 1000) * 1000;
  log(`threads: ${posts} posts × (X ${xParts} + LinkedIn ${linkedinParts} parts) due at ${new Date(dueAt).toISOString()}`);

  const created = await runPool(posts, concurrency, (i) =>
    callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/schedule', {
      businessId: tenant.businessId,
      content: texts[i]!.text,
      platforms: ['twitter', 'linkedin'],
      scheduledFor: new Date(dueAt).toISOString(),
    }),
  );
  const createdBy = Date.now();
  const problems: string[] = [];
  const refused = created.filter((r: ApiResponse | undefined) => r?.status !== 201);
  if (refused.length) problems.push(`${refused.length} creates did not answer 201 (e.g. ${refused[0]?.status} ${JSON.stringify(refused[0]?.body ?? refused[0]?.error).slice(0, 160)})`);
  if (createdBy > dueAt - 500) problems.push('creating took past the due time');
  const ids = created.map((r) => (r?.body as { id?: number } | undefined)?.id).filter((id): id is number => typeof id === 'number');

  const query = `HeraldBusinessId = ${tenant.businessId}`;
  await sleep(Math.max(0, dueAt - Date.now()));
  const cpu = meters.cpu.start(`Threads ${thousands(posts)}: due → all done`);
  try {
    await waitForCount(stack, `${query} AND ExecutionStatus = 'Completed'`, ids.length, Math.max(180_000, posts * 1000), `${ids.length} thread workflows to complete`);
  } catch (err) {
    problems.push(`${(err as Error).message}; ${await countWorkflows(stack, `${query} AND ExecutionStatus = 'Running'`)} still running`);
  }
  cpu();

  const views = await runPool(ids.length, concurrency, (i) => callApi(stack.api.url, tenant.apiKey, 'GET', `/api/v2/posts/${ids[i]}`));
  const verified = verifyThreads(
    views.map((v) => (v?.status === 200 ? (v.body as PostView) : undefined)),
    stack.fakeX.tweetsBy(tenant.xUserId),
    stack.fakeLinkedIn.postsBy(tenant.linkedinUrn!),
    stack.fakeLinkedIn.comments.filter((c) => c.actor === tenant.linkedinUrn),
    { posts, xParts, linkedinParts, dueAt },
  );
  problems.push(...verified.problems);

  const finish = summarize(verified.finishMs);
  const first = summarize(verified.firstPartMs);
  const allDoneSeconds = finish.count ? finish.max / 1000 : NaN;
  const partsTotal = posts * (xParts + linkedinParts);
  const row: Row = {
    scenario: `Threads: X ${xParts} parts + LinkedIn ${linkedinParts} parts per post`,
    load: `${thousands(posts)} posts due at once (${thousands(partsTotal)} parts)`,
    result: `all done +${round(allDoneSeconds, 1)} s (${round(partsTotal / allDoneSeconds, 0)} parts/s) · per post done ${latencyText(summarize(verified.finishMs.map((ms) => ms / 1000)), 's', 1)} · first part ${latencyText(first)}`,
    problems,
  };
  return {
    id: 'threads',
    rows: [row],
    data: {
      businessId: tenant.businessId,
      posts,
      xParts,
      linkedinParts,
      dueAt: new Date(dueAt).toISOString(),
      createdSecondsBeforeDue: round((dueAt - createdBy) / 1000, 1),
      allDoneSeconds: round(allDoneSeconds, 2),
      postDoneMs: roundSummary(finish),
      firstPartLatenessMs: roundSummary(first),
      received: verified.received,
      peakRssMb: meters.memory.peak(startedAt),
    },
  };
}

interface Expectations {
  posts: number;
  xParts: number;
  linkedinParts: number;
  dueAt: number;
}

/** Every part once, in order, chained the platform's way; returns per-post finish times. */
function verifyThreads(views: Array<PostView | undefined>, tweets: FakeTweet[], liPosts: FakeLinkedInPost[], liComments: FakeLinkedInComment[], expect: Expectations) {
  const problems = new Map<string, number>();
  const note = (problem: string) => problems.set(problem, (problems.get(problem) ?? 0) + 1);
  const tweetById = new Map(tweets.map((t) => [t.id, t]));
  const liPostByUrn = new Map(liPosts.map((p) => [p.urn, p]));
  const commentsByRoot = new Map<string, FakeLinkedInComment[]>();
  for (const comment of liComments) commentsByRoot.set(comment.postUrn, [...(commentsByRoot.get(comment.postUrn) ?? []), comment]);
  const finishMs: number[] = [];
  const firstPartMs: number[] = [];

  for (const view of views) {
    if (!view) {
      note('GET /api/v2/posts/:id did not answer 200');
      continue;
    }
    if (view.status !== 'published') note(`post status ${view.status}`);
    const x = view.targets.find((t) => t.platform === 'twitter');
    const li = view.targets.find((t) => t.platform === 'linkedin');
    const arrivals: number[] = [];

    const xParts = x?.parts ?? [];
    if (x?.status !== 'published' || xParts.length !== expect.xParts) note(`X target ${x?.status} with ${xParts.length} parts`);
    xParts.forEach((part, i) => {
      const tweet = part.platformPostId ? tweetById.get(part.platformPostId) : undefined;
      if (part.index !== i) note('X parts out of order in the API');
      if (!tweet) return note('an X part the fake never received');
      if (tweet.text !== part.text) note('an X part whose text differs from the ledger');
      if (i > 0 && tweet.inReplyToTweetId !== xParts[i - 1]!.platformPostId) note('an X part not replying to the part before it');
      if (i === 0 && tweet.inReplyToTweetId !== undefined) note('a first X part that is a reply');
      if (i > 0 && arrivals.length > 0 && tweet.receivedAt.getTime() < arrivals.at(-1)!) note('X parts received out of order');
      arrivals.push(tweet.receivedAt.getTime());
    });
    if (arrivals.length) firstPartMs.push(arrivals[0]! - expect.dueAt);

    const liParts = li?.parts ?? [];
    if (li?.status !== 'published' || liParts.length !== expect.linkedinParts) note(`LinkedIn target ${li?.status} with ${liParts.length} parts`);
    const rootUrn = liParts[0]?.platformPostId ?? '';
    const root = liPostByUrn.get(rootUrn);
    if (!root) note('a LinkedIn post the fake never received');
    else {
      if (root.truncated) note('a LinkedIn post cut short (unescaped reserved character)');
      arrivals.push(root.receivedAt.getTime());
    }
    const comments = commentsByRoot.get(rootUrn) ?? [];
    if (comments.length !== liParts.length - 1) note(`a LinkedIn post with ${comments.length} comments for ${liParts.length - 1} parts`);
    liParts.slice(1).forEach((part, i) => {
      const comment = comments[i];
      if (!comment || comment.urn !== part.platformPostId) return note('LinkedIn comments not in part order on their post');
      if (comment.text !== part.text) note('a LinkedIn comment whose text differs from the ledger');
      if (root && comment.receivedAt < root.receivedAt) note('a LinkedIn comment before its post');
      arrivals.push(comment.receivedAt.getTime());
    });
    if (arrivals.length) finishMs.push(Math.max(...arrivals) - expect.dueAt);
  }

  const expectedTweets = expect.posts * expect.xParts;
  const expectedComments = expect.posts * (expect.linkedinParts - 1);
  if (tweets.length !== expectedTweets) note(`X received ${tweets.length} parts, expected ${expectedTweets}`);
  if (new Set(tweets.map((t) => t.text)).size !== tweets.length) note('duplicate texts on X');
  if (liPosts.length !== expect.posts) note(`LinkedIn received ${liPosts.length} posts, expected ${expect.posts}`);
  if (liComments.length !== expectedComments) note(`LinkedIn received ${liComments.length} comments, expected ${expectedComments}`);
  if (finishMs.some((ms) => ms < 0)) note('a part published before its time');
  return {
    problems: [...problems].map(([problem, n]) => (n > 1 ? `${problem} (×${n})` : problem)),
    finishMs,
    firstPartMs,
    received: { xParts: tweets.length, linkedinPosts: liPosts.length, linkedinComments: liComments.length },
  };
}
