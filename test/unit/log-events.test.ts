/**
 * The structured-log sink of HeraldEvents: one JSON line per event, naming the post the way an
 * operator searches for it, and never a token or a post's text at info level. Output is captured
 * from Herald's real logger (createLogger, with its redaction) into a stream.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { createLogger, type Logger } from '../../src/logger';
import type { HeraldEvents } from '../../src/observability/events';
import { fanOutEvents } from '../../src/observability/fan-out';
import { createLogEvents } from '../../src/observability/log-events';

interface Captured {
  logger: Logger;
  lines: () => Array<Record<string, unknown>>;
  raw: () => string;
}

/** Herald's own logger, with its destination swapped for a stream we can read. */
function capturedLogger(level = 'info'): Captured {
  const chunks: string[] = [];
  const logger = createLogger(level);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  // pino.symbols is pino's published hook for integrations; writes are synchronous to this stream.
  (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = sink;
  const raw = () => chunks.join('');
  return { logger, raw, lines: () => raw().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const TOKEN = 'x-user-token-4f1c2a9be07d';
const CONTENT = 'Our secret launch: the new product ships on Monday';

/** Events with a token and the post text smuggled in, as a careless caller might pass them. */
function leakyEvents(events: HeraldEvents): void {
  const extra = { accessToken: TOKEN, content: CONTENT, text: CONTENT, credentials: { accessToken: TOKEN } };
  events.postCreated({ postId: 41, businessId: 7, platforms: ['twitter', 'linkedin'], scheduledFor: new Date('2026-12-01T09:00:00Z'), immediate: false, ...extra });
  events.partPublished({ postId: 41, platform: 'twitter', partIndex: 0, latenessMs: 180, reconciled: false, ...extra });
  events.partFailed({ postId: 41, platform: 'linkedin', partIndex: 0, failureClass: 'retryable', final: false, attempt: 1, ...extra });
  events.partFailed({ postId: 41, platform: 'linkedin', partIndex: 0, failureClass: 'auth', final: true, attempt: 2, ...extra });
  events.postFinished({ postId: 41, status: 'partially_published', targets: [{ platform: 'twitter', status: 'published', errorClass: null }, { platform: 'linkedin', status: 'failed', errorClass: 'auth' }], ...extra });
}

describe('structured log events', () => {
  it('when a part is published, then one info line names post, workflow, platform and failure class', () => {
    const { logger, lines } = capturedLogger();

    createLogEvents(logger).partPublished({ postId: 12, workflowId: 'post-12-abcd2345', platform: 'twitter', partIndex: 0, latenessMs: 240, reconciled: false });

    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({
      level: 30,
      service: 'herald',
      event: 'part_published',
      postId: 12,
      workflowId: 'post-12-abcd2345',
      platform: 'twitter',
      partIndex: 0,
      failureClass: null,
      reconciled: false,
      latenessMs: 240,
    });
  });

  it('when a part fails and will be retried, then an info line carries the failure class and attempt', () => {
    const { logger, lines } = capturedLogger();

    createLogEvents(logger).partFailed({ postId: 12, workflowId: 'post-12-abcd2345', platform: 'twitter', partIndex: 2, failureClass: 'unknown_outcome', final: false, attempt: 3 });

    expect(lines()[0]).toMatchObject({ level: 30, event: 'part_failed', workflowId: 'post-12-abcd2345', platform: 'twitter', partIndex: 2, failureClass: 'unknown_outcome', final: false, attempt: 3 });
  });

  it('when a part fails for good, then the line is a warning', () => {
    const { logger, lines } = capturedLogger();

    createLogEvents(logger).partFailed({ postId: 12, platform: 'twitter', partIndex: 0, failureClass: 'rejected', final: true, attempt: 1 });

    expect(lines()[0]).toMatchObject({ level: 40, event: 'part_failed', failureClass: 'rejected', final: true });
  });

  it('when a post is created, then the line names its workflow, platforms and time, not its text', () => {
    const { logger, lines } = capturedLogger();

    createLogEvents(logger).postCreated({ postId: 5, workflowId: 'post-5-wxyz6789', businessId: 2, platforms: ['twitter'], scheduledFor: new Date('2026-12-01T09:00:00Z'), immediate: false });

    expect(lines()[0]).toMatchObject({ event: 'post_created', postId: 5, workflowId: 'post-5-wxyz6789', businessId: 2, platforms: ['twitter'], scheduledFor: '2026-12-01T09:00:00.000Z', immediate: false });
  });

  it('when a post finishes, then each target appears with its platform and failure class', () => {
    const { logger, lines } = capturedLogger();

    createLogEvents(logger).postFinished({ postId: 5, workflowId: 'post-5-wxyz6789', status: 'failed', targets: [{ platform: 'twitter', status: 'failed', errorClass: 'auth' }] });

    expect(lines()[0]).toMatchObject({ event: 'post_finished', workflowId: 'post-5-wxyz6789', status: 'failed', targets: [{ platform: 'twitter', status: 'failed', failureClass: 'auth' }] });
  });

  it('when events carry a token or the post text, then no line at info level contains either', () => {
    const { logger, raw, lines } = capturedLogger('info');

    leakyEvents(createLogEvents(logger));

    expect(lines()).toHaveLength(5);
    expect(raw()).not.toContain(TOKEN);
    expect(raw()).not.toContain(CONTENT);
    expect(raw()).not.toContain('Our secret launch');
  });

  it('when even debug is on, then the event lines still carry no token or text', () => {
    const { logger, raw } = capturedLogger('trace');

    leakyEvents(createLogEvents(logger));

    expect(raw()).not.toContain(TOKEN);
    expect(raw()).not.toContain(CONTENT);
  });

  it('when other code logs a token-bearing object, then the logger redacts it', () => {
    const { logger, raw } = capturedLogger();

    logger.info({ accessToken: TOKEN, account: { refreshToken: TOKEN, apiKey: TOKEN }, headers: { authorization: `Bearer ${TOKEN}` } }, 'careless');

    expect(raw()).toContain('careless');
    expect(raw()).toContain('[redacted]');
    expect(raw()).not.toContain(TOKEN);
  });
});

describe('the events fan-out', () => {
  it('when a sink throws, then the other sinks still hear the event and the caller sees no error', () => {
    const { logger, lines } = capturedLogger();
    const failures: string[] = [];
    const broken: HeraldEvents = {
      postCreated: () => { throw new Error('metrics broke'); },
      partPublished: () => { throw new Error('metrics broke'); },
      partFailed: () => { throw new Error('metrics broke'); },
      postFinished: () => { throw new Error('metrics broke'); },
    };
    const events = fanOutEvents([broken, createLogEvents(logger)], (event) => failures.push(event));

    expect(() => events.partPublished({ postId: 3, workflowId: 'post-3-abcd2345', platform: 'twitter', partIndex: 0, reconciled: true })).not.toThrow();

    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ event: 'part_published', workflowId: 'post-3-abcd2345', reconciled: true });
    expect(failures).toEqual(['partPublished']);
  });
});
