/**
 * Development only: when TOKEN_ENCRYPTION_KEYS is unset outside production, a key is generated once
 * and kept in a git-ignored file, so `npm start` works with no setup and tokens survive restarts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config, TokenKey } from '../config';

export function tokenKeysFor(config: Config): TokenKey[] {
  if (config.tokenKeys) return config.tokenKeys;
  if (config.env === 'production') throw new Error('TOKEN_ENCRYPTION_KEYS is required in production');
  return [loadOrCreateDevKey(config.devSecretsFile)];
}

function loadOrCreateDevKey(file: string): TokenKey {
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { keyId: string; key: string };
    return { id: stored.keyId, key: Buffer.from(stored.key, 'base64') };
  }
  const key = { id: 'dev1', key: randomBytes(32) };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ keyId: key.id, key: key.key.toString('base64') }), { mode: 0o600 });
  return key;
}
