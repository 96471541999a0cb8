/**
 * Small, platform-neutral helpers for local HTTP fakes of social platforms (X, LinkedIn,
 * Facebook, ...): a queue of injected faults with an optional seeded random plan, an abortable
 * delay, dropping a connection without an answer, a request log that never keeps secrets, and
 * listen/close on 127.0.0.1.
 *
 * The fault kinds every fake offers on its creates, each in its platform's wire shapes:
 * - `slow_before_create { delayMs }`: the platform got the request but acts on it only after the
 *   delay (even if the client left meanwhile), then answers if it still can; a stopped fake never acts;
 * - `slow { delayMs }`: creates at once, answers late;
 * - `accept_then_drop`: creates, then drops the connection without an answer;
 * - `ambiguous_500`: creates, then answers 500 (the "500 that still created the post");
 * - `server_error`: creates nothing, answers 5xx;
 * - the platform's throttle (X `rate_limit`, LinkedIn and Meta `throttle`): creates nothing.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * "About `rate` of the matching requests get one of `kinds`": a reproducible random plan for soaks.
 * The same seed gives the same sequence of faults for the same sequence of requests.
 */
export interface RandomFaultPlan<F> {
  /** Probability in [0, 1] that a request with no queued fault gets a random one. */
  rate: number;
  /** Seed of the PRNG (any 32-bit integer). */
  seed: number;
  /** The faults to choose from, uniformly; may be empty only when `rate` is 0. */
  kinds: F[];
}

/** mulberry32: a tiny seeded PRNG (uniform in [0, 1)), good enough for fault plans and reproducible. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The key a fault is counted under: its `kind` when it has one (all fakes' faults do), else itself. */
function kindOf(fault: unknown): string {
  if (typeof fault === 'object' && fault !== null && 'kind' in fault) return String(fault.kind);
  return String(fault);
}

function checkPlan<F>(plan: RandomFaultPlan<F>): void {
  if (!(plan.rate >= 0 && plan.rate <= 1)) throw new RangeError(`rate must be between 0 and 1, got ${plan.rate}`);
  if (!Number.isInteger(plan.seed)) throw new RangeError(`seed must be an integer, got ${plan.seed}`);
  if (plan.rate > 0 && plan.kinds.length === 0) throw new RangeError('kinds must not be empty when rate > 0');
}

/**
 * Faults consumed in order, one per matching request; when none is queued, an optional random plan
 * may hand one out. Everything handed out is counted by kind, so a soak can compare what it caused
 * with what it observed.
 */
export class FaultQueue<F> {
  private queue: F[] = [];
  private random?: { rate: number; kinds: F[]; draw: () => number };
  private handedOut = new Map<string, number>();

  /** Queue `fault` for the next `times` matching requests (after anything already queued). */
  push(fault: F, times = 1): void {
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`times must be a positive integer, got ${times}`);
    for (let i = 0; i < times; i++) this.queue.push(fault);
  }

  /**
   * From now on, a request with no queued fault gets one of `plan.kinds` with probability
   * `plan.rate`, drawn from a PRNG seeded with `plan.seed` (restarted by every call);
   * undefined turns the plan off.
   */
  setRandom(plan: RandomFaultPlan<F> | undefined): void {
    if (plan === undefined) {
      this.random = undefined;
      return;
    }
    checkPlan(plan);
    this.random = { rate: plan.rate, kinds: [...plan.kinds], draw: mulberry32(plan.seed) };
  }

  /** The next fault for a matching request: a queued one first, else maybe a random one; undefined when none. */
  next(): F | undefined {
    const fault = this.queue.shift() ?? this.randomFault();
    if (fault !== undefined) this.count(fault);
    return fault;
  }

  /** How many faults of each kind were handed out (queued and random) since the last reset. */
  stats(): Record<string, number> {
    return Object.fromEntries(this.handedOut);
  }

  /** Drops the queued faults and the random plan: requests are answered normally again. Stats are kept. */
  clear(): void {
    this.queue = [];
    this.random = undefined;
  }

  /** clear(), and forget the stats too. */
  reset(): void {
    this.clear();
    this.handedOut.clear();
  }

  get size(): number {
    return this.queue.length;
  }

  private randomFault(): F | undefined {
    const random = this.random;
    // Two draws per hit, one per miss: the sequence depends only on the seed and the request order.
    if (!random || random.draw() >= random.rate) return undefined;
    return random.kinds[Math.floor(random.draw() * random.kinds.length)];
  }

  private count(fault: F): void {
    const kind = kindOf(fault);
    this.handedOut.set(kind, (this.handedOut.get(kind) ?? 0) + 1);
  }
}

/** Waits `ms`; resolves true when the time elapsed, false when `signal` aborted first. Never rejects. */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Destroys the connection without writing a response: the client sees a reset / "socket hang up". */
export function dropConnection(req: IncomingMessage): void {
  req.socket.destroy();
}

/** True once the client went away (or the connection was dropped), so nothing can be written. */
export function isConnectionGone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

/** What a fake remembers about each request. `status` is 0 while pending and when no answer was sent. */
export interface RecordedRequest {
  method: string;
  path: string;
  receivedAt: Date;
  status: number;
  /** Redacted: the scheme only, e.g. "Bearer [redacted]"; absent when no Authorization header was sent. */
  authorization?: string;
}

/** Keeps the scheme of an Authorization header and drops the credential. */
export function redactAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const scheme = header.trim().split(/\s+/, 1)[0] ?? '';
  return scheme === '' ? '[redacted]' : `${scheme} [redacted]`;
}

/** Every request a fake saw, in arrival order, including rejected and dropped ones. */
export class RequestLog {
  private items: RecordedRequest[] = [];

  /** A snapshot of the log (entries still pending get their status when answered). */
  get entries(): RecordedRequest[] {
    return [...this.items];
  }

  clear(): void {
    this.items = [];
  }

  /** Records `req` now and fills in the status when the response finishes (0 if it never does). */
  record(req: IncomingMessage, res: ServerResponse, receivedAt: Date): RecordedRequest {
    const path = new URL(req.url ?? '/', 'http://fake.invalid').pathname;
    const entry: RecordedRequest = { method: req.method ?? 'GET', path, receivedAt, status: 0 };
    const authorization = redactAuthorization(req.headers.authorization);
    if (authorization !== undefined) entry.authorization = authorization;
    this.items.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    return entry;
  }
}

/** Listens on 127.0.0.1 (`port` 0 picks a free one) and returns the server and its base URL. */
export async function listenLocal(handler: RequestListener, port = 0): Promise<{ server: Server; baseUrl: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${address.port}` };
}

/** Closes the server, cutting idle and in-flight keep-alive connections so tests never hang. */
export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  server.closeAllConnections();
  await closed;
}
