/**
 * Wall time in an IANA time zone <-> instants, with nothing but Intl. The engine works in UTC; a
 * person picks "9:00 in Europe/Berlin", so every conversion goes through the zone's offset at that
 * moment (DST-safe). Pure: no DOM, so tests can import it.
 */

/** A calendar date; `month` is 1-12. */
export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

export interface WallTime extends CalendarDate {
  hour: number;
  minute: number;
  second?: number;
}

/**
 * How a wall time became an instant:
 * - `skipped`: the wall time does not exist in the zone (clocks jumped forward over it); the instant
 *   is the same wall time pushed forward by the jump, as calendars and Temporal's "compatible" do.
 * - `ambiguous`: the wall time happens twice (clocks went back); the instant is the first one.
 */
export type ZoneAdjustment = 'skipped' | 'ambiguous';

export interface ZonedInstant {
  instant: Date;
  adjustment?: ZoneAdjustment;
}

const DAY_MS = 86_400_000;
const partFormatters = new Map<string, Intl.DateTimeFormat>();

function partFormatter(zone: string): Intl.DateTimeFormat {
  let formatter = partFormatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partFormatters.set(zone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(zone: string): boolean {
  try {
    partFormatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock in `zone` at `instant` (seconds included). */
export function wallTimeAt(instant: Date | number | string, zone: string): Required<WallTime> {
  const values: Record<string, number> = {};
  for (const part of partFormatter(zone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') values[part.type] = Number(part.value);
  }
  return {
    year: values.year!,
    month: values.month!,
    day: values.day!,
    hour: values.hour === 24 ? 0 : values.hour!,
    minute: values.minute!,
    second: values.second!,
  };
}

/** The zone's offset from UTC at `instant`, in milliseconds (Berlin in winter: +3 600 000). */
export function offsetAt(instant: Date | number | string, zone: string): number {
  const ms = new Date(instant).getTime();
  const wall = wallTimeAt(ms, zone);
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return wallAsUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

function sameWallTime(a: WallTime, b: WallTime): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute && (a.second ?? 0) === (b.second ?? 0);
}

/**
 * The instant at which the clocks in `zone` show `wall`. Transitions are far apart, so the offsets a
 * day before and a day after are the only candidates: keep those that really give `wall`.
 */
export function instantOf(wall: WallTime, zone: string): ZonedInstant {
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second ?? 0);
  const offsetBefore = offsetAt(wallAsUtc - DAY_MS, zone);
  const offsets = new Set([offsetBefore, offsetAt(wallAsUtc, zone), offsetAt(wallAsUtc + DAY_MS, zone)]);
  const matches = [...offsets]
    .map((offset) => wallAsUtc - offset)
    .filter((candidate) => sameWallTime(wallTimeAt(candidate, zone), wall))
    .sort((a, b) => a - b);
  if (matches.length === 0) return { instant: new Date(wallAsUtc - offsetBefore), adjustment: 'skipped' };
  return { instant: new Date(matches[0]!), adjustment: matches.length > 1 ? 'ambiguous' : undefined };
}

const pad = (value: number, width = 2) => String(Math.abs(value)).padStart(width, '0');

/** "+01:00", "-04:00", "+05:45". */
export function formatOffset(offsetMs: number): string {
  const minutes = Math.round(offsetMs / 60_000);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

/** ISO 8601 with the zone's offset at that instant: "2026-11-24T09:00:00+01:00" (what the API asks for). */
export function isoInZone(instant: Date | number | string, zone: string): string {
  const wall = wallTimeAt(instant, zone);
  return `${dateKey(wall)}T${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}${formatOffset(offsetAt(instant, zone))}`;
}

/** "2026-11-24": sortable, and what `<input type="date">` uses. */
export function dateKey(date: CalendarDate): string {
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}

export function parseDateKey(key: string): CalendarDate | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  if (!match) return undefined;
  const date = { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
  const check = new Date(Date.UTC(date.year, date.month - 1, date.day));
  return check.getUTCMonth() === date.month - 1 && check.getUTCDate() === date.day ? date : undefined;
}

/** "09:00" → { hour: 9, minute: 0 }. */
export function parseTimeOfDay(value: string): { hour: number; minute: number } | undefined {
  const match = /^(\d{2}):(\d{2})(?::\d{2})?$/.exec(value);
  if (!match) return undefined;
  const hour = Number(match[1]);
  const minute = Number(match[2]);
  return hour < 24 && minute < 60 ? { hour, minute } : undefined;
}

export function timeOfDayKey(wall: { hour: number; minute: number }): string {
  return `${pad(wall.hour)}:${pad(wall.minute)}`;
}

/** Calendar arithmetic on dates (no zone involved: a date is a date). */
export function addDays(date: CalendarDate, days: number): CalendarDate {
  const moved = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

export function daysBetween(from: CalendarDate, to: CalendarDate): number {
  return Math.round((Date.UTC(to.year, to.month - 1, to.day) - Date.UTC(from.year, from.month - 1, from.day)) / DAY_MS);
}

/** 0 = Monday … 6 = Sunday. */
export function weekdayMondayFirst(date: CalendarDate): number {
  return (new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function addMonths(month: { year: number; month: number }, count: number): { year: number; month: number } {
  const index = month.year * 12 + (month.month - 1) + count;
  return { year: Math.floor(index / 12), month: (index % 12) + 1 };
}

/** The days a month calendar shows: whole weeks, Monday first, covering the month. */
export function monthGrid(year: number, month: number): CalendarDate[] {
  const first = { year, month, day: 1 };
  const start = addDays(first, -weekdayMondayFirst(first));
  const cells = weekdayMondayFirst(first) + daysInMonth(year, month);
  const weeks = Math.ceil(cells / 7);
  return Array.from({ length: weeks * 7 }, (_, index) => addDays(start, index));
}

/** Today's date in `zone`. */
export function todayIn(zone: string, now: Date | number = Date.now()): CalendarDate {
  const { year, month, day } = wallTimeAt(now, zone);
  return { year, month, day };
}

/**
 * The same time of day in the post's zone, `days` later (or earlier): what dragging a post to
 * another calendar day means. Milliseconds are kept; DST changes in between do not move the clock.
 */
export function shiftByDays(instant: Date | number | string, zone: string, days: number): ZonedInstant {
  const ms = new Date(instant).getTime();
  const wall = wallTimeAt(ms, zone);
  const date = addDays(wall, days);
  const shifted = instantOf({ ...date, hour: wall.hour, minute: wall.minute, second: wall.second }, zone);
  return { ...shifted, instant: new Date(shifted.instant.getTime() + (((ms % 1000) + 1000) % 1000)) };
}

/** All IANA zones the browser knows, with UTC and `extra` zones (e.g. a business's) always present. */
export function timeZoneNames(...extra: Array<string | null | undefined>): string[] {
  const known = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const names = new Set([...known, 'UTC']);
  for (const zone of extra) if (zone && isValidTimeZone(zone)) names.add(zone);
  return [...names].sort((a, b) => a.localeCompare(b));
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
