/**
 * Schemas of `/api/v2/media` (issue #13): they validate requests and generate the OpenAPI document.
 * The storage is src/media/storage.ts, what a file is src/media/inspect.ts.
 */
import { z } from 'zod';
import { CONTROL_CHARACTERS_MESSAGE, NO_CONTROL_CHARACTERS } from '../domain/limits';
import { MEDIA_KINDS, MEDIA_MIMES } from '../media/inspect';
import { businessIdSchema } from './schemas';

/** X's media metadata takes alt text up to 1,000 characters, the longest of the networks. */
export const ALT_TEXT_MAX_LENGTH = 1000;

export const altTextSchema = z
  .string()
  .max(ALT_TEXT_MAX_LENGTH, `must be at most ${ALT_TEXT_MAX_LENGTH} characters`)
  .regex(NO_CONTROL_CHARACTERS, CONTROL_CHARACTERS_MESSAGE)
  .meta({ description: `What the media shows, for people who cannot see it (at most ${ALT_TEXT_MAX_LENGTH} characters); empty clears it` });

export const mediaUploadQuerySchema = z.object({ businessId: businessIdSchema });

export const mediaPatchSchema = z.object({ altText: altTextSchema.nullable() }).strict().meta({ id: 'MediaPatchRequest' });

export const mediaSchema = z
  .object({
    id: z.number().int(),
    businessId: z.number().int(),
    kind: z.enum(MEDIA_KINDS as [string, ...string[]]).meta({ description: 'image (JPEG, PNG, WebP), gif (animated or not) or video (MP4, MOV), read from the bytes' }),
    mime: z.enum(MEDIA_MIMES as [string, ...string[]]),
    bytes: z.number().int(),
    sha256: z.string(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    frameCount: z.number().int().nullable().meta({ description: 'Images and GIFs: frames (1 unless animated); video: null' }),
    durationMs: z.number().int().nullable().meta({ description: 'Video: the movie header\'s duration; images: null' }),
    codecs: z.array(z.string()).meta({ description: 'Video: each track\'s sample entry, the video track first (avc1, hvc1, mp4a …); images: []' }),
    altText: z.string().nullable(),
    uploadedBy: z.number().int().nullable(),
    createdAt: z.string(),
    contentUrl: z.string().meta({ description: 'Where the bytes are served (GET, with Range support)' }),
  })
  .meta({ id: 'Media' });
export type MediaView = z.infer<typeof mediaSchema>;
