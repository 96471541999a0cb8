/**
 * e2e: build the dashboard into web/dist with Vite's JS API (the app serves it at `/`), then start
 * what the integration tests use — Temporal dev server, a fresh Postgres database, Redis — through
 * their own global setup. When the integration project runs in the same jest process its setup has
 * already done that (and exported the HERALD_TEST_* variables): then share it.
 */
import { resolve } from 'node:path';
import integrationSetup from '../support/global-setup';

/** The part of Vite's JS API used here. (Vite's own types need moduleResolution "bundler"; the root tsconfig uses "node".) */
interface ViteApi {
  build(config: { root: string; configFile: string; logLevel: 'warn' }): Promise<unknown>;
}
const VITE = 'vite';

declare global {
  var __heraldE2eStartedServices: boolean | undefined;
}

export const webRoot = resolve(__dirname, '..', '..', 'web');

export default async function globalSetup(): Promise<void> {
  const vite = (await import(VITE)) as ViteApi;
  await vite.build({ root: webRoot, configFile: resolve(webRoot, 'vite.config.ts'), logLevel: 'warn' });
  if (globalThis.__heraldDevServer) return;
  await integrationSetup();
  globalThis.__heraldE2eStartedServices = true;
}
