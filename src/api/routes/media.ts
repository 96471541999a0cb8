/**
 * `/api/v2/media` (issue #13): upload (multipart, streamed into the store as it arrives), read the
 * facts, serve the bytes (with Range), set the alt text, delete. A media belongs to a business;
 * another business's id is 404 like any foreign id. What a file is comes from its bytes
 * (src/media/inspect.ts); refusals are 400 naming the rule.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { Router, type Request, type Response } from 'express';
import type { Logger } from '../../logger';
import { MediaInspector, MediaRefusal, type MediaLimits } from '../../media/inspect';
import { MediaTooLargeForStorage, type ByteRange, type MediaRecord, type MediaStorage } from '../../media/storage';
import { assertMember, authOf } from '../auth';
import { HttpError, notFound, parseOrThrow, validationFailed } from '../errors';
import { altTextSchema, mediaPatchSchema, mediaUploadQuerySchema, type MediaView } from '../media-schemas';
import { idParamSchema } from '../schemas';

export interface MediaRouteDeps {
  storage: MediaStorage;
  limits: MediaLimits;
  logger: Logger;
  /** Uploads this instance stores at once; each holds a database connection for its whole transaction (default 4 of the pool's 10). */
  maxConcurrentUploads?: number;
}

export const DEFAULT_MAX_CONCURRENT_UPLOADS = 4;

/** Form fields besides the file, and their bytes: the alt text and a little slack. */
const MAX_FIELDS = 4;
const MAX_FIELD_BYTES = 8 * 1024;
/** Multipart framing around the file (boundaries, part headers, the fields). */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * POST /api/v2/media is the one API body that is not JSON (src/api/app.ts lets it through). Any
 * method on that path: another method with a multipart body is a 405, not a 415.
 */
export const isMediaUpload = (req: Request) => /^\/media\/?$/i.test(req.path);

export function mediaRoutes(deps: MediaRouteDeps): Router {
  const router = Router();
  const largest = Math.max(...Object.values(deps.limits));
  const maxUploads = deps.maxConcurrentUploads ?? DEFAULT_MAX_CONCURRENT_UPLOADS;
  let uploading = 0;

  router.post('/media', async (req, res) => {
    const auth = authOf(req);
    const { businessId } = parseOrThrow(mediaUploadQuerySchema, req.query);
    assertMember(auth, businessId);
    if (!req.is('multipart/form-data')) {
      throw new HttpError('unsupported_media_type', `Send the file as multipart/form-data (field "file", optional "altText"), not ${req.get('content-type') ?? 'without a Content-Type'}.`);
    }
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > largest + MULTIPART_OVERHEAD_BYTES) {
      refuseUnread(req, res);
      throw refusal(new MediaRefusal('too_large', `The upload declares ${declared} bytes; no media may weigh more than ${largest} bytes.`, { limitBytes: largest }));
    }
    // A slow client's upload holds a pooled connection until it ends: a few at a time, so posts and reads keep theirs.
    if (uploading >= maxUploads) {
      refuseUnread(req, res);
      res.set('Retry-After', '5');
      throw new HttpError('rate_limited', `This instance is storing ${maxUploads} uploads already; retry in a few seconds.`, { bucket: 'media-uploads', limit: maxUploads, retryAfterSeconds: 5 });
    }
    uploading++;
    try {
      const record = await receive(req, res, deps, businessId, auth.userId, largest);
      res.status(201).location(`/api/v2/media/${record.id}`).json(toMediaView(record));
    } finally {
      uploading--;
    }
  });

  router.get('/media/:id', async (req, res) => {
    const record = await owned(req, deps.storage);
    res.json(toMediaView(record));
  });

  router.get('/media/:id/content', async (req, res) => {
    const record = await owned(req, deps.storage);
    const range = parseRange(req.get('range'), record.bytes);
    res.set('Accept-Ranges', 'bytes');
    if (range === 'unsatisfiable') {
      // The answer is the Error JSON, so the media's own type is not set.
      res.set('Content-Range', `bytes */${record.bytes}`);
      throw new HttpError('range_not_satisfiable', `The range is outside the media's ${record.bytes} bytes.`, { bytes: record.bytes });
    }
    res.set({ 'Content-Type': record.mime, ETag: `"${record.sha256}"`, 'Cache-Control': 'private, max-age=3600' });
    if (range) {
      res.status(206).set({ 'Content-Range': `bytes ${range.start}-${range.end}/${record.bytes}`, 'Content-Length': String(range.end - range.start + 1) });
    } else {
      res.status(200).set('Content-Length', String(record.bytes));
    }
    if (req.method === 'HEAD') return void res.end();
    await sendStream(res, deps.storage.read(record, range ?? undefined), deps.logger, record.id);
  });

  router.patch('/media/:id', async (req, res) => {
    const record = await owned(req, deps.storage);
    const body = parseOrThrow(mediaPatchSchema, req.body ?? {});
    const updated = await deps.storage.setAltText(record.id, body.altText === null || body.altText === '' ? null : body.altText);
    if (!updated) throw notFound('media');
    res.json(toMediaView(updated));
  });

  router.delete('/media/:id', async (req, res) => {
    const record = await owned(req, deps.storage);
    if (!(await deps.storage.delete(record.id))) throw notFound('media');
    res.status(204).end();
  });

  return router;
}

async function owned(req: Request, storage: MediaStorage): Promise<MediaRecord> {
  const auth = authOf(req);
  const id = parseOrThrow(idParamSchema, req.params.id, 'id');
  const record = await storage.get(id);
  if (!record || !auth.businessIds.has(record.businessId)) throw notFound('media');
  return record;
}

export function toMediaView(record: MediaRecord): MediaView {
  return { ...record, createdAt: record.createdAt.toISOString(), contentUrl: `/api/v2/media/${record.id}/content` };
}

function refusal(err: MediaRefusal): HttpError {
  return validationFailed([{ path: 'file', rule: err.rule, message: err.message, ...err.extra }]);
}

/**
 * The request's body is not read any further: the answer goes out with Connection: close, and what
 * the client still sends is discarded as it arrives (never buffered).
 */
function refuseUnread(req: Request, res: Response): void {
  res.set('Connection', 'close');
  req.unpipe();
  req.resume();
}

/**
 * Streams the multipart body: the first file part through the inspector into the store; the alt
 * text from a field before or after it. Refusals (format, size, broken, fields) are 400s, and the
 * store's transaction rolls back, so nothing of a refused upload is kept.
 */
async function receive(req: Request, res: Response, deps: MediaRouteDeps, businessId: number, userId: number, largest: number): Promise<MediaRecord> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers as IncomingHttpHeaders, limits: { files: 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 1, fileSize: largest + 1 } });
  } catch {
    throw validationFailed([{ path: '(body)', message: 'The multipart body has no boundary.' }]);
  }
  const fields = new Map<string, string>();
  let fieldProblem: string | undefined;
  let stored: Promise<MediaRecord> | undefined;
  let inspector: MediaInspector | undefined;
  // Settles when the form has been read, or at once when the store fails (a refusal stops reading).
  const finished = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fieldProblem ??= `the field "${name}" is longer than ${MAX_FIELD_BYTES} bytes`;
      fields.set(name, value);
    });
    parser.on('file', (name, file) => {
      // A stream's errors (a malformed part, a refusal, an aborted upload) are answered through the
      // parser's and the store's promises; these listeners keep a late one from being unhandled.
      file.on('error', () => undefined);
      if (name !== 'file' || stored) {
        fieldProblem ??= `unexpected file field "${name}": send one file, in the field "file"`;
        file.resume();
        return;
      }
      const inspecting = new MediaInspector(deps.limits);
      inspecting.on('error', () => undefined);
      inspector = inspecting;
      const altTextBefore = fields.get('altText');
      stored = deps.storage.put(inspecting, {
        businessId,
        uploadedBy: userId,
        altText: altTextBefore === undefined || altTextBefore === '' || altTextProblem(altTextBefore) ? null : altTextBefore,
        maxBytes: largest,
        describe: () => inspecting.facts(),
      });
      stored.catch(reject);
      // A refusal fails the inspector, which fails the store's read: the store's error is the answer.
      pipeline(file, inspecting).catch(() => undefined);
    });
    parser.on('partsLimit', () => (fieldProblem ??= 'too many parts: send one file and at most the altText field'));
    parser.on('filesLimit', () => (fieldProblem ??= 'more than one file: send one, in the field "file"'));
    parser.on('fieldsLimit', () => (fieldProblem ??= `more than ${MAX_FIELDS} fields`));
    parser.on('close', () => resolve());
    parser.on('error', reject);
  });
  req.pipe(parser);
  try {
    await finished;
    if (!stored) throw validationFailed([{ path: 'file', message: 'The form has no file: send it in the field "file".' }]);
    const record = await stored;
    const problem = fieldProblem ?? altTextProblem(fields.get('altText'));
    if (problem) {
      await deps.storage.delete(record.id);
      throw validationFailed([{ path: problem.startsWith('altText') ? 'altText' : '(body)', message: problem }]);
    }
    // An alt text that came after the file (multipart keeps the client's order).
    const altText = fields.get('altText');
    if (altText !== undefined && altText !== '' && altText !== record.altText) return (await deps.storage.setAltText(record.id, altText)) ?? record;
    return record;
  } catch (err) {
    if (!req.complete) refuseUnread(req, res);
    // Whatever stopped the form also stops the store (its transaction rolls back).
    inspector?.destroy(err instanceof Error ? err : new Error(String(err)));
    const storeError = stored ? await stored.then(() => undefined, (failure: unknown) => failure) : undefined;
    const cause = storeError instanceof MediaRefusal || storeError instanceof MediaTooLargeForStorage ? storeError : err;
    if (cause instanceof MediaRefusal) throw refusal(cause);
    if (cause instanceof MediaTooLargeForStorage) throw refusal(new MediaRefusal('too_large', `No media may weigh more than ${largest} bytes.`, { limitBytes: largest }));
    if (cause instanceof HttpError) throw cause;
    if (isClientFault(cause)) throw validationFailed([{ path: '(body)', message: 'The multipart body could not be read (malformed or cut off).' }]);
    throw cause;
  }
}

function altTextProblem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = altTextSchema.safeParse(value);
  return parsed.success ? undefined : `altText ${parsed.error.issues[0]?.message ?? 'is not acceptable'}`;
}

/** busboy's and the stream's complaints about the request itself: malformed multipart, an aborted upload. */
function isClientFault(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  const code = (err as { code?: unknown })?.code;
  return /Unexpected end of form|Malformed|boundary|Multipart|aborted|premature/i.test(message) || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/**
 * One `bytes=` range (RFC 9110 §14): `a-b`, `a-`, `-n`. Several ranges, or a header that is not a
 * byte range, are answered with the whole media (as the RFC allows); a range that starts past the
 * end is 'unsatisfiable' (416).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

/** Headers are sent; a failure from here on can only cut the answer short (and is logged). */
async function sendStream(res: Response, stream: NodeJS.ReadableStream, logger: Logger, mediaId: number): Promise<void> {
  try {
    await pipeline(stream, res);
  } catch (err) {
    if (!res.writableEnded && !res.destroyed) res.destroy();
    if ((err as { code?: string })?.code !== 'ERR_STREAM_PREMATURE_CLOSE') logger.warn({ mediaId, err: err instanceof Error ? err.message : String(err) }, 'media read failed while sending');
  }
}
