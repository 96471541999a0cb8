/** How each platform looks in the dashboard. Text rules come from the domain (PLATFORM_LIMITS). */
import { PLATFORMS, type FailureClass, type Platform, type PostStatus, type TargetStatus } from '../../src/domain/types';

export { PLATFORMS };
export type { Platform };

export const PLATFORM_META: Record<Platform, { label: string; mark: string }> = {
  twitter: { label: 'X', mark: 'X' },
  linkedin: { label: 'LinkedIn', mark: 'in' },
  facebook: { label: 'Facebook', mark: 'f' },
  instagram: { label: 'Instagram', mark: 'IG' },
};

export const POST_STATUS_LABEL: Record<PostStatus, string> = {
  scheduled: 'Scheduled',
  publishing: 'Publishing',
  published: 'Published',
  partially_published: 'Partly published',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export const TARGET_STATUS_LABEL: Record<TargetStatus, string> = {
  pending: 'Waiting',
  publishing: 'Publishing',
  published: 'Published',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** What a person can do about a failed target, by failure class; the platform's own words follow. */
export function failureAdvice(platform: Platform, errorClass: FailureClass | null): string {
  const name = PLATFORM_META[platform].label;
  switch (errorClass) {
    case 'auth':
      return `Reconnect the ${name} account, then publish again.`;
    case 'rejected':
      return `${name} refused this post. Change the text or media, then publish again.`;
    case 'retryable':
      return `${name} kept failing temporarily and Herald stopped retrying. Try again later.`;
    case 'unknown_outcome':
      return `Herald could not confirm whether ${name} received it. Check the account before publishing again.`;
    default:
      return `Publishing to ${name} failed.`;
  }
}
