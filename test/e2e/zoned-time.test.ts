/**
 * The dashboard's wall-time <-> instant conversion (web/src/time.ts), which every schedule and every
 * calendar move goes through: DST gaps and overlaps, odd offsets, and moves across a DST change.
 * Pure: no browser, no server.
 */
import { addDays, instantOf, isoInZone, monthGrid, shiftByDays, wallTimeAt } from '../../web/src/time';
import { instantAt } from './support';

describe('wall time in a zone', () => {
  test('when the wall time exists once, then it is that instant, and the ISO form carries the zone\'s offset', () => {
    expect(instantOf({ year: 2026, month: 11, day: 24, hour: 9, minute: 0 }, 'Europe/Berlin')).toEqual({ instant: new Date('2026-11-24T08:00:00Z'), adjustment: undefined });
    expect(isoInZone(new Date('2026-07-01T13:00:00Z'), 'America/New_York')).toBe('2026-07-01T09:00:00-04:00');
    expect(isoInZone(new Date('2026-11-24T03:15:00Z'), 'Asia/Kathmandu')).toBe('2026-11-24T09:00:00+05:45');
    expect(isoInZone(new Date('2026-11-24T09:00:00Z'), 'UTC')).toBe('2026-11-24T09:00:00+00:00');
  });

  test('when the clocks jump forward over the wall time, then it is pushed forward by the jump and flagged', () => {
    expect(instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Berlin')).toEqual({ instant: new Date('2026-03-29T01:30:00Z'), adjustment: 'skipped' });
    expect(isoInZone(new Date('2026-03-29T01:30:00Z'), 'Europe/Berlin')).toBe('2026-03-29T03:30:00+02:00');
    expect(instantOf({ year: 2026, month: 3, day: 8, hour: 2, minute: 0 }, 'America/New_York').adjustment).toBe('skipped');
  });

  test('when the clocks go back over the wall time, then the first of the two instants is used and flagged', () => {
    expect(instantOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, 'Europe/Berlin')).toEqual({ instant: new Date('2026-10-25T00:30:00Z'), adjustment: 'ambiguous' });
    expect(instantOf({ year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, 'America/New_York')).toEqual({ instant: new Date('2026-11-01T05:30:00Z'), adjustment: 'ambiguous' });
  });

  test('when converting every hour of a year in several zones, then it agrees with a brute-force search', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Santiago']) {
      for (let day = 0; day < 366; day += 3) {
        const date = addDays({ year: 2026, month: 1, day: 1 }, day);
        for (const hour of [0, 1, 2, 3, 9, 23]) {
          const key = `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
          const time = `${String(hour).padStart(2, '0')}:00`;
          const { instant, adjustment } = instantOf({ ...date, hour, minute: 0 }, zone);
          if (adjustment === 'skipped') expect(() => instantAt(key, time, zone)).toThrow();
          else expect(instant.toISOString()).toBe(instantAt(key, time, zone).toISOString());
        }
      }
    }
  });

  test('when a post is moved by days across a DST change, then it keeps its time of day in its zone', () => {
    const before = new Date('2026-03-27T08:00:00.250Z'); // Friday 09:00:00.250 in Berlin (CET)
    const moved = shiftByDays(before, 'Europe/Berlin', 3).instant; // Monday, now CEST
    expect(moved.toISOString()).toBe('2026-03-30T07:00:00.250Z');
    expect(wallTimeAt(moved, 'Europe/Berlin')).toMatchObject({ day: 30, hour: 9, minute: 0 });
    expect(shiftByDays(moved, 'Europe/Berlin', -3).instant).toEqual(before);
  });

  test('when a month is laid out, then whole weeks from Monday cover it', () => {
    const november = monthGrid(2026, 11); // starts on a Sunday
    expect(november).toHaveLength(42);
    expect(november[0]).toEqual({ year: 2026, month: 10, day: 26 });
    expect(november[6]).toEqual({ year: 2026, month: 11, day: 1 });
    expect(monthGrid(2027, 2)).toHaveLength(28); // February 2027 starts on a Monday and has four weeks
  });
});
