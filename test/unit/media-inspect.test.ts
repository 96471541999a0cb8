/**
 * What an upload is, from its bytes: the ISO BMFF parser (MP4/MOV boxes) on real ffmpeg output and on
 * truncated and fuzzed copies of it (a clean BmffError, never anything else, never a hang), the magic
 * byte sniffer, and the streaming inspector (per-kind size limits while streaming, sharp's facts and
 * refusals).
 */
import { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { BmffError, BmffScanner, parseBmff } from '../../src/media/bmff';
import { MediaInspector, MediaRefusal, sniffFormat, type MediaFacts, type MediaLimits } from '../../src/media/inspect';
import { animatedGif, jpeg, png, video, webp } from '../support/media-files';

jest.setTimeout(60_000);

const generous: MediaLimits = { image: 10 * 1024 * 1024, gif: 15 * 1024 * 1024, video: 50 * 1024 * 1024 };

/** A deterministic PRNG (xorshift32): fuzzed cases are the same every run. */
function prng(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Parses, and says how it ended: facts, or the refusal; anything else is a failure of the test. */
function outcome(file: Uint8Array): 'ok' | 'refused' {
  try {
    parseBmff(file);
    return 'ok';
  } catch (err) {
    if (err instanceof BmffError) return 'refused';
    throw err;
  }
}

async function inspect(file: Buffer, limits = generous, pieceBytes = 7_000): Promise<MediaFacts> {
  const inspector = new MediaInspector(limits);
  const pieces = function* () {
    for (let at = 0; at < file.length; at += pieceBytes) yield file.subarray(at, at + pieceBytes);
  };
  await pipeline(Readable.from(pieces()), inspector, new Writable({ write: (_chunk, _encoding, done) => done() }));
  return inspector.facts();
}

async function refusalOf(file: Buffer, limits = generous): Promise<MediaRefusal> {
  try {
    await inspect(file, limits);
  } catch (err) {
    if (err instanceof MediaRefusal) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('ISO BMFF parser', () => {
  let mp4: Buffer;
  let mov: Buffer;
  beforeAll(() => {
    mp4 = video({ seconds: 2, width: 320, height: 240 });
    mov = video({ seconds: 1, width: 160, height: 120, audio: false, mov: true, faststart: true });
  });

  test('when an MP4 from ffmpeg is parsed, then brand, duration, size and both codecs are read', () => {
    const facts = parseBmff(mp4);
    expect(facts.majorBrand).toBe('isom');
    expect(facts.durationMs).toBeGreaterThanOrEqual(1900);
    expect(facts.durationMs).toBeLessThanOrEqual(2100);
    expect(facts.tracks).toEqual(expect.arrayContaining([{ handler: 'vide', width: 320, height: 240, codec: 'avc1' }, { handler: 'soun', codec: 'mp4a' }]));
  });

  test('when a MOV (moov before mdat) is parsed, then its brand is "qt  " and its one track is read', () => {
    const facts = parseBmff(mov);
    expect(facts.majorBrand).toBe('qt  ');
    expect(facts.tracks).toEqual([{ handler: 'vide', width: 160, height: 120, codec: 'avc1' }]);
  });

  test('when the file is fed a byte at a time, then the facts are the same as fed whole', () => {
    const scanner = new BmffScanner();
    for (let at = 0; at < mov.length; at++) scanner.push(mov.subarray(at, at + 1));
    expect(scanner.finish()).toEqual(parseBmff(mov));
  });

  test('when the file is cut short anywhere (every length up to 2 KB, then every 97th), then every prefix is refused cleanly', () => {
    const parsed: number[] = [];
    for (let length = 0; length < mp4.length; length += length < 2048 ? 1 : 97) {
      if (outcome(mp4.subarray(0, length)) === 'ok') parsed.push(length);
    }
    expect(parsed).toEqual([]);
  });

  test('when bytes are flipped, boxes resized or garbage appended (3,000 seeded cases), then it parses or refuses with BmffError, never anything else', () => {
    const random = prng(20261202);
    const counts = { ok: 0, refused: 0 };
    for (let round = 0; round < 3000; round++) {
      const source = round % 2 === 0 ? mp4 : mov;
      const file = Buffer.from(source);
      const edits = 1 + Math.floor(random() * 8);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * file.length);
        const how = random();
        if (how < 0.5) file[at] = Math.floor(random() * 256);
        else if (how < 0.8) file.writeUInt32BE(Math.floor(random() * 2 ** 32), Math.min(at, file.length - 4));
        else file.writeUInt32BE([0, 1, 7, 8, 0xffffffff][Math.floor(random() * 5)]!, Math.min(at, file.length - 4));
      }
      const mutated = random() < 0.1 ? Buffer.concat([file, Buffer.alloc(Math.floor(random() * 64), 0x41)]) : file;
      counts[outcome(mutated)]++;
    }
    expect(counts.ok + counts.refused).toBe(3000);
    expect(counts.refused).toBeGreaterThan(0);
  });

  test('when a box claims a 64-bit size or a huge moov, then it is refused without reading it', () => {
    const huge = Buffer.alloc(32);
    huge.writeUInt32BE(16, 0);
    huge.write('ftypisom', 4, 'latin1');
    huge.writeUInt32BE(1, 16);
    huge.write('moov', 20, 'latin1');
    huge.writeUInt32BE(0x7fffffff, 24);
    huge.writeUInt32BE(0xffffffff, 28);
    expect(() => parseBmff(huge)).toThrow(BmffError);
    expect(() => parseBmff(Buffer.from('not a video at all, just text'))).toThrow(BmffError);
  });
});

describe('format sniffing', () => {
  test('when the first bytes are known magic, then the format is named; otherwise undefined', async () => {
    expect(sniffFormat(await jpeg())).toBe('jpeg');
    expect(sniffFormat(await png())).toBe('png');
    expect(sniffFormat(await webp())).toBe('webp');
    expect(sniffFormat(await animatedGif())).toBe('gif');
    expect(sniffFormat(Buffer.from('\x00\x00\x00\x14ftypqt  '))).toBe('mov');
    expect(sniffFormat(Buffer.from('\x00\x00\x00\x14ftypisom'))).toBe('mp4');
    expect(sniffFormat(Buffer.from('%PDF-1.7 something'))).toBeUndefined();
    expect(sniffFormat(Buffer.from(''))).toBeUndefined();
  });
});

describe('the streaming inspector', () => {
  test('when images stream through, then kind, type, dimensions and frames come from the bytes', async () => {
    expect(await inspect(await jpeg(64, 48))).toMatchObject({ kind: 'image', mime: 'image/jpeg', width: 64, height: 48, frameCount: 1, codecs: [] });
    expect(await inspect(await png(40, 30))).toMatchObject({ kind: 'image', mime: 'image/png', width: 40, height: 30 });
    expect(await inspect(await webp(50, 20))).toMatchObject({ kind: 'image', mime: 'image/webp', width: 50, height: 20 });
    expect(await inspect(await animatedGif(3, 16, 16), generous, 5)).toMatchObject({ kind: 'gif', mime: 'image/gif', width: 16, height: 16, frameCount: 3 });
  });

  test('when a video streams through, then its facts are read and its sha256 and size are those of the bytes', async () => {
    const clip = video({ seconds: 1 });
    const facts = await inspect(clip, generous, 1000);
    expect(facts).toMatchObject({ kind: 'video', mime: 'video/mp4', width: 160, height: 120, codecs: ['avc1', 'mp4a'], bytes: clip.length });
    expect(facts.sha256).toBe(createHash('sha256').update(clip).digest('hex'));
  });

  test('when a file is larger than its kind allows, then the stream fails as soon as it passes the limit', async () => {
    const image = await png(200, 200);
    const refusal = await refusalOf(image, { ...generous, image: 1024 });
    expect(refusal.rule).toBe('too_large');
    expect(refusal.extra).toEqual({ limitBytes: 1024 });
  });

  test('when the bytes are text, empty, a truncated JPEG or a truncated video, then the rule is format, empty or broken', async () => {
    expect((await refusalOf(Buffer.from('hello, I am a text file named photo.png'))).rule).toBe('format');
    expect((await refusalOf(Buffer.alloc(0))).rule).toBe('empty');
    const photo = await jpeg(256, 256);
    expect((await refusalOf(photo.subarray(0, Math.floor(photo.length * 0.6)))).rule).toBe('broken');
    const clip = video({ seconds: 1 });
    expect((await refusalOf(clip.subarray(0, clip.length - 100))).rule).toBe('broken');
  });
});
