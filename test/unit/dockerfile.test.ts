/**
 * The image installs exactly the committed lock file and its runtime stage ships compiled code, the
 * dashboard and production dependencies only: no tests, no fakes, no TypeScript sources.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const text = readFileSync(resolve(__dirname, '..', '..', 'Dockerfile'), 'utf8');
/** Instructions with their continuation lines joined, comments dropped. */
const instructions = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
const lastFrom = instructions.map((line) => /^FROM\b/i.test(line)).lastIndexOf(true);
const runtime = instructions.slice(lastFrom);

describe('Dockerfile', () => {
  test('when packages are installed, then it is npm ci from the lock file, never npm install', () => {
    const installs = instructions.filter((line) => /^RUN\b/.test(line) && /\bnpm (ci|install|i)\b/.test(line));
    expect(installs.length).toBeGreaterThanOrEqual(2);
    for (const line of installs) {
      expect(line).toMatch(/\bnpm ci\b/);
      expect(line).not.toMatch(/\bnpm (install|i)\b/);
    }
    expect(runtime.some((line) => /npm ci --omit=dev/.test(line))).toBe(true);
  });

  test('when the runtime stage copies files, then no test code, fake or source comes along', () => {
    const copies = runtime.filter((line) => /^COPY\b/.test(line));
    expect(copies.length).toBeGreaterThan(0);
    for (const line of copies) {
      expect(line).not.toMatch(/\btest\b|fakes|\bsrc \.\/src\b|\.ts\b/);
      // The whole dist would bring dist/test (the fakes the sandbox imports) along.
      expect(line).not.toMatch(/\/app\/dist \.\/dist$/);
    }
    // The compiled sandbox (which needs the fakes) is removed from what was copied.
    expect(runtime.some((line) => /^RUN rm -rf .*dist\/src\/sandbox\b/.test(line))).toBe(true);
    expect(runtime.some((line) => /^USER node$/.test(line))).toBe(true);
  });
});
