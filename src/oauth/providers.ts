/**
 * Which OAuth provider connects which platform, and the resolved endpoints of each provider.
 * X connects `twitter`; LinkedIn connects `linkedin` (a person); Meta connects `facebook` (Pages)
 * and `instagram` (the professional accounts linked to those Pages).
 */
import type { Config, OAuthProviderConfig } from '../config';
import type { Platform } from '../domain/types';

export type ProviderName = 'x' | 'linkedin' | 'meta';

export interface XProvider extends OAuthProviderConfig {
  /** GET <apiBaseUrl>/2/users/me identifies the user. */
  apiBaseUrl: string;
}

export interface LinkedInProvider extends OAuthProviderConfig {
  /** GET <apiBaseUrl>/v2/userinfo identifies the member (OpenID Connect). */
  apiBaseUrl: string;
}

export interface MetaProvider extends OAuthProviderConfig {
  /** <graphBaseUrl>/<graphVersion>/me/accounts lists the Pages with their tokens. */
  graphBaseUrl: string;
  graphVersion: string;
}

export interface OAuthProviders {
  x: XProvider;
  linkedin: LinkedInProvider;
  meta: MetaProvider;
  timeoutMs: number;
}

/** What the API's OAuth routes need: the providers, where the browser comes back, how long a state lives. */
export interface OAuthSettings {
  providers: OAuthProviders;
  /** Public origin of the API; undefined: the origin of the request that starts the flow. */
  publicBaseUrl?: string;
  stateTtlSeconds: number;
}

export const providerOf: Record<Platform, ProviderName> = {
  twitter: 'x',
  linkedin: 'linkedin',
  facebook: 'meta',
  instagram: 'meta',
};

/** The variable to set when a provider has no client id. */
export const clientIdVariable: Record<ProviderName, string> = { x: 'X_CLIENT_ID', linkedin: 'LINKEDIN_CLIENT_ID', meta: 'META_APP_ID' };

export function oauthProvidersFromConfig(config: Pick<Config, 'oauth' | 'platforms'>): OAuthProviders {
  const { oauth, platforms } = config;
  return {
    x: { ...oauth.x, apiBaseUrl: platforms.twitterApiBaseUrl },
    linkedin: { ...oauth.linkedin, apiBaseUrl: platforms.linkedinApiBaseUrl },
    meta: { ...oauth.meta, graphBaseUrl: platforms.metaGraphApiBaseUrl, graphVersion: platforms.metaGraphApiVersion },
    timeoutMs: platforms.httpTimeoutMs,
  };
}

export function oauthSettingsFromConfig(config: Pick<Config, 'oauth' | 'platforms'>, providers = oauthProvidersFromConfig(config)): OAuthSettings {
  return { providers, publicBaseUrl: config.oauth.publicBaseUrl, stateTtlSeconds: config.oauth.stateTtlSeconds };
}
