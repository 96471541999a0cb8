import { Migration } from '@mikro-orm/migrations';

/**
 * Media (issue #13): uploaded images and videos, owned by a business, readable by every API and
 * worker instance. The embedded store is Postgres itself (src/media/storage.ts): a `media` row with
 * the facts read from the bytes, and the bytes in `media_chunks` of `chunk_bytes` (1 MiB) each,
 * written in the upload's one transaction. The chunks are stored EXTERNAL (out of line, not
 * compressed): JPEG, PNG, WebP, GIF and video are compressed already, and pglz would spend CPU on
 * every chunk for nothing. A business's media go with it (cascade); the uploader may leave before
 * the media does.
 */
export class Migration20261202100000_media extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists media (
      id serial primary key,
      business_id int not null references businesses (id) on delete cascade,
      kind text not null check (kind in ('image', 'gif', 'video')),
      mime text not null,
      bytes bigint not null check (bytes >= 0),
      sha256 text not null,
      width int null,
      height int null,
      frame_count int null,
      duration_ms int null,
      codecs text[] not null default '{}',
      alt_text text null,
      uploaded_by int null references users (id) on delete set null,
      chunk_bytes int not null,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index if not exists media_business_idx on media (business_id, id)`);
    this.addSql(`create table if not exists media_chunks (
      media_id int not null references media (id) on delete cascade,
      seq int not null check (seq >= 0),
      data bytea not null,
      primary key (media_id, seq)
    )`);
    this.addSql(`alter table media_chunks alter column data set storage external`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists media_chunks`);
    this.addSql(`drop table if exists media`);
  }
}
