/**
 * Request and response schemas of API v2. They validate requests and generate the OpenAPI
 * document (`GET /api/v2/openapi.json`), so the contract and the code cannot drift apart.
 *
 * Every field has a bound (src/domain/limits.ts) that the document states, so that what the
 * document calls invalid is refused with 400 naming the field, and never reaches Postgres or
 * Temporal (issue #11, hole 7). `meta({ jsonSchema })` adds what zod cannot say in JSON Schema
 * (uniqueItems; the integer a query string carries) to the document; src/api/openapi.ts merges it.
 */
import { z } from 'zod';
import { PLATFORMS, POST_STATUSES, TARGET_STATUSES, FAILURE_CLASSES } from '../domain/types';
import { PLATFORM_LIMITS } from '../domain/platform-rules';
import {
  CONTROL_CHARACTERS_MESSAGE,
  MAX_ID,
  MAX_NAME_LENGTH,
  MAX_SCHEDULE_AHEAD_DAYS,
  MAX_TIMEZONE_LENGTH,
  MAX_TOKEN_LENGTH,
  MAX_URL_LENGTH,
  NO_CONTROL_CHARACTERS,
} from '../domain/limits';
import { ERROR_CODES } from './errors';

export const MAX_CONTENT_LENGTH = 25_000;
export const MAX_LIST_LIMIT = 1000;
export const MAX_WAIT_SECONDS = 30;
/** A summary page's cursor: opaque (base64url), at most this long. */
export const MAX_CURSOR_LENGTH = 64;
/** Characters of the content a summary carries. */
export const EXCERPT_LENGTH = 100;

/** Text a person wrote: at most `max` characters, no control characters but tab, LF and CR. */
const text = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).regex(NO_CONTROL_CHARACTERS, CONTROL_CHARACTERS_MESSAGE);

const isoWithOffset = z.iso
  .datetime({ offset: true })
  .meta({ description: `ISO 8601 time with an offset, e.g. 2026-11-22T09:00:00+01:00; for a post, not more than 60 s in the past and at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead` });

/** zone names as IANA spells them: `UTC`, or Area/Location[/Sub] (letters, digits, _ + -). */
const TIMEZONE_PATTERN = /^(UTC|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)+)$/;

function isIanaZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.includes('/') || zone === 'UTC';
  } catch {
    return false;
  }
}

const ID_MESSAGE = `must be a whole number from 1 to ${MAX_ID}`;
/** An id or businessId in a JSON body. */
export const idSchema = z.number().int(ID_MESSAGE).min(1, ID_MESSAGE).max(MAX_ID, ID_MESSAGE);

/** A whole number in a path or query string: digits only (no sign, exponent, spaces or hex), within [min, max]. */
function wholeNumberText(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^[0-9]{1,10}$/, message)
    .transform(Number)
    .pipe(z.number().min(min, message).max(max, message))
    .meta({ jsonSchema: { type: 'integer', minimum: min, maximum: max } });
}

export const businessIdSchema = wholeNumberText(1, MAX_ID).meta({ description: 'A business the key\'s user belongs to' });
/** Path ids (`/posts/{postId}`, `/accounts/{id}`): beyond int4 nothing can exist, so 400, never a database error. */
export const idParamSchema = wholeNumberText(1, MAX_ID);
/** The document's schema of an id in a path. */
export const idParamJsonSchema = { type: 'integer', minimum: 1, maximum: MAX_ID } as const;

export const platformSchema = z.enum(PLATFORMS);

const noParams = z.object({}).strict();
export const platformParamsSchema = z
  .object({
    twitter: noParams.optional(),
    linkedin: noParams.optional(),
    facebook: z
      .object({
        commentChainAt: z
          .number()
          .int()
          .min(1)
          .max(PLATFORM_LIMITS.facebook.maxLength)
          .meta({ description: 'Characters of the text for the Page post itself; the rest continues in comments' }),
      })
      .partial()
      .strict()
      .optional(),
    instagram: z
      .object({
        imageUrl: z
          .url({ protocol: /^https?$/ })
          .max(MAX_URL_LENGTH)
          .regex(/^https?:\/\/[^\x00-\x20]+$/, 'must be an http(s) URL without spaces or control characters'),
      })
      .partial()
      .strict()
      .optional(),
  })
  .strict()
  .meta({ description: 'Per-platform options; each platform takes only the ones named here' });

export const publishBodySchema = z
  .object({
    businessId: idSchema,
    content: z
      .string()
      .max(MAX_CONTENT_LENGTH, `must be at most ${MAX_CONTENT_LENGTH} characters`)
      .regex(NO_CONTROL_CHARACTERS, CONTROL_CHARACTERS_MESSAGE)
      .trim()
      .min(1, 'must not be empty'),
    platforms: z
      .array(platformSchema)
      .min(1, 'name at least one platform')
      .max(PLATFORMS.length, 'must not repeat a platform')
      .refine((list) => new Set(list).size === list.length, 'must not repeat a platform')
      .meta({ jsonSchema: { uniqueItems: true } }),
    platformParams: platformParamsSchema.optional(),
    thread: z.object({ numbering: z.boolean().optional() }).strict().optional(),
  })
  .strict()
  .meta({ id: 'PublishRequest' });

export const scheduleBodySchema = publishBodySchema
  .extend({
    scheduledFor: isoWithOffset,
    timezone: z
      .string()
      .max(MAX_TIMEZONE_LENGTH, `must be at most ${MAX_TIMEZONE_LENGTH} characters`)
      .regex(TIMEZONE_PATTERN, 'must be an IANA time zone such as Europe/Berlin')
      .refine(isIanaZone, 'must be an IANA time zone such as Europe/Berlin')
      .optional(),
  })
  .strict()
  .meta({ id: 'ScheduleRequest' });

export const rescheduleBodySchema = z.object({ scheduledFor: isoWithOffset }).strict().meta({ id: 'RescheduleRequest' });

const WAIT_MESSAGE = `must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}`;
export const publishQuerySchema = z.object({
  wait: z
    .string()
    .max(32, WAIT_MESSAGE)
    .refine((raw) => raw.trim() !== '' && Number.isFinite(Number(raw)), WAIT_MESSAGE)
    .transform(Number)
    .pipe(z.number().min(0, WAIT_MESSAGE).max(MAX_WAIT_SECONDS, WAIT_MESSAGE))
    .optional()
    .transform((wait) => wait ?? 10)
    .meta({ description: `Seconds to wait for the result (default 10, max ${MAX_WAIT_SECONDS})`, jsonSchema: { type: 'number', minimum: 0, maximum: MAX_WAIT_SECONDS, default: 10 } }),
});

const STATUS_NAMES = `(${POST_STATUSES.join('|')})`;
/** `scheduled`, `scheduled,cancelled`, `scheduled, cancelled`: no empty entries, no unknown ones. */
const STATUS_LIST_PATTERN = new RegExp(`^ *${STATUS_NAMES} *(, *${STATUS_NAMES} *)*$`);
const statusList = z
  .string()
  .max(200, 'must be at most 200 characters')
  .regex(STATUS_LIST_PATTERN, `must be a comma-separated list of ${POST_STATUSES.join(', ')}`)
  .transform((raw) => [...new Set(raw.split(',').map((s) => s.trim()))] as Array<(typeof POST_STATUSES)[number]>);

export const scheduledQuerySchema = z.object({
  businessId: businessIdSchema,
  from: isoWithOffset.optional(),
  to: isoWithOffset.optional(),
  status: statusList.optional().meta({ description: 'Comma-separated post statuses; default: scheduled' }),
  limit: wholeNumberText(1, MAX_LIST_LIMIT)
    .optional()
    .transform((limit) => limit ?? 500)
    .meta({ description: `How many posts at most (default 500)`, jsonSchema: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: 500 } }),
  view: z
    .enum(['full', 'summary'])
    .optional()
    .meta({ description: '`full` (default): each post with its targets and parts. `summary`: the lean shape of the calendar and list (PostSummary), one page at a time with `nextCursor`' }),
  cursor: z
    .string()
    .max(MAX_CURSOR_LENGTH, `must be at most ${MAX_CURSOR_LENGTH} characters`)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be a nextCursor from an earlier answer')
    .optional()
    .meta({ description: 'With view=summary: the `nextCursor` of the previous page (opaque); the same filters must be sent again' }),
});

/** The calendar's longest range: a month view shows at most six weeks; two months fit. */
export const MAX_CALENDAR_DAYS = 62;
/** Summaries listed per day at most (the dashboard shows 3 and "+N more"). */
export const MAX_CALENDAR_PER_DAY = 20;
export const DEFAULT_CALENDAR_PER_DAY = 3;
const DATE_MESSAGE = 'must be a date YYYY-MM-DD from 1970 to 2999';
const CALENDAR_DATE_PATTERN = /^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;
/** `2026-02-28` yes, `2026-02-30` no. */
function isRealDate(raw: string): boolean {
  const ms = Date.parse(`${raw}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === raw;
}
/** A calendar date: real (no 2026-02-30), years 1970-2999 (Postgres takes any of them). */
const calendarDate = z
  .string()
  .regex(CALENDAR_DATE_PATTERN, { message: DATE_MESSAGE, abort: true })
  .refine(isRealDate, DATE_MESSAGE)
  .meta({ jsonSchema: { type: 'string', format: 'date', pattern: CALENDAR_DATE_PATTERN.source } });

/** Days between two valid YYYY-MM-DD dates. */
export function daysFromTo(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

export const calendarQuerySchema = z
  .object({
    businessId: businessIdSchema,
    from: calendarDate.meta({ description: 'The first day (YYYY-MM-DD, in the business\'s time zone)' }),
    to: calendarDate.meta({ description: `The day after the last one (exclusive), at most ${MAX_CALENDAR_DAYS} days after \`from\`` }),
    perDay: wholeNumberText(0, MAX_CALENDAR_PER_DAY)
      .optional()
      .transform((perDay) => perDay ?? DEFAULT_CALENDAR_PER_DAY)
      .meta({
        description: `Summaries listed per day, the first by scheduledFor and id (default ${DEFAULT_CALENDAR_PER_DAY}, at most ${MAX_CALENDAR_PER_DAY})`,
        jsonSchema: { type: 'integer', minimum: 0, maximum: MAX_CALENDAR_PER_DAY, default: DEFAULT_CALENDAR_PER_DAY },
      }),
    status: statusList.optional().meta({ description: 'Comma-separated statuses of the posts each day lists and counts in `matching`; default: every status but cancelled. `total` and `counts` cover every status' }),
  })
  .superRefine((query, ctx) => {
    // zod runs this even when a field failed: the range is only judged between two valid days.
    if (!calendarDate.safeParse(query.from).success || !calendarDate.safeParse(query.to).success) return;
    const days = daysFromTo(query.from, query.to);
    if (days < 1) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be a later day than from' });
    else if (days > MAX_CALENDAR_DAYS) ctx.addIssue({ code: 'custom', path: ['to'], message: `must be at most ${MAX_CALENDAR_DAYS} days after from` });
  });

export const accountBodySchema = z
  .object({
    businessId: idSchema,
    platform: platformSchema,
    platformUserId: text(MAX_NAME_LENGTH).trim().min(1, 'must not be empty'),
    displayName: text(MAX_NAME_LENGTH).trim().optional(),
    accessToken: text(MAX_TOKEN_LENGTH).min(1, 'must not be empty'),
    refreshToken: text(MAX_TOKEN_LENGTH).min(1, 'must not be empty').optional(),
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

export const postSummarySchema = z
  .object({
    id: z.number(),
    scheduledFor: z.string(),
    timezone: z.string().nullable(),
    platforms: z.array(platformSchema),
    status: z.enum(POST_STATUSES),
    excerpt: z.string().meta({ description: `The first ${EXCERPT_LENGTH} characters of the content` }),
    truncated: z.boolean().meta({ description: 'The content is longer than the excerpt' }),
    targets: z.array(
      z.object({
        platform: platformSchema,
        status: z.enum(TARGET_STATUSES),
        url: z.string().nullable(),
        errorClass: z.enum(FAILURE_CLASSES).nullable(),
      }),
    ),
  })
  .meta({ id: 'PostSummary' });

const statusCounts = z.object(Object.fromEntries(POST_STATUSES.map((status) => [status, z.number().int()])) as Record<(typeof POST_STATUSES)[number], z.ZodNumber>);

export const calendarDaySchema = z
  .object({
    date: z.string().meta({ description: 'The day, YYYY-MM-DD, in the business\'s time zone' }),
    start: z.string().meta({ description: 'Its first instant (UTC, ISO 8601); the day ends where the next one starts (23 or 25 hours at a DST change)' }),
    end: z.string().meta({ description: 'The next day\'s first instant (exclusive)' }),
    total: z.number().int().meta({ description: 'Posts of the day, every status' }),
    counts: statusCounts.meta({ description: 'Posts of the day by status (every status, 0 included)' }),
    matching: z.number().int().meta({ description: 'Posts of the day with a requested status: `posts` lists the first of them' }),
    posts: z.array(postSummarySchema).meta({ description: 'The first `perDay` posts of the day with a requested status, by scheduledFor then id; the rest: GET /scheduled?view=summary from `start` to `end`' }),
  })
  .meta({ id: 'CalendarDay' });

export const calendarSchema = z
  .object({
    businessId: z.number(),
    timezone: z.string().meta({ description: 'The business\'s time zone: the days are its days' }),
    from: z.string(),
    to: z.string(),
    perDay: z.number().int(),
    statuses: z.array(z.enum(POST_STATUSES)).meta({ description: 'The statuses listed and counted in `matching`' }),
    days: z.array(calendarDaySchema).meta({ description: 'Every day from `from` to the day before `to`, in order' }),
  })
  .meta({ id: 'Calendar' });

export const errorDetailSchema = z
  .object({ path: z.string(), message: z.string() })
  .catchall(z.unknown())
  .meta({ id: 'ErrorDetail', description: 'One bad field: its path (e.g. `platforms.0`, `Idempotency-Key`) and what is wrong; some name more (e.g. `platform`)' });

export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z
        .union([
          z.array(errorDetailSchema),
          z.object({ reason: z.string().optional() }).catchall(z.unknown()),
        ])
        .optional()
        .meta({
          description: '400: one entry per bad field. 409: an object whose `reason` says which conflict (`publishing`, `already_published`, `cancelled`, `idempotency_key_reused`, `revoked`…). 429: `{ bucket, limit, windowSeconds, retryAfterSeconds }`. 405: `{ allow }`.',
        }),
    }),
  })
  .meta({ id: 'Error' });

export const businessSchema = z
  .object({ id: z.number(), name: z.string(), timezone: z.string().nullable() })
  .meta({ id: 'Business' });

export const healthSchema = z
  .object({
    status: z.enum(['ok', 'failing']),
    checks: z.object({ postgres: z.string(), redis: z.string(), temporal: z.string(), worker: z.string() }),
  })
  .meta({ id: 'Health' });

export type PublishBody = z.infer<typeof publishBodySchema>;
export type ScheduleBody = z.infer<typeof scheduleBodySchema>;
export type PostView = z.infer<typeof postSchema>;
export type PostSummaryView = z.infer<typeof postSummarySchema>;
export type CalendarView = z.infer<typeof calendarSchema>;
export type CalendarDayView = z.infer<typeof calendarDaySchema>;
export type CalendarQuery = z.infer<typeof calendarQuerySchema>;
export type AccountView = z.infer<typeof accountSchema>;
