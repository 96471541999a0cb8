/**
 * Integration tests share one real Temporal dev server (the project's own CLI), one fresh
 * PostgreSQL database (migrated) and the local Redis. The workflow bundle is built once.
 *
 * The e2e project calls this too. Jest runs the projects' global setups in the order its sequencer
 * puts their tests (slowest first, from its cache), so either may come first: whichever does starts
 * the services, the other finds them. Starting them twice would leak a dev server, whose open pipes
 * keep jest from ever exiting.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ensureDatabase, migrate, openOrm } from '../../src/db/orm';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { bundleWorkflows } from '../../src/temporal/bundle-workflows';
import { freePort } from './ports';

declare global {
  var __heraldDevServer: DevServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (globalThis.__heraldDevServer) return;
  const workDir = mkdtempSync(join(tmpdir(), 'herald-test-'));
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/herald_test_${process.pid}_${Date.now()}`;
  await ensureDatabase(databaseUrl);
  const orm = await openOrm(databaseUrl);
  await migrate(orm);
  await orm.close(true);

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.ping();
  redis.disconnect();

  const port = await freePort();
  const server = await startDevServer({ port, logLevel: 'error', startTimeoutMs: 90_000 });
  globalThis.__heraldDevServer = server;

  // The same bundle the workers build (with the failure converter their data converter uses).
  const bundle = await bundleWorkflows();
  const bundlePath = join(workDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);

  process.env.HERALD_TEST_DATABASE_URL = databaseUrl;
  process.env.HERALD_TEST_REDIS_URL = redisUrl;
  process.env.HERALD_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.HERALD_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.HERALD_TEST_WORK_DIR = workDir;
}
