/** Platforms named by the API contract. Publishers exist for the ones in the registry. */
export const PLATFORMS = ['twitter', 'linkedin', 'facebook', 'instagram'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** How people call each platform (messages, logs). */
export const PLATFORM_LABELS: Record<Platform, string> = { twitter: 'X', linkedin: 'LinkedIn', facebook: 'Facebook', instagram: 'Instagram' };

export const POST_STATUSES = [
  'scheduled',
  'publishing',
  'published',
  'partially_published',
  'failed',
  'cancelled',
] as const;
export type PostStatus = (typeof POST_STATUSES)[number];

export const TARGET_STATUSES = ['pending', 'publishing', 'published', 'failed', 'cancelled'] as const;
export type TargetStatus = (typeof TARGET_STATUSES)[number];

/** The one failure taxonomy (ARCHITECTURE.md "One failure taxonomy"). */
export const FAILURE_CLASSES = ['retryable', 'auth', 'rejected', 'unknown_outcome'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export interface ThreadOptions {
  /** Append " 1/n" markers; they count inside the platform's limit. */
  numbering?: boolean;
}

export function isFinalPostStatus(status: PostStatus): boolean {
  return status === 'published' || status === 'partially_published' || status === 'failed' || status === 'cancelled';
}
