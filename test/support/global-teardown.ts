import { MikroORM } from '@mikro-orm/postgresql';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__heraldDevServer?.stop();
  const databaseUrl = process.env.HERALD_TEST_DATABASE_URL;
  if (!databaseUrl) return;
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = await MikroORM.init({ clientUrl: url.toString(), entities: [], discovery: { warnWhenNoEntities: false } });
  await admin.em.getConnection().execute(`drop database if exists "${name}" with (force)`);
  await admin.close(true);
}
