import { MikroORM } from '@mikro-orm/postgresql';

/** Both projects' teardowns call this; the first one stops what the shared setup started. */
export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__heraldDevServer;
  if (!server) return;
  globalThis.__heraldDevServer = undefined;
  await server.stop();
  const databaseUrl = process.env.HERALD_TEST_DATABASE_URL;
  if (!databaseUrl) return;
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = await MikroORM.init({ clientUrl: url.toString(), entities: [], discovery: { warnWhenNoEntities: false } });
  await admin.em.getConnection().execute(`drop database if exists "${name}" with (force)`);
  await admin.close(true);
}
