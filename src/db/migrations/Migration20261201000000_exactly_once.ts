import { Migration } from '@mikro-orm/migrations';

/**
 * Exactly-once, proven (docs/EXACTLY-ONCE.md):
 * - the part ledger fences attempts (a claim token and a send deadline in database time), keeps the
 *   time of the first send (nothing older can be adopted), counts platform failures apart from
 *   Temporal attempts, and knows its account, so that one platform post belongs to one part only;
 * - a post records when its workflow start was confirmed (the reconciler starts the others), and the
 *   version of its last bookkeeping write;
 * - Idempotency-Keys live in Postgres, written in the same transaction as the post;
 * - a small key/value table keeps the reconciler's watermarks.
 */
export class Migration20261201000000_exactly_once extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table post_parts
      add column account_id int null references social_accounts(id),
      add column first_sent_at timestamptz null,
      add column claim_token text null,
      add column send_deadline timestamptz null,
      add column platform_failures int not null default 0,
      add column legacy_shared_id boolean not null default false`);
    this.addSql(`update post_parts pp set account_id = pt.account_id
      from post_targets pt where pt.post_id = pp.post_id and pt.platform = pp.platform`);
    this.addSql(`update post_parts set first_sent_at = coalesce(send_started_at, published_at) where platform_post_id is not null`);
    // Rows written before this fix may share a platform id (a duplicate refusal adopted another post's):
    // keep the first, mark the others, so the new rule holds from now on without rewriting history.
    this.addSql(`update post_parts pp set legacy_shared_id = true
      where platform_post_id is not null and exists (
        select 1 from post_parts other
        where other.platform = pp.platform and other.account_id is not distinct from pp.account_id
          and other.platform_post_id = pp.platform_post_id and other.id < pp.id)`);
    this.addSql(`create unique index post_parts_platform_post_uniq on post_parts (platform, account_id, platform_post_id)
      where platform_post_id is not null and not legacy_shared_id`);

    this.addSql(`alter table posts add column workflow_started_at timestamptz null`);
    // The newest bookkeeping write wins (a stale workflow task on a stalled worker cannot undo a final state).
    this.addSql(`alter table posts add column state_version text null`);
    this.addSql(`update posts set workflow_started_at = created_at`);
    // The reconciler's sweep: posts whose workflow start was never confirmed.
    this.addSql(`create index posts_unstarted_idx on posts (created_at) where workflow_started_at is null`);

    this.addSql(`create table idempotency_keys (
      id serial primary key,
      user_id int not null references users(id) on delete cascade,
      key_hash text not null,
      fingerprint text not null,
      post_id int not null references posts(id) on delete cascade,
      created_at timestamptz not null default now(),
      unique (user_id, key_hash))`);
    this.addSql(`create index idempotency_keys_created_idx on idempotency_keys (created_at)`);

    this.addSql(`create table herald_state (
      key text primary key,
      value text not null,
      updated_at timestamptz not null default now())`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists herald_state`);
    this.addSql(`drop table if exists idempotency_keys`);
    this.addSql(`drop index if exists posts_unstarted_idx`);
    this.addSql(`alter table posts drop column if exists state_version`);
    this.addSql(`alter table posts drop column if exists workflow_started_at`);
    this.addSql(`drop index if exists post_parts_platform_post_uniq`);
    this.addSql(`alter table post_parts drop column if exists legacy_shared_id, drop column if exists platform_failures,
      drop column if exists send_deadline, drop column if exists claim_token, drop column if exists first_sent_at,
      drop column if exists account_id`);
  }
}
