import { Migration } from '@mikro-orm/migrations';

/**
 * The month view (`GET /api/v2/calendar`, issue #12 goal 4) reads each day's counts by status from
 * `post_day_counts` instead of counting the month's posts on every request (10,000 rows, ~7 ms of
 * Postgres a request). The writes keep it: triggers on `posts` move a post between buckets
 * (business, day, status), where the day is the post's `scheduled_for` in its business's time zone
 * — exactly the local day the calendar shows it on; posts without a time are not counted. A bucket
 * that empties stays, at n = 0 (no delete-and-reinsert churn on a day whose posts come and go).
 *
 * - Every writer locks buckets in one order (business, day, status): a post moving A → B and
 *   another moving B → A in the same instant do not deadlock.
 * - A post deleted with its business (cascade) finds no business and changes nothing: the
 *   business's buckets go by their own cascade.
 * - A business's time zone change recounts its buckets. It first takes posts in SHARE ROW
 *   EXCLUSIVE: a post write in flight may have read the old zone, so the recount waits for those to
 *   commit, and holds off new ones until it commits (they then read the new zone). Rare, and brief:
 *   one business's posts.
 * - Triggers have no entity and need none: the ORM never generates schema here (the migrations do).
 */
/**
 * Each bucket is split in shards by post id: 16 creates at once on one day would otherwise queue on
 * one row, each holding its lock until its commit (pgbench, 16 clients inserting on one day: 900-1,100
 * inserts/s without the trigger, 265-330 with one row per bucket). Consecutive ids land on different
 * shards, and a post keeps its shard for life, so every shard row counts real posts (never below 0).
 * The calendar sums the shards of a day.
 */
export const POST_DAY_COUNT_SHARDS = 16;

export class Migration20261202000000_post_day_counts extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table post_day_counts (
      business_id int not null references businesses(id) on delete cascade,
      day date not null,
      status text not null,
      shard smallint not null,
      n int not null,
      primary key (business_id, day, status, shard))`);

    // plpgsql, not sql: plpgsql keeps each statement's plan for the session; a sql function's is made anew on every call.
    this.addSql(`create function post_day_count_add(p_business_id int, p_day date, p_status text, p_post_id int, p_delta int) returns void
      language plpgsql as $$
      begin
        insert into post_day_counts (business_id, day, status, shard, n) values (p_business_id, p_day, p_status, p_post_id % ${POST_DAY_COUNT_SHARDS}, p_delta)
        on conflict (business_id, day, status, shard) do update set n = post_day_counts.n + excluded.n;
      end $$`);

    // Null when the business is gone (its posts are being deleted by its cascade).
    this.addSql(`create function post_local_day(p_business_id int, p_scheduled_for timestamptz) returns date
      language plpgsql stable as $$
      begin
        return (select (p_scheduled_for at time zone b.timezone)::date from businesses b where b.id = p_business_id);
      end $$`);

    this.addSql(`create function post_day_counts_on_write() returns trigger language plpgsql as $$
      declare
        old_day date;
        new_day date;
      begin
        if tg_op <> 'INSERT' and old.scheduled_for is not null then old_day := post_local_day(old.business_id, old.scheduled_for); end if;
        if tg_op <> 'DELETE' and new.scheduled_for is not null then new_day := post_local_day(new.business_id, new.scheduled_for); end if;
        if tg_op = 'INSERT' then
          if new_day is not null then perform post_day_count_add(new.business_id, new_day, new.status, new.id, 1); end if;
        elsif tg_op = 'DELETE' then
          if old_day is not null then perform post_day_count_add(old.business_id, old_day, old.status, old.id, -1); end if;
        elsif (old.business_id, old_day, old.status) is not distinct from (new.business_id, new_day, new.status) then
          null; -- the same bucket (a time moved within its day, or rewritten unchanged)
        elsif old_day is not null and (new_day is null or (old.business_id, old_day, old.status) < (new.business_id, new_day, new.status)) then
          perform post_day_count_add(old.business_id, old_day, old.status, old.id, -1);
          if new_day is not null then perform post_day_count_add(new.business_id, new_day, new.status, new.id, 1); end if;
        else
          if new_day is not null then perform post_day_count_add(new.business_id, new_day, new.status, new.id, 1); end if;
          if old_day is not null then perform post_day_count_add(old.business_id, old_day, old.status, old.id, -1); end if;
        end if;
        return null;
      end $$`);

    this.addSql(`create function post_day_counts_recount(p_business_id int) returns void language sql as $$
        delete from post_day_counts where business_id = p_business_id;
        insert into post_day_counts (business_id, day, status, shard, n)
        select p.business_id, (p.scheduled_for at time zone b.timezone)::date, p.status, p.id % ${POST_DAY_COUNT_SHARDS}, count(*)
        from posts p join businesses b on b.id = p.business_id
        where p.business_id = p_business_id and p.scheduled_for is not null
        group by 1, 2, 3, 4;
      $$`);

    this.addSql(`create function post_day_counts_on_timezone() returns trigger language plpgsql as $$
      begin
        lock table posts in share row exclusive mode;
        perform post_day_counts_recount(new.id);
        return null;
      end $$`);

    this.addSql(`create function post_day_counts_on_truncate() returns trigger language plpgsql as $$
      begin
        truncate post_day_counts;
        return null;
      end $$`);

    // Writes that began before this migration are waited for, later ones wait: the backfill and the triggers start from one state.
    this.addSql(`lock table posts in share row exclusive mode`);
    this.addSql(`create trigger posts_day_counts_insert after insert on posts for each row execute function post_day_counts_on_write()`);
    this.addSql(`create trigger posts_day_counts_delete after delete on posts for each row execute function post_day_counts_on_write()`);
    // Only a change of bucket calls the function: the worker rewrites status and scheduled_for on every state it mirrors.
    this.addSql(`create trigger posts_day_counts_update after update of business_id, scheduled_for, status on posts for each row
      when (old.business_id is distinct from new.business_id or old.scheduled_for is distinct from new.scheduled_for or old.status is distinct from new.status)
      execute function post_day_counts_on_write()`);
    this.addSql(`create trigger posts_day_counts_truncate after truncate on posts for each statement execute function post_day_counts_on_truncate()`);
    this.addSql(`create trigger businesses_day_counts_timezone after update of timezone on businesses for each row
      when (old.timezone is distinct from new.timezone) execute function post_day_counts_on_timezone()`);
    this.addSql(`insert into post_day_counts (business_id, day, status, shard, n)
      select p.business_id, (p.scheduled_for at time zone b.timezone)::date, p.status, p.id % ${POST_DAY_COUNT_SHARDS}, count(*)
      from posts p join businesses b on b.id = p.business_id
      where p.scheduled_for is not null
      group by 1, 2, 3, 4`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists businesses_day_counts_timezone on businesses`);
    this.addSql(`drop trigger if exists posts_day_counts_truncate on posts`);
    this.addSql(`drop trigger if exists posts_day_counts_update on posts`);
    this.addSql(`drop trigger if exists posts_day_counts_delete on posts`);
    this.addSql(`drop trigger if exists posts_day_counts_insert on posts`);
    this.addSql(`drop function if exists post_day_counts_on_truncate()`);
    this.addSql(`drop function if exists post_day_counts_on_timezone()`);
    this.addSql(`drop function if exists post_day_counts_recount(int)`);
    this.addSql(`drop function if exists post_day_counts_on_write()`);
    this.addSql(`drop function if exists post_local_day(int, timestamptz)`);
    this.addSql(`drop function if exists post_day_count_add(int, date, text, int, int)`);
    this.addSql(`drop table if exists post_day_counts`);
  }
}
