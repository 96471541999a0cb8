/**
 * Request and response schemas of API v2. They validate requests and generate the OpenAPI
 * document (`GET /api/v2/openapi.json`), so the contract and the code cannot drift apart.
 */
import { z } from 'zod';
import { PLATFORMS, POST_STATUSES, TARGET_STATUSES, FAILURE_CLASSES } from '../domain/types';

export const MAX_CONTENT_LENGTH = 25_000;

const isoWithOffset = z.iso
  .datetime({ offset: true })
  .meta({ description: 'ISO 8601 time with an offset, e.g. 2026-11-22T09:00:00+01:00' });

function isIanaZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.includes('/') || zone === 'UTC';
  } catch {
    return false;
  }
}

export const businessIdSchema = z.coerce.number().int().positive().meta({ description: 'A business the key\'s user belongs to' });
export const idParamSchema = z.coerce.number().int().positive();

export const platformSchema = z.enum(PLATFORMS);

export const publishBodySchema = z
  .object({
    businessId: z.number().int().positive(),
    content: z.string().trim().min(1, 'must not be empty').max(MAX_CONTENT_LENGTH, `must be at most ${MAX_CONTENT_LENGTH} characters`),
    platforms: z
      .array(platformSchema)
      .min(1, 'name at least one platform')
      .refine((list) => new Set(list).size === list.length, 'must not repeat a platform'),
    platformParams: z
      .object({ instagram: z.object({ imageUrl: z.url({ protocol: /^https?$/ }).optional() }).strict().optional() })
      .catchall(z.record(z.string(), z.unknown()))
      .optional(),
    thread: z.object({ numbering: z.boolean().optional() }).strict().optional(),
  })
  .strict()
  .meta({ id: 'PublishRequest' });

export const scheduleBodySchema = publishBodySchema
  .extend({
    scheduledFor: isoWithOffset,
    timezone: z.string().refine(isIanaZone, 'must be an IANA time zone such as Europe/Berlin').optional(),
  })
  .strict()
  .meta({ id: 'ScheduleRequest' });

export const rescheduleBodySchema = z.object({ scheduledFor: isoWithOffset }).strict().meta({ id: 'RescheduleRequest' });

export const publishQuerySchema = z.object({
  wait: z.coerce.number().min(0).max(30).default(10).meta({ description: 'Seconds to wait for the result (max 30)' }),
});

const statusList = z
  .string()
  .transform((raw) => raw.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.enum(POST_STATUSES)).min(1));

export const scheduledQuerySchema = z.object({
  businessId: businessIdSchema,
  from: isoWithOffset.optional(),
  to: isoWithOffset.optional(),
  status: statusList.optional().meta({ description: 'Comma-separated post statuses; default: scheduled' }),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const accountBodySchema = z
  .object({
    businessId: z.number().int().positive(),
    platform: platformSchema,
    platformUserId: z.string().trim().min(1).max(200),
    displayName: z.string().trim().max(200).optional(),
    accessToken: z.string().min(1).max(10_000),
    refreshToken: z.string().min(1).max(10_000).optional(),
    expiresAt: isoWithOffset.optional(),
  })
  .strict()
  .meta({ id: 'ConnectAccountRequest' });

export const accountsQuerySchema = z.object({ businessId: businessIdSchema });

// ---- responses ----

export const accountSchema = z
  .object({
    id: z.number(),
    businessId: z.number(),
    platform: platformSchema,
    platformUserId: z.string(),
    displayName: z.string().nullable(),
    isActive: z.boolean(),
    /** The provider refused to renew the token (refresh failed): connect the account again. */
    needsReconnect: z.boolean(),
    expiresAt: z.string().nullable(),
  })
  .meta({ id: 'Account' });

export const partSchema = z
  .object({
    index: z.number(),
    text: z.string(),
    platformPostId: z.string().nullable(),
    url: z.string().nullable(),
    publishedAt: z.string().nullable(),
  })
  .meta({ id: 'PostPart' });

export const targetSchema = z
  .object({
    platform: platformSchema,
    accountId: z.number().nullable(),
    status: z.enum(TARGET_STATUSES),
    url: z.string().nullable(),
    error: z.string().nullable(),
    errorClass: z.enum(FAILURE_CLASSES).nullable(),
    parts: z.array(partSchema),
  })
  .meta({ id: 'PostTarget' });

export const postSchema = z
  .object({
    id: z.number(),
    businessId: z.number(),
    content: z.string(),
    platforms: z.array(platformSchema),
    status: z.enum(POST_STATUSES),
    scheduledFor: z.string(),
    timezone: z.string().nullable(),
    createdAt: z.string(),
    publishedAt: z.string().nullable(),
    workflowId: z.string().meta({ description: 'The post\'s Temporal workflow id, unique for all time: post-<id>-<8 random characters> (posts created before 2026-12 keep post-<id>)' }),
    targets: z.array(targetSchema),
  })
  .meta({ id: 'Post' });

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: 'Error' });

export const healthSchema = z
  .object({
    status: z.enum(['ok', 'failing']),
    checks: z.object({ postgres: z.string(), redis: z.string(), temporal: z.string(), worker: z.string() }),
  })
  .meta({ id: 'Health' });

export type PublishBody = z.infer<typeof publishBodySchema>;
export type ScheduleBody = z.infer<typeof scheduleBodySchema>;
export type PostView = z.infer<typeof postSchema>;
export type AccountView = z.infer<typeof accountSchema>;
