/**
 * `GET /api/v2/calendar` (issue #12): a month view in one request. Per day of the business's time
 * zone (DST-correct boundaries: a day is local midnight to the next local midnight, 23 or 25 hours
 * at a change), the count of posts by status and the first `perDay` lean summaries; the rest of a
 * day is read with the paged summary list (`GET /scheduled?view=summary&from=<start>&to=<end>`).
 *
 * One statement, and Postgres writes the whole answer:
 * - the days are a generate_series of local dates over the business's zone;
 * - the counts are read, not counted: `post_day_counts` holds them per (business, local day,
 *   status), kept by triggers on every write of a post (Migration20261202000000_post_day_counts) —
 *   a month is ~31 × 3 index rows, where counting its posts read every one of them (10,000 rows,
 *   ~7 ms of Postgres a request);
 * - a LATERAL top-N per day over posts_calendar_idx in (scheduled_for, id) order lists the posts.
 * The answer is built as JSON by Postgres and sent as the text it returns (cast to text: the
 * driver would parse a json column, and the API would only stringify it again).
 *
 * Answers are cached, exactly: the statement also returns the business's change stamp (the sum of
 * its `business_changes` rows, bumped by triggers on every committed write of anything the answer
 * reads: Migration20261202200000_business_changes), read in the same snapshot as the answer. A
 * request reads the current stamp with one tiny statement (after the membership check); the same
 * stamp means the same committed data, and the cached text is sent; any other runs the statement.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { POST_STATUSES, type PostStatus } from '../domain/types';
import { assertMember, type AuthContext } from './auth';
import { notFound } from './errors';
import { daysFromTo, type CalendarQuery } from './schemas';
import { iso, postSummaryJson } from './summary-sql';

/** What a day lists unless asked otherwise: every status but cancelled (cancelled posts are still counted). */
export const DEFAULT_CALENDAR_STATUSES: PostStatus[] = POST_STATUSES.filter((status) => status !== 'cancelled');

/** The Calendar JSON (schemas.ts calendarSchema), as text ready to send. */
export type CalendarJson = string;

/** The day's `counts`: every status, in POST_STATUSES order, 0 where it has none. */
const COUNTS_JSON = `json_build_object(${POST_STATUSES.map((status) => `'${status}', coalesce(c.${status}, 0)`).join(', ')})`;
const COUNT_COLUMNS = POST_STATUSES.map((status) => `sum(n) filter (where status = '${status}')::int as ${status}`).join(', ');

/** The business's change stamp, as text (a bigint): the sum of its business_changes rows, 0 before its first change. */
const stampOf = (businessId: string) => `select coalesce(sum(v), 0)::text from business_changes where business_id = ${businessId}`;

/** The current stamp; no row when the business is gone. */
const STAMP_SQL = `select (${stampOf('b.id')}) as stamp from businesses b where b.id = ?`;

// Five parameters, each once: business, first day, days, statuses, perDay.
const CALENDAR_SQL = `
  with q as (select ?::int as business_id, ?::date as first_day, ?::int as days, ?::text[] as statuses, ?::int as per_day),
  b as (select b.id, b.timezone, q.* from businesses b, q where b.id = q.business_id),
  days as (
    select (b.first_day + i) as day,
           (b.first_day + i)::timestamp at time zone b.timezone as day_start,
           (b.first_day + i + 1)::timestamp at time zone b.timezone as day_end
    from b, generate_series(0, b.days - 1) i
  ),
  counts as (
    select day, ${COUNT_COLUMNS}, sum(n) filter (where status = any(b.statuses))::int as matching, sum(n)::int as total
    from post_day_counts, b
    where post_day_counts.business_id = b.id and day >= b.first_day and day < b.first_day + b.days
    group by day
  )
  select json_build_object(
    'businessId', b.id, 'timezone', b.timezone, 'from', b.first_day::text, 'to', (b.first_day + b.days)::text,
    'perDay', b.per_day, 'statuses', to_json(b.statuses),
    'days', (
      select json_agg(json_build_object(
               'date', d.day::text, 'start', ${iso('d.day_start')}, 'end', ${iso('d.day_end')},
               'total', coalesce(c.total, 0), 'counts', ${COUNTS_JSON}, 'matching', coalesce(c.matching, 0),
               'posts', coalesce(s.posts, '[]'::json)) order by d.day)
      from days d
      left join counts c on c.day = d.day
      cross join lateral (
        select json_agg(${postSummaryJson('top')} order by top.scheduled_for, top.id) as posts
        from (select p.id, p.scheduled_for, p.timezone, p.platforms, p.status, p.content
              from posts p
              where p.business_id = b.id and p.scheduled_for >= d.day_start and p.scheduled_for < d.day_end and p.status = any(b.statuses)
              order by p.scheduled_for, p.id
              limit b.per_day) top
      ) s
    ))::text as body,
    (${stampOf('b.id')}) as stamp
  from b`;

/** Calendar answers served from a cache, and answers the statement wrote (no cache, or a stale or missing entry); for tests and metrics. */
export const calendarCacheCounters = { hits: 0, misses: 0 };

/** What a process keeps of answers unless CALENDAR_CACHE_MAX_BYTES says otherwise. */
export const DEFAULT_CALENDAR_CACHE_BYTES = 16 * 1024 * 1024;

interface CachedAnswer {
  stamp: bigint;
  body: CalendarJson;
  bytes: number;
}

/**
 * Answers by (business, from, to, perDay, statuses), each with the stamp it was written at, at most
 * `maxBytes` of them (a string's length × 2, UTF-16, an upper bound for V8's one-byte strings); the
 * least recently used goes first (a Map iterates in insertion order; a hit moves its entry last).
 */
export class CalendarCache {
  private readonly entries = new Map<string, CachedAnswer>();
  private bytes = 0;
  /** The statements running for a key: concurrent misses wait for one instead of each running it. */
  readonly writing = new Map<string, Promise<{ body: CalendarJson; stamp: bigint }>>();

  constructor(readonly maxBytes: number) {}

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  /** The answer written at `stamp`, if kept. */
  get(key: string, stamp: bigint): CalendarJson | undefined {
    const entry = this.entries.get(key);
    if (entry?.stamp !== stamp) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.body;
  }

  /** Keeps `body`, written at `stamp`, unless a newer answer is kept already (two misses at once). */
  set(key: string, stamp: bigint, body: CalendarJson): void {
    const old = this.entries.get(key);
    if (old && old.stamp > stamp) return;
    if (old) this.remove(key, old);
    const bytes = (key.length + body.length) * 2 + 64;
    if (bytes > this.maxBytes) return;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes + bytes <= this.maxBytes) break;
      this.remove(oldest, entry);
    }
    this.entries.set(key, { stamp, body, bytes });
    this.bytes += bytes;
  }

  private remove(key: string, entry: CachedAnswer): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

/**
 * The month view. With a cache: the membership check, then the current stamp (one index read), then
 * the kept answer if it was written at that stamp, else the statement (which replaces it).
 */
export async function readCalendar(orm: MikroORM, auth: AuthContext, query: CalendarQuery, cache?: CalendarCache): Promise<CalendarJson> {
  assertMember(auth, query.businessId);
  const statuses = query.status ?? DEFAULT_CALENDAR_STATUSES;
  const connection = orm.em.getConnection();
  const write = async (): Promise<{ body: CalendarJson; stamp: bigint }> => {
    calendarCacheCounters.misses += 1;
    const rows: Array<{ body: string; stamp: string }> = await connection.execute(CALENDAR_SQL, [
      query.businessId, query.from, daysFromTo(query.from, query.to), `{${statuses.join(',')}}`, query.perDay,
    ]);
    if (rows.length === 0) throw notFound('business');
    return { body: rows[0]!.body, stamp: BigInt(rows[0]!.stamp) };
  };
  if (!cache || cache.maxBytes === 0) return (await write()).body;

  const current: Array<{ stamp: string }> = await connection.execute(STAMP_SQL, [query.businessId]);
  // A member's business exists (memberships reference it); no row means it was deleted meanwhile.
  if (current.length === 0) throw notFound('business');
  const stamp = BigInt(current[0]!.stamp);
  const key = `${query.businessId}|${query.from}|${query.to}|${query.perDay}|${statuses.join(',')}`;
  const kept = cache.get(key, stamp);
  if (kept !== undefined) {
    calendarCacheCounters.hits += 1;
    return kept;
  }
  // Misses at once (the first views of a month) share one statement: its answer serves every request
  // that read a stamp at most its own (a snapshot taken while the request ran); an older one does not.
  const inFlight = cache.writing.get(key);
  if (inFlight) {
    const shared = await inFlight.catch(() => undefined);
    if (shared && shared.stamp >= stamp) {
      calendarCacheCounters.hits += 1;
      return shared.body;
    }
  }
  const writing = write();
  cache.writing.set(key, writing);
  try {
    const answer = await writing;
    cache.set(key, answer.stamp, answer.body);
    return answer.body;
  } finally {
    if (cache.writing.get(key) === writing) cache.writing.delete(key);
  }
}
