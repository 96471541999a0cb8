/**
 * ISO BMFF (MP4, MOV) facts read from the boxes themselves: the `ftyp` brands, the movie's duration
 * (`mvhd`), each track's kind (`hdlr`), size (`tkhd`) and codec (`stsd`'s first sample entry).
 *
 * The input is whatever a client uploaded, so every read is bounds-checked against its box, every
 * loop advances by at least one box header and is capped, and nothing throws but `BmffError` (a
 * clean refusal). Two parts: a scanner of the top-level boxes that sees the bytes as they stream by
 * (so a 500 MB upload is never held in memory; only `ftyp` and `moov` are kept), and a parser of
 * the kept `moov`.
 */

export class BmffError extends Error {}

/** What a `moov` may weigh before the file is refused: real ones are a few MB even for hours of video. */
export const MAX_MOOV_BYTES = 64 * 1024 * 1024;
/** Boxes examined per container level, and tracks: far above any real file, a bound for crafted ones. */
const MAX_BOXES_PER_LEVEL = 10_000;
const MAX_TRACKS = 64;

export interface BmffTrack {
  handler: string;
  codec?: string;
  width?: number;
  height?: number;
}

export interface BmffFacts {
  majorBrand: string;
  compatibleBrands: string[];
  durationMs: number;
  tracks: BmffTrack[];
}

interface BoxHeader {
  type: string;
  /** Offset of the box's payload, relative to the view. */
  payload: number;
  /** End of the box, relative to the view. */
  end: number;
}

const fourcc = (bytes: Uint8Array, at: number) => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
/** A type is four printable ASCII characters (©xyz boxes use 0xA9, allowed too). */
const isBoxType = (type: string) => /^[\x20-\x7e\xa9]{4}$/.test(type);

/** The box at `at` inside `[0, limit)` of `view`, or a BmffError naming what is wrong. */
function boxAt(view: DataView, at: number, limit: number): BoxHeader {
  if (at + 8 > limit) throw new BmffError('a box header runs past the end of its container');
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const size32 = view.getUint32(at);
  const type = fourcc(bytes, at + 4);
  if (!isBoxType(type)) throw new BmffError('a box has no valid type');
  let payload = at + 8;
  let size: number;
  if (size32 === 1) {
    if (at + 16 > limit) throw new BmffError(`the ${type} box's 64-bit size runs past its container`);
    const high = view.getUint32(at + 8);
    const low = view.getUint32(at + 12);
    size = high * 2 ** 32 + low;
    payload = at + 16;
  } else if (size32 === 0) {
    size = limit - at;
  } else {
    size = size32;
  }
  if (size < payload - at || at + size > limit) throw new BmffError(`the ${type} box's size does not fit its container`);
  return { type, payload, end: at + size };
}

/** The children of a container payload `[start, end)`, in order. */
function children(view: DataView, start: number, end: number): BoxHeader[] {
  const found: BoxHeader[] = [];
  let at = start;
  while (at < end) {
    if (found.length >= MAX_BOXES_PER_LEVEL) throw new BmffError('too many boxes in one container');
    const box = boxAt(view, at, end);
    found.push(box);
    at = box.end;
  }
  return found;
}

const child = (view: DataView, parent: BoxHeader, type: string) => children(view, parent.payload, parent.end).find((box) => box.type === type);

function need(box: BoxHeader, bytes: number): void {
  if (box.payload + bytes > box.end) throw new BmffError(`the ${box.type} box is too short`);
}

/** `mvhd`: timescale and duration (version 0: 32-bit fields; version 1: 64-bit duration). */
function movieDurationMs(view: DataView, mvhd: BoxHeader): number {
  need(mvhd, 4);
  const version = view.getUint8(mvhd.payload);
  const base = mvhd.payload + 4;
  let timescale: number;
  let duration: number;
  if (version === 1) {
    need(mvhd, 4 + 16 + 4 + 8);
    timescale = view.getUint32(base + 16);
    duration = view.getUint32(base + 20) * 2 ** 32 + view.getUint32(base + 24);
  } else {
    need(mvhd, 4 + 8 + 4 + 4);
    timescale = view.getUint32(base + 8);
    duration = view.getUint32(base + 12);
  }
  if (timescale === 0) throw new BmffError('the movie header has a timescale of 0');
  const ms = Math.round((duration / timescale) * 1000);
  // All ones means "unknown"; anything beyond int4 milliseconds (24 days) is not a real post's video.
  if (!Number.isFinite(ms) || ms > 2_147_483_647) throw new BmffError('the movie header gives no usable duration');
  return ms;
}

/** `tkhd`: width and height, 16.16 fixed point, at the end of the box. */
function trackSize(view: DataView, tkhd: BoxHeader): { width: number; height: number } {
  need(tkhd, 4);
  const version = view.getUint8(tkhd.payload);
  const sizeAt = tkhd.payload + 4 + (version === 1 ? 32 : 20) + 52;
  if (sizeAt + 8 > tkhd.end) throw new BmffError('the track header is too short');
  return { width: Math.round(view.getUint32(sizeAt) / 65536), height: Math.round(view.getUint32(sizeAt + 4) / 65536) };
}

function parseTrack(view: DataView, trak: BoxHeader): BmffTrack {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const mdia = child(view, trak, 'mdia');
  const hdlr = mdia && child(view, mdia, 'hdlr');
  if (!mdia || !hdlr) throw new BmffError('a track has no media handler');
  need(hdlr, 12);
  const track: BmffTrack = { handler: fourcc(bytes, hdlr.payload + 8) };
  const tkhd = child(view, trak, 'tkhd');
  if (tkhd && track.handler === 'vide') Object.assign(track, trackSize(view, tkhd));
  const minf = child(view, mdia, 'minf');
  const stbl = minf && child(view, minf, 'stbl');
  const stsd = stbl && child(view, stbl, 'stsd');
  if (stsd) {
    need(stsd, 8);
    if (view.getUint32(stsd.payload + 4) > 0) {
      const entry = boxAt(view, stsd.payload + 8, stsd.end);
      track.codec = entry.type;
    }
  }
  return track;
}

/** The facts of a `moov` box given whole (header included). */
export function parseMoov(moov: Uint8Array): Omit<BmffFacts, 'majorBrand' | 'compatibleBrands'> {
  const view = new DataView(moov.buffer, moov.byteOffset, moov.byteLength);
  const root = boxAt(view, 0, moov.byteLength);
  if (root.type !== 'moov') throw new BmffError('expected a moov box');
  const boxes = children(view, root.payload, root.end);
  const mvhd = boxes.find((box) => box.type === 'mvhd');
  if (!mvhd) throw new BmffError('the movie has no header (mvhd)');
  const traks = boxes.filter((box) => box.type === 'trak');
  if (traks.length > MAX_TRACKS) throw new BmffError('the movie has too many tracks');
  return { durationMs: movieDurationMs(view, mvhd), tracks: traks.map((trak) => parseTrack(view, trak)) };
}

export function parseFtyp(ftyp: Uint8Array): { majorBrand: string; compatibleBrands: string[] } {
  const view = new DataView(ftyp.buffer, ftyp.byteOffset, ftyp.byteLength);
  const box = boxAt(view, 0, ftyp.byteLength);
  if (box.type !== 'ftyp' || box.end - box.payload < 8) throw new BmffError('the file type box (ftyp) is malformed');
  const brands: string[] = [];
  for (let at = box.payload + 8; at + 4 <= box.end && brands.length < 64; at += 4) brands.push(fourcc(ftyp, at));
  return { majorBrand: fourcc(ftyp, box.payload), compatibleBrands: brands };
}

/**
 * Walks the top-level boxes of a file as its bytes arrive, keeping `ftyp` and `moov` and skipping
 * the rest (`mdat` can be gigabytes). `finish()` says whether the boxes ended exactly at the end of
 * the file (a truncated upload does not) and parses what was kept.
 */
export class BmffScanner {
  private header = new Uint8Array(16);
  private headerFill = 0;
  /** Bytes left of the current box's payload (after its header). */
  private remaining = 0;
  private keeping: { type: string; parts: Uint8Array[]; total: number; size: number } | undefined;
  private kept = new Map<string, Uint8Array>();
  private boxes = 0;
  private toEnd = false;

  push(piece: Uint8Array): void {
    let at = 0;
    while (at < piece.length) {
      if (this.toEnd) return;
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, piece.length - at);
        if (this.keeping) {
          this.keeping.parts.push(piece.subarray(at, at + take));
          this.keeping.total += take;
        }
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) this.closeKept();
        continue;
      }
      // Reading a header: 8 bytes, or 16 when the size field is 1 (64-bit size).
      this.header[this.headerFill++] = piece[at++]!;
      const view = new DataView(this.header.buffer);
      if (this.headerFill === 8 && view.getUint32(0) !== 1) this.openBox(view.getUint32(0), 8);
      else if (this.headerFill === 16) this.openBox(view.getUint32(8) * 2 ** 32 + view.getUint32(12), 16);
    }
  }

  private openBox(size: number, headerBytes: number): void {
    const type = fourcc(this.header, 4);
    const header = this.header.slice(0, headerBytes);
    this.headerFill = 0;
    if (++this.boxes > MAX_BOXES_PER_LEVEL) throw new BmffError('too many top-level boxes');
    if (!isBoxType(type)) throw new BmffError('a top-level box has no valid type');
    if (this.boxes === 1 && type !== 'ftyp') throw new BmffError('the file does not start with a file type box (ftyp)');
    if (size === 0) {
      // "Extends to the end of the file": only mdat does that in practice; nothing after it is read.
      if (type === 'moov' || type === 'ftyp') throw new BmffError(`the ${type} box has no size`);
      this.toEnd = true;
      return;
    }
    if (size < headerBytes) throw new BmffError(`the ${type} box is smaller than its header`);
    this.remaining = size - headerBytes;
    if (type === 'ftyp' || type === 'moov') {
      if (this.kept.has(type)) throw new BmffError(`the file has two ${type} boxes`);
      if (size > MAX_MOOV_BYTES) throw new BmffError(`the ${type} box is larger than ${MAX_MOOV_BYTES} bytes`);
      this.keeping = { type, parts: [header], total: header.length, size };
      if (this.remaining === 0) this.closeKept();
    }
  }

  private closeKept(): void {
    if (!this.keeping) return;
    const whole = new Uint8Array(this.keeping.total);
    let at = 0;
    for (const part of this.keeping.parts) {
      whole.set(part, at);
      at += part.length;
    }
    this.kept.set(this.keeping.type, whole);
    this.keeping = undefined;
  }

  finish(): BmffFacts {
    if (this.remaining > 0 || this.headerFill > 0) throw new BmffError('the file ends inside a box (truncated)');
    const ftyp = this.kept.get('ftyp');
    const moov = this.kept.get('moov');
    if (!ftyp) throw new BmffError('the file has no file type box (ftyp)');
    if (!moov) throw new BmffError('the file has no movie box (moov)');
    return { ...parseFtyp(ftyp), ...parseMoov(moov) };
  }
}

/** Whole-buffer convenience (tests, small files): the same scanner, fed once. */
export function parseBmff(file: Uint8Array): BmffFacts {
  const scanner = new BmffScanner();
  scanner.push(file);
  return scanner.finish();
}
