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
    ))::text as body
  from b`;

export async function readCalendar(orm: MikroORM, auth: AuthContext, query: CalendarQuery): Promise<CalendarJson> {
  assertMember(auth, query.businessId);
  const statuses = query.status ?? DEFAULT_CALENDAR_STATUSES;
  const rows: Array<{ body: string }> = await orm.em.getConnection().execute(CALENDAR_SQL, [
    query.businessId, query.from, daysFromTo(query.from, query.to), `{${statuses.join(',')}}`, query.perDay,
  ]);
  // A member's business exists (memberships reference it); no row means it was deleted meanwhile.
  if (rows.length === 0) throw notFound('business');
  return rows[0]!.body;
}
