/**
 * The calendar's answer cache (src/api/calendar.ts CalendarCache): an answer is served only at the
 * stamp it was written at, the kept answers never weigh more than the bound, the least recently used
 * goes first, and an older answer (two misses at once) never replaces a newer one.
 */
import { CalendarCache } from '../../src/api/calendar';

const weight = (key: string, body: string) => (key.length + body.length) * 2 + 64;

test('when the stamp differs, then nothing is served; at the same stamp the kept answer is', () => {
  const cache = new CalendarCache(1 << 20);
  cache.set('k', 5n, 'five');
  expect(cache.get('k', 5n)).toBe('five');
  expect(cache.get('k', 6n)).toBeUndefined();
  expect(cache.get('other', 5n)).toBeUndefined();
  cache.set('k', 6n, 'six');
  expect(cache.get('k', 6n)).toBe('six');
  // A slower miss that read stamp 5 does not put its answer back over 6's.
  cache.set('k', 5n, 'five again');
  expect(cache.get('k', 6n)).toBe('six');
  expect(cache.size).toEqual({ entries: 1, bytes: weight('k', 'six') });
});

test('when the answers outweigh the bound, then the least recently used go first and the total stays within it', () => {
  const body = 'x'.repeat(1000);
  const cache = new CalendarCache(weight('a', body) * 3);
  for (const key of ['a', 'b', 'c']) cache.set(key, 1n, body);
  expect(cache.get('a', 1n)).toBe(body); // a is now the most recent: b goes first
  cache.set('d', 1n, body);
  expect(cache.get('b', 1n)).toBeUndefined();
  expect(['a', 'c', 'd'].map((key) => cache.get(key, 1n) === body)).toEqual([true, true, true]);
  expect(cache.size.bytes).toBeLessThanOrEqual(cache.maxBytes);
  // An answer heavier than the whole bound is not kept, and evicts nothing.
  cache.set('huge', 1n, 'y'.repeat(10_000));
  expect(cache.get('huge', 1n)).toBeUndefined();
  expect(cache.size.entries).toBe(3);
});
