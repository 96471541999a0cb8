/**
 * Connection options for client and worker from the standard TEMPORAL_* settings:
 * address, namespace, API key and (m)TLS, so the same build runs against the dev server,
 * a self-hosted cluster or Temporal Cloud.
 */
import { readFileSync } from 'node:fs';
import type { DataConverter, TLSConfig } from '@temporalio/client';
import type { Config } from '../config';

export interface TemporalTarget {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: TLSConfig;
  /** Client and worker must share it: the payload codec (encryption) and the failure converter. */
  dataConverter?: DataConverter;
}

export function temporalTarget(config: Config['temporal'], address: string, dataConverter?: DataConverter): TemporalTarget {
  return { address, namespace: config.namespace, apiKey: config.apiKey, tls: tlsConfig(config.tls), ...(dataConverter ? { dataConverter } : {}) };
}

function tlsConfig(tls: Config['temporal']['tls']): TLSConfig | undefined {
  if (!tls) return undefined;
  const result: TLSConfig = {};
  if (tls.serverNameOverride) result.serverNameOverride = tls.serverNameOverride;
  if (tls.serverCaCertPath) result.serverRootCACertificate = readFileSync(tls.serverCaCertPath);
  if (tls.clientCertPath && tls.clientKeyPath) {
    result.clientCertPair = { crt: readFileSync(tls.clientCertPath), key: readFileSync(tls.clientKeyPath) };
  }
  return result;
}
