import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { allEntities } from './entities';
import { Migration20261121000000_initial } from './migrations/Migration20261121000000_initial';
import { Migration20261122000000_part_progress } from './migrations/Migration20261122000000_part_progress';
import { Migration20261122100000_account_oauth } from './migrations/Migration20261122100000_account_oauth';
import { Migration20261201000000_exactly_once } from './migrations/Migration20261201000000_exactly_once';
import { Migration20261201100000_api_key_lifecycle } from './migrations/Migration20261201100000_api_key_lifecycle';
import { Migration20261201200000_calendar_index } from './migrations/Migration20261201200000_calendar_index';
import { Migration20261202000000_post_day_counts } from './migrations/Migration20261202000000_post_day_counts';
import { Migration20261202100000_media } from './migrations/Migration20261202100000_media';
import { Migration20261202200000_business_changes } from './migrations/Migration20261202200000_business_changes';

/** Migrations are listed here, in order, so the same list works from TypeScript sources and from dist/. */
const migrationsList = [
  { name: 'Migration20261121000000_initial', class: Migration20261121000000_initial },
  { name: 'Migration20261122000000_part_progress', class: Migration20261122000000_part_progress },
  { name: 'Migration20261122100000_account_oauth', class: Migration20261122100000_account_oauth },
  { name: 'Migration20261201000000_exactly_once', class: Migration20261201000000_exactly_once },
  { name: 'Migration20261201100000_api_key_lifecycle', class: Migration20261201100000_api_key_lifecycle },
  { name: 'Migration20261201200000_calendar_index', class: Migration20261201200000_calendar_index },
  { name: 'Migration20261202000000_post_day_counts', class: Migration20261202000000_post_day_counts },
  { name: 'Migration20261202100000_media', class: Migration20261202100000_media },
  { name: 'Migration20261202200000_business_changes', class: Migration20261202200000_business_changes },
];

export function ormOptions(databaseUrl: string, overrides: Partial<Options> = {}): Options {
  return {
    clientUrl: databaseUrl,
    entities: allEntities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    migrations: { migrationsList, transactional: true, allOrNothing: true, tableName: 'mikro_orm_migrations', silent: true },
    debug: false,
    pool: { min: 0, max: 10 },
    ...overrides,
  };
}

export async function openOrm(databaseUrl: string, overrides: Partial<Options> = {}): Promise<MikroORM> {
  return MikroORM.init(ormOptions(databaseUrl, overrides));
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((migration) => migration.name);
}

/** Creates the database named in the URL if it does not exist yet (an empty cluster "just works"). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) return;
  url.pathname = '/postgres';
  const admin = await MikroORM.init({ clientUrl: url.toString(), entities: [], discovery: { warnWhenNoEntities: false }, pool: { min: 0, max: 1 } });
  try {
    const rows = await admin.em.getConnection().execute('select 1 from pg_database where datname = ?', [name]);
    if (rows.length === 0) await admin.em.getConnection().execute(`create database "${name}"`);
  } finally {
    await admin.close(true);
  }
}
