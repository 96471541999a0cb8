/** Display formatting: dates and times in a named zone, in the browser's language. */
const cache = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${zone}|${JSON.stringify(options)}`;
  let format = cache.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(undefined, { ...options, timeZone: zone });
    cache.set(key, format);
  }
  return format;
}

/** "Tue, Nov 24, 2026, 9:00 AM" */
export function formatDateTime(instant: string | Date, zone: string): string {
  return formatter(zone, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(new Date(instant));
}

/** "9:00 AM" / "09:00" */
export function formatTime(instant: string | Date, zone: string): string {
  return formatter(zone, { hour: 'numeric', minute: '2-digit' }).format(new Date(instant));
}

/** "Tue, Nov 24, 2026" */
export function formatDate(instant: string | Date, zone: string): string {
  return formatter(zone, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' }).format(new Date(instant));
}

/** "Tue, Nov 24" */
export function formatDay(instant: string | Date, zone: string): string {
  return formatter(zone, { weekday: 'short', month: 'short', day: 'numeric' }).format(new Date(instant));
}

/** "Tuesday, November 24, 2026" for a calendar date (no zone shift). */
export function formatLongDate(date: { year: number; month: number; day: number }): string {
  return formatter('UTC', { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }).format(new Date(Date.UTC(date.year, date.month - 1, date.day)));
}

/** "November 2026" */
export function formatMonth(year: number, month: number): string {
  return formatter('UTC', { year: 'numeric', month: 'long' }).format(new Date(Date.UTC(year, month - 1, 1)));
}

/** Short weekday names, Monday first. */
export function weekdayNames(style: 'short' | 'narrow' | 'long' = 'short'): string[] {
  // 2024-01-01 was a Monday.
  return Array.from({ length: 7 }, (_, i) => formatter('UTC', { weekday: style }).format(new Date(Date.UTC(2024, 0, 1 + i))));
}

/** "in 3 hours", "5 minutes ago". */
export function relativeTime(instant: string | Date, now = Date.now()): string {
  const seconds = Math.round((new Date(instant).getTime() - now) / 1000);
  const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [['day', 86_400], ['hour', 3_600], ['minute', 60], ['second', 1]];
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return format.format(Math.round(seconds / size), unit);
  }
  return '';
}

export function formatUtc(instant: Date | string): string {
  return `${new Date(instant).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
