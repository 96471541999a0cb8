/**
 * The workload, decided up front from the seed: every post's platforms, text, due time, whether the
 * client sends it twice, and which user or operator action races it. Same seed, same plan.
 *
 * Every sentence of every post is unique ("Soak <run> post <n> line <k> …"), so whatever a fake
 * holds can be traced back to its post and part by its text alone.
 */
import { randomUUID } from 'node:crypto';
import { seededRandom } from '../bench/lib';
import type { Platform } from '../src/domain/types';

export type ThreadKind = 'single' | 'medium' | 'long';
export type UserActionKind = 'cancel' | 'reschedule';
export type OperatorActionKind = 'terminate' | 'cancel' | 'reset';
/** When an operator acts: before the due time, right after it (parts on the wire), or well after (published). */
export type OperatorPhase = 'waiting' | 'publishing' | 'published';

export interface PlannedPost {
  /** The soak's own number of the post (its tag in the text). */
  n: number;
  tenantIndex: number;
  platforms: Platform[];
  thread: ThreadKind;
  content: string;
  numbering: boolean;
  platformParams: Record<string, Record<string, unknown>>;
  /** Epoch ms: when the post is due, and when the soak creates it. */
  dueAt: number;
  createAt: number;
  idempotencyKey: string;
  /** The client sends the create again with the same key: after the first answer, or while it runs. */
  clientRetry: 'none' | 'after' | 'concurrent';
  userAction?: { kind: UserActionKind; at: number; racing: boolean; newDueAt?: number };
  operatorAction?: { kind: OperatorActionKind; phase: OperatorPhase; at: number };
}

export interface PlanSettings {
  runTag: string;
  seed: number;
  posts: number;
  tenants: number;
  /** Epoch ms: the first wave is due then. */
  firstDueAt: number;
  waves: number;
  waveIntervalMs: number;
  /** How long before its due time a post is created (min, max). */
  leadMs: [number, number];
  /** Operator actions of each kind in each phase. */
  operatorActionsPerKindAndPhase: number;
}

const ALL_PLATFORMS: Platform[] = ['twitter', 'linkedin', 'facebook', 'instagram'];
const WORDS = [
  'calm', 'river', 'signal', 'harbor', 'amber', 'meadow', 'copper', 'lantern', 'orbit', 'willow', 'granite', 'velvet', 'summit',
  'echo', 'cedar', 'pixel', 'quartz', 'saffron', 'tundra', 'falcon', 'marble', 'nimbus', 'prairie', 'cobalt', 'juniper', 'delta',
];
export const INSTAGRAM_IMAGE_URL = 'https://images.example.test/soak/1080.jpg';
/** The soak's tag in every sentence: the run, the post and the line. */
export const SENTENCE_TAG = /Soak ([a-z0-9]+) post (\d+) line (\d+)/;

export function makePlan(settings: PlanSettings): PlannedPost[] {
  const random = seededRandom(settings.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (min: number, max: number) => min + random() * (max - min);
  const posts: PlannedPost[] = [];
  for (let n = 1; n <= settings.posts; n++) {
    // A quarter are threads; a third of those are long enough for LinkedIn comments (and so no Instagram).
    const threadDraw = random();
    const thread: ThreadKind = threadDraw < 0.75 ? 'single' : threadDraw < 0.917 ? 'medium' : 'long';
    const count = 1 + Math.floor(random() * 4);
    let platforms = [...ALL_PLATFORMS].sort(() => random() - 0.5).slice(0, count);
    if (thread === 'long') platforms = platforms.filter((p) => p !== 'instagram');
    if (platforms.length === 0) platforms = ['twitter'];
    platforms.sort((a, b) => ALL_PLATFORMS.indexOf(a) - ALL_PLATFORMS.indexOf(b));
    const wave = Math.floor(((n - 1) * settings.waves) / settings.posts);
    const dueAt = settings.firstDueAt + wave * settings.waveIntervalMs;
    const platformParams: Record<string, Record<string, unknown>> = {};
    if (platforms.includes('instagram')) platformParams.instagram = { imageUrl: INSTAGRAM_IMAGE_URL };
    // Facebook takes a whole thread as one post unless asked for a comment chain.
    if (thread !== 'single' && platforms.includes('facebook')) platformParams.facebook = { commentChainAt: thread === 'long' ? 1000 : 300 };
    posts.push({
      n,
      tenantIndex: n % settings.tenants,
      platforms,
      thread,
      content: postText(settings.runTag, n, thread, random, pick),
      numbering: thread !== 'single' && random() < 0.5,
      platformParams,
      dueAt,
      createAt: Math.max(Date.now(), dueAt - between(...settings.leadMs)),
      idempotencyKey: randomUUID(),
      clientRetry: random() < 0.05 ? 'after' : random() < 0.02 ? 'concurrent' : 'none',
    });
  }
  assignUserActions(posts, random, between);
  assignOperatorActions(posts, settings.operatorActionsPerKindAndPhase, random);
  return posts;
}

/** About 100 characters per sentence; single posts stay within one X post. */
function postText(runTag: string, n: number, thread: ThreadKind, random: () => number, pick: <T>(items: readonly T[]) => T): string {
  const lines = thread === 'single' ? 1 : thread === 'medium' ? 6 + Math.floor(random() * 4) : 33 + Math.floor(random() * 4);
  const sentences: string[] = [];
  for (let k = 1; k <= lines; k++) {
    const words = Array.from({ length: thread === 'single' ? 6 + Math.floor(random() * 8) : 9 }, () => pick(WORDS));
    sentences.push(`Soak ${runTag} post ${n} line ${k} ${words.join(' ')}.`);
  }
  return sentences.join(' ');
}

/** A few percent cancelled and rescheduled by the user; half of them racing the due time. */
function assignUserActions(posts: PlannedPost[], random: () => number, between: (min: number, max: number) => number): void {
  for (const post of posts) {
    const draw = random();
    const kind: UserActionKind | undefined = draw < 0.04 ? 'cancel' : draw < 0.07 ? 'reschedule' : undefined;
    if (!kind) continue;
    // Racing: mostly a few hundred ms before the due time, some just after it (to meet a 409).
    const racing = random() < 0.5;
    const offset = random() < 0.67 ? -between(100, 400) : between(200, 1000);
    const at = racing ? post.dueAt + offset : between(post.createAt + 1000, Math.max(post.createAt + 1000, post.dueAt - 2000));
    post.userAction = { kind, at, racing, newDueAt: kind === 'reschedule' ? post.dueAt + between(3000, 15_000) : undefined };
  }
}

/**
 * Temporal-level actions on posts without a user action: terminate (waiting, publishing), cancel
 * request (waiting, publishing) and reset to the first workflow task (waiting, published).
 * Threads are preferred for "publishing", so that parts are still on the way when the operator acts.
 */
function assignOperatorActions(posts: PlannedPost[], perKindAndPhase: number, random: () => number): void {
  const combos: Array<[OperatorActionKind, OperatorPhase]> = [
    ['terminate', 'waiting'], ['terminate', 'publishing'],
    ['cancel', 'waiting'], ['cancel', 'publishing'],
    ['reset', 'waiting'], ['reset', 'published'],
  ];
  const free = posts.filter((post) => !post.userAction && post.clientRetry === 'none');
  const threads = free.filter((post) => post.thread !== 'single');
  const taken = new Set<number>();
  const take = (pool: PlannedPost[]): PlannedPost | undefined => {
    const candidates = pool.filter((post) => !taken.has(post.n));
    if (candidates.length === 0) return undefined;
    const post = candidates[Math.floor(random() * candidates.length)]!;
    taken.add(post.n);
    return post;
  };
  for (const [kind, phase] of combos) {
    for (let i = 0; i < perKindAndPhase; i++) {
      const post = take(phase === 'publishing' ? threads : free) ?? take(free);
      if (!post) return;
      const at = phase === 'waiting' ? post.dueAt - 2000 - random() * 3000 : phase === 'publishing' ? post.dueAt + 300 + random() * 500 : post.dueAt + 25_000;
      post.operatorAction = { kind, phase, at: Math.max(at, post.createAt + 500) };
    }
  }
}
