import { Migration } from '@mikro-orm/migrations';

/**
 * API keys get a lifecycle (docs/SECURITY-KEYS.md): a name to tell them apart, an optional expiry, and
 * the time of last use (written at most once a minute per key). `last_used_at` and `revoked_at` came
 * with the first schema; they are added here only if a database lacks them. Keys that exist already
 * were all made by `admin bootstrap`, so that is their name. The index serves "this user's keys".
 */
export class Migration20261201100000_api_key_lifecycle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table api_keys
      add column if not exists name text null,
      add column if not exists expires_at timestamptz null,
      add column if not exists last_used_at timestamptz null,
      add column if not exists revoked_at timestamptz null`);
    this.addSql(`update api_keys set name = 'bootstrap' where name is null`);
    this.addSql(`alter table api_keys alter column name set not null`);
    this.addSql(`create index if not exists api_keys_user_idx on api_keys (user_id, id)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists api_keys_user_idx`);
    this.addSql(`alter table api_keys drop column if exists expires_at, drop column if exists name`);
  }
}
