import { Migration } from '@mikro-orm/migrations';

/** Multi-step publishes (Instagram containers) keep their progress on the part's ledger row. */
export class Migration20261122000000_part_progress extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table post_parts add column progress jsonb null`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table post_parts drop column if exists progress`);
  }
}
