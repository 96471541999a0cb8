/**
 * createApp(deps): the Express app, with `start`/`stop` for tests (port 0) and for `npm start`.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import express, { type Express } from 'express';
import { RequestContext } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import type { Logger } from '../logger';
import type { PublisherRegistry } from '../platforms/publisher';
import type { TokenCipher } from '../security/token-cipher';
import type { HeraldEvents } from '../observability/events';
import { httpMetrics, metricsEndpoint, rememberRouteBase } from '../observability/http-metrics';
import { authFailureLimiter, authFailureSettingsFromConfig, requireApiKey, type AuthFailureLimitSettings } from './auth';
import { errorMiddleware, HttpError, methodNotAllowed, optionsOfKnownPaths, requireJsonBody, unknownRoute } from './errors';
import { checkHealth } from './health';
import { buildOpenApiDocument, knownPathsOf } from './openapi';
import { PostService } from './post-service';
import { accountRoutes } from './routes/accounts';
import { keyRoutes } from './routes/keys';
import { isMediaUpload, mediaRoutes } from './routes/media';
import { PostgresMediaStorage, type MediaStorage } from '../media/storage';
import type { MediaLimits } from '../media/inspect';
import { oauthCallbackRoutes, oauthStartRoutes } from './routes/oauth';
import { oauthSettingsFromConfig, type OAuthSettings } from '../oauth/providers';
import { postRoutes } from './routes/posts';
import { sandboxRoutes, type SandboxFakes } from './routes/sandbox';
import { codecRateLimit, rateLimits, type RateLimitSettings } from './rate-limit';
import { idempotencyKey } from './post-creation';
import { loadConfig } from '../config';
import { codecCallerKey, codecRoutes, type CodecRouteOptions } from './routes/codec';
import { DASHBOARD_NOT_BUILT_HTML, securityHeaders } from './security-headers';
import { metricsAccess } from '../observability/metrics-access';
import { isForwarded } from '../security/credentials';

export interface AppDeps {
  orm: MikroORM;
  temporal: Client;
  redis: Redis;
  taskQueue: string;
  publishers: PublisherRegistry;
  cipher: TokenCipher;
  logger: Logger;
  /** Static files of the dashboard; defaults to web/dist when built, else web/. */
  webRoot?: string;
  now?: () => Date;
  /** Sandbox mode: the in-app fakes, whose received posts the API shows. */
  sandbox?: SandboxFakes;
  events?: HeraldEvents;
  /** Where request metrics go and what `GET /metrics` serves; a private registry when omitted. */
  metricsRegistry?: Registry;
  /** OAuth providers for connecting accounts (GET /api/v2/oauth/...); from the config when omitted. */
  oauth?: OAuthSettings;
  /** Per-user rate limits (Redis); from the config (RATE_LIMIT_*) when omitted. */
  rateLimits?: RateLimitSettings;
  /** Failed authentications per client IP (Redis); from the config (RATE_LIMIT_ENABLED, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE) when omitted. */
  authFailureLimit?: AuthFailureLimitSettings;
  /** The Temporal Web UI codec endpoint (/codec/decode, /codec/encode); not served when omitted. */
  codec?: CodecRouteOptions;
  /** METRICS_TOKEN: Bearer token for GET /metrics; unset: loopback clients only (src/observability/metrics-access.ts). */
  metricsToken?: string;
  /** Media (/api/v2/media): the store (Postgres by default) and the bytes each kind may weigh (MEDIA_MAX_*_BYTES when omitted). */
  media?: { storage?: MediaStorage; limits?: MediaLimits; maxConcurrentUploads?: number };
  /** Bytes of month-view answers the calendar caches (src/api/calendar.ts); CALENDAR_CACHE_MAX_BYTES when omitted, 0: off. */
  calendarCacheMaxBytes?: number;
}

/** POST /publish, /publish/multi-platform and /schedule (as Express matches them: any case, an optional trailing slash). */
const CREATING_ROUTES = /^\/(?:schedule|publish|publish\/multi-platform)\/?$/i;

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(securityHeaders());
  const posts = new PostService({ orm: deps.orm, temporal: deps.temporal, taskQueue: deps.taskQueue, publishers: deps.publishers, now: deps.now, events: deps.events, logger: deps.logger,
    calendarCacheMaxBytes: deps.calendarCacheMaxBytes ?? loadConfig().calendarCacheMaxBytes });
  const openApi = buildOpenApiDocument();
  const knownPaths = knownPathsOf(openApi);
  const metricsRegistry = deps.metricsRegistry ?? new Registry();
  app.use(httpMetrics(metricsRegistry));
  // OPTIONS on a documented path: exactly its documented methods in Allow (src/api/errors.ts).
  app.use(optionsOfKnownPaths(knownPaths));

  app.get('/metrics', (req, _res, next) => {
    const access = metricsAccess({ authorization: req.get('authorization'), peerAddress: req.socket.remoteAddress, forwarded: isForwarded(req.headers) }, deps.metricsToken);
    next(access.allowed ? undefined : new HttpError('unauthorized', access.reason));
  }, metricsEndpoint(metricsRegistry));
  // What is down, never why (error text names hosts and drivers): the reasons go to the log.
  app.get('/health', async (_req, res) => {
    const { problems, ...health } = await checkHealth({ orm: deps.orm, redis: deps.redis, temporal: deps.temporal, taskQueue: deps.taskQueue });
    if (Object.keys(problems).length) deps.logger.warn({ problems }, 'health check failing');
    res.status(health.status === 'ok' ? 200 : 503).json(deps.sandbox ? { ...health, sandbox: true } : health);
  });
  app.get('/api/v2/openapi.json', (_req, res) => res.json(openApi));
  // One API-key check for the API and the codec, counting failed attempts per client IP.
  const apiKeyAuth = requireApiKey({ orm: deps.orm, now: deps.now, failures: authFailureLimiter({ redis: deps.redis, logger: deps.logger, settings: deps.authFailureLimit ?? authFailureSettingsFromConfig(loadConfig()) }) });
  const rateLimitSettings = deps.rateLimits ?? loadConfig().rateLimit;
  if (deps.codec) {
    const rateLimit = codecRateLimit({ redis: deps.redis, logger: deps.logger, settings: rateLimitSettings, keyOf: codecCallerKey });
    app.use('/codec', codecRoutes({ ...deps.codec, orm: deps.orm, tenantAuth: apiKeyAuth, rateLimit }));
  }

  const api = express.Router();
  api.use(rememberRouteBase);
  // A media upload is the one multipart body (src/api/routes/media.ts streams it).
  api.use((req, res, next) => (isMediaUpload(req) ? next() : requireJsonBody(req, res, next)));
  api.use(express.json({ limit: '256kb' }));
  // A request's own EntityManager (a fork, in AsyncLocalStorage) for the routes that use entities.
  // The creating routes do not: they run SQL of their own (post-creation.ts, the service's explicit
  // forks), so a create skips the fork.
  api.use((req, _res, next) => (req.method === 'POST' && CREATING_ROUTES.test(req.path) ? next() : RequestContext.create(deps.orm.em, next)));
  const oauth = { orm: deps.orm, redis: deps.redis, cipher: deps.cipher, logger: deps.logger, now: deps.now, oauth: deps.oauth ?? oauthSettingsFromConfig(loadConfig()) };
  // The provider sends the browser back without an API key: the one-time state authenticates the callback.
  api.use(oauthCallbackRoutes(oauth));
  api.use(apiKeyAuth);
  api.use(rateLimits({ redis: deps.redis, logger: deps.logger, settings: rateLimitSettings }));
  // The posts first: the creates are the hot path (their paths are no other router's).
  api.use(postRoutes(posts, deps.now, idempotencyKey()));
  api.use(accountRoutes({ orm: deps.orm, cipher: deps.cipher }));
  api.use(keyRoutes({ orm: deps.orm, now: deps.now }));
  api.use(mediaRoutes({ storage: deps.media?.storage ?? new PostgresMediaStorage(deps.orm), limits: deps.media?.limits ?? loadConfig().media.maxBytes, maxConcurrentUploads: deps.media?.maxConcurrentUploads, logger: deps.logger }));
  api.use(oauthStartRoutes(oauth));
  if (deps.sandbox) api.use(sandboxRoutes({ orm: deps.orm, ...deps.sandbox }));
  app.use('/api/v2', api);

  const webRoot = deps.webRoot ?? defaultWebRoot();
  // Unbuilt (web/ itself), index.html's TSX cannot load: say so in a page that needs no script.
  if (!existsSync(resolve(webRoot, 'assets'))) {
    app.get(['/', '/index.html'], (_req, res) => res.status(503).type('html').send(DASHBOARD_NOT_BUILT_HTML));
  }
  app.use(express.static(webRoot, { index: 'index.html', maxAge: '5m' }));
  app.use(methodNotAllowed(knownPaths));
  app.use(unknownRoute);
  app.use(errorMiddleware(deps.logger));
  return app;
}

/** web/dist when the dashboard is built, else web/; found from sources (src/api) and from dist/src/api. */
function defaultWebRoot(): string {
  const roots = [resolve(__dirname, '..', '..'), resolve(__dirname, '..', '..', '..')];
  const candidates = roots.flatMap((root) => [resolve(root, 'web', 'dist'), resolve(root, 'web')]);
  return candidates.find((dir) => existsSync(resolve(dir, 'index.html'))) ?? candidates[1]!;
}

export interface RunningApp {
  server: Server;
  url: string;
  stop(): Promise<void>;
}

export function startApp(app: Express, port: number, host = '127.0.0.1'): Promise<RunningApp> {
  return new Promise((resolveStart, rejectStart) => {
    const server = app.listen(port, host);
    server.once('error', rejectStart);
    server.once('listening', () => {
      const { port: actual } = server.address() as AddressInfo;
      resolveStart({
        server,
        url: `http://${host}:${actual}`,
        stop: () =>
          new Promise((resolveStop) => {
            server.close(() => resolveStop());
            server.closeAllConnections();
          }),
      });
    });
  });
}
