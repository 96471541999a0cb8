import { randomBytes } from 'node:crypto';
import { ConfigError, parseConfig } from '../../src/config';

type Env = Record<string, string | undefined>;

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);
const keyEntry = (id: string, key: Buffer): string => `${id}:${key.toString('base64')}`;

/** Calls parseConfig expecting a ConfigError; returns it. */
function configError(env: Env): ConfigError {
  let thrown: unknown;
  try {
    parseConfig(env);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

describe('parseConfig defaults', () => {
  it('when the environment is empty, then it uses the development defaults', () => {
    const config = parseConfig({});

    expect(config.env).toBe('development');
    expect(config.http).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(config.logLevel).toBe('info');
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/herald');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.temporal.taskQueue).toBe('herald-posts');
    expect(config.temporal.namespace).toBe('default');
    expect(config.temporal.address).toBeUndefined();
    expect(config.temporal.apiKey).toBeUndefined();
    expect(config.temporal.tls).toBeUndefined();
    expect(config.temporal.dev).toEqual({ port: 7233, uiPort: 8233, dbFile: '.herald/temporal-dev.sqlite' });
    expect(config.worker).toEqual({ maxConcurrentActivities: 50, maxCachedWorkflows: 250 });
    expect(config.tokenKeys).toBeUndefined();
    expect(config.platforms).toEqual({
      twitterApiBaseUrl: 'https://api.x.com',
      linkedinApiBaseUrl: 'https://api.linkedin.com',
      linkedinApiVersion: '202610',
      metaGraphApiBaseUrl: 'https://graph.facebook.com',
      metaGraphApiVersion: 'v21.0',
      httpTimeoutMs: 20_000,
    });
    expect(config.sandbox).toBe(true);
  });

  it('when given an explicit env object, then it reads only that object (not process.env)', () => {
    const config = parseConfig({ PORT: '4567', TEMPORAL_TASK_QUEUE: 'only-from-the-argument' });

    expect(config.http.port).toBe(4567);
    expect(config.temporal.taskQueue).toBe('only-from-the-argument');
  });

  it('when values are given, then they replace the defaults', () => {
    const config = parseConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgres://app:pw@db.internal:5432/herald',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'herald-prod',
      TEMPORAL_TASK_QUEUE: 'custom-queue',
      PLATFORM_HTTP_TIMEOUT_MS: '5000',
    });

    expect(config.http).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.logLevel).toBe('debug');
    expect(config.databaseUrl).toBe('postgres://app:pw@db.internal:5432/herald');
    expect(config.temporal.address).toBe('temporal.internal:7233');
    expect(config.temporal.namespace).toBe('herald-prod');
    expect(config.temporal.taskQueue).toBe('custom-queue');
    expect(config.platforms.httpTimeoutMs).toBe(5000);
  });

  it.each([
    ['unset', undefined],
    ['empty', ''],
    ['blank', '   '],
  ])('when TEMPORAL_ADDRESS is %s, then the address is undefined (the embedded dev server is used)', (_label, value) => {
    expect(parseConfig({ TEMPORAL_ADDRESS: value }).temporal.address).toBeUndefined();
  });
});

describe('parseConfig sandbox', () => {
  it('when in development without TWITTER_API_BASE_URL, then platforms are sandboxed', () => {
    expect(parseConfig({ NODE_ENV: 'development' }).sandbox).toBe(true);
  });

  it('when TWITTER_API_BASE_URL is set, then the sandbox is off and that URL is used', () => {
    const config = parseConfig({ TWITTER_API_BASE_URL: 'http://127.0.0.1:9999' });

    expect(config.sandbox).toBe(false);
    expect(config.platforms.twitterApiBaseUrl).toBe('http://127.0.0.1:9999');
  });

  it.each(['0', 'false', 'no'])('when HERALD_SANDBOX=%s, then the sandbox is off even in development', (value) => {
    expect(parseConfig({ HERALD_SANDBOX: value }).sandbox).toBe(false);
  });

  it.each(['1', 'true', 'yes'])('when HERALD_SANDBOX=%s, then the sandbox is on even with TWITTER_API_BASE_URL set', (value) => {
    expect(parseConfig({ HERALD_SANDBOX: value, TWITTER_API_BASE_URL: 'http://127.0.0.1:9999' }).sandbox).toBe(true);
  });

  it('when NODE_ENV is test or production, then the sandbox is off by default', () => {
    expect(parseConfig({ NODE_ENV: 'test' }).sandbox).toBe(false);
    expect(parseConfig({ NODE_ENV: 'production', TOKEN_ENCRYPTION_KEYS: keyEntry('k1', KEY_A) }).sandbox).toBe(false);
  });

  it('when HERALD_SANDBOX is not a recognised flag, then it throws naming HERALD_SANDBOX', () => {
    expect(configError({ HERALD_SANDBOX: 'maybe' }).message).toContain('HERALD_SANDBOX');
  });
});

describe('parseConfig validation', () => {
  it.each(['abc', '70000', '-1', '3.5'])('when PORT is %p, then it throws a ConfigError naming PORT', (value) => {
    const err = configError({ PORT: value });

    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^Invalid configuration:/);
    expect(err.message).toMatch(/\bPORT: /);
  });

  it('when PORT is 0 or 65535, then it is accepted (the bounds are inclusive)', () => {
    expect(parseConfig({ PORT: '0' }).http.port).toBe(0);
    expect(parseConfig({ PORT: '65535' }).http.port).toBe(65535);
  });

  it.each(['not a url', '127.0.0.1:5432/herald'])('when DATABASE_URL is %p, then it throws a ConfigError naming DATABASE_URL', (value) => {
    expect(configError({ DATABASE_URL: value }).message).toContain('DATABASE_URL: ');
  });

  it('when several variables are bad, then the error names each of them', () => {
    const message = configError({ PORT: 'abc', DATABASE_URL: 'nope', LOG_LEVEL: 'loud' }).message;

    expect(message).toMatch(/\bPORT: /);
    expect(message).toContain('DATABASE_URL: ');
    expect(message).toContain('LOG_LEVEL: ');
  });

  it('when NODE_ENV is not a known environment, then it throws naming NODE_ENV', () => {
    expect(configError({ NODE_ENV: 'staging' }).message).toContain('NODE_ENV: ');
  });

  it('when a numeric variable other than PORT is out of range, then the error names that variable', () => {
    expect(configError({ PLATFORM_HTTP_TIMEOUT_MS: '50' }).message).toContain('PLATFORM_HTTP_TIMEOUT_MS: ');
    expect(configError({ TEMPORAL_DEV_PORT: '0' }).message).toContain('TEMPORAL_DEV_PORT: ');
  });
});

describe('parseConfig token encryption keys', () => {
  it('when TOKEN_ENCRYPTION_KEYS has two keys, then both are parsed in order (the first encrypts)', () => {
    const config = parseConfig({ TOKEN_ENCRYPTION_KEYS: `${keyEntry('new-2025', KEY_B)},${keyEntry('old_2024', KEY_A)}` });

    expect(config.tokenKeys).toHaveLength(2);
    expect(config.tokenKeys!.map((k) => k.id)).toEqual(['new-2025', 'old_2024']);
    expect(config.tokenKeys![0]!.key.equals(KEY_B)).toBe(true);
    expect(config.tokenKeys![1]!.key.equals(KEY_A)).toBe(true);
  });

  it('when entries carry spaces or a trailing comma, then they are trimmed and ignored', () => {
    const config = parseConfig({ TOKEN_ENCRYPTION_KEYS: ` ${keyEntry('k1', KEY_A)} , ${keyEntry('k2', KEY_B)} ,` });

    expect(config.tokenKeys!.map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(config.tokenKeys![1]!.key.equals(KEY_B)).toBe(true);
  });

  it.each([
    ['a 16-byte key', `k1:${randomBytes(16).toString('base64')}`],
    ['a missing key id', `:${KEY_A.toString('base64')}`],
    ['no colon at all', KEY_A.toString('base64')],
    ['an id with invalid characters', `bad id!:${KEY_A.toString('base64')}`],
    ['an id longer than 32 characters', `${'k'.repeat(33)}:${KEY_A.toString('base64')}`],
    ['one good and one bad entry', `${keyEntry('k1', KEY_A)},k2:c2hvcnQ=`],
    ['an empty value', ''],
  ])('when TOKEN_ENCRYPTION_KEYS has %s, then it throws a ConfigError naming TOKEN_ENCRYPTION_KEYS', (_label, value) => {
    expect(configError({ TOKEN_ENCRYPTION_KEYS: value }).message).toContain('TOKEN_ENCRYPTION_KEYS: ');
  });

  it('when a key entry is invalid, then the error message does not repeat the key material', () => {
    const secret = randomBytes(31).toString('base64');

    const message = configError({ TOKEN_ENCRYPTION_KEYS: `k1:${secret}` }).message;

    expect(message).toContain('TOKEN_ENCRYPTION_KEYS');
    expect(message).not.toContain(secret);
  });

  it('when in production without TOKEN_ENCRYPTION_KEYS, then it throws a ConfigError naming TOKEN_ENCRYPTION_KEYS', () => {
    const err = configError({ NODE_ENV: 'production' });

    expect(err.message).toContain('TOKEN_ENCRYPTION_KEYS');
    expect(err.message).toMatch(/production/);
  });

  it('when in production with TOKEN_ENCRYPTION_KEYS, then it parses', () => {
    const config = parseConfig({ NODE_ENV: 'production', TOKEN_ENCRYPTION_KEYS: keyEntry('k1', KEY_A) });

    expect(config.env).toBe('production');
    expect(config.tokenKeys!.map((k) => k.id)).toEqual(['k1']);
  });

  it('when in development or test without TOKEN_ENCRYPTION_KEYS, then it parses with no keys (the launcher supplies one)', () => {
    expect(parseConfig({ NODE_ENV: 'development' }).tokenKeys).toBeUndefined();
    expect(parseConfig({ NODE_ENV: 'test' }).tokenKeys).toBeUndefined();
  });
});

describe('parseConfig Temporal TLS', () => {
  it('when TEMPORAL_API_KEY is set, then TLS is enabled and the key is passed on', () => {
    const config = parseConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'tmprl-api-key' });

    expect(config.temporal.apiKey).toBe('tmprl-api-key');
    expect(config.temporal.tls).toEqual({
      clientCertPath: undefined,
      clientKeyPath: undefined,
      serverCaCertPath: undefined,
      serverNameOverride: undefined,
    });
  });

  it('when TEMPORAL_API_KEY is set but TEMPORAL_TLS=false, then TLS is disabled', () => {
    const config = parseConfig({ TEMPORAL_API_KEY: 'tmprl-api-key', TEMPORAL_TLS: 'false' });

    expect(config.temporal.tls).toBeUndefined();
    expect(config.temporal.apiKey).toBe('tmprl-api-key');
  });

  it('when TEMPORAL_TLS=true without any other TLS setting, then TLS is enabled', () => {
    expect(parseConfig({ TEMPORAL_TLS: 'true' }).temporal.tls).toBeDefined();
  });

  it('when a client certificate path is set, then TLS is enabled with the paths and the server name', () => {
    const config = parseConfig({
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/certs/client.pem',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '/certs/client.key',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });

    expect(config.temporal.tls).toEqual({
      clientCertPath: '/certs/client.pem',
      clientKeyPath: '/certs/client.key',
      serverCaCertPath: undefined,
      serverNameOverride: 'temporal.internal',
    });
  });

  it('when only a server CA path is set, then TLS is enabled', () => {
    expect(parseConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/certs/ca.pem' }).temporal.tls?.serverCaCertPath).toBe('/certs/ca.pem');
  });

  it('when TEMPORAL_API_KEY is empty, then it counts as unset and TLS stays off', () => {
    const config = parseConfig({ TEMPORAL_API_KEY: '' });

    expect(config.temporal.apiKey).toBeUndefined();
    expect(config.temporal.tls).toBeUndefined();
  });

  it('when TEMPORAL_TLS is not a recognised flag, then it throws naming TEMPORAL_TLS', () => {
    expect(configError({ TEMPORAL_TLS: 'on' }).message).toContain('TEMPORAL_TLS: ');
  });
});

describe('TOKEN_ENCRYPTION_KEYS with a repeated key id', () => {
  it('when two entries share an id, then parsing fails naming the variable', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(() => parseConfig({ TOKEN_ENCRYPTION_KEYS: `a:${key},a:${key}` })).toThrow(/TOKEN_ENCRYPTION_KEYS: key ids must be unique/);
  });
});

describe('parseConfig operator surfaces', () => {
  test('when nothing is set, then unauthenticated codec decoding is off and /metrics has no token (loopback only)', () => {
    const config = parseConfig({});
    expect(config.temporal.codec.allowUnauthenticated).toBe(false);
    expect(config.temporal.codec.maxBodyBytes).toBe(1024 * 1024);
    expect(config.metricsToken).toBeUndefined();
  });

  test('when the operator turns unauthenticated decoding on for development, then it is on; in production it is refused', () => {
    expect(parseConfig({ TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED: 'true' }).temporal.codec.allowUnauthenticated).toBe(true);
    const production = { NODE_ENV: 'production', TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`, TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED: 'true' };
    expect(() => parseConfig(production)).toThrow(/TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED: only for local development/);
  });

  test('when METRICS_TOKEN is short, then the config names it; an empty one means unset', () => {
    expect(() => parseConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: must be at least 16 characters/);
    expect(parseConfig({ METRICS_TOKEN: '' }).metricsToken).toBeUndefined();
    expect(parseConfig({ METRICS_TOKEN: 'a-long-enough-metrics-token' }).metricsToken).toBe('a-long-enough-metrics-token');
  });

  test('when the codec body limit is beyond 8 MiB, then the config refuses it', () => {
    expect(() => parseConfig({ TEMPORAL_CODEC_MAX_BODY_BYTES: String(16 * 1024 * 1024) })).toThrow(/TEMPORAL_CODEC_MAX_BODY_BYTES/);
  });
});
