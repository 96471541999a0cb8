/**
 * Sandbox mode: the fake OAuth servers of X, LinkedIn and Meta run inside the app, so "Connect"
 * can be tried without real accounts. Their consent pages agree at once and send the browser back
 * with a code; the tokens they issue are stored like real ones, and the sandbox's platform fakes
 * accept any token stored for an account (src/sandbox).
 */
import type { Logger } from '../logger';
import { FakeOAuthServer } from '../../test/fakes/oauth-fake';
import type { OAuthProviders } from './providers';

export interface SandboxOAuth {
  providers: OAuthProviders;
  stop(): Promise<void>;
}

export async function startSandboxOAuth(logger: Logger, timeoutMs: number): Promise<SandboxOAuth> {
  const fake = new FakeOAuthServer();
  const baseUrl = await fake.start();
  logger.warn({ baseUrl }, 'SANDBOX MODE: connecting accounts goes through a local fake OAuth server, not the real providers');
  return { providers: fake.providers(timeoutMs), stop: () => fake.stop() };
}
