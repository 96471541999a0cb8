/** Stops what the e2e global setup started (nothing, when it shared the integration project's services). */
import integrationTeardown from '../support/global-teardown';

export default async function globalTeardown(): Promise<void> {
  if (!globalThis.__heraldE2eStartedServices) return;
  globalThis.__heraldE2eStartedServices = false;
  await integrationTeardown();
}
