/**
 * Small, platform-neutral helpers for local HTTP fakes of social platforms (X, LinkedIn,
 * Facebook, ...): a queue of injected faults, an abortable delay, dropping a connection
 * without an answer, a request log that never keeps secrets, and listen/close on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Faults consumed in order, one per matching request. */
export class FaultQueue<F> {
  private queue: F[] = [];

  /** Queue `fault` for the next `times` matching requests (after anything already queued). */
  push(fault: F, times = 1): void {
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`times must be a positive integer, got ${times}`);
    for (let i = 0; i < times; i++) this.queue.push(fault);
  }

  /** The next fault, removed from the queue; undefined when none is queued. */
  next(): F | undefined {
    return this.queue.shift();
  }

  clear(): void {
    this.queue = [];
  }

  get size(): number {
    return this.queue.length;
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
