/**
 * The OpenAPI 3.1 document of API v2, generated from the same zod schemas that validate requests
 * (zod 4's JSON Schema output), so it cannot drift from the code.
 */
import { z } from 'zod';
import {
  accountBodySchema,
  accountSchema,
  accountsQuerySchema,
  businessSchema,
  calendarDaySchema,
  calendarQuerySchema,
  calendarSchema,
  errorDetailSchema,
  errorSchema,
  healthSchema,
  idParamJsonSchema,
  MAX_CALENDAR_DAYS,
  partSchema,
  postSchema,
  postSummarySchema,
  publishBodySchema,
  publishQuerySchema,
  rescheduleBodySchema,
  scheduleBodySchema,
  scheduledQuerySchema,
  targetSchema,
} from './schemas';
import { knownPath, type KnownPath } from './errors';
import { callbackQuerySchema as oauthCallbackQuerySchema, startQuerySchema as oauthStartQuerySchema } from './routes/oauth';
import { apiKeyListSchema, apiKeySchema, createdApiKeySchema, createKeyBodySchema, rotateKeyBodySchema } from './key-schemas';
import { ALT_TEXT_MAX_LENGTH, mediaPatchSchema, mediaSchema, mediaUploadQuerySchema } from './media-schemas';
import { MEDIA_MIMES } from '../media/inspect';

type JsonSchema = Record<string, unknown>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (schema: JsonSchema) => ({ content: { 'application/json': { schema } } });
/** A JSON request body the operation cannot do without. */
const requiredBody = (schema: JsonSchema) => ({ required: true, ...json(schema) });
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [String(status), { description: errorDescriptions[status] ?? 'Error', ...json(ref('Error')) }]));

const errorDescriptions: Record<number, string> = {
  400: 'validation_failed: one detail per bad field',
  401: 'unauthorized: no API key, or not a valid one',
  404: 'not_found (also for another business\'s data)',
  409: 'conflict: publishing has begun or finished; or the Idempotency-Key was used for another request (details.reason)',
  429: 'rate_limited: the per-user limit is reached; Retry-After says when to retry. Limited routes send RateLimit and RateLimit-Policy (IETF draft-7) and X-RateLimit-Limit/-Remaining/-Reset on every response',
  413: 'payload_too_large: the JSON body is larger than 256 kB',
  415: 'unsupported_media_type: a request body that is not application/json',
  416: 'range_not_satisfiable: the Range starts beyond the media\'s last byte (Content-Range: bytes */<size>)',
  503: 'unavailable: the database is down; nothing was accepted (when only Temporal is down, a new post is accepted and started once Temporal is back)',
};

/** What zod cannot say in JSON Schema, given as `meta({ jsonSchema })` in src/api/schemas.ts: a `type` replaces the generated schema (a query string's integer), anything else is added (uniqueItems). */
function applyJsonSchemaMeta(ctx: { jsonSchema: JsonSchema }): void {
  const extra = ctx.jsonSchema.jsonSchema as JsonSchema | undefined;
  if (!extra) return;
  delete ctx.jsonSchema.jsonSchema;
  if ('type' in extra) {
    const { description } = ctx.jsonSchema;
    for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
    if (description !== undefined) ctx.jsonSchema.description = description;
  }
  Object.assign(ctx.jsonSchema, extra);
}

/**
 * zod puts a schema used by several named ones but not itself registered under `__shared#/$defs/…`,
 * a reference no OpenAPI tool resolves: hoist those into components and point the references there.
 */
function hoistShared(schemas: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const { __shared: shared, ...named } = schemas;
  const defs = ((shared as JsonSchema | undefined)?.$defs ?? {}) as Record<string, JsonSchema>;
  const all: Record<string, JsonSchema> = { ...defs, ...named };
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value as JsonSchema).map(([key, inner]) => [
        key,
        key === '$ref' && typeof inner === 'string' ? inner.replace(/^#\/components\/schemas\/__shared#\/\$defs\//, '#/components/schemas/') : rewrite(inner),
      ]),
    );
  };
  return rewrite(all) as Record<string, JsonSchema>;
}

function componentSchemas(): Record<string, JsonSchema> {
  const named = [publishBodySchema, scheduleBodySchema, rescheduleBodySchema, accountBodySchema, accountSchema, businessSchema, partSchema, targetSchema, postSchema, postSummarySchema, calendarDaySchema, calendarSchema, errorDetailSchema, errorSchema, healthSchema];
  const registry = z.registry<{ id: string }>();
  for (const schema of named) registry.add(schema, { id: String(schema.meta()?.id) });
  for (const schema of [createKeyBodySchema, rotateKeyBodySchema, apiKeySchema, apiKeyListSchema, createdApiKeySchema, mediaSchema, mediaPatchSchema]) registry.add(schema, { id: String(schema.meta()?.id) });
  const output = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, unrepresentable: 'any', io: 'input', override: applyJsonSchemaMeta });
  return hoistShared(
    Object.fromEntries(
      Object.entries(output.schemas).map(([id, schema]) => {
        const { $schema: _ignored, ...rest } = schema as JsonSchema;
        return [id, rest];
      }),
    ),
  );
}

function queryParameters(schema: z.ZodObject, extra: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> {
  const jsonSchema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override: applyJsonSchemaMeta }) as { properties?: Record<string, JsonSchema>; required?: string[] };
  const params = Object.entries(jsonSchema.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: jsonSchema.required?.includes(name) ?? false,
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
  return [...params, ...extra];
}

const queued = { description: 'Signal sent but not yet confirmed (no worker answered in time); it takes effect when a worker runs', ...json(ref('Post')) };
const idempotencyKeyParam = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]{1,255}$' },
  description: 'Same key and same request within 24 h, whatever happened to the first request: the same post comes back, with the status code the first answer had and its current state (Idempotent-Replayed: true), and nothing new is created. Stored in Postgres with the post.',
};
const postIdParam = { name: 'postId', in: 'path', required: true, schema: idParamJsonSchema };
/** API keys (src/api/routes/keys.ts): the caller's user's own; 429 also when its address failed authentication too often. */
const keyIdParam = { name: 'id', in: 'path', required: true, schema: idParamJsonSchema };
const keyErrors = (...statuses: number[]) => ({
  ...errors(...statuses.filter((status) => status !== 429)),
  ...(statuses.includes(429)
    ? { 429: { description: 'rate_limited: too many failed authentications from this address (details.bucket "auth-failures"), or for GET the per-user list limit; Retry-After says when to retry', ...json(ref('Error')) } }
    : {}),
});
const keyPaths = {
  '/api/v2/keys': {
    get: { summary: 'List the API keys of the key\'s user (revoked and expired ones included), newest first', responses: { 200: { description: 'Keys; never the key itself or its hash', ...json(ref('ApiKeyList')) }, ...keyErrors(401, 429) } },
    post: { summary: 'Create an API key (shown once, in this answer)', requestBody: { required: true, ...json(ref('CreateApiKeyRequest')) }, responses: { 201: { description: 'Created', ...json(ref('CreatedApiKey')) }, ...keyErrors(400, 401, 429) } },
  },
  '/api/v2/keys/{id}': {
    delete: { summary: 'Revoke an API key (at once, on every instance; revoking a revoked key changes nothing)', parameters: [keyIdParam], responses: { 204: { description: 'Revoked' }, ...keyErrors(400, 401, 404, 429) } },
  },
  '/api/v2/keys/{id}/rotate': {
    post: {
      summary: 'Rotate an API key: the old one is revoked, a new one with the same name is created (shown once)',
      parameters: [keyIdParam],
      requestBody: { required: false, ...json(ref('RotateApiKeyRequest')) },
      responses: { 201: { description: 'The new key', ...json(ref('CreatedApiKey')) }, ...keyErrors(400, 401, 404, 429), 409: { description: 'conflict: the key is revoked (details.reason "revoked"); create a new one', ...json(ref('Error')) } },
    },
  },
};

/** Media (src/api/routes/media.ts): uploads are multipart and streamed; the bytes are served with Range support. */
const mediaIdParam = { name: 'id', in: 'path', required: true, schema: idParamJsonSchema };
const mediaBytes = { content: Object.fromEntries(MEDIA_MIMES.map((mime) => [mime, { schema: { type: 'string', format: 'binary' } }])) };
const mediaPaths = {
  '/api/v2/media': {
    post: {
      summary: 'Upload an image, GIF or video (multipart/form-data: the file in "file", optional "altText")',
      description:
        'The type is read from the bytes (JPEG, PNG, WebP, GIF, MP4/MOV), never from the file name or its Content-Type; dimensions, frames, duration and codecs are read too. Refused with 400 naming the rule in details[0].rule: "format" (not a format any network takes), "too_large" (more than the kind\'s limit, MEDIA_MAX_IMAGE_BYTES / _GIF_ / _VIDEO_; the upload is stopped and nothing is kept), "broken" (truncated or corrupt), "empty". Stored in Postgres, readable by every instance. 429 (details.bucket "media-uploads", Retry-After) when this instance is already storing its most uploads at once (each holds a database connection until it ends).',
      parameters: queryParameters(mediaUploadQuerySchema),
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' }, altText: { type: 'string', maxLength: ALT_TEXT_MAX_LENGTH } }, required: ['file'] },
            encoding: { file: { contentType: 'application/octet-stream' } },
          },
        },
      },
      responses: { 201: { description: 'Stored', headers: { Location: { required: true, schema: { type: 'string' } } }, ...json(ref('Media')) }, ...errors(400, 401, 404) },
    },
  },
  '/api/v2/media/{id}': {
    get: { summary: 'What a media is (kind, type, size, dimensions, duration, codecs, alt text)', parameters: [mediaIdParam], responses: { 200: { description: 'The media', ...json(ref('Media')) }, ...errors(401, 404) } },
    patch: { summary: 'Set or clear the alt text', parameters: [mediaIdParam], requestBody: requiredBody(ref('MediaPatchRequest')), responses: { 200: { description: 'The media', ...json(ref('Media')) }, ...errors(400, 401, 404) } },
    delete: { summary: 'Delete a media and its bytes', parameters: [mediaIdParam], responses: { 204: { description: 'Deleted' }, ...errors(401, 404) } },
  },
  '/api/v2/media/{id}/content': {
    get: {
      summary: 'The bytes, with their type; one byte range on request (Range: bytes=a-b, a-, -n)',
      parameters: [mediaIdParam, { name: 'Range', in: 'header', required: false, schema: { type: 'string' }, description: 'One byte range; several ranges, another unit or anything else that is not a byte range get the whole media (200), as RFC 9110 allows' }],
      responses: {
        200: { description: 'The whole media', headers: { 'Accept-Ranges': { required: true, schema: { type: 'string', const: 'bytes' } }, 'Content-Length': { required: true, schema: { type: 'string' } } }, ...mediaBytes },
        206: { description: 'The requested range', headers: { 'Content-Range': { required: true, schema: { type: 'string' } }, 'Accept-Ranges': { required: true, schema: { type: 'string', const: 'bytes' } } }, ...mediaBytes },
        ...errors(401, 404, 416),
      },
    },
  },
};

type Operation = { parameters?: Array<Record<string, unknown>>; requestBody?: Record<string, unknown>; responses: Record<string, unknown>; security?: unknown[]; [key: string]: unknown };

/**
 * Every status an operation can answer, documented with the Error schema (src/api/errors.ts): 400
 * for any parameter or body; 401, 429 and 503 behind the API key (the key is looked up in Postgres;
 * the rate limits count per user); 404 for a path id or a businessId; 413 and 415 for a body, which
 * is required where the operation says so. What an operation already documents is kept.
 */
function withStandardErrors(paths: Record<string, Record<string, Operation>>): Record<string, Record<string, Operation>> {
  for (const [path, operations] of Object.entries(paths)) {
    for (const operation of Object.values(operations)) {
      const secured = operation.security === undefined || operation.security.length > 0;
      const params = operation.parameters ?? [];
      const body = operation.requestBody;
      const namesBusiness = params.some((p) => p.name === 'businessId') || (body !== undefined && JSON.stringify(body).match(/(PublishRequest|ScheduleRequest|ConnectAccountRequest)/) !== null);
      const statuses = [
        ...(params.length > 0 || body ? [400] : []),
        ...(secured ? [401, 429, 503] : []),
        ...(secured && (path.includes('{') || namesBusiness) ? [404] : []),
        ...(body ? [413, 415] : []),
      ];
      const missing = statuses.filter((status) => !(String(status) in operation.responses));
      operation.responses = { ...operation.responses, ...errors(...missing) };
    }
  }
  return paths;
}

/** The documented paths and their methods: OPTIONS answers and 405s come from the same document (src/api/errors.ts). */
export function knownPathsOf(document: Record<string, unknown>): KnownPath[] {
  const paths = document.paths as Record<string, Record<string, unknown>>;
  return Object.entries(paths).map(([path, operations]) => knownPath(path, Object.keys(operations)));
}

export function buildOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Herald API', version: '2.0.0', description: 'Schedule and publish social-media posts durably (one Temporal workflow per post).' },
    components: {
      schemas: componentSchemas(),
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from `npm run admin -- bootstrap`' } },
    },
    security: [{ apiKey: [] }],
    paths: withStandardErrors({
      '/api/v2/accounts': {
        post: { summary: 'Connect an account with tokens', requestBody: requiredBody(ref('ConnectAccountRequest')), responses: { 201: { description: 'Connected', ...json(ref('Account')) }, ...errors(400, 401, 404) } },
        get: { summary: 'List accounts', parameters: queryParameters(accountsQuerySchema), responses: { 200: { description: 'Accounts', ...json({ type: 'object', properties: { accounts: { type: 'array', items: ref('Account') } } }) }, ...errors(400, 401, 404) } },
      },
      '/api/v2/accounts/{id}': {
        delete: { summary: 'Disconnect an account', parameters: [{ ...postIdParam, name: 'id' }], responses: { 200: { description: 'Now inactive', ...json(ref('Account')) }, ...errors(401, 404) } },
      },
      '/api/v2/oauth/{platform}/start': {
        get: {
          summary: 'Start connecting an account through the provider\'s consent page',
          description: 'Stores a one-time state (OAUTH_STATE_TTL_SECONDS) and sets a cookie herald_oauth_<id> holding a random per-flow secret (HttpOnly; SameSite=Lax; Path=/api/v2/oauth; Max-Age = the state TTL; Secure when PUBLIC_BASE_URL is https); the state keeps only its hash. The consent must happen in the browser that received the cookie: the callback refuses any other (login CSRF). From a dashboard: a same-origin fetch with ?redirect=0, then navigate to url.',
          parameters: [{ name: 'platform', in: 'path', required: true, schema: { type: 'string', enum: ['twitter', 'linkedin', 'facebook', 'instagram'] } }, ...queryParameters(oauthStartQuerySchema)],
          responses: {
            200: { description: 'With ?redirect=0: the provider\'s authorize URL (the cookie is set on this answer)', headers: { 'Set-Cookie': { schema: { type: 'string' }, description: 'herald_oauth_<id>=<secret>; HttpOnly; SameSite=Lax; Path=/api/v2/oauth' } }, ...json({ type: 'object', properties: { url: { type: 'string', format: 'uri' } }, required: ['url'] }) },
            302: { description: 'To the provider\'s authorize page (the cookie is set on this answer)', headers: { Location: { required: true, schema: { type: 'string' } }, 'Set-Cookie': { schema: { type: 'string' }, description: 'herald_oauth_<id>=<secret>; HttpOnly; SameSite=Lax; Path=/api/v2/oauth' } } },
            ...errors(400, 401, 404),
          },
        },
      },
      '/api/v2/oauth/{platform}/callback': {
        get: {
          summary: 'Where the provider sends the browser back: stores the connected account(s)',
          description: 'No API key: the one-time state and the cookie set by start authenticate the browser. A state that is unknown, expired, used or for another platform, a missing or different cookie (details path "cookie": this browser did not start the flow), a refused consent or a failed code exchange answer 400 and store nothing. Every callback spends the state and clears the cookie.',
          security: [],
          parameters: [{ name: 'platform', in: 'path', required: true, schema: { type: 'string', enum: ['twitter', 'linkedin', 'facebook', 'instagram'] } }, ...queryParameters(oauthCallbackQuerySchema)],
          responses: {
            302: { description: 'Connected: to the dashboard, /?connected=<platform>&accounts=<n>', headers: { Location: { required: true, schema: { type: 'string' } } } },
            ...errors(400, 503),
          },
        },
      },
      ...keyPaths,
      ...mediaPaths,
      '/api/v2/publish': {
        post: {
          summary: 'Publish now, waiting up to ?wait seconds',
          parameters: queryParameters(publishQuerySchema, [idempotencyKeyParam]),
          requestBody: requiredBody(ref('PublishRequest')),
          responses: { 200: { description: 'Every target finished', ...json(ref('Post')) }, 202: { description: 'Still publishing', ...json(ref('Post')) }, ...errors(400, 401, 404, 409, 429, 503) },
        },
      },
      '/api/v2/publish/multi-platform': {
        post: { summary: 'Publish now without waiting', parameters: [idempotencyKeyParam], requestBody: requiredBody(ref('PublishRequest')), responses: { 202: { description: 'Started', ...json(ref('Post')) }, ...errors(400, 401, 404, 409, 429, 503) } },
      },
      '/api/v2/schedule': {
        post: { summary: 'Schedule a post', parameters: [idempotencyKeyParam], requestBody: requiredBody(ref('ScheduleRequest')), responses: { 201: { description: 'Scheduled', ...json(ref('Post')) }, ...errors(400, 401, 404, 409, 429, 503) } },
      },
      '/api/v2/schedule/{postId}': {
        put: { summary: 'Reschedule (signal)', parameters: [postIdParam], requestBody: requiredBody(ref('RescheduleRequest')), responses: { 200: { description: 'Moved', ...json(ref('Post')) }, 202: queued, ...errors(400, 401, 404, 409) } },
        delete: { summary: 'Cancel (signal)', parameters: [postIdParam], responses: { 200: { description: 'Cancelled', ...json(ref('Post')) }, 202: queued, ...errors(401, 404, 409) } },
      },
      '/api/v2/scheduled': {
        get: {
          summary: 'List posts by time and status',
          description: 'Ordered by scheduledFor, then id. `view=summary` answers the lean PostSummary (the first 100 characters, the target statuses) a page at a time: `nextCursor` (null on the last page) goes back as `cursor` with the same filters. A cursor that this API did not make, or one without view=summary, is 400 naming `cursor`.',
          parameters: queryParameters(scheduledQuerySchema),
          responses: {
            200: {
              description: 'Posts ordered by scheduledFor and id: Post objects (default), or PostSummary objects and nextCursor with view=summary',
              ...json({ type: 'object', properties: { posts: { type: 'array', items: { anyOf: [ref('Post'), ref('PostSummary')] } }, nextCursor: { type: ['string', 'null'] } }, required: ['posts'] }),
            },
            ...errors(400, 401, 404),
          },
        },
      },
      '/api/v2/calendar': {
        get: {
          summary: 'A calendar: per day of the business\'s time zone, the posts counted by status and the first of them',
          description:
            'One request per month view. `from` and `to` are days (YYYY-MM-DD) in the business\'s time zone, `to` exclusive, at most ' + MAX_CALENDAR_DAYS + ' days apart (more, or `to` not after `from`: 400 naming `to`). Each day runs from local midnight to the next (23 or 25 hours at a DST change) and lists its first `perDay` posts of the requested statuses (default: all but cancelled) as PostSummary, by scheduledFor then id; `total` and `counts` cover every status, `matching` the requested ones. The rest of a day: GET /api/v2/scheduled?view=summary with from=`start`, to=`end`.',
          parameters: queryParameters(calendarQuerySchema),
          responses: { 200: { description: 'Every day of the range, in order', ...json(ref('Calendar')) }, ...errors(400, 401, 404) },
        },
      },
      '/api/v2/posts/{postId}': {
        get: { summary: 'Read one post', parameters: [postIdParam], responses: { 200: { description: 'The post', ...json(ref('Post')) }, ...errors(401, 404) } },
      },
      '/api/v2/businesses': {
        get: { summary: 'The businesses the key\'s user belongs to', responses: { 200: { description: 'Businesses by name', ...json({ type: 'object', properties: { businesses: { type: 'array', items: ref('Business') } }, required: ['businesses'] }) } } },
      },
      '/health': {
        get: { summary: 'Health of Postgres, Redis, Temporal and the worker', security: [], responses: { 200: { description: 'All ok', ...json(ref('Health')) }, 503: { description: 'A check failed', ...json(ref('Health')) } } },
      },
    }),
  };
}
