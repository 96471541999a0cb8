/**
 * Each platform's text rules in one pure place: the engine splits with them when it publishes,
 * and the dashboard previews with the very same functions, so a preview never lies.
 */
import { plainTextRules, singlePart, splitForX, splitPostThenComments, type SplitResult, type TextRules } from './thread';
import type { Platform, ThreadOptions } from './types';

/** LinkedIn's reserved "little" characters are sent backslash-escaped; the escapes count too. */
const LINKEDIN_RESERVED = /[\\|{}@[\]()<>#*_~]/g;

export const PLATFORM_LIMITS: Record<Platform, { maxLength: number; threads: 'replies' | 'comments' | 'none'; unit: string }> = {
  twitter: { maxLength: 280, threads: 'replies', unit: 'weighted characters' },
  linkedin: { maxLength: 3000, threads: 'comments', unit: 'characters' },
  facebook: { maxLength: 63_206, threads: 'comments', unit: 'characters' },
  instagram: { maxLength: 2200, threads: 'none', unit: 'characters' },
};

export const INSTAGRAM_MAX_HASHTAGS = 30;

export const linkedInTextRules: TextRules = {
  ...plainTextRules(PLATFORM_LIMITS.linkedin.maxLength),
  measure: (text) => [...text].length + (text.match(LINKEDIN_RESERVED)?.length ?? 0),
};

/** LinkedIn's own apps cut comments at 1250 characters; the API does not document a limit. */
export const LINKEDIN_COMMENT_MAX_LENGTH = 1250;
export const FACEBOOK_COMMENT_MAX_LENGTH = 8000;

/**
 * How `text` becomes the parts Herald will post on `platform`: X replies, LinkedIn a post and the
 * author's comments, Facebook one post (or a comment chain after `params.commentChainAt`
 * characters), Instagram one caption.
 */
export function splitForPlatform(platform: Platform, text: string, options: ThreadOptions = {}, params?: Record<string, unknown>): SplitResult {
  switch (platform) {
    case 'twitter':
      return splitForX(text, options);
    case 'linkedin':
      return splitPostThenComments(text, linkedInTextRules, plainTextRules(LINKEDIN_COMMENT_MAX_LENGTH), options);
    case 'facebook': {
      const chainAt = facebookCommentChainAt(params);
      if (chainAt === undefined) return singlePart(text, PLATFORM_LIMITS.facebook.maxLength, 'Facebook');
      return splitPostThenComments(text, plainTextRules(chainAt), plainTextRules(FACEBOOK_COMMENT_MAX_LENGTH), options);
    }
    case 'instagram':
      return singlePart(text, PLATFORM_LIMITS.instagram.maxLength, 'Instagram');
  }
}

/** `platformParams.facebook.commentChainAt`: a whole number of characters for the first post. */
export function facebookCommentChainAt(params: Record<string, unknown> | undefined): number | undefined {
  const raw = params?.commentChainAt;
  return typeof raw === 'number' && Number.isInteger(raw) && raw >= 1 && raw <= PLATFORM_LIMITS.facebook.maxLength ? raw : undefined;
}

export function countHashtags(text: string): number {
  return text.match(/(^|[^\p{L}\p{N}_&])#[\p{L}\p{N}_]+/gu)?.length ?? 0;
}
