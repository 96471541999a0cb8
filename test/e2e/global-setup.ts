/**
 * e2e: build the dashboard into web/dist with Vite's JS API (the app serves it at `/`), then start
 * what the integration tests use — Temporal dev server, a fresh Postgres database, Redis — through
 * their own global setup, which starts them once when both projects run in the same jest process.
 */
import { resolve } from 'node:path';
import integrationSetup from '../support/global-setup';

/** The part of Vite's JS API used here. (Vite's own types need moduleResolution "bundler"; the root tsconfig uses "node".) */
interface ViteApi {
  build(config: { root: string; configFile: string; logLevel: 'warn' }): Promise<unknown>;
}
const VITE = 'vite';

export const webRoot = resolve(__dirname, '..', '..', 'web');

export default async function globalSetup(): Promise<void> {
  const vite = (await import(VITE)) as ViteApi;
  await vite.build({ root: webRoot, configFile: resolve(webRoot, 'vite.config.ts'), logLevel: 'warn' });
  await integrationSetup();
}
