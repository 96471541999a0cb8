import { Migration } from '@mikro-orm/migrations';

/** The first schema: tenants, keys, accounts, posts, per-platform targets and the part ledger. */
export class Migration20261121000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table users (
      id serial primary key,
      email text not null unique,
      created_at timestamptz not null default now())`);
    this.addSql(`create table businesses (
      id serial primary key,
      name text not null unique,
      timezone text not null default 'UTC',
      created_at timestamptz not null default now())`);
    this.addSql(`create table memberships (
      id serial primary key,
      user_id int not null references users(id) on delete cascade,
      business_id int not null references businesses(id) on delete cascade,
      role text not null default 'owner',
      created_at timestamptz not null default now(),
      unique (user_id, business_id))`);
    this.addSql(`create index memberships_business_idx on memberships (business_id)`);
    this.addSql(`create table api_keys (
      id serial primary key,
      user_id int not null references users(id) on delete cascade,
      key_hash text not null unique,
      prefix text not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz null,
      revoked_at timestamptz null)`);
    this.addSql(`create table social_accounts (
      id serial primary key,
      business_id int not null references businesses(id) on delete cascade,
      platform text not null,
      platform_user_id text not null,
      display_name text null,
      access_token_enc text not null,
      refresh_token_enc text null,
      expires_at timestamptz null,
      is_active boolean not null default true,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (business_id, platform, platform_user_id))`);
    this.addSql(`create index social_accounts_active_idx on social_accounts (business_id, platform) where is_active`);
    this.addSql(`create table posts (
      id serial primary key,
      business_id int not null references businesses(id) on delete cascade,
      created_by_user_id int not null references users(id),
      content text not null,
      platforms text[] not null,
      platform_params jsonb not null default '{}',
      thread_options jsonb not null default '{}',
      status text not null,
      scheduled_for timestamptz not null,
      timezone text null,
      workflow_id text null unique,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      published_at timestamptz null)`);
    // The calendar and list views: one business over a time range; sweeps by status over time.
    this.addSql(`create index posts_business_scheduled_idx on posts (business_id, scheduled_for)`);
    this.addSql(`create index posts_status_scheduled_idx on posts (status, scheduled_for)`);
    this.addSql(`create table post_targets (
      id serial primary key,
      post_id int not null references posts(id) on delete cascade,
      platform text not null,
      account_id int null references social_accounts(id),
      status text not null default 'pending',
      error text null,
      error_class text null,
      url text null,
      updated_at timestamptz not null default now(),
      unique (post_id, platform))`);
    this.addSql(`create table post_parts (
      id serial primary key,
      post_id int not null references posts(id) on delete cascade,
      platform text not null,
      part_index int not null,
      text text not null,
      content_fingerprint text not null,
      platform_post_id text null,
      url text null,
      published_at timestamptz null,
      send_started_at timestamptz null,
      attempts int not null default 0,
      last_error text null,
      unique (post_id, platform, part_index))`);
  }

  override async down(): Promise<void> {
    for (const table of ['post_parts', 'post_targets', 'posts', 'social_accounts', 'api_keys', 'memberships', 'businesses', 'users']) {
      this.addSql(`drop table if exists ${table}`);
    }
  }
}
