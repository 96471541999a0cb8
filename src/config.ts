/**
 * The only place that reads process.env. One zod schema, parsed once, failing fast with a message
 * that names the variable.
 */
import { z } from 'zod';

const booleanFlag = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no'])
  .transform((value) => value === '1' || value === 'true' || value === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

/** Token encryption keys: "keyId:base64key[,keyId:base64key…]"; the first one encrypts. */
const tokenKeys = z
  .string()
  .transform((raw, ctx) => {
    const keys = raw.split(',').map((entry) => entry.trim()).filter(Boolean).map((entry) => {
      const [id, material] = entry.split(':');
      return { id: id ?? '', key: Buffer.from(material ?? '', 'base64') };
    });
    for (const { id, key } of keys) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        ctx.addIssue({ code: 'custom', message: 'each entry must be "keyId:<32 bytes in base64>"' });
        return z.NEVER;
      }
    }
    if (new Set(keys.map(({ id }) => id)).size !== keys.length) {
      ctx.addIssue({ code: 'custom', message: 'key ids must be unique' });
      return z.NEVER;
    }
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one key is required' });
      return z.NEVER;
    }
    return keys;
  });

/** A rate limit, "<count>/<window>": `20/1h`, `100/1m`, `5/30s`, `1000/1d` (a bare unit means 1 of it: `20/hour`). */
const rateLimitSpec = z.string().transform((raw, ctx) => {
  const match = /^\s*(\d+)\s*\/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hr|hour|d|day)s?\s*$/i.exec(raw);
  const count = Number(match?.[1]);
  const amount = match?.[2] ? Number(match[2]) : 1;
  if (!match || !Number.isSafeInteger(count) || count < 1 || amount < 1) {
    ctx.addIssue({ code: 'custom', message: 'must look like "20/1h", "100/1m" or "5/30s" (a count of at least 1 per a window)' });
    return z.NEVER;
  }
  const unitMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return { limit: count, windowMs: amount * unitMs[match[3]!.toLowerCase()[0]!]! };
});

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/herald'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),

  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS: booleanFlag.optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: optionalString,
  TEMPORAL_TLS_CLIENT_KEY_PATH: optionalString,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: optionalString,
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  TEMPORAL_TASK_QUEUE: z.string().default('herald-posts'),
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_DEV_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  TEMPORAL_DEV_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  TEMPORAL_DEV_DB_FILE: z.string().default('.herald/temporal-dev.sqlite'),
  TEMPORAL_WEB_UI_URL: z.string().url().default('http://localhost:8233'),
  TEMPORAL_PAYLOAD_KEYS: tokenKeys.optional(),
  TEMPORAL_CODEC_CORS_ORIGINS: optionalString,
  TEMPORAL_CODEC_API_KEY: optionalString,
  TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED: booleanFlag.optional(),
  TEMPORAL_CODEC_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(8 * 1024 * 1024).default(1024 * 1024),
  METRICS_TOKEN: optionalString.refine((value) => value === undefined || value.length >= 16, 'must be at least 16 characters'),

  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(50),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(250),
  WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  WORKER_UNREACHABLE_EXIT_AFTER_MS: z.coerce.number().int().min(500).default(60_000),
  WORKER_SDK_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),

  TOKEN_ENCRYPTION_KEYS: tokenKeys.optional(),
  DEV_SECRETS_FILE: z.string().default('.herald/dev-secrets.json'),

  TWITTER_API_BASE_URL: z.string().url().optional(),
  LINKEDIN_API_BASE_URL: z.string().url().optional(),
  LINKEDIN_API_VERSION: z.string().regex(/^\d{6}$/, 'must be YYYYMM').default('202610'),
  META_GRAPH_API_BASE_URL: z.string().url().optional(),
  META_GRAPH_API_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v21.0').default('v21.0'),
  // At most 40 s: the publish activity's 3-minute start-to-close must hold a reconciliation, the send
  // budget, one request and the settle margin (docs/EXACTLY-ONCE.md "Fenced attempts").
  PLATFORM_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(40_000).default(20_000),
  HERALD_SANDBOX: booleanFlag.optional(),
  LINKEDIN_THROTTLE_BACKOFF_MS: z.coerce.number().int().min(1000).optional(),

  RATE_LIMIT_ENABLED: booleanFlag.optional(),
  RATE_LIMIT_PUBLISH: rateLimitSpec.default({ limit: 20, windowMs: 3_600_000 }),
  RATE_LIMIT_MULTI_PLATFORM: rateLimitSpec.default({ limit: 10, windowMs: 3_600_000 }),
  RATE_LIMIT_SCHEDULE: rateLimitSpec.default({ limit: 50, windowMs: 3_600_000 }),
  RATE_LIMIT_LIST: rateLimitSpec.default({ limit: 100, windowMs: 60_000 }),
  RATE_LIMIT_CANCEL: rateLimitSpec.default({ limit: 100, windowMs: 3_600_000 }),
  RATE_LIMIT_ACCOUNTS: rateLimitSpec.default({ limit: 60, windowMs: 3_600_000 }),
  RATE_LIMIT_CODEC: rateLimitSpec.default({ limit: 600, windowMs: 60_000 }),
  RATE_LIMIT_KEY_PREFIX: z.string().min(1).default('herald:rl:'),
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(20),

  PUBLIC_BASE_URL: z.string().url().optional(),
  OAUTH_STATE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(600),
  X_CLIENT_ID: optionalString,
  X_CLIENT_SECRET: optionalString,
  X_OAUTH_AUTHORIZE_URL: z.string().url().default('https://x.com/i/oauth2/authorize'),
  X_OAUTH_TOKEN_URL: z.string().url().optional(),
  LINKEDIN_CLIENT_ID: optionalString,
  LINKEDIN_CLIENT_SECRET: optionalString,
  LINKEDIN_OAUTH_AUTHORIZE_URL: z.string().url().default('https://www.linkedin.com/oauth/v2/authorization'),
  LINKEDIN_OAUTH_TOKEN_URL: z.string().url().default('https://www.linkedin.com/oauth/v2/accessToken'),
  LINKEDIN_OAUTH_SCOPES: z.string().default('openid profile w_member_social'),
  META_APP_ID: optionalString,
  META_APP_SECRET: optionalString,
  META_OAUTH_AUTHORIZE_URL: z.string().url().optional(),
  META_OAUTH_SCOPES: z.string().default('pages_show_list,pages_read_engagement,pages_manage_posts,instagram_basic,instagram_content_publish,business_management'),
  TOKEN_REFRESH_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(1440).default(10),
  TOKEN_REFRESH_WINDOW_MINUTES: z.coerce.number().int().min(1).max(10080).default(30),
  RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  RECONCILE_GRACE_SECONDS: z.coerce.number().int().min(5).max(3600).default(30),
  RECONCILE_ORPHAN_SWEEP_MINUTES: z.coerce.number().int().min(1).max(1440).default(10),
  // Media uploads (issue #13): the most any of X, LinkedIn, Facebook and Instagram takes, per kind (docs/API-CHANGES.md).
  MEDIA_MAX_IMAGE_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(10 * 1024 * 1024),
  MEDIA_MAX_GIF_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(15 * 1024 * 1024),
  MEDIA_MAX_VIDEO_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024 * 1024).default(1024 * 1024 * 1024),
  // The month view's answer cache, per API process (src/api/calendar.ts): answers kept, least recently used out first; 0: off.
  CALENDAR_CACHE_MAX_BYTES: z.coerce.number().int().min(0).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
});

export type ConfigVariable = keyof typeof envSchema.shape;

/** Every variable the schema reads, taken from the schema itself (for .env.example and compose checks). */
export const configVariables = Object.keys(envSchema.shape) as ConfigVariable[];

/**
 * Variables that matter only to `npm start` on a developer machine (the embedded dev server, the
 * generated dev key): a deployed api or worker never needs them.
 */
export const developmentOnlyVariables = [
  'TEMPORAL_CLI_PATH',
  'TEMPORAL_DEV_PORT',
  'TEMPORAL_DEV_UI_PORT',
  'TEMPORAL_DEV_DB_FILE',
  'DEV_SECRETS_FILE',
] as const satisfies readonly ConfigVariable[];

export type TokenKey = { id: string; key: Buffer };

export type Config = {
  env: 'development' | 'test' | 'production';
  http: { host: string; port: number };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  databaseUrl: string;
  redisUrl: string;
  temporal: {
    /** Undefined means: spawn the embedded dev server (`npm start`). */
    address?: string;
    namespace: string;
    apiKey?: string;
    tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaCertPath?: string; serverNameOverride?: string };
    taskQueue: string;
    cliPath?: string;
    dev: { port: number; uiPort: number; dbFile: string };
    webUiUrl: string;
    /** Payload codec keys, same format as the token keys; undefined: derived from the token keys outside production. */
    payloadKeys?: TokenKey[];
    /**
     * The codec endpoint (/codec): Web UI origins allowed by CORS, an operator key accepted as Bearer,
     * the body limit, and whether the local dev Web UI may decode without Authorization
     * (TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED: explicit, never in production, loopback only).
     */
    codec: { corsOrigins: string[]; apiKey?: string; allowUnauthenticated: boolean; maxBodyBytes: number };
  };
  worker: { maxConcurrentActivities: number; maxCachedWorkflows: number };
  workerHealth: {
    /** /healthz, /readyz and /metrics of a worker process, on HOST. */
    port: number;
    /** A worker that cannot reach Temporal for this long exits 1, so its orchestrator restarts it. */
    unreachableExitAfterMs: number;
    /** Loopback port of the Temporal SDK's Prometheus exporter, re-served on the health port's /metrics; 0 turns it off. */
    sdkMetricsPort: number;
  };
  /** METRICS_TOKEN: Bearer token for /metrics (API and worker); unset: loopback clients only. */
  metricsToken?: string;
  /** Undefined only in development/test, where the launcher supplies a generated dev key. */
  tokenKeys?: TokenKey[];
  devSecretsFile: string;
  platforms: {
    twitterApiBaseUrl: string;
    linkedinApiBaseUrl: string;
    linkedinApiVersion: string;
    metaGraphApiBaseUrl: string;
    metaGraphApiVersion: string;
    httpTimeoutMs: number;
    /** Wait after LinkedIn's 429 (its limits reset at 00:00 UTC, when this is unset). */
    linkedinThrottleBackoffMs?: number;
  };
  /** Platforms are replaced by local fakes (`npm start` default in development without platform URLs). */
  sandbox: boolean;
  /** Per-user API rate limits, counted in Redis (see src/api/rate-limit.ts). */
  rateLimit: RateLimitConfig;
  /** Failed API-key authentications per client IP per minute before 429 (src/api/auth.ts); 0: unlimited. On with rateLimit.enabled. */
  authFailuresPerMinute: number;
  oauth: OAuthConfig;
  /** The `herald-reconcile` Schedule (docs/EXACTLY-ONCE.md "The reconciler"). */
  reconcile: { intervalSeconds: number; graceSeconds: number; orphanSweepMinutes: number };
  /** Uploads: bytes a media of each kind may weigh (src/media/inspect.ts). */
  media: { maxBytes: { image: number; gif: number; video: number } };
  /** The calendar's answer cache: bytes of answers an API process keeps (src/api/calendar.ts); 0: off. */
  calendarCacheMaxBytes: number;
};

/** One provider's OAuth endpoints and client credentials (no client id: connecting through OAuth is off). */
export interface OAuthProviderConfig {
  clientId?: string;
  clientSecret?: string;
  authorizeUrl: string;
  tokenUrl: string;
  scopes: string;
}

export interface OAuthConfig {
  /** Public origin of the API (redirect URIs, the dashboard); undefined: taken from the request. */
  publicBaseUrl?: string;
  stateTtlSeconds: number;
  x: OAuthProviderConfig;
  linkedin: OAuthProviderConfig;
  /** Token endpoint and Graph calls derive from META_GRAPH_API_BASE_URL and META_GRAPH_API_VERSION. */
  meta: OAuthProviderConfig;
  refresh: { intervalMinutes: number; windowMinutes: number };
}

export type RateLimitRule = { limit: number; windowMs: number };
export type RateLimitConfig = {
  /** Off when RATE_LIMIT_ENABLED says so, and by default under NODE_ENV=test (test suites share one Redis). */
  enabled: boolean;
  /** Prefix of the Redis keys; API instances that share limits use the same one. */
  keyPrefix: string;
  publish: RateLimitRule;
  multiPlatform: RateLimitRule;
  schedule: RateLimitRule;
  list: RateLimitRule;
  cancel: RateLimitRule;
  /** Writes to accounts (connect, disconnect, OAuth start). */
  accounts: RateLimitRule;
  /** /codec calls per caller (operator key, API key's user, or the dev UI's address). */
  codec: RateLimitRule;
};

export class ConfigError extends Error {}

export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.TOKEN_ENCRYPTION_KEYS) {
    throw new ConfigError('Invalid configuration:\n  TOKEN_ENCRYPTION_KEYS: required in production');
  }
  if (e.NODE_ENV === 'production' && e.TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED) {
    throw new ConfigError('Invalid configuration:\n  TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED: only for local development, never in production');
  }
  const wantsTls =
    e.TEMPORAL_TLS ?? Boolean(e.TEMPORAL_API_KEY || e.TEMPORAL_TLS_CLIENT_CERT_PATH || e.TEMPORAL_TLS_SERVER_CA_CERT_PATH);
  return {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT },
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: wantsTls
        ? {
            clientCertPath: e.TEMPORAL_TLS_CLIENT_CERT_PATH,
            clientKeyPath: e.TEMPORAL_TLS_CLIENT_KEY_PATH,
            serverCaCertPath: e.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
            serverNameOverride: e.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      cliPath: e.TEMPORAL_CLI_PATH,
      dev: { port: e.TEMPORAL_DEV_PORT, uiPort: e.TEMPORAL_DEV_UI_PORT, dbFile: e.TEMPORAL_DEV_DB_FILE },
      webUiUrl: e.TEMPORAL_WEB_UI_URL,
      payloadKeys: e.TEMPORAL_PAYLOAD_KEYS,
      codec: { corsOrigins: codecCorsOrigins(e.TEMPORAL_CODEC_CORS_ORIGINS, e.TEMPORAL_DEV_UI_PORT, e.TEMPORAL_WEB_UI_URL), apiKey: e.TEMPORAL_CODEC_API_KEY, allowUnauthenticated: e.TEMPORAL_CODEC_ALLOW_UNAUTHENTICATED ?? false, maxBodyBytes: e.TEMPORAL_CODEC_MAX_BODY_BYTES },
    },
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
    },
    workerHealth: {
      port: e.WORKER_HEALTH_PORT,
      unreachableExitAfterMs: e.WORKER_UNREACHABLE_EXIT_AFTER_MS,
      sdkMetricsPort: e.WORKER_SDK_METRICS_PORT,
    },
    metricsToken: e.METRICS_TOKEN,
    tokenKeys: e.TOKEN_ENCRYPTION_KEYS,
    devSecretsFile: e.DEV_SECRETS_FILE,
    platforms: {
      twitterApiBaseUrl: e.TWITTER_API_BASE_URL ?? 'https://api.x.com',
      linkedinApiBaseUrl: e.LINKEDIN_API_BASE_URL ?? 'https://api.linkedin.com',
      linkedinApiVersion: e.LINKEDIN_API_VERSION,
      metaGraphApiBaseUrl: e.META_GRAPH_API_BASE_URL ?? 'https://graph.facebook.com',
      metaGraphApiVersion: e.META_GRAPH_API_VERSION,
      httpTimeoutMs: e.PLATFORM_HTTP_TIMEOUT_MS,
      linkedinThrottleBackoffMs: e.LINKEDIN_THROTTLE_BACKOFF_MS,
    },
    sandbox:
      e.HERALD_SANDBOX ??
      (e.NODE_ENV === 'development' && !e.TWITTER_API_BASE_URL && !e.LINKEDIN_API_BASE_URL && !e.META_GRAPH_API_BASE_URL),
    rateLimit: {
      enabled: e.RATE_LIMIT_ENABLED ?? e.NODE_ENV !== 'test',
      keyPrefix: e.RATE_LIMIT_KEY_PREFIX,
      publish: e.RATE_LIMIT_PUBLISH,
      multiPlatform: e.RATE_LIMIT_MULTI_PLATFORM,
      schedule: e.RATE_LIMIT_SCHEDULE,
      list: e.RATE_LIMIT_LIST,
      cancel: e.RATE_LIMIT_CANCEL,
      accounts: e.RATE_LIMIT_ACCOUNTS,
      codec: e.RATE_LIMIT_CODEC,
    },
    authFailuresPerMinute: e.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE,
    oauth: {
      publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
      stateTtlSeconds: e.OAUTH_STATE_TTL_SECONDS,
      x: {
        clientId: e.X_CLIENT_ID,
        clientSecret: e.X_CLIENT_SECRET,
        authorizeUrl: e.X_OAUTH_AUTHORIZE_URL,
        tokenUrl: e.X_OAUTH_TOKEN_URL ?? `${e.TWITTER_API_BASE_URL ?? 'https://api.x.com'}/2/oauth2/token`,
        scopes: 'tweet.read tweet.write users.read offline.access',
      },
      linkedin: {
        clientId: e.LINKEDIN_CLIENT_ID,
        clientSecret: e.LINKEDIN_CLIENT_SECRET,
        authorizeUrl: e.LINKEDIN_OAUTH_AUTHORIZE_URL,
        tokenUrl: e.LINKEDIN_OAUTH_TOKEN_URL,
        scopes: e.LINKEDIN_OAUTH_SCOPES,
      },
      meta: {
        clientId: e.META_APP_ID,
        clientSecret: e.META_APP_SECRET,
        authorizeUrl: e.META_OAUTH_AUTHORIZE_URL ?? `https://www.facebook.com/${e.META_GRAPH_API_VERSION}/dialog/oauth`,
        tokenUrl: `${e.META_GRAPH_API_BASE_URL ?? 'https://graph.facebook.com'}/${e.META_GRAPH_API_VERSION}/oauth/access_token`,
        scopes: e.META_OAUTH_SCOPES,
      },
      refresh: { intervalMinutes: e.TOKEN_REFRESH_INTERVAL_MINUTES, windowMinutes: e.TOKEN_REFRESH_WINDOW_MINUTES },
    },
    reconcile: {
      intervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
      graceSeconds: e.RECONCILE_GRACE_SECONDS,
      orphanSweepMinutes: e.RECONCILE_ORPHAN_SWEEP_MINUTES,
    },
    media: { maxBytes: { image: e.MEDIA_MAX_IMAGE_BYTES, gif: e.MEDIA_MAX_GIF_BYTES, video: e.MEDIA_MAX_VIDEO_BYTES } },
    calendarCacheMaxBytes: e.CALENDAR_CACHE_MAX_BYTES,
  };
}

/** Comma-separated origins; by default the dev Web UI (localhost and 127.0.0.1) and TEMPORAL_WEB_UI_URL's origin. */
function codecCorsOrigins(raw: string | undefined, uiPort: number, webUiUrl: string): string[] {
  if (raw) return raw.split(',').map((origin) => origin.trim().replace(/\/+$/, '')).filter(Boolean);
  return [...new Set([`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`, new URL(webUiUrl).origin])];
}

let cached: Config | undefined;

/** The process-wide config, parsed once. */
export function loadConfig(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}
