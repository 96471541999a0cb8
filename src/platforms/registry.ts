import type { Config } from '../config';
import type { Platform } from '../domain/types';
import { FacebookPublisher } from './facebook';
import { keepAliveHttp } from './http';
import { InstagramPublisher } from './instagram';
import { LinkedInPublisher } from './linkedin';
import type { Publisher } from './publisher';
import { XPublisher } from './x';

/** Every platform of the contract has a publisher: the compiler checks the record is complete. */
export function createPublishers(config: Pick<Config, 'platforms'>): Record<Platform, Publisher> {
  const { platforms } = config;
  const timeoutMs = platforms.httpTimeoutMs;
  // One keep-alive client for every platform: cheaper than fetch per request (./http.ts).
  const http = keepAliveHttp();
  const meta = { baseUrl: platforms.metaGraphApiBaseUrl, apiVersion: platforms.metaGraphApiVersion, timeoutMs, http };
  return {
    twitter: new XPublisher({ baseUrl: platforms.twitterApiBaseUrl, timeoutMs, http }),
    linkedin: new LinkedInPublisher({ baseUrl: platforms.linkedinApiBaseUrl, apiVersion: platforms.linkedinApiVersion, timeoutMs, throttleBackoffMs: platforms.linkedinThrottleBackoffMs, http }),
    facebook: new FacebookPublisher(meta),
    instagram: new InstagramPublisher(meta),
  };
}
