import { Migration } from '@mikro-orm/migrations';

/**
 * OAuth-connected accounts: `needs_reconnect` when the provider refused the refresh token
 * (invalid_grant), when the refresh token itself expires, and the time of the last refresh.
 */
export class Migration20261122100000_account_oauth extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table social_accounts add column needs_reconnect boolean not null default false`);
    this.addSql(`alter table social_accounts add column refresh_token_expires_at timestamptz null`);
    this.addSql(`alter table social_accounts add column token_refreshed_at timestamptz null`);
    // The refresh schedule's sweep: accounts with a refresh token whose access token expires soon.
    this.addSql(`create index social_accounts_refresh_idx on social_accounts (expires_at) where refresh_token_enc is not null and not needs_reconnect`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists social_accounts_refresh_idx`);
    this.addSql(`alter table social_accounts drop column if exists token_refreshed_at`);
    this.addSql(`alter table social_accounts drop column if exists refresh_token_expires_at`);
    this.addSql(`alter table social_accounts drop column if exists needs_reconnect`);
  }
}
