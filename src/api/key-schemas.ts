/**
 * Request and response schemas of `/api/v2/keys` (zod only, so the dashboard can import their types):
 * they validate requests and generate the OpenAPI document. The lifecycle itself is src/api/keys.ts.
 */
import { z } from 'zod';

export const KEY_NAME_MAX_LENGTH = 100;
/** The longest a key may be valid for: five years (of 365.25 days). */
export const MAX_KEY_LIFETIME_MS = Math.round(5 * 365.25 * 86_400_000);

/** C0/C1 controls, line and paragraph separators, and bidi overrides (which make a name read differently than it is). */
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

export const keyNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(KEY_NAME_MAX_LENGTH, `must be at most ${KEY_NAME_MAX_LENGTH} characters`)
  .refine((name) => !CONTROL_CHARACTERS.test(name), 'must not contain control characters')
  .meta({ description: `What the key is for, e.g. "CI" (1 to ${KEY_NAME_MAX_LENGTH} characters, no control characters)` });

/** Why `expiresAt` is not acceptable at `now`, or undefined when it is. */
export function expiryProblem(expiresAt: Date, now: Date): string | undefined {
  if (Number.isNaN(expiresAt.getTime())) return 'must be an ISO 8601 time with an offset';
  if (expiresAt.getTime() <= now.getTime()) return 'must be in the future';
  if (expiresAt.getTime() - now.getTime() > MAX_KEY_LIFETIME_MS) return 'must be at most 5 years from now';
  return undefined;
}

const expiresAtSchema = z.iso
  .datetime({ offset: true })
  .superRefine((value, ctx) => {
    const problem = expiryProblem(new Date(value), new Date());
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .nullable()
  .optional()
  .meta({ description: 'When the key stops working: ISO 8601 with an offset, in the future and at most 5 years away; null or absent: never' });

export const createKeyBodySchema = z.object({ name: keyNameSchema, expiresAt: expiresAtSchema }).strict().meta({ id: 'CreateApiKeyRequest' });

export const rotateKeyBodySchema = z
  .object({ expiresAt: expiresAtSchema })
  .strict()
  .meta({
    id: 'RotateApiKeyRequest',
    description: 'Optional. Without expiresAt the new key is valid for as long as the old one was (from now, at most 5 years); null: never expires',
  });

export const KEY_STATUSES = ['active', 'expired', 'revoked'] as const;

export const apiKeySchema = z
  .object({
    id: z.number(),
    name: z.string(),
    prefix: z.string().meta({ description: 'The first characters of the key, to recognise it' }),
    status: z.enum(KEY_STATUSES),
    current: z.boolean().meta({ description: 'The key this request was made with' }),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable().meta({ description: 'Updated at most once a minute' }),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .strict()
  .meta({ id: 'ApiKey' });

export const apiKeyListSchema = z.object({ keys: z.array(apiKeySchema) }).strict().meta({ id: 'ApiKeyList' });

export const createdApiKeySchema = z
  .object({
    key: apiKeySchema,
    apiKey: z.string().meta({ description: 'The key itself. Shown only in this answer: it is stored hashed' }),
  })
  .strict()
  .meta({ id: 'CreatedApiKey' });

export type ApiKeyView = z.infer<typeof apiKeySchema>;
export type CreatedApiKeyView = z.infer<typeof createdApiKeySchema>;
