/**
 * The publishers' HTTP. `fetchHttp` (the global fetch, what a publisher uses when given nothing) and
 * `keepAliveHttp`, which the registry gives the worker's publishers: node:http(s) on one keep-alive
 * agent per process. fetch builds WHATWG streams, Headers and an AbortSignal for every request; in the
 * worker's profile it was ~12 % of the main thread while publishing (docs/PROFILE-WORKER.md).
 *
 * Both fail the same way for the failure taxonomy (publisher.ts `classifyNetworkError`): a timeout is
 * an error named `TimeoutError`, a connection error carries its `code` (ECONNREFUSED, ECONNRESET, …).
 * The timeout covers the whole exchange, the body included (the body is read before the response is
 * handed over).
 */
import http from 'node:http';
import https from 'node:https';

export interface PlatformRequest {
  method: 'GET' | 'POST' | 'DELETE';
  headers: Record<string, string>;
  body?: string | URLSearchParams;
  timeoutMs: number;
}

/** The part of fetch's Response the publishers read. */
export interface PlatformResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type PlatformHttp = (url: string, request: PlatformRequest) => Promise<PlatformResponse>;

export const fetchHttp: PlatformHttp = (url, { method, headers, body, timeoutMs }) =>
  fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });

/** node:http(s) with keep-alive connections, reused across requests (and publishers) of this process. */
export function keepAliveHttp(): PlatformHttp {
  // LIFO: the most recently used connection is the least likely to have been closed by the server meanwhile.
  const agents = {
    'http:': new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
    'https:': new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
  };
  return (url, request) => {
    const target = new URL(url);
    const agent = target.protocol === 'https:' ? agents['https:'] : agents['http:'];
    return send(target, request, agent);
  };
}

function send(target: URL, { method, headers, body, timeoutMs }: PlatformRequest, agent: http.Agent): Promise<PlatformResponse> {
  const outgoing: Record<string, string> = { ...headers };
  let payload: string | undefined;
  if (body instanceof URLSearchParams) {
    payload = body.toString();
    if (!hasHeader(outgoing, 'content-type')) outgoing['Content-Type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
  } else {
    payload = body;
  }
  if (payload !== undefined) outgoing['Content-Length'] = String(Buffer.byteLength(payload));
  const request = target.protocol === 'https:' ? https.request : http.request;

  return new Promise<PlatformResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const req = request(target, { method, headers: outgoing, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(bufferedResponse(res, Buffer.concat(chunks)));
      });
      // A connection that ends before the body does: the answer was cut off.
      res.on('close', () => {
        if (!res.complete) fail(Object.assign(new Error('the connection closed before the whole answer arrived'), { code: 'ECONNRESET' }));
      });
    });
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`no complete answer within ${timeoutMs} ms`), { name: 'TimeoutError' });
      fail(err);
      req.destroy(err);
    }, timeoutMs);
    req.on('error', fail);
    req.end(payload);
  });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function bufferedResponse(res: http.IncomingMessage, body: Buffer): PlatformResponse {
  const status = res.statusCode ?? 0;
  const text = () => body.toString('utf8');
  return {
    status,
    statusText: res.statusMessage ?? '',
    ok: status >= 200 && status < 300,
    headers: {
      get(name: string): string | null {
        const value = res.headers[name.toLowerCase()];
        if (value === undefined) return null;
        return Array.isArray(value) ? value.join(', ') : String(value);
      },
    },
    json: async () => JSON.parse(text()) as unknown,
    text: async () => text(),
    arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
  };
}
