/**
 * What an upload is, decided from its bytes (never its name or the client's Content-Type), and
 * whether any network could take it: the format from the magic bytes, the size against the limit of
 * its kind while the bytes stream by, then the facts (dimensions, frames, duration, codecs) from
 * sharp for images and from the file's own boxes for video. Anything else is a `MediaRefusal`
 * naming the rule, which the API answers with 400.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import sharp from 'sharp';
import { BmffError, BmffScanner } from './bmff';

export type MediaKind = 'image' | 'gif' | 'video';
export const MEDIA_KINDS: readonly MediaKind[] = ['image', 'gif', 'video'];

export type MediaFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'mp4' | 'mov';
export const MIME_OF: Record<MediaFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
};
export const MEDIA_MIMES = [...new Set(Object.values(MIME_OF))];

/** Bytes a kind may weigh (MEDIA_MAX_*_BYTES, src/config.ts). */
export type MediaLimits = Record<MediaKind, number>;

export type RefusalRule = 'format' | 'too_large' | 'broken' | 'empty';

export class MediaRefusal extends Error {
  constructor(readonly rule: RefusalRule, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

/** Bytes the sniffer needs: "RIFF....WEBP" and "....ftyp" fit in 12. */
const SNIFF_BYTES = 12;

/** The format the first bytes announce, or undefined. */
export function sniffFormat(head: Uint8Array): MediaFormat | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((byte, i) => head[i] === byte)) return 'png';
  if (head.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (head.length >= 12 && ascii(4, 8) === 'ftyp') return ascii(8, 12) === 'qt  ' ? 'mov' : 'mp4';
  return undefined;
}

export const kindOf = (format: MediaFormat): MediaKind => (format === 'gif' ? 'gif' : format === 'mp4' || format === 'mov' ? 'video' : 'image');

export interface MediaFacts {
  kind: MediaKind;
  format: MediaFormat;
  mime: string;
  bytes: number;
  sha256: string;
  width: number | null;
  height: number | null;
  /** Images: 1 unless animated (GIF, WebP). */
  frameCount: number | null;
  durationMs: number | null;
  /** Video: each track's sample entry (avc1, hvc1, mp4a …), video first. */
  codecs: string[];
}

const describeBytes = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MiB` : `${bytes} bytes`);

/**
 * A pass-through stream that inspects what flows through it: it fails (with a MediaRefusal) as soon
 * as the first bytes are no known format or the bytes exceed their kind's limit, so a refused upload
 * stops at once; `facts()` after the end decodes and measures. Holds images whole (they are small,
 * sharp needs them), never a video (only its `moov`).
 */
export class MediaInspector extends Transform {
  /** Pieces that came before the format was known (together shorter than SNIFF_BYTES, or the piece that completed them). */
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private format: MediaFormat | undefined;
  private total = 0;
  private readonly hash = createHash('sha256');
  private imageParts: Buffer[] = [];
  private scanner: BmffScanner | undefined;

  constructor(private readonly limits: MediaLimits) {
    super();
  }

  override _transform(piece: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.inspectPiece(piece);
      done(null, piece);
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.format) this.decide();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private inspectPiece(piece: Buffer): void {
    this.total += piece.length;
    this.hash.update(piece);
    if (this.format) {
      this.checkSize();
      this.feed(piece);
      return;
    }
    this.early.push(piece);
    this.earlyBytes += piece.length;
    if (this.earlyBytes >= SNIFF_BYTES) this.decide();
  }

  private checkSize(): void {
    const kind = kindOf(this.format!);
    const limit = this.limits[kind];
    if (this.total > limit) throw new MediaRefusal('too_large', `The ${kind} is larger than ${describeBytes(limit)}, the most a ${kind} may weigh.`, { limitBytes: limit });
  }

  /** The first bytes are in (or the file ended sooner): which format; then what came so far is fed. */
  private decide(): void {
    if (this.total === 0) throw new MediaRefusal('empty', 'The file is empty.');
    const early = Buffer.concat(this.early);
    this.early = [];
    this.format = sniffFormat(early.subarray(0, SNIFF_BYTES));
    if (!this.format) throw new MediaRefusal('format', 'The file is not a format any network takes: send JPEG, PNG, WebP or GIF images, or MP4/MOV video (the type is read from the bytes, not the name or the Content-Type).');
    if (kindOf(this.format) === 'video') this.scanner = new BmffScanner();
    this.checkSize();
    this.feed(early);
  }

  private feed(bytes: Buffer): void {
    if (this.scanner) {
      try {
        this.scanner.push(bytes);
      } catch (err) {
        throw brokenVideo(err);
      }
    } else {
      this.imageParts.push(bytes);
    }
  }

  /** After the stream ended: the measured facts, or a refusal ("broken", "format"). */
  async facts(): Promise<MediaFacts> {
    if (!this.format) throw new MediaRefusal('empty', 'The file is empty.');
    const common = { format: this.format, kind: kindOf(this.format), mime: MIME_OF[this.format], bytes: this.total, sha256: this.hash.digest('hex') };
    if (this.scanner) {
      let video;
      try {
        video = this.scanner.finish();
      } catch (err) {
        throw brokenVideo(err);
      }
      const picture = video.tracks.find((track) => track.handler === 'vide');
      if (!picture) throw new MediaRefusal('broken', 'The video has no video track.');
      const codecs = [picture, ...video.tracks.filter((track) => track !== picture)].map((track) => track.codec).filter((codec): codec is string => codec !== undefined);
      return { ...common, width: picture.width ?? null, height: picture.height ?? null, frameCount: null, durationMs: video.durationMs, codecs };
    }
    const image = Buffer.concat(this.imageParts);
    this.imageParts = [];
    return { ...common, ...(await imageFacts(image, this.format)) };
  }
}

function brokenVideo(err: unknown): MediaRefusal {
  const reason = err instanceof BmffError ? err.message : 'its structure could not be read';
  return new MediaRefusal('broken', `The video is broken: ${reason}.`);
}

/** sharp reads the header and decodes every pixel of the first frame: a truncated or corrupt image fails here. */
async function imageFacts(image: Buffer, format: MediaFormat): Promise<Pick<MediaFacts, 'width' | 'height' | 'frameCount' | 'durationMs' | 'codecs'>> {
  try {
    const metadata = await sharp(image, { failOn: 'warning' }).metadata();
    if (metadata.format !== format) throw new Error(`sharp read ${metadata.format}`);
    await sharp(image, { failOn: 'warning', animated: format === 'gif' || format === 'webp' }).stats();
    const frames = metadata.pages ?? 1;
    const height = metadata.pageHeight ?? metadata.height;
    return { width: metadata.width ?? null, height: height ?? null, frameCount: frames, durationMs: null, codecs: [] };
  } catch {
    throw new MediaRefusal('broken', `The ${format.toUpperCase()} image is broken (truncated or corrupt): it cannot be decoded.`);
  }
}
