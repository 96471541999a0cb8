/**
 * Media files for tests, made on the spot: images with sharp, videos with Debian's ffmpeg (installed
 * by scripts/setup.sh). Without ffmpeg the tests that need a video fail, naming it; they never skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

export async function jpeg(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } }).jpeg({ quality: 90 }).toBuffer();
}

export async function png(width = 40, height = 30): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 10, g: 120, b: 200, alpha: 0.5 } } }).png().toBuffer();
}

export async function webp(width = 50, height = 20): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#336699' } }).webp().toBuffer();
}

/** An animated GIF of `frames` frames of width × height (sharp joins the frames vertically). */
export async function animatedGif(frames = 3, width = 16, height = 16): Promise<Buffer> {
  const colours = ['#ff0000', '#00ff00', '#0000ff', '#ffff00'];
  const frameImages = await Promise.all(
    Array.from({ length: frames }, (_, i) => sharp({ create: { width, height, channels: 3, background: colours[i % colours.length]! } }).png().toBuffer()),
  );
  return sharp(frameImages, { join: { animated: true } }).gif({ delay: Array(frames).fill(100) }).toBuffer();
}

/** Noise does not compress: a PNG of width × height weighs about 3 bytes a pixel. */
export async function noisePng(width: number, height: number, seed = 1): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < pixels.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    pixels[i] = state & 0xff;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

export function ffmpegPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v ffmpeg']).toString().trim();
  } catch {
    throw new Error('ffmpeg is missing: run bash scripts/setup.sh (it installs Debian\'s ffmpeg); the media tests need it to make their videos');
  }
}

/** A short H.264 (+ AAC unless `audio: false`) video; MOV when `mov`. */
export function video(options: { seconds?: number; width?: number; height?: number; audio?: boolean; mov?: boolean; faststart?: boolean } = {}): Buffer {
  const { seconds = 1, width = 160, height = 120, audio = true, mov = false, faststart = false } = options;
  const dir = mkdtempSync(join(tmpdir(), 'herald-media-'));
  const out = join(dir, mov ? 'clip.mov' : 'clip.mp4');
  try {
    execFileSync(ffmpegPath(), [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=10`,
      ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
      '-t', String(seconds),
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
      ...(audio ? ['-c:a', 'aac', '-shortest'] : []),
      ...(faststart ? ['-movflags', '+faststart'] : []),
      out,
    ]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
